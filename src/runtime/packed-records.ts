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
/** Given-back memory a writer keeps for its next segments (a turn has about one segment in flight each way). */
const MAX_SPARE = 4;

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

/**
 * The shortest view of a segment its handler may keep after it returned (it copies what it
 * keeps of a shorter one): a segment of which no view this long was handed on can be given
 * back to its writer for reuse. 0: any view may be kept.
 */
export type KeptFrom = number;

/**
 * Where a segment's memory lives: 'own' (the reader's: views of it stay valid), or 'transient'
 * (a pipe's read buffer, written over by the next read: a view the handler may keep is
 * handed on as a copy instead).
 */
export type SegmentMemory = 'own' | 'transient';

/** What can be packed: anything else goes as a structured message. */
export function packable(data: unknown): data is string | Uint8Array {
  return typeof data === 'string' || data instanceof Uint8Array;
}

/**
 * Writes records into segments. `ownSegments`: every segment gets memory of its own, so it
 * can be transferred (moved) to a worker; the worker gives the memory back once it has read
 * the segment (reuse()), and the next segments are written in it: fresh memory for every
 * segment cost page faults and external-memory garbage collections on both threads. Otherwise
 * one scratch buffer is reused: the segments of one write follow each other in it, and
 * release() rewinds it once the channel has copied them.
 */
export class PackedWriter {
  readonly #ownSegments: boolean;
  #buf: Buffer | null = null;
  /** Memory given back by the reader, for the next own segments. */
  #spare: ArrayBuffer[] = [];
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

