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
import { randomBytes } from 'node:crypto';
import { ErrorReply, RedisClient } from '@redis/client';
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
import { RedisConnection, type Client } from './redis-connection.js';
import { RedisNames } from './redis-names.js';
import { parsePresenceChange, RedisPresence, type CommandRunner } from './redis-presence.js';
import { asBuffer, RedisRooms } from './redis-rooms.js';
import { RedisSubscriber } from './redis-subscriber.js';
import type { BrokerOptions } from './connect-broker.js';

export interface RedisBrokerOptions extends BrokerOptions {
  /** redis://[user:pass@]host:port[/db] or rediss://… */
  url: string;
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

export class RedisBroker implements Broker {
  readonly nodeId: string;
  readonly kind = 'redis';
  readonly #names: RedisNames;
  readonly #log: Logger;
  readonly #leaseMs: number;
  readonly #probeMs: number;
  readonly #positionCheckMs: number;
  readonly #startTimeoutMs: number;
  readonly #cmd: RedisConnection;
  readonly #sub: RedisSubscriber;
  readonly #rooms: RedisRooms;
  readonly #presence: RedisPresence;
  readonly #statusFns = new Set<(s: BrokerStatus) => void>();
  #status: BrokerStatus = { state: 'down', since: Date.now() };
  #resyncs = 0;
  readonly #resyncing = new Set<Promise<void>>();
  #started = false;
  #closed = false;
  #timers: NodeJS.Timeout[] = [];

