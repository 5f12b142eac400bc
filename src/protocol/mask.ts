import type { Buffer } from 'node:buffer';

/**
 * XOR `data[start, end)` in place with the 4-byte `mask`, starting at mask index `offset`
 * (0-3), so a frame's payload can be unmasked piece by piece as it arrives. Returns the
 * next offset.
 *
 * The aligned middle of the buffer is processed a word at a time: 64-bit words for large
 * payloads (V8 compiles BigUint64Array XOR to plain machine ops, about a third faster than
 * 32-bit words here), 32-bit words for medium ones, bytes for short payloads and the ends. This is what makes
 * 64 KiB echoes cheap without a native addon. Little-endian hosts only (x86 and ARM as Node
 * runs them): byte k of a word is its k-th lowest byte.
 */
export function applyMask(data: Buffer | Uint8Array, mask: Uint8Array, offset: number, start = 0, end = data.length): number {
  return applyMaskKey(data, maskKey(mask), offset, start, end);
}

/** The 4 mask bytes as one 32-bit value, byte 0 in the lowest bits (how applyMaskKey takes them). */
export function maskKey(mask: Uint8Array): number {
  return mask[0]! | (mask[1]! << 8) | (mask[2]! << 16) | (mask[3]! << 24);
}

/** applyMask with the mask as a 32-bit key (see maskKey): nothing to allocate to hold it. */
export function applyMaskKey(data: Buffer | Uint8Array, key: number, offset: number, start = 0, end = data.length): number {
  let i = start;
  // Word-wise needs a typed-array view of the range, an allocation per call: worth it only
  // when the range is long enough to pay for it.
  if (end - start >= 128) {
    const wide = end - start >= 256;
    const align = wide ? 7 : 3;
    const lead = i + (((align + 1) - ((data.byteOffset + i) & align)) & align);
    for (; i < lead; i++) data[i] ^= key >>> (((offset + i - start) & 3) << 3);
    // The key rotated so its lowest byte is the one due at i; signed 32-bit keeps V8 on
    // small-integer arithmetic (no heap numbers in the loop).
    const sh = ((offset + i - start) & 3) << 3;
    const k = sh === 0 ? key | 0 : (key >>> sh) | (key << (32 - sh));
    if (wide) {
      const words = (end - i) >>> 3;
      const k32 = BigInt(k >>> 0);
      const k64 = (k32 << 32n) | k32;
      const view = new BigUint64Array(data.buffer, data.byteOffset + i, words);
      const quads = words & ~3;
      let w = 0;
      for (; w < quads; w += 4) {
        view[w] ^= k64;
        view[w + 1] ^= k64;
        view[w + 2] ^= k64;
        view[w + 3] ^= k64;
      }
      for (; w < words; w++) view[w] ^= k64;
      i += words << 3;
    } else {
      const words = (end - i) >>> 2;
      const view = new Int32Array(data.buffer, data.byteOffset + i, words);
      for (let w = 0; w < words; w++) view[w] ^= k;
      i += words << 2;
    }
  }
  for (; i < end; i++) data[i] ^= key >>> (((offset + i - start) & 3) << 3);
  return (offset + end - start) & 3;
}

/** Copy `src` into `dst` at `at`, masked with `mask` from index 0 (client frames). */
export function copyMasked(src: Uint8Array, dst: Uint8Array, at: number, mask: Uint8Array): void {
  dst.set(src, at);
  applyMask(dst.subarray(at, at + src.length), mask, 0);
}
