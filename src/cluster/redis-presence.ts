/**
 * Presence over Redis, under node leases. An entry is written under this node's current
 * lease (`{"l":<lease>,...}`) and indexed in the lease's set; the node renews one key per
 * leaseMs/3, never one per connection. When a lease lapses (crash, stall, partition), the
 * first node to take the janitor lock deletes that lease's entries, each leave announced
 * once. A node that finds its own lease gone takes a new one and writes all its entries again
 * under it; so does every node after an outage (Redis may have lost them). Entries of the old
 * lease that the janitor has not reached yet are overwritten in place, not announced, and no
 * longer the janitor's to delete: presence converges without duplicates either way.
 */
import type { Logger } from '../app/logger.js';
import { BrokerUnavailableError, type NodeInfo, type PresenceChange, type PresenceEntry } from './broker.js';
import type { Client } from './redis-connection.js';
import { leaseNode, type RedisNames } from './redis-names.js';
import { PRESENCE_DELETE, PRESENCE_SET, runScript } from './redis-scripts.js';

/** How the presence reaches Redis: the ready command client, or BrokerUnavailableError. */
export interface CommandRunner {
  run<T>(fn: (client: Client) => Promise<T>): Promise<T>;
  readonly up: boolean;
}

export interface RedisPresenceOptions {
  nodeId: string;
  leaseMs: number;
  metaTtlMs: number;
  log: Logger;
}

const JANITOR_LOCK_MS = 60_000;
const SCAN_COUNT = 500;

type Stored = PresenceEntry & { l?: string };

export class RedisPresence {
  readonly #names: RedisNames;
  readonly #redis: CommandRunner;
  readonly #o: RedisPresenceOptions;
  /** This node's entries, by room: what a re-assert writes again. */
  readonly #own = new Map<string, Map<string, PresenceEntry>>();
  /** Deletes that could not reach Redis yet. */
  readonly #pendingDeletes = new Map<string, Set<string>>();
  #lease: string | null = null;
  #leases = 0;
  #since = Date.now();
  #janitoring = false;

  constructor(names: RedisNames, redis: CommandRunner, options: RedisPresenceOptions) {
    this.#names = names;
    this.#redis = redis;
    this.#o = options;
  }

  /** The current lease id (`<nodeId>.<n>`), once one was taken. */
  get lease(): string | null {
    return this.#lease;
  }

  // ------------------------------------------------------------ the lease

  /** Renews the lease; false when it had lapsed (then a new one must be taken and entries re-asserted). */
  async renew(): Promise<boolean> {
    const lease = this.#lease;
    if (lease === null) return false;
    const ok = await this.#redis.run((c) => c.sendCommand(['SET', this.#names.lease(lease), String(this.#since), 'PX', String(this.#o.leaseMs), 'XX']));
    return ok !== null;
  }

  /**
   * After a connect or reconnect, or when a renew found the lease gone: keep or take a lease,
   * then write every own entry again and send the deletes that were held back.
   */
  async resync(): Promise<void> {
    if (!(await this.renew())) await this.#take();
    await this.#reassert();
  }

