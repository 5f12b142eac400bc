/**
 * Where a live value's changes are ordered: every node appends its changes to the value's
 * log and follows it, and the log's order decides which change wins a version. One process
 * uses LocalLiveLog; a cluster gives one over its broker (src/cluster/broker-live-log.ts).
 */
import type { Json, PatchOp } from '../../client/json-patch.js';

export interface LiveMessage {
  /** The version this message claims: accepted only as the next one. */
  v: number;
  /** The whole value at `v` (so any node can take it up from this message alone). */
  value: Json;
  /** The patch from v-1 to v, as clients get it; null for a refresh. */
  patch: Json | PatchOp[] | null;
  /** The writer's token, to learn whether its change won. */
  w: string;
  /** Repeats the current value (keeps an idle log alive; lets a new node take it up). */
  refresh?: true;
}

export interface LiveLog {
  append(key: string, message: LiveMessage): Promise<void>;
  /**
   * Every message appended from now on, in log order; `reset` when the log cannot promise
   * that no message was missed (a broker outage, a lost log).
   */
  follow(key: string, fn: (m: LiveMessage) => void, reset?: () => void): Promise<() => Promise<void>>;
  /** The last message appended, if the log still holds it. */
  last(key: string): Promise<LiveMessage | null>;
}

/** The log of one process: kept in memory, delivered in call order. */
export class LocalLiveLog implements LiveLog {
  readonly #logs = new Map<string, { last: LiveMessage | null; followers: Set<(m: LiveMessage) => void> }>();

  async append(key: string, message: LiveMessage): Promise<void> {
    const log = this.#log(key);
    log.last = message;
    for (const fn of [...log.followers]) fn(message);
  }

  async follow(key: string, fn: (m: LiveMessage) => void): Promise<() => Promise<void>> {
    const log = this.#log(key);
    log.followers.add(fn);
    return async () => {
      log.followers.delete(fn);
    };
  }

  async last(key: string): Promise<LiveMessage | null> {
    return this.#logs.get(key)?.last ?? null;
  }

  #log(key: string): { last: LiveMessage | null; followers: Set<(m: LiveMessage) => void> } {
    let log = this.#logs.get(key);
    if (!log) this.#logs.set(key, (log = { last: null, followers: new Set() }));
    return log;
  }
}
