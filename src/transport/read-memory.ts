import { Buffer } from 'node:buffer';
import { MessageSlab } from '../protocol/index.js';
import { raiseAllocatorThresholds } from './allocator-thresholds.js';

/**
 * The memory one server's (or one client group's) connections receive into: one read
 * buffer they all share, and the slab their messages are assembled in. Sharing the read
 * buffer is safe because a read's bytes are parsed, and whatever must outlive them copied
 * or delivered, before the read callback returns; an idle connection holds no read memory.
 */
export class ReadMemory {
  readonly slab: MessageSlab;
  readonly bufferBytes: number;
  #buffer: Buffer | null = null;

  /** `keepFreedMemory` (default true): see raiseAllocatorThresholds. */
  constructor(options: { bufferBytes?: number; slabBlockBytes?: number; keepFreedMemory?: boolean } = {}) {
    // Small enough that the part of a large frame read here before its landing place is
    // chosen stays a small copy; large enough for a burst of small frames in one read.
    this.bufferBytes = options.bufferBytes ?? 16 * 1024;
    const keep = options.keepFreedMemory === false ? undefined : raiseAllocatorThresholds;
    this.slab = new MessageSlab(options.slabBlockBytes, undefined, keep);
  }

  get buffer(): Buffer {
    return (this.#buffer ??= Buffer.allocUnsafeSlow(this.bufferBytes));
  }
}