  async #take(): Promise<void> {
    const lease = `${this.#o.nodeId}.${++this.#leases}`;
    this.#since = Date.now();
    await this.#redis.run(async (c) => {
      await Promise.all([
        c.sendCommand(['SET', this.#names.lease(lease), String(this.#since), 'PX', String(this.#o.leaseMs)]),
        c.sendCommand(['ZADD', this.#names.roster, String(this.#since), lease]),
      ]);
    });
    if (this.#lease !== null) this.#o.log.warn({ old: this.#lease, lease }, 'node lease lapsed: presence re-asserted under a new lease');
    this.#lease = lease;
  }

  /** Every own entry written again (in one batch, so later writes and deletes are ordered after it). */
  async #reassert(): Promise<void> {
    const lease = this.#lease;
    if (lease === null) return;
    const deletes = [...this.#pendingDeletes].flatMap(([room, ids]) => [...ids].map((id) => [room, id] as const));
    this.#pendingDeletes.clear();
    await this.#redis.run(async (c) => {
      const sent: Array<Promise<unknown>> = [];
      const members = [...this.#own].flatMap(([room, entries]) => [...entries.keys()].map((id) => indexMember(room, id)));
      if (members.length > 0) sent.push(c.sendCommand(['SADD', this.#names.leaseIndex(lease), ...members]));
      for (const [room, entries] of this.#own) for (const e of entries.values()) sent.push(this.#write(c, lease, room, e));
      for (const [room, id] of deletes) sent.push(this.#delete(c, room, id, ''));
      await Promise.all(sent);
    });
  }

  // ------------------------------------------------------------ entries

  async set(room: string, entry: PresenceEntry): Promise<void> {
    let entries = this.#own.get(room);
    if (!entries) this.#own.set(room, (entries = new Map()));
    entries.set(entry.connId, entry);
    this.#pendingDeletes.get(room)?.delete(entry.connId);
    const lease = this.#lease;
    // while Redis is unreachable the entry is kept here and written by the next re-assert
    if (lease === null || !this.#redis.up) return;
    await this.#redis
      .run(async (c) => {
        await Promise.all([c.sendCommand(['SADD', this.#names.leaseIndex(lease), indexMember(room, entry.connId)]), this.#write(c, lease, room, entry)]);
      })
      .catch(() => undefined);
  }

  async delete(room: string, connId: string): Promise<void> {
    const entries = this.#own.get(room);
    if (entries?.delete(connId) && entries.size === 0) this.#own.delete(room);
    try {
      await this.#redis.run((c) => this.#delete(c, room, connId, ''));
    } catch {
      let ids = this.#pendingDeletes.get(room);
      if (!ids) this.#pendingDeletes.set(room, (ids = new Set()));
      ids.add(connId);
    }
  }

  /** Entries under live leases; this node's own entries alone, `partial`, while Redis is unreachable. */
  async list(room: string): Promise<{ entries: PresenceEntry[]; partial: boolean }> {
    try {
      const [raw, live] = await Promise.all([this.#redis.run((c) => c.sendCommand<Record<string, string> | null>(['HGETALL', this.#names.presence(room)])), this.#liveLeases()]);
      const entries: PresenceEntry[] = [];
      for (const [connId, json] of Object.entries(raw ?? {})) {
        const e = parseEntry(json);
        if (e === null) continue;
        if (e.l !== undefined && live.has(e.l)) entries.push(plain(e));
        // an entry of a lapsed lease the janitor has not reached yet: delete it now
        else if (e.l !== undefined) void this.#redis.run((c) => this.#delete(c, room, connId, e.l!)).catch(() => undefined);
      }
      return { entries, partial: false };
    } catch (err) {
      if (!(err instanceof BrokerUnavailableError)) throw err;
      return { entries: [...(this.#own.get(room)?.values() ?? [])], partial: true };
    }
  }

  /** Nodes with a live lease (this one alone while Redis is unreachable). */
  async nodes(): Promise<NodeInfo[]> {
    try {
      const live = await this.#liveLeases();
      const byNode = new Map<string, NodeInfo>();
      for (const [lease, since] of live) {
        const id = leaseNode(lease);
        const known = byNode.get(id);
        if (known === undefined || since < known.since) byNode.set(id, { id, since });
      }
      return [...byNode.values()];
    } catch {
      return [{ id: this.#o.nodeId, since: this.#since }];
    }
  }

  /** Lease id -> start, for leases whose key is still there. */
  async #liveLeases(): Promise<Map<string, number>> {
    return this.#redis.run(async (c) => {
      const roster = (await c.sendCommand<string[]>(['ZRANGE', this.#names.roster, '0', '-1'])) ?? [];
      const values = await Promise.all(roster.map((lease) => c.sendCommand<string | null>(['GET', this.#names.lease(lease)])));
      const live = new Map<string, number>();
      roster.forEach((lease, i) => {
        const v = values[i];
        if (v !== null && v !== undefined) live.set(lease, Number(v));
      });
      return live;
    });
  }

  // ------------------------------------------------------------ cleaning up after others

  /** Deletes the entries of every lapsed lease whose lock this node wins; each leave is announced once. */
  async janitor(): Promise<void> {
    if (this.#janitoring || !this.#redis.up) return;
    this.#janitoring = true;
    try {
      const dead = await this.#redis.run(async (c) => {
        const roster = (await c.sendCommand<string[]>(['ZRANGE', this.#names.roster, '0', '-1'])) ?? [];
        const others = roster.filter((l) => l !== this.#lease);
        const exists = await Promise.all(others.map((l) => c.sendCommand<number>(['EXISTS', this.#names.lease(l)])));
        return others.filter((_, i) => exists[i] === 0);
      });
      for (const lease of dead) {
        const won = await this.#redis.run((c) => c.sendCommand(['SET', this.#names.janitor(lease), this.#o.nodeId, 'NX', 'PX', String(JANITOR_LOCK_MS)]));
        if (won === null) continue;
        const removed = await this.#clean(lease);
        this.#o.log.info({ lease, removed }, 'removed the presence of a lapsed node lease');
      }
    } catch {
      // the next round tries again (a lock left behind expires)
    } finally {
      this.#janitoring = false;
    }
  }

  async #clean(lease: string): Promise<number> {
    const index = this.#names.leaseIndex(lease);
    let removed = 0;
    await this.#redis.run(async (c) => {
      let cursor = '0';
      do {
        const [next, members] = (await c.sendCommand<[string, string[]]>(['SSCAN', index, cursor, 'COUNT', String(SCAN_COUNT)])) ?? ['0', []];
        cursor = String(next);
        const done = await Promise.all(members.map((m) => splitIndexMember(m)).map(([room, connId]) => this.#delete(c, room, connId, lease)));
        removed += done.filter((v) => v !== null).length;
      } while (cursor !== '0');
      await Promise.all([c.sendCommand(['DEL', index]), c.sendCommand(['ZREM', this.#names.roster, lease])]);
    });
    return removed;
  }

  /** Graceful leave: own entries deleted (announced), lease and index gone. */
  async leave(): Promise<void> {
    const lease = this.#lease;
    const own = [...this.#own].flatMap(([room, entries]) => [...entries.keys()].map((id) => [room, id] as const));
    this.#own.clear();
    await this.#redis.run(async (c) => {
      await Promise.all(own.map(([room, id]) => this.#delete(c, room, id, '')));
      if (lease !== null) await Promise.all([c.sendCommand(['DEL', this.#names.lease(lease), this.#names.leaseIndex(lease)]), c.sendCommand(['ZREM', this.#names.roster, lease])]);
    });
    this.#lease = null;
  }

  #write(c: Client, lease: string, room: string, e: PresenceEntry): Promise<unknown> {
    const json = JSON.stringify({ l: lease, connId: e.connId, info: e.info ?? null, node: e.node, since: e.since });
    return runScript(c, PRESENCE_SET, [this.#names.presence(room)], [e.connId, json, this.#names.presenceChannel(room), this.#o.metaTtlMs]);
  }

  /** Deletes an entry (under `lease` only, unless ''), announcing the leave; the index member goes too. Resolves with the entry's JSON or null. */
  async #delete(c: Client, room: string, connId: string, lease: string): Promise<string | null> {
    const json = await runScript<string | null>(c, PRESENCE_DELETE, [this.#names.presence(room)], [connId, this.#names.presenceChannel(room), lease]);
    const l = json === null ? undefined : parseEntry(json)?.l;
    if (l !== undefined && lease === '') await c.sendCommand(['SREM', this.#names.leaseIndex(l), indexMember(room, connId)]);
    return json;
  }
}

function indexMember(room: string, connId: string): string {
  return `${room}\0${connId}`;
}

function splitIndexMember(m: string): [string, string] {
  const cut = m.lastIndexOf('\0');
  return [m.slice(0, cut), m.slice(cut + 1)];
}

function parseEntry(json: string): Stored | null {
  try {
    const v = JSON.parse(json) as Stored;
    return typeof v === 'object' && v !== null && typeof v.connId === 'string' ? v : null;
  } catch {
    return null;
  }
}

function plain(e: Stored): PresenceEntry {
  return { connId: e.connId, info: e.info, node: e.node, since: e.since };
}

/** A presence channel message as a change (the lease left out), or null. */
export function parsePresenceChange(text: string): PresenceChange | null {
  try {
    const v = JSON.parse(text) as { type?: unknown; entry?: unknown };
    if ((v.type !== 'join' && v.type !== 'leave') || typeof v.entry !== 'object' || v.entry === null) return null;
    const e = v.entry as Stored;
    if (typeof e.connId !== 'string') return null;
    return { type: v.type, entry: plain(e) };
  } catch {
    return null;
  }
}
