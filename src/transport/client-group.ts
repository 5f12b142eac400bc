import { Buffer } from 'node:buffer';
import { randomFillSync } from 'node:crypto';
import { FlushQueue } from './flush-queue.js';
import { ZlibCodecPool } from './zlib-codec.js';
import { ReadMemory } from './read-memory.js';
import { Http2Sessions } from './http2-sessions.js';

/**
 * What client connections may share: one flush per event-loop turn for all of them (and
 * the arena their frames are built in), the read buffer and message memory, one random
 * pool their mask keys are cut from (a syscall per many frames, RFC 6455 section 5.3 needs
 * an unpredictable key per frame) and the zlib contexts. Each `connect()` gets a
 * small group of its own unless it is given one; a process that opens many connections
 * passes one group to all of them.
 */
export class ClientGroup {
  readonly flushQueue = new FlushQueue(16 * 1024);
  // A client's blocks are 64 KiB, below glibc's mmap threshold; connecting leaves the process's allocator alone.
  readonly reads = new ReadMemory({ slabBlockBytes: 64 * 1024, keepFreedMemory: false });
  readonly #pool: Buffer;
  #offset: number;
  #zlib: ZlibCodecPool | null = null;
  #http2: Http2Sessions | null = null;

  constructor(options: { maskPoolBytes?: number } = {}) {
    const bytes = Math.max(16, Math.ceil((options.maskPoolBytes ?? 8192) / 4) * 4);
    this.#pool = Buffer.alloc(bytes);
    this.#offset = bytes;
  }

  /** A fresh 4-byte mask key. */
  readonly maskKey = (): Uint8Array => {
    if (this.#offset + 4 > this.#pool.length) {
      randomFillSync(this.#pool);
      this.#offset = 0;
    }
    const key = this.#pool.subarray(this.#offset, this.#offset + 4);
    this.#offset += 4;
    return key;
  };

  get zlib(): ZlibCodecPool {
    return (this.#zlib ??= new ZlibCodecPool());
  }

  /** HTTP/2 connections by origin, for `connect(url, { http2: true })`: the group's WebSockets to one origin share one. */
  get http2(): Http2Sessions {
    return (this.#http2 ??= new Http2Sessions());
  }

  /** Release the zlib contexts (connections using them must be closed). */
  close(): void {
    this.#zlib?.close();
    this.#zlib = null;
  }
}
