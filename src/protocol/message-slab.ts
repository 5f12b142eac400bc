import { Buffer } from 'node:buffer';

const EMPTY = Buffer.alloc(0);

/**
 * Memory for received messages: a bump allocator over blocks, so assembling a message
 * costs no ArrayBuffer of its own (each one is external memory V8 must account for, and a
 * stream of them forces collections).
 *
 * Ownership: a block is never reused. What is handed out stays valid as long as anyone
 * holds it, and a block is freed by the garbage collector once nothing refers to any part
 * of it. The price is that a message kept for a long time keeps its whole block alive;
 * code that stores many messages should copy them (`Buffer.from`).
 *
 * Two block sizes, measured: small requests (short reads, small messages) come from 64 KiB
 * blocks, which the C allocator hands back warm once freed, so copying into them costs
 * about what Node's own read buffers cost; larger ones (a 64 KiB message read in place)
 * from 1 MiB blocks, which the allocator serves from memory it keeps once the first is
 * freed. With 128-256 KiB blocks, at its initial mmap threshold, every block was a fresh
 * mapping whose first-touch page faults cost more than the copies saved.
 */
export class MessageSlab {
  readonly blockSize: number;
  /** Requests up to this size come from the small blocks. */
  readonly smallCarve: number;
  /** Requests up to this size come from the large blocks; larger ones get memory of their own. */
  readonly maxCarve: number;
  readonly #small: Tier;
  readonly #large: Tier;

  /** `blockSize`: the large blocks; small ones are a sixteenth of it, at least 4 KiB. */
  constructor(blockSize = 1024 * 1024, maxCarve = blockSize / 4) {
    this.blockSize = blockSize;
    this.maxCarve = Math.min(maxCarve, blockSize);
    const small = Math.max(4096, blockSize >>> 4);
    this.smallCarve = Math.min(small >>> 2, this.maxCarve);
    this.#small = new Tier(small);
    this.#large = new Tier(blockSize);
  }

  /** `n` bytes of uninitialised memory that nothing else will ever be given. */
  alloc(n: number): Buffer {
    if (n === 0) return EMPTY;
    if (n <= this.smallCarve) return this.#small.take(n);
    if (n <= this.maxCarve) return this.#large.take(n);
    return Buffer.allocUnsafeSlow(n);
  }
}

class Tier {
  readonly #size: number;
  #block: Buffer | null = null;
  #pos = 0;

  constructor(size: number) {
    this.#size = size;
  }

  take(n: number): Buffer {
    let block = this.#block;
    const start = this.#pos;
    if (block === null || start + n > block.length) {
      block = this.#block = Buffer.allocUnsafeSlow(this.#size);
      this.#pos = (n + 7) & ~7;
      return block.subarray(0, n);
    }
    // 8-byte aligned starts keep word-wise unmasking of what lands here aligned.
    this.#pos = (start + n + 7) & ~7;
    return block.subarray(start, start + n);
  }
}
