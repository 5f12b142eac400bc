import { Buffer } from 'node:buffer';

const NONE = Buffer.alloc(0);

/**
 * Where small outgoing frames are built in place: header and payload written straight
 * into one block, consecutive frames of a connection side by side, so one turn's output
 * leaves as one write with no buffer per frame and no concatenation.
 *
 * The owner of the writes decides when the memory may be used again: `release()` once
 * everything reserved so far has been handed to the kernel (the block is rewound), or
 * `retire()` when some of it is still queued (the block is left to the garbage collector
 * and a fresh one starts). Nothing reserved is ever overwritten while it may be queued.
 */
export class OutputArena {
  readonly blockSize: number;
  /** The block the last `reserve` returned an offset into. */
  buf: Buffer;
  #pos = 0;

  constructor(blockSize = 64 * 1024) {
    this.blockSize = blockSize;
    // The first block comes with the first frame: an arena nobody writes to costs nothing.
    this.buf = NONE;
  }

  /** Room for `n` bytes; returns the offset in `this.buf` (read `buf` after calling). */
  reserve(n: number): number {
    const at = this.#pos;
    if (at + n <= this.buf.length) {
      this.#pos = at + n;
      return at;
    }
    this.buf = Buffer.allocUnsafeSlow(n > this.blockSize ? n : this.blockSize);
    this.#pos = n;
    return 0;
  }

  /** Nothing reserved so far is referenced any more: start over at the block's beginning. */
  release(): void {
    this.#pos = 0;
  }

  /** Some reserved bytes are still queued: never touch this block again. */
  retire(): void {
    // An empty block: the next reservation takes a fresh one, and a later release()
    // cannot rewind the block that is still queued.
    this.buf = NONE;
    this.#pos = 0;
  }
}
