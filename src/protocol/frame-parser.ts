import { Buffer } from 'node:buffer';
import { CloseCode, isKnownOpcode } from './opcodes.js';
import { ProtocolError } from './errors.js';
import { applyMaskKey } from './mask.js';

/** Receives what the parser finds. Returning false from a callback stops the parser for good. */
export interface FrameHandler {
  /** A header passed the frame-level checks (opcode, RSV, masking, control rules, size). */
  onFrameStart(fin: boolean, rsv: number, opcode: number, length: number): boolean;
  /** Unmasked payload bytes of the current frame, in order; `end` marks the frame's last piece. */
  onFramePayload(data: Buffer, end: boolean): boolean;
  /** The byte stream broke a frame-level rule; the parser has stopped. */
  onFrameError(error: ProtocolError): void;
}

/**
 * A handler that takes payload as ranges of the buffer they arrived in (no view per
 * piece). `stable`: the buffer stays valid after the call; false when it is a read buffer
 * that the next read overwrites, so whatever is kept must be copied.
 */
export interface FrameRangeHandler extends FrameHandler {
  onPayloadRange(buf: Buffer, start: number, end: number, frameEnd: boolean, stable: boolean): boolean;
}

export interface FrameParserOptions {
  /** Server: client frames must be masked. Client: server frames must not be. */
  expectMasked: boolean;
  /** RSV bits (RSV1|RSV2|RSV3 values) a negotiated extension may set. */
  allowedRsv: number;
  /** Frames whose declared length exceeds this fail with 1009 before any payload is read. */
  maxFrameBytes: number;
}

const EMPTY = Buffer.alloc(0);
const IN_PAYLOAD = 1;
const MASKED = 2;
const STOPPED = 4;
const RANGES = 8;
const STABLE = 16;

/**
 * Incremental RFC 6455 frame parser (section 5.2). It accepts any chunking of the byte
 * stream, reads headers straight from the chunk when they are whole (a 14-byte spill
 * buffer covers headers split across chunks), unmasks payload in place and hands out
 * zero-copy views (or ranges) of the chunk. A frame's payload may also be read straight
 * into memory its handler chose (`landed`). It never throws on peer input and never
 * buffers a payload: assembling frames into messages is the connection's job.
 */
export class FrameParser {
  #handler: FrameHandler;
  /** May be shared by many parsers. */
  #opts: FrameParserOptions;
  /** Header bytes split across chunks (allocated the first time that happens). */
  #spill: Buffer | null = null;
  /** Payload bytes of the current frame still to come. */
  #remaining = 0;
  /** The current frame's mask, byte 0 in the low bits (see applyMaskKey). */
  #maskKey = 0;
  /**
   * Everything small in one field, so a connection's parser stays a few words: the flags
   * IN_PAYLOAD | MASKED | STOPPED | RANGES | STABLE, the mask offset (bits 5-6), the spill
   * length (bits 8-11) and the RSV bits extensions allow (bits 16-22).
   */
  #flags = STABLE;

