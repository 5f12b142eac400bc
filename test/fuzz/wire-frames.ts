import { Buffer } from 'node:buffer';

export interface WireFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/**
 * Read back the frames an endpoint wrote, strictly: they must be whole, minimally encoded
 * and masked exactly when a client sends them. Throws on anything else.
 */
export function readWireFrames(bytes: Buffer, expectMasked: boolean): WireFrame[] {
  const frames: WireFrame[] = [];
  let p = 0;
  while (p < bytes.length) {
    if (bytes.length - p < 2) throw new Error(`truncated frame header at ${p}`);
    const b0 = bytes[p]!;
    const b1 = bytes[p + 1]!;
    const masked = (b1 & 0x80) !== 0;
    if (masked !== expectMasked) throw new Error(`frame at ${p} is ${masked ? '' : 'not '}masked`);
    let len = b1 & 0x7f;
    let h = p + 2;
    if (len === 126) {
      len = bytes.readUInt16BE(h);
      if (len < 126) throw new Error(`non-minimal length at ${p}`);
      h += 2;
    } else if (len === 127) {
      const big = bytes.readBigUInt64BE(h);
      if (big < 0x10000n || big > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`bad 64-bit length at ${p}`);
      len = Number(big);
      h += 8;
    }
    let mask: Buffer | null = null;
    if (masked) {
      mask = bytes.subarray(h, h + 4);
      h += 4;
    }
    if (h + len > bytes.length) throw new Error(`truncated payload at ${p}`);
    const payload = Buffer.from(bytes.subarray(h, h + len));
    if (mask) for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
    frames.push({ fin: (b0 & 0x80) !== 0, rsv: b0 & 0x70, opcode: b0 & 0x0f, masked, payload });
    p = h + len;
  }
  return frames;
}

/** Encode one frame with full control over every field (including wrong ones). */
export function craftFrame(f: { fin: boolean; rsv: number; opcode: number; mask: Uint8Array | null; payload: Uint8Array; longLength?: boolean }): Buffer {
  const n = f.payload.length;
  const form = f.longLength ? 127 : n < 126 ? n : n < 0x10000 ? 126 : 127;
  const extra = form === 126 ? 2 : form === 127 ? 8 : 0;
  const head = Buffer.alloc(2 + extra + (f.mask ? 4 : 0));
  head[0] = (f.fin ? 0x80 : 0) | (f.rsv & 0x70) | (f.opcode & 0x0f);
  head[1] = (f.mask ? 0x80 : 0) | form;
  if (form === 126) head.writeUInt16BE(n, 2);
  else if (form === 127) head.writeBigUInt64BE(BigInt(n), 2);
  const body = Buffer.from(f.payload);
  if (f.mask) {
    head.set(f.mask.subarray(0, 4), 2 + extra);
    for (let i = 0; i < body.length; i++) body[i]! ^= f.mask[i & 3]!;
  }
  return Buffer.concat([head, body]);
}
