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
 * from 256 KiB blocks. Larger blocks held more messages each, so a block lived as long as
 * the slowest of them: with 1 MiB blocks, 64 KiB echo at full speed promoted blocks to the
 * old generation and paid 2-7 mark-compacts in 3 s, against 0-1 with 256 KiB.
 */
export class MessageSlab {
  /** Requests up to this size come from the small blocks. */
  readonly smallCarve: number;
  /** Requests up to this size come from the large blocks; larger ones get memory of their own. */
  readonly maxCarve: number;
  readonly #small: Tier;
  readonly #large: Tier;

  /**
   * `onLargeBlock`: called before the first large block is allocated (the transport uses
   * it to tune the process's allocator for such blocks, see allocator-thresholds.ts).
   */
  constructor(largeBlock = 256 * 1024, smallBlock = Math.min(64 * 1024, largeBlock), onLargeBlock?: () => void) {
    this.maxCarve = largeBlock;
    this.smallCarve = smallBlock >>> 2;
    this.#small = new Tier(smallBlock);
    this.#large = new Tier(largeBlock, onLargeBlock);
  }

  /** `n` bytes of uninitialised memory that nothing else will ever be given. */
  alloc(n: number): Buffer {
    if (n === 0) return EMPTY;
    if (n <= this.smallCarve) return this.#small.take(n);
    if (n <= this.maxCarve) return this.#large.take(n);
    return Buffer.allocUnsafeSlow(n);
  }

  /**
   * The free rest of the current small block (a new block when less than `min` is left),
   * for a producer that does not know its output size beforehand (an inflater): it writes
   * there, then `commit`s what it used, and nothing is copied. Nothing else may be taken
   * from this slab between the two calls.
   */
  rest(min: number): Buffer {
    return this.#small.rest(Math.min(min, this.smallCarve));
  }

  /** Keep the first `n` bytes of the last `rest()`; they are never handed out again. */
  commit(n: number): void {
    this.#small.commit(n);
  }
}

class Tier {
  readonly #size: number;
  #block: Buffer | null = null;
  #pos = 0;
  #first: (() => void) | undefined;

  constructor(size: number, first?: () => void) {
    this.#size = size;
    this.#first = first;
  }

  take(n: number): Buffer {
    let block = this.#block;
    const start = this.#pos;
    if (block === null || start + n > block.length) {
      if (block === null && this.#first !== undefined) {
        this.#first();
        this.#first = undefined;
      }
      block = this.#block = Buffer.allocUnsafeSlow(this.#size);
      this.#pos = (n + 7) & ~7;
      return block.subarray(0, n);
    }
    // 8-byte aligned starts keep word-wise unmasking of what lands here aligned.
    this.#pos = (start + n + 7) & ~7;
    return block.subarray(start, start + n);
  }

  rest(min: number): Buffer {
    let block = this.#block;
    if (block === null || block.length - this.#pos < min) {
      block = this.#block = Buffer.allocUnsafeSlow(this.#size);
      this.#pos = 0;
    }
    return block.subarray(this.#pos);
  }

  commit(n: number): void {
    this.#pos = Math.min(this.#block!.length, (this.#pos + n + 7) & ~7);
  }
}