  /** The memory of a segment this writer took, back from its reader, which holds nothing of it any more. */
  reuse(memory: ArrayBuffer): void {
    // a detached buffer (moved on again) has no bytes left; one that grew for a flush of large
    // messages is not kept for the small ones after it
    const size = memory.byteLength;
    if (this.#ownSegments && size > 0 && size <= MAX_FIRST && this.#spare.length < MAX_SPARE) this.#spare.push(memory);
  }

  #room(n: number): Buffer {
    const buf = this.#buf;
    const used = this.#at - this.#start;
    if (buf !== null && buf.length - this.#at >= n) return buf;
    // a new own segment starts at the size the last one grew to: no copy on the way up
    let size = buf === null ? this.#lastSize : buf.length * 2;
    while (size < used + n) size *= 2;
    const next = this.#memory(size, used + n);
    this.#lastSize = Math.min(next.length, MAX_FIRST);
    if (buf !== null && used > 0) buf.copy(next, 0, this.#start, this.#at);
    // an own segment's old memory held only the current segment, now copied
    if (buf !== null && this.#ownSegments) this.reuse(buf.buffer as ArrayBuffer);
    this.#buf = next;
    this.#start = 0;
    this.#at = used;
    return next;
  }

  /** `size` bytes for a segment, or given-back memory holding at least `needed`. */
  #memory(size: number, needed: number): Buffer {
    const spare = this.#spare;
    for (let i = spare.length - 1; i >= 0; i--) {
      const memory = spare[i]!;
      if (memory.byteLength < needed) continue;
      spare[i] = spare[spare.length - 1]!;
      spare.pop();
      return Buffer.from(memory);
    }
    // allocUnsafeSlow: memory of its own (not Node's shared pool), so transferable. Segments
    // taken from the old buffer keep it; only the current one moves.
    return Buffer.allocUnsafeSlow(size);
  }
}

/** Slots at or above this are read in the order sent (the lists are indexed by slot). */
const MAX_GROUPED_SLOT = 1 << 20;

/**
 * Reads segments handing each connection's records on together: all of the first slot's
 * records in order, then the next slot's, by first appearance. A child answers many
 * connections in turn (one reply each per round of their promise chains), and a server
 * that wrote the replies in that order built each connection's frames apart, one piece
 * per reply to join again; one connection's replies one after another are built side by
 * side in one piece. The order of one slot's records is kept; slots are independent.
 * The lists it keeps are reused from segment to segment.
 */
export class SlotGroupedReader {
  #at = new Int32Array(256);
  #next = new Int32Array(256);
  #head = new Int32Array(64).fill(-1);
  #tail = new Int32Array(64);
  #slots: number[] = [];

  /** Returns whether the segment's memory may be reused (see KeptFrom). */
  read(segment: Uint8Array, each: PackedHandler, text: TextAs = 'string', keptFrom: KeptFrom = 0, memory: SegmentMemory = 'own'): boolean {
    const buf = Buffer.isBuffer(segment) ? segment : Buffer.from(segment.buffer, segment.byteOffset, segment.byteLength);
    const slots = this.#slots;
    try {
      let n = 0;
      let at = 0;
      for (const end = buf.length; at + HEAD <= end; n++) {
        const slot = getU32(buf, at + 4);
        const next = at + HEAD + getU32(buf, at + 8);
        if (next > end) throw new Error('packed records: a record runs past the segment');
        // not a connection index (slots are reused from 0 up): hand the segment on as it came
        if (slot >= MAX_GROUPED_SLOT) return readPacked(buf, each, text, keptFrom, memory);
        if (n === this.#at.length) this.#grow();
        if (slot >= this.#head.length) this.#growSlots(slot);
        this.#at[n] = at;
        this.#next[n] = -1;
        if (this.#head[slot] === -1) {
          this.#head[slot] = n;
          slots.push(slot);
        } else this.#next[this.#tail[slot]!] = n;
        this.#tail[slot] = n;
        at = next;
      }
      if (at !== buf.length) throw new Error('packed records: a truncated record at the end of the segment');
      let kept = false;
      for (let k = 0; k < slots.length; k++) {
        for (let i = this.#head[slots[k]!]!; i !== -1; i = this.#next[i]!) kept = readRecord(buf, this.#at[i]!, each, text, keptFrom, memory) || kept;
      }
      return !kept;
    } finally {
      // the lists must be empty for the next segment, whatever happened to this one
      this.#reset();
    }
  }

  #reset(): void {
    const slots = this.#slots;
    for (let k = 0; k < slots.length; k++) this.#head[slots[k]!] = -1;
    slots.length = 0;
  }

  #grow(): void {
    const at = new Int32Array(this.#at.length * 2);
    at.set(this.#at);
    this.#at = at;
    const next = new Int32Array(this.#next.length * 2);
    next.set(this.#next);
    this.#next = next;
  }

  #growSlots(slot: number): void {
    let size = this.#head.length * 2;
    while (size <= slot) size *= 2;
    const head = new Int32Array(size).fill(-1);
    head.set(this.#head);
    this.#head = head;
    const tail = new Int32Array(size);
    tail.set(this.#tail);
    this.#tail = tail;
  }
}

/** One record at `at` (its bounds already checked) to `each`; true when it was handed on as a view that may be kept. */
function readRecord(buf: Buffer, at: number, each: PackedHandler, text: TextAs, keptFrom: KeptFrom, memory: SegmentMemory): boolean {
  const tag = buf[at]!;
  const flags = buf[at + 1]!;
  const slot = getU32(buf, at + 4);
  const dataAt = at + HEAD;
  const length = getU32(buf, at + 8);
  const next = dataAt + length;
  // a service is handed binary data as a plain Uint8Array (as inline); the transport takes a Buffer as it is
  const asString = text === 'string' && (flags & TEXT) !== 0;
  const kept = !asString && length >= keptFrom;
  let data: string | Uint8Array;
  if (kept && memory === 'transient') data = text === 'bytes' ? Buffer.from(buf.subarray(dataAt, next)) : new Uint8Array(buf.subarray(dataAt, next));
  else data = text === 'bytes' ? new BufferView(buf.buffer as ArrayBuffer, buf.byteOffset + dataAt, length) : asString ? (buf as unknown as FastReads).utf8Slice(dataAt, next) : new Uint8Array(buf.buffer as ArrayBuffer, buf.byteOffset + dataAt, length);
  each(tag, slot, data, (flags & BINARY) !== 0);
  return kept && memory === 'own';
}

/**
 * Hands every record of `segment` to `each`, in order. Binary data (and text, when `text`
 * is 'bytes') is a view of the segment, not a copy: a Uint8Array, or a Buffer when `text`
 * is 'bytes'. Returns whether the segment's memory may be reused (see KeptFrom).
 */
export function readPacked(segment: Uint8Array, each: PackedHandler, text: TextAs = 'string', keptFrom: KeptFrom = 0, memory: SegmentMemory = 'own'): boolean {
  const buf = Buffer.isBuffer(segment) ? segment : Buffer.from(segment.buffer, segment.byteOffset, segment.byteLength);
  const end = buf.length;
  let at = 0;
  let kept = false;
  while (at + HEAD <= end) {
    const next = at + HEAD + getU32(buf, at + 8);
    if (next > end) throw new Error('packed records: a record runs past the segment');
    kept = readRecord(buf, at, each, text, keptFrom, memory) || kept;
    at = next;
  }
  if (at !== end) throw new Error('packed records: a truncated record at the end of the segment');
  return !kept;
}
