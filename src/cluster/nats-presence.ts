/**
 * Presence on two KV buckets. One holds the entries (`p.<room>.<node>.<conn>`, no TTL) and
 * the nodes that joined (`n.<node>`); the other has the lease as its TTL and holds leases
 * (`l.<node>`, renewed every lease/3) and janitor claims (`j.<node>`). Nats-server 2.9
 * drops an expired key without a trace, so a dead node is one that is registered but has no
 * lease. The janitor that claims it deletes its entries with compare-and-set, and only a
 * delete that succeeds announces the leave: one leave per entry, however many nodes try.
 * A node that finds its own lease gone (it stalled, or the broker lost it) writes all its
 * entries again; so does every node after an outage.
 *
 * Every list here is a scan (nats-scan.ts), which answers with every key or rejects: an
 * answer with keys missing would drop live members from list() and, in the janitor and in
 * assert(), decide deletions on it. A rejected scan makes list() answer from this node only,
 * flagged partial; the janitor and assert() stop and run again at their next turn.
 */
import { StorageType, type JsMsg } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { Logger } from '../app/logger.js';
import { BrokerUnavailableError, type NodeInfo, type PresenceChange, type PresenceEntry } from './broker.js';
import { inBatches, type NatsClients } from './nats-clients.js';
import type { NatsNames } from './nats-names.js';
import { isWrongLastSequence } from './nats-room-log.js';
import { scan } from './nats-scan.js';

export interface NatsPresenceOptions {
  nodeId: string;
  log?: Logger | undefined;
  leaseMs: number;
  timeoutMs: number;
  connected(): boolean;
}

interface Stored<T> {
  key: string;
  rev: number;
  value: T;
}

const BATCH = 32;

export class NatsPresence {
  readonly #names: NatsNames;
  readonly #o: NatsPresenceOptions;
  readonly #conn: () => NatsClients;
  /** This node's entries by key: what it writes again after losing its lease or an outage. */
  readonly #mine = new Map<string, { room: string; entry: PresenceEntry }>();
  /** Writes of one key, in call order. */
  readonly #queues = new Map<string, Promise<void>>();
  #kv: KV | null = null;
  #leases: KV | null = null;
  #leaseRev = 0;
  readonly #since = Date.now();

  constructor(names: NatsNames, options: NatsPresenceOptions, conn: () => NatsClients) {
    this.#names = names;
    this.#o = options;
    this.#conn = conn;
  }

