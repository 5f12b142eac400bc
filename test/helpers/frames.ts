// Independent WebSocket frame codec for the test harness (RFC 6455 section 5.2).
// Deliberately written from the RFC, not from src/protocol: it must be able to build
// frames that the engine is required to reject (bad lengths, reserved bits, wrong mask).
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';

export const OP = {
  CONT: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;

export interface FrameSpec {
  op: number;
  payload?: Uint8Array | string;
  /** default true */
  fin?: boolean;
  /** 3-bit value: 4 = RSV1, 2 = RSV2, 1 = RSV3 */
  rsv?: number;
  /** force masking on/off; default: the sender's role decides (clients mask) */
  mask?: boolean;
  /** announce this payload length instead of the real one (the real payload is still sent) */
  declaredLength?: bigint;
  /** force a length encoding: 7, 16 or 64 bit (non-minimal encodings are legal) */
  lengthBits?: 7 | 16 | 64;
}

export function toBytes(p: Uint8Array | string | undefined): Buffer {
  if (p === undefined) return Buffer.alloc(0);
  if (typeof p === 'string') return Buffer.from(p, 'utf8');
  return Buffer.from(p.buffer, p.byteOffset, p.byteLength);
}

/** Encode one frame. `masked` is the default mask decision of the sender. */
export function encodeFrame(spec: FrameSpec, masked: boolean): Buffer {
  const payload = toBytes(spec.payload);
  const doMask = spec.mask ?? masked;
  const fin = spec.fin ?? true;
  const rsv = spec.rsv ?? 0;
  const len = spec.declaredLength ?? BigInt(payload.length);
  let bits = spec.lengthBits;
  if (bits === undefined) bits = len < 126n ? 7 : len < 65536n ? 16 : 64;
  const headerLen = 2 + (bits === 16 ? 2 : bits === 64 ? 8 : 0) + (doMask ? 4 : 0);
  const out = Buffer.allocUnsafe(headerLen + payload.length);
  out[0] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (spec.op & 0x0f);
  let o = 2;
  if (bits === 7) {
    out[1] = Number(len);
  } else if (bits === 16) {
    out[1] = 126;
    out.writeUInt16BE(Number(len), 2);
    o = 4;
  } else {
    out[1] = 127;
    out.writeBigUInt64BE(len, 2);
    o = 10;
  }
  if (doMask) {
    out[1] |= 0x80;
    const key = randomBytes(4);
    key.copy(out, o);
    o += 4;
    for (let i = 0; i < payload.length; i++) out[o + i] = payload[i]! ^ key[i & 3]!;
  } else {
    payload.copy(out, o);
  }
  return out;
}

export interface ParsedFrame {
  fin: boolean;
  rsv: number;
  op: number;
  masked: boolean;
  /** unmasked payload */
  payload: Buffer;
}

/** Incremental frame parser: push bytes, pull complete frames. No validation beyond structure. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);
  /** structural error (e.g. 64-bit length with top bit set) */
  error: string | undefined;

  push(chunk: Buffer): ParsedFrame[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const frames: ParsedFrame[] = [];
    for (let guard = 0; guard < 1_000_000 && this.error === undefined; guard++) {
      const f = this.next();
      if (!f) break;
      frames.push(f);
    }
    return frames;
  }

  private next(): ParsedFrame | undefined {
    const b = this.buf;
    if (b.length < 2) return undefined;
    const masked = (b[1]! & 0x80) !== 0;
    let len = b[1]! & 0x7f;
    let o = 2;
    if (len === 126) {
      if (b.length < 4) return undefined;
      len = b.readUInt16BE(2);
      o = 4;
    } else if (len === 127) {
      if (b.length < 10) return undefined;
      const big = b.readBigUInt64BE(2);
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) {
        this.error = `64-bit length too large: ${big}`;
        return undefined;
      }
      len = Number(big);
      o = 10;
    }
    const keyAt = o;
    if (masked) o += 4;
    if (b.length < o + len) return undefined;
    const payload = Buffer.from(b.subarray(o, o + len));
    if (masked) {
      for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ b[keyAt + (i & 3)]!;
    }
    const frame: ParsedFrame = { fin: (b[0]! & 0x80) !== 0, rsv: (b[0]! >> 4) & 7, op: b[0]! & 0x0f, masked, payload };
    this.buf = b.subarray(o + len);
    if (this.buf.length === 0) this.buf = Buffer.alloc(0);
    return frame;
  }

  get pending(): number {
    return this.buf.length;
  }
}

/** Close frame payload: code (or none) + reason; `raw` bytes win if given. */
export function closePayload(code?: number, reason: string | Uint8Array = ''): Buffer {
  if (code === undefined) return Buffer.alloc(0);
  const r = toBytes(reason);
  const out = Buffer.allocUnsafe(2 + r.length);
  out.writeUInt16BE(code, 0);
  r.copy(out, 2);
  return out;
}

/** A deterministic pseudo-random byte generator (xorshift32), so cases are reproducible. */
export function pseudoRandomBytes(n: number, seed = 0x9e3779b9): Buffer {
  const out = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** ASCII text of length n (what Autobahn sends as "*" * n style payloads, but varied). */
export function asciiText(n: number, seed = 7): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:!?';
  const r = pseudoRandomBytes(n, seed);
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[r[i]! % alphabet.length];
  return s;
}

/** Compressible JSON-ish text, like the payloads of Autobahn sections 12/13. */
export function compressibleText(n: number, seed = 11): string {
  const words = ['{"id":', '"name":', '"value":', 'true', 'false', 'null', '"AutobahnPython"', '"switchboard"', '[1,2,3]', ', ', '}', '\n'];
  const r = pseudoRandomBytes(n, seed);
  let s = '';
  for (let i = 0; s.length < n; i++) s += words[r[i % n]! % words.length];
  return s.slice(0, n);
}
