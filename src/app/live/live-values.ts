/**
 * The live values of this node: a replica per value while someone here subscribes to it or
 * writes it, subscribers per value, and one push per change framed once for all of them:
 * `{"event":"live.patch","name","v","patch"}`, or `{"event":"live.value","name","v","value"}`
 * when this node could only take up a whole value (it missed versions).
 */
import { encodeEvent } from '../command-envelope.js';
import type { Json } from '../../client/json-patch.js';
import type { RoomDelivery } from '../rooms/rooms.js';
import type { LiveLog } from './live-log.js';
import { LiveReplica } from './live-replica.js';

export interface LiveValuesOptions {
  /** Patches kept per value for resumes (default 50). */
  history?: number;
  /** A replica no one here subscribes to or wrote for this long is dropped (default 60 s). */
  lingerMs?: number;
  /** Repeat an idle value in the log this often, so the log never expires under it (default 60 s). */
  refreshMs?: number;
}

/** What a subscriber gets first: the whole value, or the patches since its version. */
export type LiveSnapshot = { v: number; value: Json } | { v: number; patches: Array<{ v: number; patch: unknown }> };

/** What a service declares of a value: where it starts, and how many patches to keep. */
export interface LiveSpec {
  initial: Json;
  history?: number;
}

interface Entry {
  readonly replica: LiveReplica;
  readonly ready: Promise<void>;
  readonly name: string;
  readonly subscribers: Set<string>;
  lastUsed: number;
}

export class LiveValues {
  readonly #log: LiveLog;
  readonly #delivery: RoomDelivery;
  readonly #history: number;
  readonly #lingerMs: number;
  readonly #refreshMs: number;
  readonly #entries = new Map<string, Entry>();
  readonly #byConnection = new Map<string, Set<string>>();
  #timer: NodeJS.Timeout | null = null;

  constructor(log: LiveLog, delivery: RoomDelivery, options: LiveValuesOptions = {}) {
    this.#log = log;
    this.#delivery = delivery;
    this.#history = options.history ?? 50;
    this.#lingerMs = options.lingerMs ?? 60_000;
    this.#refreshMs = options.refreshMs ?? 60_000;
  }

  /** The current value and version (`initial` for a value no one set yet). */
  async get(scope: string, name: string, spec: LiveSpec): Promise<{ v: number; value: Json }> {
    const e = await this.#entry(scope, name, spec);
    return { v: e.replica.v, value: e.replica.value };
  }

  /**
   * Sets a value. With `base`, only as the version after it (false and the current version
   * when another change came first); without, as the next version, retried until it wins.
   */
  async set(scope: string, name: string, value: Json, spec: LiveSpec, base?: number): Promise<{ ok: boolean; v: number; value: Json }> {
    const e = await this.#entry(scope, name, spec);
    for (let attempt = 0; ; attempt++) {
      const won = await e.replica.propose(value, base ?? e.replica.v);
      e.lastUsed = Date.now();
      // the version won, not the replica's: later changes may already have been applied
      if (won !== null) return { ok: true, v: won, value };
      if (base !== undefined || attempt >= 100) return { ok: false, v: e.replica.v, value: e.replica.value };
    }
  }

  /**
   * Adds a subscriber; `first` runs in the step that makes it one, so no patch can overtake
   * what it answers with.
   */
  async subscribe(scope: string, name: string, connId: string, since: number | undefined, spec: LiveSpec, first: (s: LiveSnapshot) => void): Promise<LiveSnapshot> {
    const e = await this.#entry(scope, name, spec);
    const r = e.replica;
    let snapshot: LiveSnapshot;
    const oldest = r.v - r.patches.length;
    if (since !== undefined && since <= r.v && since >= oldest) snapshot = { v: r.v, patches: r.patches.slice(since - oldest) };
    else snapshot = { v: r.v, value: r.value };
    e.subscribers.add(connId);
    let keys = this.#byConnection.get(connId);
    if (!keys) this.#byConnection.set(connId, (keys = new Set()));
    keys.add(this.#key(scope, name));
    first(snapshot);
    return snapshot;
  }

  unsubscribe(scope: string, name: string, connId: string): boolean {
    const key = this.#key(scope, name);
    const e = this.#entries.get(key);
    this.#byConnection.get(connId)?.delete(key);
    if (!e?.subscribers.delete(connId)) return false;
    e.lastUsed = Date.now();
    return true;
  }

  /** The connection is gone. */
  leaveAll(connId: string): void {
    for (const key of this.#byConnection.get(connId) ?? []) {
      const e = this.#entries.get(key);
      if (e?.subscribers.delete(connId)) e.lastUsed = Date.now();
    }
    this.#byConnection.delete(connId);
  }

  /** Live subscriptions of a connection (limits). */
  subscriptionsOf(connId: string): number {
    return this.#byConnection.get(connId)?.size ?? 0;
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    const entries = [...this.#entries.values()];
    this.#entries.clear();
    await Promise.allSettled(entries.map((e) => e.replica.close()));
  }

  #key(scope: string, name: string): string {
    return `${scope}#live:${name}`;
  }

  async #entry(scope: string, name: string, spec: LiveSpec): Promise<Entry> {
    const key = this.#key(scope, name);
    let e = this.#entries.get(key);
    if (!e) {
      const holder: { entry?: Entry } = {};
      const replica = new LiveReplica(key, this.#log, {
        history: spec.history ?? this.#history,
        onAccepted: (a) => {
          const entry = holder.entry;
          if (!entry || entry.subscribers.size === 0) return;
          const text =
            a.patch === null
              ? encodeEvent('live.value', { name: entry.name, v: a.v, value: a.value })
              : encodeEvent('live.patch', { name: entry.name, v: a.v, patch: a.patch });
          this.#delivery.deliver(entry.subscribers, text, false, []);
        },
      });
      const created: Entry = { replica, ready: replica.load(spec.initial), name, subscribers: new Set(), lastUsed: Date.now() };
      holder.entry = created;
      e = created;
      this.#entries.set(key, e);
      created.ready.catch(() => {
        if (this.#entries.get(key) === created) this.#entries.delete(key);
      });
      this.#startSweep();
    }
    await e.ready;
    e.lastUsed = Date.now();
    return e;
  }

  /** Drops idle replicas; repeats idle values in the log so it never expires under them. */
  #startSweep(): void {
    if (this.#timer) return;
    const every = Math.max(1_000, Math.min(this.#lingerMs, this.#refreshMs) / 2);
    this.#timer = setInterval(() => {
      const now = Date.now();
      for (const [key, e] of this.#entries) {
        if (e.subscribers.size === 0 && now - e.lastUsed > this.#lingerMs) {
          this.#entries.delete(key);
          void e.replica.close();
        } else if (e.replica.idleMs(now) > this.#refreshMs) {
          e.replica.refresh().catch(() => undefined);
        }
      }
      if (this.#entries.size === 0 && this.#timer) {
        clearInterval(this.#timer);
        this.#timer = null;
      }
    }, every);
    this.#timer.unref();
  }
}
