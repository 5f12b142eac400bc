import { Buffer } from 'node:buffer';
import zlib from 'node:zlib';
import { MessageSlab, type DeflateCodec, type DeflateCodecFactory, type DeflateCodecParams } from '../protocol/index.js';

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
 * - with context takeover, a connection keeps its sliding window as plain bytes (at most
 *   2^windowBits, usually just its last few messages) and a live zlib context only while
 *   it is among the most recently active (`maxDeflateContexts`, `maxInflateContexts`).
 *   An evicted connection's next message gets a new context primed with that history as a
 *   preset dictionary, so compression and decompression continue exactly as before: a
 *   compressor context costs about 256 KiB, its history a few KiB.
 */
export interface ZlibPoolOptions {
  /** Compression level 0-9 (default: zlib's default, 6). */
  level?: number;
  /** zlib memLevel for compressors, 1-9 (default 8). */
  memLevel?: number;
  /** Most live compressor contexts at once (default 64). */
  maxDeflateContexts?: number;
  /** Most live decompressor contexts at once (default 128). */
  maxInflateContexts?: number;
  /** Initial size of the pool's zlib output scratch; it doubles as needed up to 1 MiB (default 16 KiB). */
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
  /** Input bytes the last run left unconsumed: an inflater does that only once its stream is over. */
  unused: number;
}

const { Z_SYNC_FLUSH } = zlib.constants;

function engine(stream: zlib.DeflateRaw | zlib.InflateRaw): Engine {
  const internals = stream as unknown as { _handle: NativeHandle; _writeState: Uint32Array };
  const e: Engine = { stream, handle: internals._handle, state: internals._writeState, error: null, unused: 0 };
  e.handle.onerror = (message: string) => {
    e.error = message;
  };
  return e;
}

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
/** The scratch output grows to this at most; a larger output gets memory of its own. */
const SCRATCH_MAX = 1024 * 1024;

/**
 * Where the zlib loop writes: straight into never-reused slab memory, so a result that fits
 * the rest of the slab's block is returned as it lies (no copy). A larger one continues in
 * one scratch buffer per pool and is then copied, exactly sized, into the slab.
 */
class Output {
  /** Kept between calls. */
  #scratch: Buffer;
  /** What the current call writes to: the slab's rest, the scratch, or a larger buffer for this call only. */
  #work: Buffer;
  readonly #slab = new MessageSlab();
  constructor(size: number) {
    this.#scratch = this.#work = Buffer.allocUnsafeSlow(size);
  }

  /**
   * Run `input` (then `tail`, if given) through the engine with Z_SYNC_FLUSH; the output,
   * or null as soon as it passes `max`.
   */
  run(e: Engine, input: Buffer, tail: Buffer | null, max: number): Buffer | null {
    // Room for what inflating usually yields; deflating yields less.
    const direct = this.#slab.rest(input.length * 4 + 64);
    this.#work = direct;
    let total = this.#drive(e, input, 0, max);
    if (total !== -1 && tail !== null) {
      // What tells an ended stream is the input it left, not the tail.
      const unused = e.unused;
      total = this.#drive(e, tail, total, max);
      e.unused = unused;
    }
    if (total === -1) return null;
    const work = this.#work;
    if (work === direct) {
      this.#slab.commit(total);
      return direct.subarray(0, total);
    }
    if (work !== this.#scratch) return work.subarray(0, total);
    const out = this.#slab.alloc(total);
    work.copy(out, 0, 0, total);
    return out;
  }

  /** Feed one input; returns the output's new end, or -1 past `max`. */
  #drive(e: Engine, input: Buffer, total: number, max: number): number {
    let inOff = 0;
    let inLen = input.length;
    while (true) {
      const buf = this.#work;
      const room = buf.length - total;
      e.handle.writeSync(Z_SYNC_FLUSH, input, inOff, inLen, buf, total, room);
      if (e.error) {
        const msg = e.error;
        e.error = null;
        throw new Error(msg);
      }
      const availOut = e.state[0]!;
      const availIn = e.state[1]!;
      total += room - availOut;
      if (total > max) return -1;
      inOff += inLen - availIn;
      inLen = availIn;
      if (availOut !== 0) {
        // zlib had room left: everything is flushed
        e.unused = inLen;
        return total;
      }
      let next = this.#scratch;
      // Out of the slab's rest into the scratch when that has room to spare, else a larger buffer.
      if (buf === next || next.length < 2 * total) {
        next = Buffer.allocUnsafeSlow(Math.max(buf.length, total) * 2);
        if (next.length <= SCRATCH_MAX) this.#scratch = next;
      }
      buf.copy(next, 0, 0, total);
      this.#work = next;
    }
  }
}

