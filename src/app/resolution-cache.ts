/**
 * Route resolutions kept until the directories they looked at change. Resolving a path costs
 * a realpath and up to seven stats, and every handshake (a thousand reconnects after a node
 * dies) asks again for the same few routes. Each cached answer watches the directories it
 * depends on (or, where one does not exist yet, its nearest existing parent, where the
 * directory would appear); any event there drops every answer, so a service file added,
 * removed or renamed is seen by the next request. An answer is kept only if no event came
 * while it was computed and its watches are in place; where a watch cannot be had (no
 * inotify watches left, say) nothing is cached and each request resolves again.
 */
import { watch, type FSWatcher } from 'node:fs';
import { dirname, relative, sep } from 'node:path';

/** Most answers kept: a scan of random paths cannot grow the cache past it (oldest go first). */
const MAX_ENTRIES = 1024;

export class ResolutionCache<T> {
  readonly #root: string;
  readonly #answers = new Map<string, Promise<T>>();
  readonly #watchers = new Map<string, FSWatcher>();
  /** Bumped by every change: an answer computed across one is not kept. */
  #generation = 0;
  #closed = false;

  constructor(root: string) {
    this.#root = root;
  }

  /**
   * The answer for `key`: the cached one, or `compute()`'s, kept when `keep` says so (an
   * answer that depends on something no watch sees, e.g. a symlink's target, is not kept).
   */
  get(key: string, dirs: readonly string[], compute: () => Promise<T>, keep: (answer: T) => boolean): Promise<T> {
    const cached = this.#answers.get(key);
    if (cached !== undefined) return cached;
    const generation = this.#generation;
    if (this.#closed || !dirs.every((d) => this.#watch(d))) return compute();
    const answer = compute();
    this.#answers.set(key, answer);
    if (this.#answers.size > MAX_ENTRIES) this.#answers.delete(this.#answers.keys().next().value!);
    answer.then(
      (a) => {
        if ((generation !== this.#generation || !keep(a)) && this.#answers.get(key) === answer) this.#answers.delete(key);
      },
      () => {
        if (this.#answers.get(key) === answer) this.#answers.delete(key);
      },
    );
    return answer;
  }

  /** Drops every answer (a rescan, or a change seen in a watched directory). */
  invalidate(): void {
    this.#generation += 1;
    this.#answers.clear();
    // a watched directory may be the one removed: watch afresh on the next resolve
    for (const w of this.#watchers.values()) w.close();
    this.#watchers.clear();
  }

  /** Stops watching; later lookups are not cached. */
  close(): void {
    this.invalidate();
    this.#closed = true;
  }

  /** Watches `dir`, or its nearest existing parent below the root; false when no watch can be had. */
  #watch(dir: string): boolean {
    for (let d = dir; ; d = dirname(d)) {
      if (this.#watchers.has(d)) return true;
      try {
        const w = watch(d, { persistent: false }, () => this.invalidate());
        w.on('error', () => this.invalidate());
        this.#watchers.set(d, w);
        return true;
      } catch (err) {
        const inside = d !== this.#root && !relative(this.#root, d).startsWith('..' + sep);
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'ENOTDIR') return false;
        if (!inside) return false;
      }
    }
  }
}
