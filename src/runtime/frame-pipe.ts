// The data channel between the server and a child process: length-prefixed frames over an
// extra stdio pipe (fd 4 in the child), written and read by us instead of Node's IPC. The
// IPC channel ('advanced' serialization) cost, per flush, a V8 serialization of the packed
// segment (a copy), a second copy to put the length in front, a read into fresh memory, a
// copy to join the reads of one message and a deserialization; the segments were fresh
// memory on both sides, paid again in page faults and external-memory collections. Here a
// segment is copied once into the write buffer and read in place from a reused read buffer.
// Structured messages take the same pipe (V8-serialized) so that everything keeps its order;
// the IPC channel stays for what must arrive whatever the pipe holds (a child's fatal error)
// and for a child to notice that the server is gone.
// Frame: body length u32 LE | kind u8 | body.
import { Buffer } from 'node:buffer';
import type { Socket } from 'node:net';
import { deserialize, serialize } from 'node:v8';
import { readDirect, type DirectReader } from '../transport/direct-reads.js';
import { IPC_VERSION, type PackedMessage } from './child-messages.js';

const HEAD = 5;
const SEGMENT = 1;
const MESSAGE = 2;
/** The read buffer: a frame longer than this is read into memory of its own. */
const READ_SIZE = 256 * 1024;
/** The first write buffer; it grows with the flushes, up to MAX_KEPT (a longer flush gets memory for itself alone). */
const WRITE_SIZE = 64 * 1024;
const MAX_KEPT = 4 * 1024 * 1024;

/** The fd of the pipe in the child (stdio: ignore, inherit, inherit, ipc, pipe). */
export const CHILD_PIPE_FD = 4;

type Item = { type: string };

const isPacked = (m: Item): m is PackedMessage => m.type === 'packed';

/** Writes messages as frames, one socket write per call; the write buffer is reused once the socket took all of the last one. */
export class FrameWriter {
  readonly #socket: Socket;
  #buf: Buffer | null = null;

  constructor(socket: Socket) {
    this.#socket = socket;
  }

  /** Writes `items` in order; a 'batch' is written as its messages. */
  write(items: readonly Item[]): void {
    const bodies: Uint8Array[] = [];
    const kinds: number[] = [];
    let n = 0;
    const add = (m: Item): void => {
      if (m.type === 'batch') {
        for (const x of (m as unknown as { messages: Item[] }).messages) add(x);
        return;
      }
      const body = isPacked(m) ? m.bytes : serialize(m);
      bodies.push(body);
      kinds.push(isPacked(m) ? SEGMENT : MESSAGE);
      n += HEAD + body.byteLength;
    };
    for (const m of items) add(m);
    if (n === 0) return;
    const out = this.#buffer(n);
    let at = 0;
    for (let i = 0; i < bodies.length; i++) {
      const body = bodies[i]!;
      const len = body.byteLength;
      out[at] = len;
      out[at + 1] = len >>> 8;
      out[at + 2] = len >>> 16;
      out[at + 3] = len >>> 24;
      out[at + 4] = kinds[i]!;
      out.set(body, at + HEAD);
      at += HEAD + len;
    }
    this.#socket.write(out.subarray(0, n));
  }

  /** Resolves once the socket has handed everything written to the kernel (or is gone). */
  drained(): Promise<void> {
    const s = this.#socket;
    if (s.destroyed || s.writableLength === 0) return Promise.resolve();
    return new Promise((resolve) => {
      s.write(Buffer.alloc(0), () => resolve());
      s.once('close', () => resolve());
    });
  }

  #buffer(n: number): Buffer {
    const buf = this.#buf;
    // the socket still holds the last write (the pipe was full): that memory is not ours yet
    if (buf !== null && buf.length >= n && this.#socket.writableLength === 0) return buf;
    let size = buf === null ? WRITE_SIZE : buf.length;
    while (size < n) size *= 2;
    const next = Buffer.allocUnsafeSlow(size);
    if (size <= MAX_KEPT) this.#buf = next;
    return next;
  }
}

/**
 * Reads frames from the pipe into a reused buffer and hands each on: a packed segment as a
 * 'packed' message whose bytes are only valid during the call (transient), a structured
 * message deserialized from a copy (V8 hands typed arrays out as views of its input).
 */
export class FrameReader implements DirectReader {
  readonly #deliver: (message: unknown) => void;
  #buf = Buffer.allocUnsafeSlow(READ_SIZE);
  /** Bytes of an unfinished frame at the start of #buf. */
  #have = 0;
  /** A frame longer than #buf, being read into memory of its own. */
  #long: Buffer | null = null;
  #longHave = 0;

  constructor(deliver: (message: unknown) => void) {
    this.#deliver = deliver;
  }

  readTarget(): Buffer {
    return this.#long !== null ? this.#long.subarray(this.#longHave) : this.#buf.subarray(this.#have);
  }

  onRead(n: number): void {
    const long = this.#long;
    if (long !== null) {
      this.#longHave += n;
      if (this.#longHave < long.length) return;
      this.#long = null;
      this.#frame(long, 0, long.length, false);
      return;
    }
    const buf = this.#buf;
    const end = this.#have + n;
    let at = 0;
    while (end - at >= HEAD) {
      const size = HEAD + buf.readUInt32LE(at);
      if (end - at < size) {
        if (size > buf.length) {
          // longer than the read buffer: the rest of it is read into its own memory
          const own = Buffer.allocUnsafeSlow(size);
          buf.copy(own, 0, at, end);
          this.#long = own;
          this.#longHave = end - at;
          this.#have = 0;
          return;
        }
        break;
      }
      this.#frame(buf, at, at + size, true);
      at += size;
    }
    if (at > 0 && at < end) buf.copyWithin(0, at, end);
    this.#have = end - at;
  }

  #frame(buf: Buffer, start: number, end: number, transient: boolean): void {
    const kind = buf[start + 4];
    const body = buf.subarray(start + HEAD, end);
    if (kind === SEGMENT) {
      const m: PackedMessage = { v: IPC_VERSION, type: 'packed', bytes: body, transient };
      this.#deliver(m);
    } else if (kind === MESSAGE) this.#deliver(deserialize(transient ? Buffer.from(body) : body));
    else throw new Error(`frame pipe: unknown frame kind ${kind}`);
  }
}

/** Reads `socket`'s frames, handing each message to `deliver`; throws when the socket cannot be read directly. */
export function readFrames(socket: Socket, deliver: (message: unknown) => void): void {
  if (!readDirect(socket, new FrameReader(deliver))) throw new Error('frame pipe: the data pipe cannot be read directly');
}
