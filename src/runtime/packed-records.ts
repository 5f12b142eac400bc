// The hot messages of a supervised unit's channel (a connection's message in, a reply out)
// as records in one byte segment per flush, instead of one structured-clone object each:
// cloning a small object graph per message cost more than the message's own handling.
// A record: tag u8 | flags u8 | key length u16 | data length u32 | key (UTF-8) | data.
import { Buffer } from 'node:buffer';

/** The data is a string (sent as UTF-8, handed over as a string again). */
const STRING = 1;
/** The flag the sender gave (for a connection: a binary frame). */
const BINARY = 2;
const HEAD = 8;
/** A segment's first size; it grows by doubling to hold one flush's records. */
const INITIAL = 64 * 1024;

export type PackedHandler = (tag: number, key: string, data: string | Uint8Array, binary: boolean) => void;

/** Longest key packed (its UTF-8 must fit the u16 length). */
const MAX_KEY = 0xffff / 3;

/** What can be packed: anything else goes as a structured message. */
export function packable(key: string, data: unknown): data is string | Uint8Array {
  return key.length <= MAX_KEY && (typeof data === 'string' || data instanceof Uint8Array);
}

/**
 * Writes records into segments. `ownSegments`: every segment gets memory of its own, so it
 * can be transferred (moved) to a worker. Otherwise one scratch buffer is reused: the
 * segments of one write follow each other in it, and release() rewinds it once the channel
 * has copied them (a process channel serializes what it sends before send() returns).
 */
export class PackedWriter {
  readonly #ownSegments: boolean;
  #buf: Buffer | null = null;
  /** Where the current segment starts. */
  #start = 0;
  #at = 0;

  constructor(ownSegments: boolean) {
    this.#ownSegments = ownSegments;
  }

  /** No record since the last take(). */
  get empty(): boolean {
    return this.#at === this.#start;
  }

  add(tag: number, key: string, data: string | Uint8Array, binary: boolean): void {
    const isString = typeof data === 'string';
    const most = HEAD + key.length * 3 + (isString ? data.length * 3 : data.byteLength);
    const buf = this.#room(most);
    const at = this.#at;
    const keyLength = key.length === 0 ? 0 : buf.write(key, at + HEAD, 'utf8');
    const dataAt = at + HEAD + keyLength;
    let dataLength: number;
    if (isString) dataLength = data.length === 0 ? 0 : buf.write(data, dataAt, 'utf8');
    else {
      buf.set(data, dataAt);
      dataLength = data.byteLength;
    }
    buf[at] = tag;
    buf[at + 1] = (isString ? STRING : 0) | (binary ? BINARY : 0);
    buf.writeUInt16LE(keyLength, at + 2);
    buf.writeUInt32LE(dataLength, at + 4);
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
    let size = buf === null ? INITIAL : buf.length * 2;
    while (size < used + n) size *= 2;
    // allocUnsafeSlow: memory of its own (not Node's shared pool), so transferable. Segments
    // taken from the old buffer keep it; only the current one moves.
    const next = Buffer.allocUnsafeSlow(size);
    if (buf !== null && used > 0) buf.copy(next, 0, this.#start, this.#at);
    this.#buf = next;
    this.#start = 0;
    this.#at = used;
    return next;
  }
}

/** Hands every record of `segment` to `each`, in order. Binary data is a view of the segment. */
export function readPacked(segment: Uint8Array, each: PackedHandler): void {
  const buf = Buffer.from(segment.buffer, segment.byteOffset, segment.byteLength);
  const end = buf.length;
  let at = 0;
  while (at + HEAD <= end) {
    const tag = buf[at]!;
    const flags = buf[at + 1]!;
    const keyLength = buf.readUInt16LE(at + 2);
    const dataLength = buf.readUInt32LE(at + 4);
    const keyAt = at + HEAD;
    const dataAt = keyAt + keyLength;
    const next = dataAt + dataLength;
    if (next > end) throw new Error('packed records: a record runs past the segment');
    const key = keyLength === 0 ? '' : buf.toString('utf8', keyAt, dataAt);
    const data = flags & STRING ? buf.toString('utf8', dataAt, next) : new Uint8Array(buf.buffer, buf.byteOffset + dataAt, dataLength);
    at = next;
    each(tag, key, data, (flags & BINARY) !== 0);
  }
  if (at !== end) throw new Error('packed records: a truncated record at the end of the segment');
}
