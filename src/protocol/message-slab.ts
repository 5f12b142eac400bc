import { Buffer } from 'node:buffer';

const EMPTY = Buffer.alloc(0);

/**
 * Memory for received messages: a bump allocator over large blocks, so assembling a
 * message costs no ArrayBuffer of its own (each one is external memory V8 must account
 * for, and a stream of them forces collections).
 *
 * Ownership: a block is never reused. What is handed out stays valid as long as anyone
 * holds it, and a block is freed by the garbage collector once nothing refers to any part
 * of it. The price is that a message kept for a long time keeps its whole block alive (at
 * most `blockSize`); code that stores many messages should copy them (`Buffer.from`).
 *
 * Block size: 1 MiB by default. Blocks come and go at the rate messages arrive, and the C
 * allocator serves 1 MiB requests from memory it already has once the first such block
 * is freed; with 128-256 KiB blocks (at its initial mmap threshold) every block was fresh
 * mappings, and the page faults of first touching them cost more than the copies saved.
 */
export class MessageSlab {
  readonly blockSize: number;
  /** Larger requests get memory of their own: one allocation is cheap per byte there. */
  readonly maxCarve: number;
  #block: Buffer | null = null;
  #pos = 0;

  constructor(blockSize = 1024 * 1024, maxCarve = blockSize / 4) {
    this.blockSize = blockSize;
    this.maxCarve = Math.min(maxCarve, blockSize);
  }

  /** `n` bytes of uninitialised memory that nothing else will ever be given. */
  alloc(n: number): Buffer {
    if (n === 0) return EMPTY;
    if (n > this.maxCarve) return Buffer.allocUnsafeSlow(n);
    let block = this.#block;
    const start = this.#pos;
    if (block === null || start + n > block.length) {
      block = this.#block = Buffer.allocUnsafeSlow(this.blockSize);
      this.#pos = (n + 7) & ~7;
      return block.subarray(0, n);
    }
    // 8-byte aligned starts keep word-wise unmasking of what lands here aligned.
    this.#pos = (start + n + 7) & ~7;
    return block.subarray(start, start + n);
  }
}