  get #maskOffset(): number {
    return (this.#flags >>> 5) & 3;
  }
  set #maskOffset(v: number) {
    this.#flags = (this.#flags & ~0x60) | (v << 5);
  }
  get #spillLen(): number {
    return (this.#flags >>> 8) & 0xf;
  }
  set #spillLen(v: number) {
    this.#flags = (this.#flags & ~0xf00) | (v << 8);
  }
  get #allowedRsv(): number {
    return (this.#flags >>> 16) & 0x70;
  }
  set #allowedRsv(v: number) {
    this.#flags = (this.#flags & ~(0x70 << 16)) | ((v & 0x70) << 16);
  }

  get #inPayload(): boolean {
    return (this.#flags & IN_PAYLOAD) !== 0;
  }
  set #inPayload(v: boolean) {
    this.#flags = v ? this.#flags | IN_PAYLOAD : this.#flags & ~IN_PAYLOAD;
  }
  get #masked(): boolean {
    return (this.#flags & MASKED) !== 0;
  }
  set #masked(v: boolean) {
    this.#flags = v ? this.#flags | MASKED : this.#flags & ~MASKED;
  }
  get #stopped(): boolean {
    return (this.#flags & STOPPED) !== 0;
  }
  set #stopped(v: boolean) {
    this.#flags = v ? this.#flags | STOPPED : this.#flags & ~STOPPED;
  }
  /** The handler takes ranges (FrameRangeHandler). */
  get #ranges(): boolean {
    return (this.#flags & RANGES) !== 0;
  }
  /** The chunk being parsed outlives this push (see FrameRangeHandler). */
  get #stable(): boolean {
    return (this.#flags & STABLE) !== 0;
  }
  set #stable(v: boolean) {
    this.#flags = v ? this.#flags | STABLE : this.#flags & ~STABLE;
  }

  /** `allowedRsv` overrides `options.allowedRsv` (it depends on this connection's extensions). */
  constructor(handler: FrameHandler, options: FrameParserOptions, allowedRsv = options.allowedRsv) {
    this.#handler = handler;
    this.#opts = options;
    this.#allowedRsv = allowedRsv;
    if (typeof (handler as Partial<FrameRangeHandler>).onPayloadRange === 'function') this.#flags |= RANGES;
  }

  /** RSV bits become legal only once an extension that uses them is negotiated. */
  setAllowedRsv(bits: number): void {
    this.#allowedRsv = bits;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Stop parsing: all further input is discarded (RFC 6455 section 7.1.7 / after Close). */
  stop(): void {
    this.#stopped = true;
  }

  /** Payload bytes of the current frame still to come (0 between frames). */
  get remaining(): number {
    return this.#inPayload ? this.#remaining : 0;
  }

  /** Parse `chunk[0, end)`. `stable`: false when the chunk is a read buffer reused by the next read. */
  push(chunk: Buffer, end = chunk.length, stable = true): void {
    this.#stable = stable;
    this.#parse(chunk, 0, end);
  }

  /**
   * `n` bytes were read straight into `buf` (memory the handler asked for, stable): the
   * next payload bytes of the current frame, and, past the frame's end, what follows it.
   */
  landed(buf: Buffer, n: number): void {
    if (this.#stopped || !this.#inPayload) return;
    this.#stable = true;
    const p = this.#payload(buf, 0, n < this.#remaining ? n : this.#remaining);
    if (p < n) this.#parse(buf, p, n);
  }

  #parse(chunk: Buffer, p: number, end: number): void {
    while (p < end && !this.#stopped) {
      if (this.#inPayload) {
        const take = this.#remaining < end - p ? this.#remaining : end - p;
        p = this.#payload(chunk, p, p + take);
        continue;
      }
      if (this.#spillLen === 0 && end - p >= 2) {
        const need = headerSize(chunk[p + 1]!);
        if (end - p >= need) {
          this.#header(chunk, p);
          p += need;
          continue;
        }
      }
      p = this.#fillSpill(chunk, p, end);
    }
  }

  /** Unmask `chunk[from, to)` (all payload of the current frame) and hand it on. */
  #payload(chunk: Buffer, from: number, to: number): number {
    if (this.#masked) this.#maskOffset = applyMaskKey(chunk, this.#maskKey, this.#maskOffset, from, to);
    this.#remaining -= to - from;
    const end = this.#remaining === 0;
    if (end) this.#inPayload = false;
    const ok = this.#ranges
      ? (this.#handler as FrameRangeHandler).onPayloadRange(chunk, from, to, end, this.#stable)
      : this.#handler.onFramePayload(chunk.subarray(from, to), end);
    if (!ok) this.#stopped = true;
    return to;
  }

  /** Copy header bytes into the spill buffer; parse once the whole header is there. */
  #fillSpill(chunk: Buffer, p: number, end: number): number {
    const spill = (this.#spill ??= Buffer.allocUnsafe(14));
    let len = this.#spillLen;
    if (len < 2) spill[len++] = chunk[p++]!;
    if (len < 2) {
      this.#spillLen = len;
      return p;
    }
    const need = headerSize(spill[1]!);
    while (len < need && p < end) spill[len++] = chunk[p++]!;
    this.#spillLen = len === need ? 0 : len;
    if (len === need) {
      this.#header(spill, 0);
    }
    return p;
  }

  #header(b: Buffer, at: number): void {
    const b0 = b[at]!;
    const b1 = b[at + 1]!;
    const fin = (b0 & 0x80) !== 0;
    const rsv = b0 & 0x70;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    let len = b1 & 0x7f;
    let p = at + 2;
    if (len === 126) {
      len = (b[p]! << 8) | b[p + 1]!;
      p += 2;
    } else if (len === 127) {
      const hi = b.readUInt32BE(p);
      if (hi & 0x80000000) return this.#fail('ERR_WS_INVALID_LENGTH', 'payload length has its most significant bit set');
      // Anything past 2^53 is far beyond any limit; it is refused below as too big.
      len = hi * 0x100000000 + b.readUInt32BE(p + 4);
      p += 8;
    }
    if (rsv & ~this.#allowedRsv) return this.#fail('ERR_WS_RESERVED_BITS', 'reserved bits set without a negotiated extension');
    if (!isKnownOpcode(opcode)) return this.#fail('ERR_WS_RESERVED_OPCODE', `reserved opcode ${opcode}`);
    if (opcode >= 0x8) {
      if (!fin) return this.#fail('ERR_WS_FRAGMENTED_CONTROL_FRAME', 'fragmented control frame');
      if (len > 125) return this.#fail('ERR_WS_CONTROL_FRAME_TOO_LONG', 'control frame payload longer than 125 bytes');
    }
    if (masked !== this.#opts.expectMasked) {
      return this.#opts.expectMasked
        ? this.#fail('ERR_WS_UNMASKED_FRAME', 'client frame is not masked')
        : this.#fail('ERR_WS_MASKED_FRAME', 'server frame is masked');
    }
    if (len > this.#opts.maxFrameBytes) {
      return this.#fail('ERR_WS_FRAME_TOO_BIG', `frame of ${len} bytes exceeds the limit`, CloseCode.MESSAGE_TOO_BIG);
    }
    if (masked) {
      this.#maskKey = b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24);
    }
    this.#masked = masked;
    this.#maskOffset = 0;
    if (!this.#handler.onFrameStart(fin, rsv, opcode, len)) {
      this.#stopped = true;
      return;
    }
    if (len === 0) {
      const ok = this.#ranges
        ? (this.#handler as FrameRangeHandler).onPayloadRange(EMPTY, 0, 0, true, true)
        : this.#handler.onFramePayload(EMPTY, true);
      if (!ok) this.#stopped = true;
      return;
    }
    this.#remaining = len;
    this.#inPayload = true;
  }

  #fail(code: ConstructorParameters<typeof ProtocolError>[0], message: string, closeCode?: number): void {
    this.#stopped = true;
    this.#handler.onFrameError(new ProtocolError(code, message, closeCode));
  }
}

function headerSize(b1: number): number {
  const len = b1 & 0x7f;
  return (len < 126 ? 2 : len === 126 ? 4 : 10) + (b1 & 0x80 ? 4 : 0);
}