/**
 * The last 2^windowBits bytes a direction has processed: what the peer's (or our own)
 * compressor may still refer to. A ring buffer that grows to the window size only as data
 * arrives, so appending a message copies just that message.
 */
export class History {
  #buf: Buffer | null = null;
  #head = 0;
  #len = 0;
  constructor(readonly cap: number) {}

  append(data: Buffer): void {
    const n = data.length;
    if (n === 0) return;
    if (n >= this.cap) {
      this.#ensure(this.cap, false);
      data.copy(this.#buf!, 0, n - this.cap);
      this.#head = 0;
      this.#len = this.cap;
      return;
    }
    const want = Math.min(this.cap, this.#len + n);
    if (!this.#buf || this.#buf.length < want) {
      let size = this.#buf ? this.#buf.length : 1024;
      while (size < want) size *= 2;
      this.#ensure(Math.min(size, this.cap), true);
    }
    const buf = this.#buf!;
    const size = buf.length;
    let tail = (this.#head + this.#len) % size;
    let p = 0;
    while (p < n) {
      const k = Math.min(n - p, size - tail);
      data.copy(buf, tail, p, p + k);
      p += k;
      tail = (tail + k) % size;
    }
    const overflow = this.#len + n - size;
    if (overflow > 0) {
      this.#head = (this.#head + overflow) % size;
      this.#len = size;
    } else {
      this.#len += n;
    }
  }

  /** The history as one buffer (only needed to rebuild an evicted context). */
  contiguous(): Buffer | null {
    if (!this.#buf || this.#len === 0) return null;
    const out = Buffer.allocUnsafe(this.#len);
    const first = Math.min(this.#len, this.#buf.length - this.#head);
    this.#buf.copy(out, 0, this.#head, this.#head + first);
    if (first < this.#len) this.#buf.copy(out, first, 0, this.#len - first);
    return out;
  }

  #ensure(size: number, keep: boolean): void {
    if (this.#buf && this.#buf.length >= size) return;
    const next = Buffer.allocUnsafe(size);
    if (keep && this.#buf && this.#len) {
      const old = this.contiguous()!;
      old.copy(next, 0);
    }
    this.#buf = next;
    this.#head = 0;
    if (!keep) this.#len = 0;
  }
}

/** What the LRU list needs of a context: its links, and how to close it. */
export interface LruEntry {
  /** In the middle of a message: the LRU must not evict this context. */
  pinned: boolean;
  listed: boolean;
  older: LruEntry | null;
  newer: LruEntry | null;
  release(): void;
}

/**
 * Least-recently-used list of live contexts; evicting one closes its zlib stream. The list
 * runs through the contexts themselves: a touch per message moves two links, no hashing.
 */
export class ContextLru {
  /** Least recently used first. */
  #head: LruEntry | null = null;
  #tail: LruEntry | null = null;
  #size = 0;
  constructor(readonly cap: number) {}
  touch(d: LruEntry): void {
    if (this.#tail !== d) {
      if (d.listed) this.#unlink(d);
      else {
        d.listed = true;
        this.#size++;
      }
      d.older = this.#tail;
      d.newer = null;
      if (this.#tail) this.#tail.newer = d;
      else this.#head = d;
      this.#tail = d;
    }
    if (this.#size > this.cap) {
      // Mid-message contexts, and the one being used right now, stay; the next oldest goes.
      // (With every other context pinned the list exceeds its cap until one is unpinned.)
      for (let oldest = this.#head; oldest !== null; oldest = oldest.newer) {
        if (oldest.pinned || oldest === d) continue;
        this.forget(oldest);
        oldest.release();
        break;
      }
    }
  }
  forget(d: LruEntry): void {
    if (!d.listed) return;
    this.#unlink(d);
    d.listed = false;
    d.older = d.newer = null;
    this.#size--;
  }
  get size(): number {
    return this.#size;
  }
  clear(): void {
    while (this.#head) {
      const d = this.#head;
      this.forget(d);
      d.release();
    }
  }
  #unlink(d: LruEntry): void {
    if (d.older) d.older.newer = d.newer;
    else this.#head = d.newer;
    if (d.newer) d.newer.older = d.older;
    else this.#tail = d.older;
  }
}

/** One direction (compress or decompress) of one connection with context takeover. */
class Direction implements LruEntry {
  engine: Engine | null = null;
  history: History | null;
  /** In the middle of a message: the LRU must not evict this context. */
  pinned = false;
  listed = false;
  older: LruEntry | null = null;
  newer: LruEntry | null = null;
  constructor(
    readonly lru: ContextLru,
    readonly windowBits: number,
    readonly make: (windowBits: number, dictionary: Buffer | null) => Engine,
  ) {
    this.history = new History(1 << windowBits);
  }
  /** The live context, rebuilt from the history if it was evicted. */
  acquire(): Engine {
    const e = (this.engine ??= this.make(this.windowBits, this.history?.contiguous() ?? null));
    this.lru.touch(this);
    return e;
  }
  remember(plain: Buffer): void {
    this.history?.append(plain);
  }
  release(): void {
    this.engine?.stream.close();
    this.engine = null;
  }
  dispose(): void {
    this.lru.forget(this);
    this.release();
    this.history = null;
  }
}

/** One pool per server (or client): owns the shared streams and the context LRUs. */
export class ZlibCodecPool {
  readonly #level: number;
  readonly #memLevel: number;
  readonly #chunk: number;
  readonly deflateLru: ContextLru;
  readonly inflateLru: ContextLru;
  #sharedDeflate = new Map<number, Engine>();
  #sharedInflate = new Map<number, Engine>();
  readonly output: Output;

  constructor(options: ZlibPoolOptions = {}) {
    this.#level = options.level ?? zlib.constants.Z_DEFAULT_COMPRESSION;
    this.#memLevel = options.memLevel ?? 8;
    this.#chunk = options.chunkSize ?? 16 * 1024;
    this.deflateLru = new ContextLru(Math.max(1, options.maxDeflateContexts ?? 64));
    this.inflateLru = new ContextLru(Math.max(1, options.maxInflateContexts ?? 128));
    this.output = new Output(this.#chunk);
  }

  readonly factory: DeflateCodecFactory = (params) => new ZlibCodec(this, params);

  get chunkSize(): number {
    return this.#chunk;
  }

  /** What makes two of this pool's stateless compressors produce the same bytes. */
  deflateKey(windowBits: number): string {
    return `w${Math.max(9, windowBits)} l${this.#level} m${this.#memLevel}`;
  }

  // chunkSize 64: the stream's own output buffer is never used (we pass ours), so keep it tiny.
  newDeflate = (windowBits: number, dictionary: Buffer | null = null): Engine =>
    engine(
      zlib.createDeflateRaw({
        windowBits: Math.max(9, windowBits),
        level: this.#level,
        memLevel: this.#memLevel,
        chunkSize: 64,
        ...(dictionary ? { dictionary } : {}),
      }),
    );

  newInflate = (windowBits: number, dictionary: Buffer | null = null): Engine =>
    engine(zlib.createInflateRaw({ windowBits: Math.max(9, windowBits), chunkSize: 64, ...(dictionary ? { dictionary } : {}) }));

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

  get liveDeflateContexts(): number {
    return this.deflateLru.size;
  }

  get liveInflateContexts(): number {
    return this.inflateLru.size;
  }

  close(): void {
    for (const e of [...this.#sharedDeflate.values(), ...this.#sharedInflate.values()]) e.stream.close();
    this.#sharedDeflate.clear();
    this.#sharedInflate.clear();
    this.deflateLru.clear();
    this.inflateLru.clear();
  }
}

class ZlibCodec implements DeflateCodec {
  readonly sharedKey: string | undefined;
  #pool: ZlibCodecPool;
  #p: DeflateCodecParams;
  #deflate: Direction | null;
  #inflate: Direction | null;
  /** A fragmented message being inflated without context takeover. */
  #partial: Engine | null = null;

  constructor(pool: ZlibCodecPool, params: DeflateCodecParams) {
    this.#pool = pool;
    this.#p = params;
    // Without context takeover every message starts from a reset stream.
    this.sharedKey = params.deflateNoContextTakeover ? pool.deflateKey(params.deflateWindowBits) : undefined;
    // zlib cannot deflate raw with an 8-bit window; 9 is what it uses instead.
    this.#deflate = params.deflateNoContextTakeover
      ? null
      : new Direction(pool.deflateLru, Math.max(9, params.deflateWindowBits), pool.newDeflate);
    // The inflater is 9 bits for 8 too, and takes references that far back: a context rebuilt
    // after an eviction must hold as much history, or it refuses what a live one accepts.
    this.#inflate = params.inflateNoContextTakeover ? null : new Direction(pool.inflateLru, Math.max(9, params.inflateWindowBits), pool.newInflate);
  }

  deflate(data: Buffer): Buffer {
    const dir = this.#deflate;
    if (!dir) {
      const e = this.#pool.sharedDeflate(this.#p.deflateWindowBits);
      try {
        return this.#pool.output.run(e, data, null, Infinity)!;
      } finally {
        e.handle.reset();
      }
    }
    const out = this.#pool.output.run(dir.acquire(), data, null, Infinity)!;
    dir.remember(data);
    return out;
  }

  inflate(data: Buffer, maxBytes: number, more = false): Buffer | null {
    return this.#inflateWith(data, null, maxBytes, more);
  }

  inflateMessageEnd(data: Buffer, maxBytes: number): Buffer | null {
    return this.#inflateWith(data, TAIL, maxBytes, false);
  }

  #inflateWith(data: Buffer, tail: Buffer | null, maxBytes: number, more: boolean): Buffer | null {
    const output = this.#pool.output;
    const dir = this.#inflate;
    if (!dir) {
      // Without context takeover a message normally borrows the shared stream for one call;
      // a message inflated frame by frame needs a stream of its own until its last frame.
      if (more || this.#partial) {
        const e = (this.#partial ??= this.#pool.newInflate(this.#p.inflateWindowBits));
        let out: Buffer | null = null;
        try {
          out = output.run(e, data, tail, maxBytes);
        } finally {
          if (!more || out === null) {
            e.stream.close();
            this.#partial = null;
          }
        }
        return out;
      }
      const e = this.#pool.sharedInflate(this.#p.inflateWindowBits);
      try {
        return output.run(e, data, tail, maxBytes);
      } finally {
        e.handle.reset();
      }
    }
    // Mid-message state cannot be rebuilt from the history: no eviction until the last frame.
    const starts = !dir.pinned;
    dir.pinned = more;
    let e = dir.acquire();
    let out = output.run(e, data, tail, maxBytes);
    if (starts && out !== null && data.length > 0 && e.unused === data.length) {
      // An earlier message ended the peer's deflate stream with BFINAL (RFC 7692 section
      // 7.2.3.4): an ended zlib stream takes no more input and would inflate this and every
      // later message to nothing. Start a new one, primed with the window as after an eviction.
      dir.release();
      e = dir.acquire();
      out = output.run(e, data, tail, maxBytes);
    }
    // A refused message fails the connection: its context is of no further use.
    if (out === null) dir.dispose();
    else dir.remember(out);
    return out;
  }

  dispose(): void {
    this.#deflate?.dispose();
    this.#inflate?.dispose();
    this.#partial?.stream.close();
    this.#partial = null;
  }
}
