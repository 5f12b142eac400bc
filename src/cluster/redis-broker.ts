/**
 * The Redis adapter: rooms numbered and kept by Lua scripts (dense offsets per room under an
 * epoch), fanned out by PUBLISH from the same script, so pub/sub order is offset order;
 * channels over PUBLISH/SUBSCRIBE; presence under node leases (redis-presence.ts).
 *
 * Two connections: commands, and a subscriber. Each is supervised on its own (a lost
 * subscriber, e.g. `CLIENT KILL TYPE pubsub`, does not stop appends). State: `down` while the
 * command connection is lost (publish resolves false and append rejects at once), `resyncing`
 * while the subscriber is away or after a reconnect until the lease, presence and every
 * followed room are checked again, `up` otherwise. A pub/sub probe catches a subscriber that
 * is connected but hears nothing (a broker restart behind a proxy, a half-open path).
 */
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { ErrorReply } from '@redis/client';
import type { Logger } from '../app/logger.js';
import { silentLogger } from '../app/logger.js';
import {
  BrokerUnavailableError,
  type Broker,
  type BrokerStatus,
  type NodeInfo,
  type Position,
  type PresenceChange,
  type PresenceEntry,
  type ReadResult,
  type RoomMessage,
  type RoomReset,
} from './broker.js';
import { RoomFeed, type FeedSource, type FillResult } from './room-feed.js';
import { RedisConnection, type Client } from './redis-connection.js';
import { RedisNames } from './redis-names.js';
import { parsePresenceChange, RedisPresence, type CommandRunner } from './redis-presence.js';
import { APPEND, POSITION_OF, READ, runScript } from './redis-scripts.js';

export interface RedisBrokerOptions {
  /** redis://[user:pass@]host:port[/db] or rediss://… */
  url: string;
  nodeId?: string;
  /** Prefix of every key and channel (default sb). */
  prefix?: string;
  /** Messages kept per room (default 100). */
  historySize?: number;
  /** A room's log expires this long after its last message (default 5 minutes). */
  historyTtlMs?: number;
  /** A room's position outlives its log by this much (default 24 h). */
  metaTtlMs?: number;
  /** A node's lease (default 15 s; renewed every third of it). */
  leaseMs?: number;
  /** A command without a reply for this long counts as a lost connection (default 2 s). */
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** How long start() waits for a first connection before it resolves with the state `down` (default 5 s). */
  startTimeoutMs?: number;
  /** A subscriber that heard nothing for this long is probed (default 10 s). */
  probeMs?: number;
  /** Followed rooms idle for this long have their position checked (default 30 s). */
  positionCheckMs?: number;
  log?: Logger;
}

type Handler = (payload: Buffer) => void;

interface Followed {
  readonly feed: RoomFeed;
  readonly followers: Set<{ fn: (m: RoomMessage) => void; reset: (r: RoomReset) => void }>;
  ready: Promise<void>;
  unsubscribe: (() => Promise<void>) | null;
}

/** Rooms whose last offset this node knows without following them (its own appends), kept for the rollback guard. */
const SEEN_LIMIT = 10_000;

export class RedisBroker implements Broker {
  readonly nodeId: string;
  readonly kind = 'redis';
  readonly #names: RedisNames;
  readonly #log: Logger;
  readonly #historySize: number;
  readonly #historyTtlMs: number;
  readonly #metaTtlMs: number;
  readonly #leaseMs: number;
  readonly #commandTimeoutMs: number;
  readonly #probeMs: number;
  readonly #positionCheckMs: number;
  readonly #startTimeoutMs: number;
  readonly #cmd: RedisConnection;
  readonly #sub: RedisConnection;
  readonly #presence: RedisPresence;
  readonly #channels = new Map<string, Set<Handler>>();
  readonly #feeds = new Map<string, Followed>();
  readonly #seen = new Map<string, Position>();
  readonly #statusFns = new Set<(s: BrokerStatus) => void>();
  #status: BrokerStatus = { state: 'down', since: Date.now() };
  #resyncs = 0;
  readonly #resyncing = new Set<Promise<void>>();
  #started = false;
  #closed = false;
  #timers: NodeJS.Timeout[] = [];
  #heard = Date.now();
  #probeSent = 0;
  #probeTimer: NodeJS.Timeout | undefined;
  readonly #dispatch = (message: Buffer, channel: Buffer): void => this.#onMessage(channel.toString(), message);

