import { Buffer } from 'node:buffer';
import zlib from 'node:zlib';
import type { DeflateCodec, DeflateCodecFactory, DeflateCodecParams } from '../protocol/index.js';

/**
 * Synchronous zlib for permessage-deflate. Node's streaming zlib is asynchronous and its
 * sync helpers close the stream after one call, so context takeover normally forces an
 * async queue (ws's INFLATING state). Driving the native handle's `writeSync` directly keeps
 * a persistent context and lets the protocol core stay synchronous, with no thread-pool
 * round trip per message. The inflate loop checks the output size after every chunk, so a
 * compression bomb is refused once `maxBytes` is passed, never inflated whole.
 *
 * Memory stays bounded under many connections:
 * - a direction negotiated without context takeover uses one stream shared by every
 *   connection of the pool (it is reset after each message);
 * - compressor contexts (about 256 KiB each at the default memLevel) live in an LRU of
 *   `maxDeflateContexts`; an evicted connection's next message starts a fresh context,
 *   which is always valid for the peer (it only costs some compression ratio);
 * - inflate contexts are per connection (the peer's window must be kept) and zlib
 *   allocates their window on first use.
 */
export interface ZlibPoolOptions {
  /** Compression level 0-9 (default 6... set lower for speed). */
  level?: number;
  /** zlib memLevel for compressors, 1-9 (default 8). */
  memLevel?: number;
  /** Most compressor contexts kept alive at once (default 64). */
  maxDeflateContexts?: number;
  /** Output chunk size of the zlib loop (default 16 KiB). */
  chunkSize?: number;
}

interface NativeHandle {
  writeSync(flush: number, input: Buffer, inOff: number, inLen: number, out: Buffer, outOff: number, outLen: number): void;
  reset(): void;
  close(): void;
  onerror: (message: string, errno: number, code?: string) => void;
}

interface Engine {
  stream: zlib.DeflateRaw | zlib.InflateRaw;
  handle: NativeHandle;
  state: Uint32Array;
  error: string | null;
}

const { Z_SYNC_FLUSH } = zlib.constants;

function engine(stream: zlib.DeflateRaw | zlib.InflateRaw): Engine {
  const internals = stream as unknown as { _handle: NativeHandle; _writeState: Uint32Array };
  const e: Engine = { stream, handle: internals._handle, state: internals._writeState, error: null };
  e.handle.onerror = (message: string) => {
    e.error = message;
  };
  return e;
}

/** Run input through the engine with Z_SYNC_FLUSH; null when output passes `max`. */
function run(e: Engine, input: Buffer, max: number, chunkSize: number): Buffer | null {
  const out: Buffer[] = [];
  let total = 0;
  let inOff = 0;
  let inLen = input.length;
  let buf = Buffer.allocUnsafe(chunkSize);
  while (true) {
    e.handle.writeSync(Z_SYNC_FLUSH, input, inOff, inLen, buf, 0, chunkSize);
    if (e.error) {
      const msg = e.error;
      e.error = null;
      throw new Error(msg);
    }
    const availOut = e.state[0]!;
    const availIn = e.state[1]!;
    const have = chunkSize - availOut;
    if (have > 0) {
      total += have;
      if (total > max) return null;
      out.push(have === chunkSize ? buf : buf.subarray(0, have));
    }
    inOff += inLen - availIn;
    inLen = availIn;
    if (availOut !== 0) break; // zlib had room left: everything is flushed
    buf = Buffer.allocUnsafe(chunkSize);
  }
  return out.length === 1 ? out[0]! : Buffer.concat(out, total);
}

/** One pool per server (or client): owns the shared streams and the compressor LRU. */
export class ZlibCodecPool {
  readonly #level: number;
  readonly #memLevel: number;
  readonly #maxContexts: number;
  readonly #chunk: number;
  #sharedDeflate = new Map<number, Engine>();
  #sharedInflate = new Map<number, Engine>();
  /** Connections holding a compressor context, least recently used first. */
  #lru = new Set<ZlibCodec>();

