/**
 * A small seeded generator (xorshift32): mutation and chunking must be reproducible from a
 * seed, so a failure found by a long run can be replayed exactly.
 */
export class Prng {
  #s: number;

  constructor(seed: number) {
    this.#s = seed >>> 0 || 0x9e3779b9;
  }

  next(): number {
    let x = this.#s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#s = x >>> 0;
    return this.#s;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return n <= 1 ? 0 : Math.floor((this.next() / 0x100000000) * n);
  }

  chance(oneIn: number): boolean {
    return this.below(oneIn) === 0;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)]!;
  }
}

/** A stable 32-bit seed derived from bytes (FNV-1a): the same input always splits the same way. */
export function seedOf(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

/** Sorted distinct cut points in (0, length), for feeding a stream in pieces. */
export function randomCuts(length: number, rng: Prng, maxCuts = 8): number[] {
  if (length < 2) return [];
  const n = 1 + rng.below(maxCuts);
  const cuts = new Set<number>();
  for (let i = 0; i < n; i++) cuts.add(1 + rng.below(length - 1));
  return [...cuts].sort((a, b) => a - b);
}

/** Split `bytes` at `cuts`, copying each piece (a parser may keep views of what it is given). */
export function splitAt(bytes: Uint8Array, cuts: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of [...cuts, bytes.length]) {
    if (c > prev) out.push(Buffer.from(bytes.subarray(prev, c)));
    prev = c;
  }
  return out;
}