  constructor(options: RedisBrokerOptions) {
    // a malformed URL is a configuration error, said at once rather than on every reconnect
    try {
      RedisClient.parseURL(options.url);
    } catch (err) {
      throw new Error(`invalid broker URL ${options.url.replace(/\/\/[^@/]*@/, '//…@')}: ${err instanceof Error ? err.message : String(err)}`);
    }
    this.nodeId = options.nodeId ?? randomBytes(4).toString('hex');
    this.#names = new RedisNames(options.prefix ?? 'sb');
    this.#log = options.log ?? silentLogger;
    this.#leaseMs = options.leaseMs ?? 15_000;
    this.#probeMs = options.probeMs ?? 10_000;
    this.#positionCheckMs = options.positionCheckMs ?? 30_000;
    this.#startTimeoutMs = options.startTimeoutMs ?? 5_000;
    const common = { url: options.url, connectTimeoutMs: options.connectTimeoutMs ?? 5_000, commandTimeoutMs: options.commandTimeoutMs ?? 2_000 };
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
    const probeChannel = this.#names.probe(this.nodeId);
    this.#sub = new RedisSubscriber({
      ...common,
      name: `switchboard-${this.nodeId}-sub`,
      probeChannel,
      publishProbe: () => this.#run((c) => c.sendCommand(['PUBLISH', probeChannel, 'p'])),
      log: this.#log,
      onReady: () => this.#resync('subscriber'),
      onDown: (reason) => this.#setState(reason),
    });
    const cmd = this.#cmd;
    const run = <T>(fn: (c: Client) => Promise<T>): Promise<T> => this.#run(fn);
    this.#rooms = new RedisRooms(this.#names, {
      historySize: options.historySize ?? 100,
      historyTtlMs: options.historyTtlMs ?? 5 * 60_000,
      metaTtlMs: options.metaTtlMs ?? 24 * 3_600_000,
      run,
      listen: (channel, fn) => this.#sub.listen(channel, fn),
    });
    const runner: CommandRunner = {
      run,
      get up() {
        return cmd.ready;
      },
    };
    this.#presence = new RedisPresence(this.#names, runner, { nodeId: this.nodeId, leaseMs: this.#leaseMs, metaTtlMs: options.metaTtlMs ?? 24 * 3_600_000, log: this.#log });
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
      const t = setInterval(fn, Math.max(Math.floor(ms), 10));
      t.unref();
      this.#timers.push(t);
    };
    every(this.#leaseMs / 3, () => void this.#renew());
    every(this.#leaseMs / 3, () => void this.#presence.janitor());
    every(this.#probeMs / 2, () => {
      if (this.#cmd.ready && !this.#closed) this.#sub.probeIfQuiet(this.#probeMs);
    });
    every(this.#positionCheckMs / 3, () => {
      if (this.#cmd.ready && this.#sub.ready && !this.#closed) this.#rooms.checkIdle(this.#positionCheckMs);
    });
  }

  async close(options: { graceMs?: number } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const [renewal, ...others] = this.#timers;
    for (const t of others) clearInterval(t);
    // the lease is still renewed during the grace period: presences stay for clients that reconnect elsewhere
    if (options.graceMs) await new Promise((r) => setTimeout(r, options.graceMs).unref());
    clearInterval(renewal);
    this.#timers = [];
    if (this.#cmd.ready) await this.#presence.leave().catch((err: unknown) => this.#log.warn({ err: String(err) }, "could not remove this node's presence"));
    this.#rooms.clear();
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
    return this.#sub.listen(this.#names.channel(channel), fn);
  }

  // ------------------------------------------------------------ rooms

  async append(room: string, payload: Uint8Array): Promise<Position> {
    if (!this.#cmd.ready || this.#closed) throw new BrokerUnavailableError();
    try {
      return await this.#rooms.append(room, payload);
    } catch (err) {
      throw unavailable(err);
    }
  }

  follow(room: string, fn: (m: RoomMessage) => void, reset: (r: RoomReset) => void): Promise<() => Promise<void>> {
    return this.#rooms.follow(room, fn, reset);
  }

  async read(room: string, after: Position, limit: number): Promise<ReadResult> {
    if (!this.#cmd.ready) return { complete: false, reason: 'unavailable' };
    try {
      return await this.#rooms.read(room, after, limit);
    } catch {
      return { complete: false, reason: 'unavailable' };
    }
  }

  async top(room: string): Promise<Position> {
    if (!this.#cmd.ready) throw new BrokerUnavailableError();
    try {
      return await this.#rooms.top(room);
    } catch (err) {
      throw unavailable(err);
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
    return this.#sub.listen(this.#names.presenceChannel(room), (payload) => {
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

  /** After a (re)connect: lease and presence again (commands), every followed room positioned again (both). */
  #resync(which: 'commands' | 'subscriber'): void {
    const running = this.#resyncOnce(which);
    this.#resyncing.add(running);
    void running.catch(() => undefined).then(() => this.#resyncing.delete(running));
  }

  async #resyncOnce(which: 'commands' | 'subscriber'): Promise<void> {
    this.#resyncs += 1;
    this.#setState();
    try {
      if (which === 'commands') {
        await this.#presence.resync().catch((err: unknown) => this.#log.warn({ err: String(err) }, 'presence resync failed'));
        // the subscriber may be connected to a Redis that no longer delivers (a restart behind a proxy)
        this.#sub.probe();
      }
      await this.#rooms.checkAll();
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

  #setState(lastError?: string): void {
    const state = this.#closed || !this.#cmd.ready ? 'down' : !this.#sub.ready || this.#resyncs > 0 ? 'resyncing' : 'up';
    const changed = state !== this.#status.state;
    if (!changed && lastError === undefined) return;
    const error = lastError ?? this.#status.lastError;
    this.#status = { state, since: changed ? Date.now() : this.#status.since, ...(error !== undefined ? { lastError: error } : {}) };
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

function unavailable(err: unknown): BrokerUnavailableError {
  return err instanceof BrokerUnavailableError ? err : new BrokerUnavailableError(String(err));
}

/** A Redis broker for `redis://` and `rediss://` URLs, not yet started. */
export function redisBroker(options: RedisBrokerOptions): RedisBroker {
  return new RedisBroker(options);
}
