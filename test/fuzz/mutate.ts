import { Buffer } from 'node:buffer';
import type { Prng } from './prng.js';

/** Byte values that sit on boundaries parsers test: length escapes, opcodes, separators. */
const INTERESTING_BYTES = [0x00, 0x01, 0x7d, 0x7e, 0x7f, 0x80, 0x81, 0x88, 0x89, 0x8a, 0xc1, 0xfe, 0xff, 0x0d, 0x0a, 0x20, 0x22, 0x25, 0x2c, 0x2e, 0x2f, 0x3a, 0x3b, 0x3d, 0x5c];
const INTERESTING_WORDS = [0, 1, 125, 126, 127, 128, 255, 256, 0x7fff, 0x8000, 0xffff, 0x10000];

export interface MutationContext {
  /** Tokens of the input language, inserted or overwritten whole. */
  dictionary: readonly Buffer[];
  /** Other inputs to splice from. */
  pool: readonly Buffer[];
  maxLength: number;
}

type Mutator = (b: Buffer, rng: Prng, ctx: MutationContext) => Buffer;

const mutators: Mutator[] = [
  function flipBit(b, rng) {
    if (b.length === 0) return b;
    const out = Buffer.from(b);
    out[rng.below(out.length)]! ^= 1 << rng.below(8);
    return out;
  },
  function setInterestingByte(b, rng) {
    if (b.length === 0) return Buffer.from([rng.pick(INTERESTING_BYTES)]);
    const out = Buffer.from(b);
    out[rng.below(out.length)] = rng.pick(INTERESTING_BYTES);
    return out;
  },
  function setRandomByte(b, rng) {
    if (b.length === 0) return Buffer.from([rng.below(256)]);
    const out = Buffer.from(b);
    out[rng.below(out.length)] = rng.below(256);
    return out;
  },
  function nudgeByte(b, rng) {
    if (b.length === 0) return b;
    const out = Buffer.from(b);
    const i = rng.below(out.length);
    out[i] = (out[i]! + (rng.chance(2) ? 1 : 255)) & 0xff;
    return out;
  },
  function setWord(b, rng) {
    if (b.length < 2) return b;
    const out = Buffer.from(b);
    out.writeUInt16BE(rng.pick(INTERESTING_WORDS) & 0xffff, rng.below(out.length - 1));
    return out;
  },
  function insertRandomBytes(b, rng) {
    const at = rng.below(b.length + 1);
    const n = 1 + rng.below(rng.chance(4) ? 64 : 4);
    const ins = Buffer.allocUnsafe(n);
    const fill = rng.chance(2) ? rng.below(256) : -1;
    for (let i = 0; i < n; i++) ins[i] = fill >= 0 ? fill : rng.below(256);
    return Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]);
  },
  function deleteRange(b, rng) {
    if (b.length === 0) return b;
    const at = rng.below(b.length);
    const n = 1 + rng.below(Math.min(b.length - at, rng.chance(4) ? 256 : 8));
    return Buffer.concat([b.subarray(0, at), b.subarray(at + n)]);
  },
  function duplicateRange(b, rng) {
    if (b.length === 0) return b;
    const from = rng.below(b.length);
    const n = 1 + rng.below(Math.min(b.length - from, 64));
    const at = rng.below(b.length + 1);
    return Buffer.concat([b.subarray(0, at), b.subarray(from, from + n), b.subarray(at)]);
  },
  function truncate(b, rng) {
    return b.length === 0 ? b : b.subarray(0, rng.below(b.length));
  },
  function insertToken(b, rng, ctx) {
    if (ctx.dictionary.length === 0) return b;
    const at = rng.below(b.length + 1);
    return Buffer.concat([b.subarray(0, at), rng.pick(ctx.dictionary), b.subarray(at)]);
  },
  function overwriteToken(b, rng, ctx) {
    if (ctx.dictionary.length === 0 || b.length === 0) return b;
    const tok = rng.pick(ctx.dictionary);
    const at = rng.below(b.length);
    const out = Buffer.from(b);
    tok.copy(out, at, 0, Math.min(tok.length, out.length - at));
    return out;
  },
  function spliceOther(b, rng, ctx) {
    if (ctx.pool.length === 0) return b;
    const other = rng.pick(ctx.pool);
    const cutA = rng.below(b.length + 1);
    const cutB = rng.below(other.length + 1);
    return Buffer.concat([b.subarray(0, cutA), other.subarray(cutB)]);
  },
];

/** Apply a stack of 1..`depth` random mutations (libFuzzer-style havoc) to a copy of `input`. */
export function mutate(input: Buffer, rng: Prng, ctx: MutationContext, depth = 4): Buffer {
  let b = input;
  const n = 1 + rng.below(depth);
  for (let i = 0; i < n; i++) b = rng.pick(mutators)(b, rng, ctx);
  return b.length > ctx.maxLength ? b.subarray(0, ctx.maxLength) : b;
}
