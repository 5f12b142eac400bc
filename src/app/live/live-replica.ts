/**
 * One node's copy of one live value, kept current from the value's log. Every node applies
 * the same rule to the same ordered log, so every node agrees without an owner to elect:
 * a change is accepted only as the next version (`v == current + 1`); a change that claims a
 * version someone else took first is rejected everywhere, and its writer tries again on the
 * newer value. Versions are dense: a client that sees `v` skip knows it missed something.
 */
import { randomBytes } from 'node:crypto';
import { smallestPatch, type Json, type PatchOp } from '../../client/json-patch.js';
import type { LiveLog, LiveMessage } from './live-log.js';

export interface Accepted {
  v: number;
  /** Null when the replica took up a whole value (a gap, or a refresh it was behind). */
  patch: Json | PatchOp[] | null;
  value: Json;
}

export interface ReplicaOptions {
  /** Patches kept for subscribers that resume with `since`. */
  history: number;
  onAccepted(a: Accepted): void;
}

export class LiveReplica {
  readonly key: string;
  value: Json = null;
  v = 0;
  /** The last patches, oldest first: `patches[i]` turns version `v - patches.length + i` into the next. */
  readonly patches: Array<{ v: number; patch: Json | PatchOp[] }> = [];
  readonly #log: LiveLog;
  readonly #o: ReplicaOptions;
  readonly #waiting = new Map<string, { v: number; resolve(won: boolean): void }>();
  #unfollow: (() => Promise<void>) | null = null;
  #lastSeen = Date.now();

  constructor(key: string, log: LiveLog, options: ReplicaOptions) {
    this.key = key;
    this.#log = log;
    this.#o = options;
  }

  /** Follows the log, then takes up the last value it holds (or `initial` for a new one). */
  async load(initial: Json): Promise<void> {
    const early: LiveMessage[] = [];
    let loading = true;
    this.#unfollow = await this.#log.follow(
      this.key,
      (m) => (loading ? early.push(m) : this.#receive(m)),
      () => void this.#resync().catch(() => undefined),
    );
    const last = await this.#log.last(this.key);
    if (last) this.#takeUp(last);
    else this.value = initial;
    loading = false;
    for (const m of early) this.#receive(m);
  }

  async close(): Promise<void> {
    const unfollow = this.#unfollow;
    this.#unfollow = null;
    for (const w of this.#waiting.values()) w.resolve(false);
    this.#waiting.clear();
    await unfollow?.();
  }

  /** Time since the log last said anything about this value. */
  idleMs(now: number): number {
    return now - this.#lastSeen;
  }

  /**
   * Proposes `value` as the version after `base`; resolves with that version when the log
   * accepted it, null when another change took that version first.
   */
  async propose(value: Json, base: number): Promise<number | null> {
    if (base !== this.v) return null;
    const w = randomBytes(8).toString('base64url');
    const { patch } = smallestPatch(this.value, value);
    const outcome = new Promise<boolean>((resolve) => this.#waiting.set(w, { v: base + 1, resolve }));
    const won = outcome.then((ok) => (ok ? base + 1 : null));
    try {
      await this.#log.append(this.key, { v: base + 1, value, patch, w });
    } catch (err) {
      this.#waiting.delete(w);
      throw err;
    }
    return won;
  }

  /** Repeats the current value in the log, so an idle log does not expire while this node holds it. */
  async refresh(): Promise<void> {
    await this.#log.append(this.key, { v: this.v, value: this.value, patch: null, w: '', refresh: true });
  }

  #receive(m: LiveMessage): void {
    this.#lastSeen = Date.now();
    if (m.refresh === true) {
      if (m.v > this.v) this.#takeUp(m, true);
      return;
    }
    const waiter = this.#waiting.get(m.w);
    if (m.v === this.v + 1) {
      this.value = m.value;
      this.v = m.v;
      this.patches.push({ v: m.v, patch: m.patch as Json | PatchOp[] });
      if (this.patches.length > this.#o.history) this.patches.shift();
      this.#o.onAccepted({ v: m.v, patch: m.patch, value: m.value });
    } else if (m.v > this.v + 1) {
      this.#takeUp(m, true);
    }
    // a rejected change: its writer learns it lost
    for (const [w, pending] of this.#waiting) {
      if (pending.v <= this.v && w !== m.w) {
        this.#waiting.delete(w);
        pending.resolve(false);
      }
    }
    if (waiter) {
      this.#waiting.delete(m.w);
      waiter.resolve(m.v === this.v && this.value === m.value);
    }
  }

  /**
   * After the log lost continuity: take up its last value when it is ahead of ours, and put
   * ours back when the log no longer has it (or has an older one), so every node converges
   * on the highest version.
   */
  async #resync(): Promise<void> {
    if (this.#unfollow === null) return;
    const last = await this.#log.last(this.key);
    if (last !== null && last.v > this.v) this.#takeUp(last, true);
    else if (last === null || last.v < this.v) await this.refresh();
  }

  /** Takes up a whole value: the history of patches no longer leads to it. */
  #takeUp(m: LiveMessage, announce = false): void {
    this.value = m.value;
    this.v = m.v;
    this.patches.length = 0;
    if (announce) this.#o.onAccepted({ v: m.v, patch: null, value: m.value });
  }
}
