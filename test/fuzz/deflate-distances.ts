import type { Buffer } from 'node:buffer';

/**
 * Reads a raw DEFLATE stream (RFC 1951) only to find how far back its references reach:
 * zlib checks distances against its window only across calls, so a stream that reaches past
 * the negotiated window inflates or fails depending on how its input was split. The fuzz
 * model uses this to tell such a peer's messages apart. Returns null on a malformed stream.
 */
export function farthestReference(data: Buffer): number | null {
  let pos = 0; // bit position
  const bit = (): number => {
    if (pos >> 3 >= data.length) throw new RangeError('end of data');
    const b = (data[pos >> 3]! >> (pos & 7)) & 1;
    pos++;
    return b;
  };
  const bits = (n: number): number => {
    let v = 0;
    for (let i = 0; i < n; i++) v |= bit() << i;
    return v;
  };
  let farthest = 0;
  try {
    for (;;) {
      const final = bit();
      const type = bits(2);
      if (type === 0) {
        pos = (pos + 7) & ~7;
        const len = bits(16);
        if ((bits(16) ^ 0xffff) !== len) return null;
        pos += len * 8;
        if (pos >> 3 > data.length) return farthest;
      } else if (type === 1 || type === 2) {
        const [lit, dist] = type === 1 ? FIXED : readDynamicTables(bits, bit);
        for (;;) {
          const sym = decode(lit, bit);
          if (sym < 256) continue;
          if (sym === 256) break;
          const li = sym - 257;
          if (li >= 29) return null;
          bits(LENGTH_EXTRA[li]!);
          const di = decode(dist, bit);
          if (di >= 30) return null;
          const d = DIST_BASE[di]! + bits(DIST_EXTRA[di]!);
          if (d > farthest) farthest = d;
        }
      } else {
        return null;
      }
      if (final) return farthest;
    }
  } catch (err) {
    // Data that ends inside a block is truncated: what it referenced so far counts.
    return err instanceof RangeError ? farthest : null;
  }
}

interface Table {
  counts: number[];
  symbols: number[];
}

function table(lengths: readonly number[]): Table {
  const counts = new Array<number>(16).fill(0);
  for (const l of lengths) counts[l]!++;
  counts[0] = 0;
  const offsets = new Array<number>(16).fill(0);
  for (let i = 1; i < 16; i++) offsets[i] = offsets[i - 1]! + counts[i - 1]!;
  const symbols: number[] = [];
  lengths.forEach((l, s) => {
    if (l) symbols[offsets[l]!++] = s;
  });
  return { counts, symbols };
}

/** Canonical Huffman decoding, one bit at a time (RFC 1951 section 3.2.2). */
function decode(t: Table, bit: () => number): number {
  let code = 0;
  let first = 0;
  let index = 0;
  for (let len = 1; len < 16; len++) {
    code |= bit();
    const count = t.counts[len]!;
    if (code - first < count) return t.symbols[index + code - first]!;
    index += count;
    first = (first + count) << 1;
    code <<= 1;
  }
  throw new Error('bad code');
}

function readDynamicTables(bits: (n: number) => number, bit: () => number): [Table, Table] {
  const nlen = bits(5) + 257;
  const ndist = bits(5) + 1;
  const ncode = bits(4) + 4;
  const order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
  const codeLengths = new Array<number>(19).fill(0);
  for (let i = 0; i < ncode; i++) codeLengths[order[i]!] = bits(3);
  const lencode = table(codeLengths);
  const lengths: number[] = [];
  while (lengths.length < nlen + ndist) {
    const sym = decode(lencode, bit);
    if (sym < 16) lengths.push(sym);
    else if (sym === 16) {
      if (lengths.length === 0) throw new Error('repeat with no length');
      const prev = lengths.at(-1)!;
      for (let n = 3 + bits(2); n > 0; n--) lengths.push(prev);
    } else {
      for (let n = sym === 17 ? 3 + bits(3) : 11 + bits(7); n > 0; n--) lengths.push(0);
    }
  }
  return [table(lengths.slice(0, nlen)), table(lengths.slice(nlen, nlen + ndist))];
}

const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
const FIXED: [Table, Table] = [
  table([...new Array<number>(144).fill(8), ...new Array<number>(112).fill(9), ...new Array<number>(24).fill(7), ...new Array<number>(8).fill(8)]),
  table(new Array<number>(30).fill(5)),
];