  constructor(options: ZlibPoolOptions = {}) {
    this.#level = options.level ?? zlib.constants.Z_DEFAULT_COMPRESSION;
    this.#memLevel = options.memLevel ?? 8;
    this.#maxContexts = options.maxDeflateContexts ?? 64;
    this.#chunk = options.chunkSize ?? 16 * 1024;
  }

  readonly factory: DeflateCodecFactory = (params) => new ZlibCodec(this, params);

  get chunkSize(): number {
    return this.#chunk;
  }

  newDeflate(windowBits: number): Engine {
    return engine(zlib.createDeflateRaw({ windowBits: Math.max(9, windowBits), level: this.#level, memLevel: this.#memLevel }));
  }

  newInflate(windowBits: number): Engine {
    return engine(zlib.createInflateRaw({ windowBits: Math.max(9, windowBits) }));
  }

  sharedDeflate(windowBits: number): Engine {
    let e = this.#sharedDeflate.get(windowBits);
    if (!e) this.#sharedDeflate.set(windowBits, (e = this.newDeflate(windowBits)));
    return e;
  }

  sharedInflate(windowBits: number): Engine {
    let e = this.#sharedInflate.get(windowBits);
    if (!e) this.#sharedInflate.set(windowBits, (e = this.newInflate(windowBits)));
    return e;
  }

  /** Mark `codec` as the most recent compressor user; evict the oldest past the cap. */
  touch(codec: ZlibCodec): void {
    this.#lru.delete(codec);
    this.#lru.add(codec);
    if (this.#lru.size > this.#maxContexts) {
      const oldest = this.#lru.values().next().value as ZlibCodec;
      this.#lru.delete(oldest);
      oldest.releaseDeflate();
    }
  }

  forget(codec: ZlibCodec): void {
    this.#lru.delete(codec);
  }

  get liveDeflateContexts(): number {
    return this.#lru.size;
  }

  close(): void {
    for (const e of [...this.#sharedDeflate.values(), ...this.#sharedInflate.values()]) e.stream.close();
    this.#sharedDeflate.clear();
    this.#sharedInflate.clear();
    for (const c of this.#lru) c.releaseDeflate();
    this.#lru.clear();
  }
}

class ZlibCodec implements DeflateCodec {
  #pool: ZlibCodecPool;
  #p: DeflateCodecParams;
  #deflate: Engine | null = null;
  #inflate: Engine | null = null;

  constructor(pool: ZlibCodecPool, params: DeflateCodecParams) {
    this.#pool = pool;
    this.#p = params;
  }

  deflate(data: Buffer): Buffer {
    const p = this.#p;
    if (p.deflateNoContextTakeover) {
      const e = this.#pool.sharedDeflate(p.deflateWindowBits);
      try {
        return run(e, data, Infinity, this.#pool.chunkSize)!;
      } finally {
        e.handle.reset();
      }
    }
    const e = (this.#deflate ??= this.#pool.newDeflate(p.deflateWindowBits));
    this.#pool.touch(this);
    return run(e, data, Infinity, this.#pool.chunkSize)!;
  }

  inflate(data: Buffer, maxBytes: number): Buffer | null {
    const p = this.#p;
    if (p.inflateNoContextTakeover) {
      const e = this.#pool.sharedInflate(p.inflateWindowBits);
      try {
        return run(e, data, maxBytes, this.#pool.chunkSize);
      } finally {
        e.handle.reset();
      }
    }
    const e = (this.#inflate ??= this.#pool.newInflate(p.inflateWindowBits));
    const out = run(e, data, maxBytes, this.#pool.chunkSize);
    if (out === null) {
      // The message is refused and the connection fails: the context is useless now.
      this.#inflate = null;
      e.stream.close();
    }
    return out;
  }

  releaseDeflate(): void {
    this.#deflate?.stream.close();
    this.#deflate = null;
  }

  dispose(): void {
    this.#pool.forget(this);
    this.releaseDeflate();
    this.#inflate?.stream.close();
    this.#inflate = null;
  }
}
