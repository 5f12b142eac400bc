// The hot messages of a supervised unit's channel (a connection's message in, a reply out)
// as records in one byte segment per flush, instead of one structured-clone object each:
// cloning a small object graph per message cost more than the message's own handling.
// A record: tag u8 | flags u8 | reserved u16 | slot u32 | data length u32 | data.
// The slot is a small number the two sides agreed on (a connection's index), so a record
// carries no name to encode, decode and hash again; text crosses as its UTF-8 bytes and is
// turned into a string only on the side that wants one.
import { Buffer } from 'node:buffer';

/** The data is text (UTF-8): a string, or bytes the sender declared text. */
const TEXT = 1;
/** The flag the sender gave (for a connection: a binary frame). */
const BINARY = 2;
const HEAD = 12;
/** A segment's first size; it grows by doubling to hold one flush's records. */
const INITIAL = 64 * 1024;
/** The most a new own segment starts with (one flush of large messages does not make every later one large). */
const MAX_FIRST = 1024 * 1024;

/** Node's Buffer methods without argument checks (on Buffer.prototype since Node's first releases, not in its types). */
interface FastWrites {
  utf8Write(text: string, offset: number): number;
}
interface FastReads {
  utf8Slice(start: number, end: number): string;
}

/**
 * Views handed to the transport: a Buffer made the way Node makes its own (a Uint8Array
 * subclass under Buffer.prototype), without subarray()'s argument handling, which cost
 * more than the rest of a small record's reading.
 */
class BufferView extends Uint8Array {}
Object.setPrototypeOf(BufferView.prototype, Buffer.prototype);

function putU32(buf: Uint8Array, at: number, v: number): void {
  buf[at] = v;
  buf[at + 1] = v >>> 8;
  buf[at + 2] = v >>> 16;
  buf[at + 3] = v >>> 24;
}

function getU32(buf: Uint8Array, at: number): number {
  return (buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16)) + buf[at + 3]! * 0x1000000;
}

/**
 * One record. `data` is a string or a view of the segment (valid as long as the segment
 * is: the receiver owns the memory of a segment it was handed).
 */
export type PackedHandler = (tag: number, slot: number, data: string | Uint8Array, binary: boolean) => void;

/** How text reaches a handler: as a string (for a service), or as its UTF-8 bytes (to be written out as they are). */
export type TextAs = 'string' | 'bytes';

/** What can be packed: anything else goes as a structured message. */
export function packable(data: unknown): data is string | Uint8Array {
  return typeof data === 'string' || data instanceof Uint8Array;
}

/**
 * Writes records into segments. `ownSegments`: every segment gets memory of its own, so it
 * can be transferred (moved) to a worker. Otherwise one scratch buffer is reused: the
 * segments of one write follow each other in it, and release() rewinds it once the channel
 * has copied them.
 */
export class PackedWriter {
  readonly #ownSegments: boolean;
  #buf: Buffer | null = null;
  /** Where the current segment starts. */
  #start = 0;
  #at = 0;
  #lastSize = INITIAL;

  constructor(ownSegments: boolean) {
    this.#ownSegments = ownSegments;
  }

  /** No record since the last take(). */
  get empty(): boolean {
    return this.#at === this.#start;
  }

  /** `binary` false with bytes: the bytes are UTF-8 text (a reader may hand them over as a string). */
  add(tag: number, slot: number, data: string | Uint8Array, binary: boolean): void {
    const isString = typeof data === 'string';
    const buf = this.#room(HEAD + (isString ? data.length * 3 : data.byteLength));
    const at = this.#at;
    const dataAt = at + HEAD;
    let dataLength: number;
    // utf8Write, byte stores: Buffer#write and writeUInt32LE check their arguments first,
    // which cost more than the few bytes of a chat message they write
    if (isString) dataLength = data.length === 0 ? 0 : (buf as unknown as FastWrites).utf8Write(data, dataAt);
    else {
      buf.set(data, dataAt);
      dataLength = data.byteLength;
    }
    buf[at] = tag;
    buf[at + 1] = (isString || !binary ? TEXT : 0) | (binary ? BINARY : 0);
    buf[at + 2] = 0;
    buf[at + 3] = 0;
    putU32(buf, at + 4, slot);
    putU32(buf, at + 8, dataLength);
    this.#at = dataAt + dataLength;
  }

  /** The current segment's records; the next record starts a new segment. */
  take(): Uint8Array {
    const out = this.#buf!.subarray(this.#start, this.#at);
    if (this.#ownSegments) {
      this.#buf = null;
      this.#at = 0;
    }
    this.#start = this.#at;
    return out;
  }

  /** Everything taken has been copied by the channel: the scratch may be written over. */
  release(): void {
    this.#start = this.#at = 0;
  }

  #room(n: number): Buffer {
    const buf = this.#buf;
    const used = this.#at - this.#start;
    if (buf !== null && buf.length - this.#at >= n) return buf;
    // a new own segment starts at the size the last one grew to: no copy on the way up
    let size = buf === null ? this.#lastSize : buf.length * 2;
    while (size < used + n) size *= 2;
    // allocUnsafeSlow: memory of its own (not Node's shared pool), so transferable. Segments
    // taken from the old buffer keep it; only the current one moves.
    const next = Buffer.allocUnsafeSlow(size);
    this.#lastSize = Math.min(size, MAX_FIRST);
    if (buf !== null && used > 0) buf.copy(next, 0, this.#start, this.#at);
    this.#buf = next;
    this.#start = 0;
    this.#at = used;
    return next;
  }
}

/**
 * Hands every record of `segment` to `each`, in order. Binary data (and text, when `text`
 * is 'bytes') is a view of the segment, not a copy: a Uint8Array, or a Buffer when `text`
 * is 'bytes'.
 */
export function readPacked(segment: Uint8Array, each: PackedHandler, text: TextAs = 'string'): void {
  const buf = Buffer.isBuffer(segment) ? segment : Buffer.from(segment.buffer, segment.byteOffset, segment.byteLength);
  const memory = buf.buffer as ArrayBuffer;
  const base = buf.byteOffset;
  const end = buf.length;
  const strings = text === 'string';
  let at = 0;
  while (at + HEAD <= end) {
    const tag = buf[at]!;
    const flags = buf[at + 1]!;
    const slot = getU32(buf, at + 4);
    const dataAt = at + HEAD;
    const length = getU32(buf, at + 8);
    const next = dataAt + length;
    if (next > end) throw new Error('packed records: a record runs past the segment');
    // a service is handed binary data as a plain Uint8Array (as inline); the transport takes a Buffer as it is
    const data = !strings ? new BufferView(memory, base + dataAt, length) : flags & TEXT ? (buf as unknown as FastReads).utf8Slice(dataAt, next) : new Uint8Array(memory, base + dataAt, length);
    at = next;
    each(tag, slot, data, (flags & BINARY) !== 0);
  }
  if (at !== end) throw new Error('packed records: a truncated record at the end of the segment');
}