  /**
   * Opens both buckets, making them when missing (a broker that lost its store). The lease
   * bucket's TTL is the lease: when it was made with another one, this node's setting
   * replaces it (the nodes of a cluster are meant to share one lease; the last started wins).
   */
  async open(): Promise<void> {
    const { js, jsm } = this.#conn();
    const kvm = new Kvm(js);
    this.#kv = await kvm.create(this.#names.presenceBucket, { history: 1, storage: StorageType.File, timeout: this.#o.timeoutMs });
    this.#leases = await kvm.create(this.#names.leaseBucket, { history: 1, ttl: this.#o.leaseMs, storage: StorageType.File, timeout: this.#o.timeoutMs });
    const { config } = (await this.#leases.status()).streamInfo;
    const ttl = this.#o.leaseMs * 1_000_000;
    if (config.max_age !== ttl) {
      this.#o.log?.warn({ broker: 'nats', was: config.max_age / 1_000_000, now: this.#o.leaseMs }, 'the lease bucket had another lease: it now has this node\'s');
      await jsm.streams.update(config.name, { ...config, max_age: ttl, duplicate_window: Math.min(config.duplicate_window ?? ttl, ttl) });
    }
  }

  async set(room: string, entry: PresenceEntry): Promise<void> {
    const key = this.#names.presenceKey(room, entry.node, entry.connId);
    if (entry.node === this.#o.nodeId) this.#mine.set(key, { room, entry });
    if (!this.#o.connected()) return; // written when the broker is back
    await this.#queued(key, () => this.#write(room, key, entry));
  }

  async delete(room: string, connId: string): Promise<void> {
    const own = this.#names.presenceKey(room, this.#o.nodeId, connId);
    const wasMine = this.#mine.delete(own);
    if (!this.#o.connected()) return; // removed by the reconciliation when the broker is back
    const keys = wasMine ? [own] : (await this.#list(this.#buckets().kv, this.#names.connPresenceFilter(room, connId))).map((e) => e.key);
    for (const key of keys) await this.#queued(key, () => this.#remove(room, key));
  }

  async list(room: string): Promise<{ entries: PresenceEntry[]; partial: boolean }> {
    if (this.#o.connected()) {
      try {
        const [stored, live] = await Promise.all([this.#list<PresenceEntry>(this.#buckets().kv, this.#names.roomPresenceFilter(room), isEntry), this.nodes()]);
        const alive = new Set(live.map((n) => n.id));
        return { entries: stored.map((e) => e.value).filter((e) => alive.has(e.node)), partial: false };
      } catch {
        /* answered from this node below */
      }
    }
    return { entries: [...this.#mine.values()].filter((m) => m.room === room).map((m) => m.entry), partial: true };
  }

  /** Nodes with a live lease. */
  async nodes(): Promise<NodeInfo[]> {
    return (await this.#list<NodeInfo>(this.#buckets().leases, 'l.*', isNodeInfo)).map((e) => e.value);
  }

  /** Renews the lease; a lease found gone is taken again, with every entry of this node. */
  async renew(): Promise<void> {
    const { leases } = this.#buckets();
    if (this.#leaseRev > 0) {
      try {
        this.#leaseRev = await leases.update(this.#names.leaseKey(this.#o.nodeId), this.#leaseValue(), this.#leaseRev);
        return;
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err;
      }
    }
    await this.assert();
  }

  /** Takes the lease, registers the node and makes the stored entries of this node match its own. */
  async assert(): Promise<void> {
    const { kv, leases } = this.#buckets();
    const me = this.#o.nodeId;
    this.#leaseRev = await leases.put(this.#names.leaseKey(me), this.#leaseValue());
    try {
      await this.#reassert(kv, me);
    } catch (err) {
      // the next renewal does all of it again, not just the lease
      this.#leaseRev = 0;
      throw err;
    }
  }

  async #reassert(kv: KV, me: string): Promise<void> {
    await kv.put(this.#names.registryKey(me), this.#leaseValue());
    const stored = new Map((await this.#list(kv, this.#names.nodePresenceFilter(me), isEntry)).map((e) => [e.key, e]));
    await inBatches([...stored.values()], BATCH, (e) =>
      this.#queued(e.key, async () => {
        if (!this.#mine.has(e.key)) await this.#removeAt(this.#names.roomOfPresenceKey(e.key), e.key, e.rev, e.value);
      }),
    );
    await inBatches([...this.#mine.keys()], BATCH, (key) =>
      this.#queued(key, async () => {
        const mine = this.#mine.get(key);
        if (mine === undefined) return;
        const had = stored.get(key);
        if (had !== undefined) {
          try {
            // a new revision, so a janitor that read the old one cannot delete it
            await kv.update(key, JSON.stringify(mine.entry), had.rev);
            return;
          } catch (err) {
            if (!isWrongLastSequence(err)) throw err;
          }
        }
        await this.#write(mine.room, key, mine.entry);
      }),
    );
  }

  /** Removes the entries of registered nodes without a lease; each dead node is claimed by one janitor at a time. */
  async janitor(): Promise<void> {
    const { kv, leases } = this.#buckets();
    const registered = await this.#list(kv, 'n.*');
    if (registered.length <= 1) return;
    const alive = new Set((await this.nodes()).map((n) => n.id));
    for (const r of registered) {
      const node = this.#names.nodeOfKey(r.key);
      if (node === this.#o.nodeId || alive.has(node)) continue;
      try {
        await leases.create(this.#names.claimKey(node), this.#o.nodeId);
      } catch (err) {
        if (isWrongLastSequence(err)) continue; // another node is on it
        throw err;
      }
      if ((await leases.get(this.#names.leaseKey(node)))?.operation === 'PUT') continue; // it came back
      const entries = await this.#list(kv, this.#names.nodePresenceFilter(node), isEntry);
      await inBatches(entries, BATCH, (e) => this.#removeAt(this.#names.roomOfPresenceKey(e.key), e.key, e.rev, e.value).then(() => undefined));
      await kv.delete(r.key, { previousSeq: r.rev }).catch((err: unknown) => {
        if (!isWrongLastSequence(err)) throw err;
      });
    }
  }

  /** Leaving the cluster: this node's entries (each announced), its registration and its lease. */
  async leave(): Promise<void> {
    const { kv, leases } = this.#buckets();
    const me = this.#o.nodeId;
    this.#mine.clear();
    const entries = await this.#list(kv, this.#names.nodePresenceFilter(me), isEntry);
    await inBatches(entries, BATCH, (e) => this.#queued(e.key, () => this.#removeAt(this.#names.roomOfPresenceKey(e.key), e.key, e.rev, e.value).then(() => undefined)));
    await kv.delete(this.#names.registryKey(me));
    await leases.delete(this.#names.leaseKey(me));
    this.#leaseRev = 0;
  }

  #leaseValue(): string {
    return JSON.stringify({ id: this.#o.nodeId, since: this.#since } satisfies NodeInfo);
  }

  async #write(room: string, key: string, entry: PresenceEntry): Promise<void> {
    const { kv } = this.#buckets();
    const value = JSON.stringify(entry);
    try {
      await kv.create(key, value);
      this.#announce(room, { type: 'join', entry });
    } catch (err) {
      if (!isWrongLastSequence(err)) throw err;
      await kv.put(key, value); // it was there already: an update, not a join
    }
  }

  /** Deletes the entry if it is still at `rev`; true (and a leave announced) when this call deleted it. */
  async #removeAt(room: string, key: string, rev: number, entry: PresenceEntry): Promise<boolean> {
    try {
      await this.#buckets().kv.delete(key, { previousSeq: rev });
    } catch (err) {
      if (isWrongLastSequence(err)) return false;
      throw err;
    }
    this.#announce(room, { type: 'leave', entry });
    return true;
  }

  async #remove(room: string, key: string): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const e = await this.#buckets().kv.get(key);
      if (e === null || e.operation !== 'PUT') return;
      const entry = parse(e.value);
      if (!isEntry(entry)) return;
      if (await this.#removeAt(room, key, e.revision, entry)) return;
    }
  }

  #announce(room: string, change: PresenceChange): void {
    try {
      this.#conn().nc.publish(this.#names.presenceSubject(room), JSON.stringify(change));
    } catch {
      /* at most once */
    }
  }

  #queued(key: string, fn: () => Promise<void>): Promise<void> {
    const run = (this.#queues.get(key) ?? Promise.resolve()).then(fn);
    const tail = run.catch(() => undefined);
    this.#queues.set(key, tail);
    void tail.then(() => {
      if (this.#queues.get(key) === tail) this.#queues.delete(key);
    });
    return run;
  }

  #buckets(): { kv: KV; leases: KV } {
    if (this.#kv === null || this.#leases === null) throw new BrokerUnavailableError('presence is not ready');
    return { kv: this.#kv, leases: this.#leases };
  }

  /** The current value of every key matching `filter` (deleted keys left out). */
  async #list<T = unknown>(bucket: KV, filter: string, valid: (v: unknown) => v is T = (v): v is T => true): Promise<Array<Stored<T>>> {
    const { js, jsm } = this.#conn();
    const name = bucket === this.#leases ? this.#names.leaseBucket : this.#names.presenceBucket;
    const prefix = `$KV.${name}.`;
    const got = (await scan(js, jsm, `KV_${name}`, { filter: prefix + filter }, Number.MAX_SAFE_INTEGER, this.#o.timeoutMs)) as JsMsg[];
    const out: Array<Stored<T>> = [];
    for (const m of got) {
      if (m.headers?.get('KV-Operation')) continue; // DEL or PURGE
      const value = parse(m.data);
      if (valid(value)) out.push({ key: m.subject.slice(prefix.length), rev: m.seq, value });
    }
    return out;
  }
}

export function parsePresenceChange(data: Uint8Array): PresenceChange | null {
  const c = parse(data) as { type?: unknown; entry?: unknown } | null;
  if (c === null || typeof c !== 'object' || (c.type !== 'join' && c.type !== 'leave') || !isEntry(c.entry)) return null;
  return { type: c.type, entry: c.entry };
}

function parse(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data));
  } catch {
    return null;
  }
}

function isEntry(v: unknown): v is PresenceEntry {
  const e = v as PresenceEntry | null;
  return typeof e === 'object' && e !== null && typeof e.connId === 'string' && typeof e.node === 'string' && typeof e.since === 'number';
}

function isNodeInfo(v: unknown): v is NodeInfo {
  const n = v as NodeInfo | null;
  return typeof n === 'object' && n !== null && typeof n.id === 'string' && typeof n.since === 'number';
}
