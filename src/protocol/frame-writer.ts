import { Buffer } from 'node:buffer';
import { applyMask } from './mask.js';

/** RSV bit values as they appear in the first header byte. */
export const RSV1 = 0x40;
export const RSV2 = 0x20;
export const RSV3 = 0x10;

/** Bytes needed for a frame header with this payload length. */
export function headerLength(payloadLength: number, masked: boolean): number {
  const base = payloadLength < 126 ? 2 : payloadLength < 65536 ? 4 : 10;
  return masked ? base + 4 : base;
}

/**
 * Write a frame header into `buf` at `at`; returns the offset of the payload.
 * `rsv` is the OR of RSV1/RSV2/RSV3; `mask` (4 bytes) makes it a masked (client) frame.
 */
export function writeHeader(
  buf: Uint8Array,
  at: number,
  fin: boolean,
  rsv: number,
  opcode: number,
  payloadLength: number,
  mask: Uint8Array | null,
): number {
  buf[at] = (fin ? 0x80 : 0) | rsv | opcode;
  const maskBit = mask ? 0x80 : 0;
  let p = at + 2;
  if (payloadLength < 126) {
    buf[at + 1] = maskBit | payloadLength;
  } else if (payloadLength < 65536) {
    buf[at + 1] = maskBit | 126;
    buf[p++] = payloadLength >>> 8;
    buf[p++] = payloadLength & 0xff;
  } else {
    buf[at + 1] = maskBit | 127;
    const hi = Math.floor(payloadLength / 0x100000000);
    const lo = payloadLength >>> 0;
    buf[p++] = hi >>> 24; buf[p++] = (hi >>> 16) & 0xff; buf[p++] = (hi >>> 8) & 0xff; buf[p++] = hi & 0xff;
    buf[p++] = lo >>> 24; buf[p++] = (lo >>> 16) & 0xff; buf[p++] = (lo >>> 8) & 0xff; buf[p++] = lo & 0xff;
  }
  if (mask) {
    buf[p++] = mask[0]!; buf[p++] = mask[1]!; buf[p++] = mask[2]!; buf[p++] = mask[3]!;
  }
  return p;
}

/** A whole frame in one buffer (header and payload together, payload copied and masked if asked). */
export function encodeFrame(
  opcode: number,
  payload: Uint8Array,
  fin = true,
  rsv = 0,
  mask: Uint8Array | null = null,
): Buffer {
  const len = payload.length;
  const out = Buffer.allocUnsafe(headerLength(len, mask !== null) + len);
  const p = writeHeader(out, 0, fin, rsv, opcode, len, mask);
  out.set(payload, p);
  if (mask && len > 0) applyMask(out.subarray(p), mask, 0);
  return out;
}

/** A whole text frame written straight from a string (no intermediate buffer for the payload). */
export function encodeTextFrame(text: string, byteLength: number, fin: boolean, rsv: number, mask: Uint8Array | null): Buffer {
  const out = Buffer.allocUnsafe(headerLength(byteLength, mask !== null) + byteLength);
  const p = writeHeader(out, 0, fin, rsv, 0x1, byteLength, mask);
  out.write(text, p, 'utf8');
  if (mask && byteLength > 0) applyMask(out.subarray(p), mask, 0);
  return out;
}

/** Just the header, for large unmasked payloads that are written without being copied. */
export function encodeHeader(opcode: number, payloadLength: number, fin = true, rsv = 0): Buffer {
  const out = Buffer.allocUnsafe(headerLength(payloadLength, false));
  writeHeader(out, 0, fin, rsv, opcode, payloadLength, null);
  return out;
}

/** A whole unmasked message frame, built once to be written as the same bytes to many connections. */
export function prepareFrame(data: string | Uint8Array, isBinary: boolean): Buffer {
  if (typeof data === 'string') return encodeTextFrame(data, Buffer.byteLength(data), true, 0, null);
  return encodeFrame(isBinary ? 0x2 : 0x1, data, true, 0, null);
}
