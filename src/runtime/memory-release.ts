// Memory given back after a mass disconnect. When the connection count falls from a high
// mark to a small fraction of it, nothing else may allocate for a long time (an idle server
// does not garbage-collect), so the memory of the closed connections would stay mapped.
// Once the count has been low and quiet for a moment, a full collection runs, and a second
// one a moment later; V8 then compacts and unmaps the pages the connections used. `gc` is not exposed without a flag:
// it is exposed once, here, through V8's runtime flags.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface MemoryReleaseOptions {
  /** Only after at least this many connections closed since the last high mark (default 1000). */
  minDrop?: number;
  /** The count must have fallen to at most this share of the high mark (default 0.1). */
  lowWater?: number;
  /** Quiet time after the last close before collecting, ms (default 1000). */
  quietMs?: number;
  /** Told after each release: RSS before and after, and how long the first collection took (for the log). */
  released?: (e: { peak: number; now: number; rssBefore: number; rssAfter: number; ms: number }) => void;
}

type Gc = () => void;

let exposed: Gc | null | undefined;
/** The full collection, when V8 allows it (null when it does not). */
function fullGc(): Gc | null {
  if (exposed !== undefined) return exposed;
  const existing = (globalThis as { gc?: unknown }).gc;
  if (typeof existing === 'function') return (exposed = existing as Gc);
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    exposed = typeof gc === 'function' ? (gc as Gc) : null;
  } catch {
    exposed = null;
  }
  return exposed;
}

export class MemoryRelease {
  readonly #o: Required<Omit<MemoryReleaseOptions, 'released'>> & Pick<MemoryReleaseOptions, 'released'>;
  readonly #count: () => number;
  #peak = 0;
  #timer: NodeJS.Timeout | null = null;

  constructor(count: () => number, options: MemoryReleaseOptions = {}) {
    this.#count = count;
    this.#o = { minDrop: options.minDrop ?? 1000, lowWater: options.lowWater ?? 0.1, quietMs: options.quietMs ?? 1000, released: options.released };
  }

  opened(): void {
    this.#peak = Math.max(this.#peak, this.#count());
  }

  closed(): void {
    const now = this.#count();
    if (this.#peak - now < this.#o.minDrop || now > this.#peak * this.#o.lowWater) return;
    // restarted by every close: it runs once the closing is over
    if (this.#timer) this.#timer.refresh();
    else this.#timer = setTimeout(() => this.#release(), this.#o.quietMs).unref();
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #release(): void {
    this.#timer = null;
    const now = this.#count();
    if (this.#peak - now < this.#o.minDrop || now > this.#peak * this.#o.lowWater) return;
    const gc = fullGc();
    if (gc === null) return;
    const peak = this.#peak;
    this.#peak = now;
    const rssBefore = process.memoryUsage.rss();
    const t0 = performance.now();
    gc();
    const ms = performance.now() - t0;
    // the pages a collection frees go to V8's pool first; the next one unmaps them
    setTimeout(() => {
      gc();
      this.#o.released?.({ peak, now, rssBefore, rssAfter: process.memoryUsage.rss(), ms });
    }, this.#o.quietMs).unref();
  }
}