  constructor(options: RedisBrokerOptions) {
    this.nodeId = options.nodeId ?? randomBytes(4).toString('hex');
    this.#names = new RedisNames(options.prefix ?? 'sb');
    this.#log = options.log ?? silentLogger;
    this.#historySize = options.historySize ?? 100;
    this.#historyTtlMs = options.historyTtlMs ?? 5 * 60_000;
    this.#metaTtlMs = options.metaTtlMs ?? 24 * 3_600_000;
    this.#leaseMs = options.leaseMs ?? 15_000;
    this.#commandTimeoutMs = options.commandTimeoutMs ?? 2_000;
    this.#probeMs = options.probeMs ?? 10_000;
    this.#positionCheckMs = options.positionCheckMs ?? 30_000;
    this.#startTimeoutMs = options.startTimeoutMs ?? 5_000;
    const connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
    const common = { url: options.url, connectTimeoutMs, commandTimeoutMs: this.#commandTimeoutMs };
    this.#cmd = new RedisConnection({
      ...common,
      name: `switchboard-${this.nodeId}`,
      onReady: () => this.#resync('commands'),
      onDown: (reason) => {
        // the subscriber shares the path: if commands got no answer, it may hear nothing either
        this.#sub.restart(`commands: ${reason}`);
        this.#setState(reason);
      },
    });
    this.#sub = new RedisConnection({
      ...common,
      name: `switchboard-${this.nodeId}-sub`,
      // every channel this node listens to, before the client counts as ready (channels added
      // meanwhile are picked up by the next round; channels dropped meanwhile are let go)
      setup: async (client) => {
        const probe = this.#names.probe(this.nodeId);
        const done = new Set<string>();
        for (;;) {
          const missing = [...this.#channels.keys(), probe].filter((c) => !done.has(c));
          if (missing.length === 0) break;
          await client.SUBSCRIBE(missing, this.#dispatch, true);
          for (const c of missing) done.add(c);
        }
        const dropped = [...done].filter((c) => c !== probe && !this.#channels.has(c));
        if (dropped.length > 0) await client.UNSUBSCRIBE(dropped, this.#dispatch, true);
      },
      onReady: () => {
        this.#heard = Date.now();
        this.#resync('subscriber');
      },
      onDown: (reason) => this.#setState(reason),
    });
    const cmd = this.#cmd;
    const runner: CommandRunner = {
      run: (fn) => this.#run(fn),
      get up() {
        return cmd.ready;
      },
    };
    this.#presence = new RedisPresence(this.#names, runner, { nodeId: this.nodeId, leaseMs: this.#leaseMs, metaTtlMs: this.#metaTtlMs, log: this.#log });
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await Promise.all([this.#cmd.start(), this.#sub.start()]);
    // the first resync (lease) runs from the command connection's onReady: wait for it
    await this.#settled();
    // a slow first connection gets a little longer; an unreachable Redis does not hold the start up
    if (this.#status.state !== 'up') await this.#reach('up', this.#startTimeoutMs);
    const every = (ms: number, fn: () => void): void => {
      const t = setInterval(fn, ms);
      t.unref();
      this.#timers.push(t);
    };
    const third = Math.max(Math.floor(this.#leaseMs / 3), 10);
    every(third, () => void this.#renew());
    every(third, () => void this.#presence.janitor());
    every(Math.max(Math.floor(this.#probeMs / 2), 10), () => this.#probeTick());
    every(Math.max(Math.floor(this.#positionCheckMs / 3), 10), () => this.#checkIdle());
  }

  async close(options: { graceMs?: number } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const [renewal, ...others] = this.#timers;
    for (const t of others) clearInterval(t);
    clearTimeout(this.#probeTimer);
    // the lease is still renewed during the grace period: presences stay for clients that reconnect elsewhere
    if (options.graceMs) await new Promise((r) => setTimeout(r, options.graceMs).unref());
    clearInterval(renewal);
    this.#timers = [];
    if (this.#cmd.ready) await this.#presence.leave().catch((err: unknown) => this.#log.warn({ err: String(err) }, 'could not remove this node\'s presence'));
    this.#channels.clear();
    this.#feeds.clear();
    await Promise.all([this.#sub.close(), this.#cmd.close()]);
    this.#setState('closed');
  }

  status(): BrokerStatus {
    return this.#status;
  }

  onStatus(fn: (s: BrokerStatus) => void): () => void {
    this.#statusFns.add(fn);
    return () => this.#statusFns.delete(fn);
  }

  // ------------------------------------------------------------ channels

  async publish(channel: string, payload: Uint8Array): Promise<boolean> {
    if (!this.#cmd.ready || this.#closed) return false;
    try {
      await this.#run((c) => c.sendCommand(['PUBLISH', this.#names.channel(channel), asBuffer(payload)]));
      return true;
    } catch {
      return false;
    }
  }

  subscribe(channel: string, fn: (payload: Uint8Array) => void): Promise<() => Promise<void>> {
    return this.#listen(this.#names.channel(channel), fn);
  }

  // ------------------------------------------------------------ rooms

  async append(room: string, payload: Uint8Array): Promise<Position> {
    if (!this.#cmd.ready || this.#closed) throw new BrokerUnavailableError();
    const seen = this.#seenOf(room);
    let reply: [string, number];
    try {
      reply = await this.#run((c) =>
        runScript<[string, number]>(c, APPEND, [this.#names.meta(room), this.#names.log(room)], [
          asBuffer(payload),
          this.#historySize,
          this.#historyTtlMs,
          this.#metaTtlMs,
          newEpoch(),
          this.#names.live(room),
          seen?.e ?? '',
          seen?.o ?? 0,
        ]),
      );
    } catch (err) {
      throw err instanceof BrokerUnavailableError ? err : new BrokerUnavailableError(`append failed: ${String(err)}`);
    }
    const pos = { e: String(reply[0]), o: Number(reply[1]) };
    this.#see(room, pos);
    return pos;
  }

  async follow(room: string, fn: (m: RoomMessage) => void, reset: (r: RoomReset) => void): Promise<() => Promise<void>> {
    let f = this.#feeds.get(room);
    if (f === undefined) {
      const followers: Followed['followers'] = new Set();
      const feed = new RoomFeed(room, this.#feedSource(room), {
        message: (m) => {
          this.#see(room, m.pos);
          for (const l of [...followers]) l.fn(m);
        },
        reset: (r) => {
          if (r.top) this.#see(room, r.top, true);
          for (const l of [...followers]) l.reset(r);
        },
      });
      const created: Followed = { feed, followers, ready: Promise.resolve(), unsubscribe: null };
      f = created;
      this.#feeds.set(room, created);
      // subscribed first, then positioned: nothing published in between is missed
      created.ready = (async () => {
        created.unsubscribe = await this.#listen(this.#names.live(room), (p) => this.#onLive(feed, p));
        await feed.check();
      })();
    }
    const follower = { fn, reset };
    f.followers.add(follower);
    await f.ready;
    const followed = f;
    return async () => {
      if (!followed.followers.delete(follower) || followed.followers.size > 0) return;
      if (this.#feeds.get(room) === followed) this.#feeds.delete(room);
      await followed.ready;
      await followed.unsubscribe?.();
    };
  }

  async read(room: string, after: Position, limit: number): Promise<ReadResult> {
    if (!this.#cmd.ready) return { complete: false, reason: 'unavailable' };
    try {
      const r = await this.#read(room, after, limit, -1);
      return r.ok ? { complete: true, messages: r.messages, top: r.top } : { complete: false, reason: r.reason, top: r.top };
    } catch {
      return { complete: false, reason: 'unavailable' };
    }
  }

  async top(room: string): Promise<Position> {
    if (!this.#cmd.ready) throw new BrokerUnavailableError();
    try {
      return await this.#position(room, this.#seenOf(room) ?? null);
    } catch (err) {
      throw err instanceof BrokerUnavailableError ? err : new BrokerUnavailableError(String(err));
    }
  }

  // ------------------------------------------------------------ presence and nodes

  presenceSet(room: string, entry: PresenceEntry): Promise<void> {
    return this.#presence.set(room, entry);
  }

  presenceDelete(room: string, connId: string): Promise<void> {
    return this.#presence.delete(room, connId);
  }

  presenceList(room: string): Promise<{ entries: PresenceEntry[]; partial: boolean }> {
    return this.#presence.list(room);
  }

  watchPresence(room: string, fn: (change: PresenceChange) => void): Promise<() => Promise<void>> {
    return this.#listen(this.#names.presenceChannel(room), (payload) => {
      const change = parsePresenceChange(payload.toString('utf8'));
      if (change !== null) fn(change);
    });
  }

  nodes(): Promise<NodeInfo[]> {
    return this.#presence.nodes();
  }

  // ------------------------------------------------------------ internals

  /** Runs on the command connection; anything but a reply error means Redis is unreachable. */
  async #run<T>(fn: (c: Client) => Promise<T>): Promise<T> {
    try {
      return await this.#cmd.call(fn);
    } catch (err) {
      if (err instanceof ErrorReply) throw err;
      throw new BrokerUnavailableError(err instanceof Error ? err.message : String(err));
    }
  }

  async #listen(channel: string, fn: Handler): Promise<() => Promise<void>> {
    let set = this.#channels.get(channel);
    const first = set === undefined;
    if (set === undefined) this.#channels.set(channel, (set = new Set()));
    set.add(fn);
    // if this fails the connection is going: the next subscriber client subscribes every channel again
    if (first && this.#sub.ready) await this.#sub.call((c) => c.SUBSCRIBE(channel, this.#dispatch, true)).catch(() => undefined);
    return async () => {
      const now = this.#channels.get(channel);
      if (now === undefined || !now.delete(fn) || now.size > 0) return;
      this.#channels.delete(channel);
      if (this.#sub.ready) await this.#sub.call((c) => c.UNSUBSCRIBE(channel, this.#dispatch, true)).catch(() => undefined);
    };
  }

  #onMessage(channel: string, payload: Buffer): void {
    this.#heard = Date.now();
    const set = this.#channels.get(channel);
    if (set === undefined) return;
    for (const fn of [...set]) {
      try {
        fn(payload);
      } catch (err) {
        this.#log.warn({ err: String(err), channel }, 'a broker subscriber failed');
      }
    }
  }

  /** "<offset>:<epoch>:<payload>", as the append script publishes it. */
  #onLive(feed: RoomFeed, p: Buffer): void {
    const a = p.indexOf(0x3a);
    const b = a < 0 ? -1 : p.indexOf(0x3a, a + 1);
    if (b < 0) return;
    const o = Number(p.toString('latin1', 0, a));
    if (!Number.isSafeInteger(o)) return;
    feed.live({ room: feed.room, pos: { e: p.toString('utf8', a + 1, b), o }, payload: p.subarray(b + 1) });
  }

  #feedSource(room: string): FeedSource {
    return {
      fill: async (after, to): Promise<FillResult> => {
        const r = await this.#read(room, after, to - after.o, to);
        return r.ok ? { complete: true, messages: r.messages } : { complete: false };
      },
      position: (seen) => this.#position(room, this.#later(seen, this.#seenOf(room))),
    };
  }

  async #read(room: string, after: Position, limit: number, upTo: number): Promise<{ ok: true; messages: RoomMessage[]; top: Position } | { ok: false; reason: 'epoch' | 'too_many' | 'expired'; top: Position }> {
    const reply = await this.#run((c) =>
      runScript<[Buffer, Buffer, number, Buffer[]?]>(c, READ, [this.#names.meta(room), this.#names.log(room)], [after.e, after.o, limit, upTo, this.#historySize, newEpoch(), this.#metaTtlMs], true),
    );
    const status = reply[0].toString();
    const top = { e: reply[1].toString(), o: Number(reply[2]) };
    this.#see(room, top);
    if (status !== 'ok') return { ok: false, reason: status as 'epoch' | 'too_many' | 'expired', top };
    const messages = (reply[3] ?? []).map((payload, i) => ({ room, pos: { e: after.e, o: after.o + 1 + i }, payload }));
    return { ok: true, messages, top };
  }

  async #position(room: string, seen: Position | null): Promise<Position> {
    const reply = await this.#run((c) => runScript<[string, number]>(c, POSITION_OF, [this.#names.meta(room), this.#names.log(room)], [newEpoch(), this.#metaTtlMs, seen?.e ?? '', seen?.o ?? 0]));
    const pos = { e: String(reply[0]), o: Number(reply[1]) };
    this.#see(room, pos, true);
    return pos;
  }

  #seenOf(room: string): Position | undefined {
    return this.#seen.get(room);
  }

  /** Remembers the furthest position of a room in its epoch (`replace`: the store's word, e.g. a new epoch). */
  #see(room: string, pos: Position, replace = false): void {
    const known = this.#seen.get(room);
    if (!replace && known !== undefined && known.e === pos.e && known.o >= pos.o) return;
    if (replace && known !== undefined && known.e === pos.e && known.o > pos.o) return;
    this.#seen.delete(room);
    this.#seen.set(room, pos);
    if (this.#seen.size > SEEN_LIMIT) {
      for (const key of this.#seen.keys()) {
        if (this.#seen.size <= SEEN_LIMIT || this.#feeds.has(key)) continue;
        this.#seen.delete(key);
      }
    }
  }

  #later(a: Position | null, b: Position | undefined): Position | null {
    if (b === undefined) return a;
    if (a === null || a.e !== b.e) return a ?? b;
    return a.o >= b.o ? a : b;
  }

  /** After a (re)connect: lease and presence again (commands), every followed room positioned again (both). */
  #resync(which: 'commands' | 'subscriber'): void {
    const running = this.#resyncOnce(which);
    this.#resyncing.add(running);
    void running.finally(() => this.#resyncing.delete(running));
  }

  async #resyncOnce(which: 'commands' | 'subscriber'): Promise<void> {
    this.#resyncs += 1;
    this.#setState();
    try {
      if (which === 'commands') {
        await this.#presence.resync().catch((err: unknown) => this.#log.warn({ err: String(err) }, 'presence resync failed'));
        // the subscriber may be connected to a Redis that no longer delivers (a restart behind a proxy)
        this.#probe();
      }
      await Promise.all([...this.#feeds.values()].map((f) => f.feed.check()));
    } finally {
      this.#resyncs -= 1;
      this.#setState();
    }
  }

  /** Resolves when the state is `state`, or after `ms`. */
  #reach(state: BrokerStatus['state'], ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        off();
        resolve();
      };
      const timer = setTimeout(done, ms);
      const off = this.onStatus((st) => {
        if (st.state === state) done();
      });
    });
  }

  /** Resolves once no resync is running. */
  async #settled(): Promise<void> {
    while (this.#resyncing.size > 0) await Promise.all([...this.#resyncing]);
  }

  async #renew(): Promise<void> {
    if (!this.#cmd.ready || this.#closed || this.#resyncs > 0) return;
    try {
      if (!(await this.#presence.renew())) await this.#presence.resync();
    } catch {
      // a timeout restarted the connection; its resync renews
    }
  }

  /** Publishes to this node's probe channel when the subscriber has been quiet; silence after that restarts it. */
  #probeTick(): void {
    if (this.#closed || !this.#cmd.ready || !this.#sub.ready) return;
    if (this.#probeSent === 0 && Date.now() - this.#heard >= this.#probeMs) this.#probe();
  }

  #probe(): void {
    if (this.#closed || !this.#cmd.ready || !this.#sub.ready || this.#probeSent !== 0) return;
    const sent = (this.#probeSent = Date.now());
    void this.#run((c) => c.sendCommand(['PUBLISH', this.#names.probe(this.nodeId), 'p'])).catch(() => undefined);
    clearTimeout(this.#probeTimer);
    this.#probeTimer = setTimeout(() => {
      this.#probeSent = 0;
      if (this.#heard < sent && this.#sub.ready && !this.#closed) {
        this.#log.warn({ broker: 'redis' }, 'the pub/sub connection heard nothing, not even its probe: reconnecting it');
        this.#sub.restart('pub/sub probe unanswered');
      }
    }, Math.max(this.#commandTimeoutMs, 2_000));
    this.#probeTimer.unref();
  }

  #checkIdle(): void {
    if (this.#closed || !this.#cmd.ready || !this.#sub.ready) return;
    const before = Date.now() - this.#positionCheckMs;
    for (const f of this.#feeds.values()) if (f.feed.lastActivity < before) void f.feed.check();
  }

  #setState(lastError?: string): void {
    const state = this.#closed ? 'down' : !this.#cmd.ready ? 'down' : !this.#sub.ready || this.#resyncs > 0 ? 'resyncing' : 'up';
    if (state === this.#status.state && lastError === undefined) return;
    const changed = state !== this.#status.state;
    this.#status = { state, since: changed ? Date.now() : this.#status.since, ...(lastError !== undefined ? { lastError } : this.#status.lastError !== undefined ? { lastError: this.#status.lastError } : {}) };
    if (!changed) return;
    for (const fn of [...this.#statusFns]) {
      try {
        fn(this.#status);
      } catch {
        /* a status listener must not break the broker */
      }
    }
  }
}

function newEpoch(): string {
  return randomBytes(6).toString('base64url');
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** A Redis broker for `redis://` and `rediss://` URLs, not yet started. */
export function redisBroker(options: RedisBrokerOptions): RedisBroker {
  return new RedisBroker(options);
}
