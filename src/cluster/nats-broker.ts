/**
 * The NATS adapter: room logs on a JetStream stream (RoomLog), this node's ordered feeds of
 * them (RoomFeeds), presence and leases on KV buckets (NatsPresence), and core NATS subjects
 * for channels and presence events. See CLUSTER.md, "NATS".
 *
 * Outages. The client reconnects by itself and keeps its core subscriptions; ordered
 * consumers rebuild themselves. What the adapter adds: status from the client's events
 * (down on a disconnect, resyncing on a reconnect, up once the stream, buckets, lease and
 * feeds are checked again), an epoch check that notices a stream that was lost, and failing
 * at once while down. A JetStream publish or request to an unreachable server waits out its
 * timeout instead of failing, so the state is looked at first.
 */
import { randomBytes } from 'node:crypto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { Logger } from '../app/logger.js';
import { BrokerUnavailableError, type Broker, type BrokerState, type BrokerStatus, type NodeInfo, type Position, type PresenceChange, type PresenceEntry, type ReadResult, type RoomMessage, type RoomReset } from './broker.js';
import type { NatsClients } from './nats-clients.js';
import { NatsNames } from './nats-names.js';
import { NatsPresence, parsePresenceChange } from './nats-presence.js';
import { RoomFeeds } from './nats-room-feeds.js';
import { RoomLog } from './nats-room-log.js';
import type { BrokerOptions } from './connect-broker.js';

export interface NatsBrokerOptions extends BrokerOptions {
  /** nats://HOST:PORT (several, comma-separated, for a cluster). */
  url: string;
  /** Longest wait for one request to the server (default 2 s): how long a dead server can go unnoticed by a caller. */
  requestTimeoutMs?: number;
  /** Period of the stream and room-tail checks (default 30 s). */
  checkIntervalMs?: number;
  /** Wait between reconnection attempts (default 500 ms). */
  reconnectWaitMs?: number;
}

type Handler = (data: Uint8Array) => void;

interface CoreSub {
  readonly handlers: Set<Handler>;
  sub: Subscription | null;
}

export class NatsBroker implements Broker {
  readonly nodeId: string;
  readonly kind = 'nats';
  readonly #url: string;
  readonly #names: NatsNames;
  readonly #log: Logger | undefined;
  readonly #leaseMs: number;
  readonly #timeoutMs: number;
  readonly #checkMs: number;
  readonly #reconnectMs: number;
  readonly #rooms: RoomLog;
  readonly #feeds: RoomFeeds;
  readonly #presence: NatsPresence;
  readonly #core = new Map<string, CoreSub>();
  readonly #statusFns = new Set<(s: BrokerStatus) => void>();
  #status: BrokerStatus = { state: 'down', since: Date.now() };
  #clients: NatsClients | null = null;
  #connected = false;
  #closed = false;
  #resyncing: Promise<void> | null = null;
  #resyncAgain = false;
  #retry: NodeJS.Timeout | undefined;
  #timers: NodeJS.Timeout[] = [];
  #busy = new Set<string>();
  #upSince = 0;
  readonly #startedAt = Date.now();

  constructor(options: NatsBrokerOptions) {
    this.nodeId = options.nodeId ?? randomBytes(4).toString('hex');
    this.#url = options.url;
    this.#names = new NatsNames(options.prefix ?? 'sb');
    this.#log = options.log;
    this.#leaseMs = options.leaseMs ?? 15_000;
    this.#timeoutMs = options.requestTimeoutMs ?? 2_000;
    this.#checkMs = options.checkIntervalMs ?? 30_000;
    this.#reconnectMs = options.reconnectWaitMs ?? 500;
    const clients = (): NatsClients => {
      if (this.#clients === null) throw new BrokerUnavailableError();
      return this.#clients;
    };
    const historySize = options.historySize ?? 100;
    const metaTtlMs = options.metaTtlMs ?? 24 * 3_600_000;
    this.#rooms = new RoomLog(this.#names, { historySize, historyTtlMs: options.historyTtlMs ?? 5 * 60_000, metaTtlMs, timeoutMs: this.#timeoutMs }, clients);
    this.#feeds = new RoomFeeds(this.#names, this.#rooms, clients, {
      metaTtlMs,
      connected: () => this.#connected,
      doubtStream: () => void this.#checkStream(),
      onError: (err, what) => this.#warn(err, what),
    });
    this.#presence = new NatsPresence(this.#names, { nodeId: this.nodeId, log: this.#log, leaseMs: this.#leaseMs, timeoutMs: this.#timeoutMs, connected: () => this.#connected }, clients);
  }

  /** Connects and resolves once up; when the server cannot be reached, resolves at once with the broker down and keeps trying. */
  async start(): Promise<void> {
    const options = {
      servers: this.#url.split(','),
      name: `switchboard ${this.nodeId}`,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: this.#reconnectMs,
      timeout: this.#timeoutMs,
      pingInterval: 5_000,
      maxPingOut: 2,
    };
    let nc: NatsConnection;
    try {
      nc = await connect(options);
    } catch (err) {
      this.#setState('down', err);
      connect({ ...options, waitOnFirstConnect: true })
        .then((later) => this.#attach(later))
        .catch((e: unknown) => this.#setState('down', e));
      return;
    }
    await this.#attach(nc);
  }

  async close(options: { graceMs?: number } = {}): Promise<void> {
    if (this.#closed) return;
    if (options.graceMs) await new Promise((r) => setTimeout(r, options.graceMs).unref());
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    clearTimeout(this.#retry);
    if (this.#connected) await this.#presence.leave().catch((err: unknown) => this.#warn(err, 'leaving presence'));
    await this.#feeds.close();
    const nc = this.#clients?.nc;
    this.#connected = false;
    this.#setState('down', 'closed');
    if (nc) await nc.close().catch(() => undefined);
  }

  status(): BrokerStatus {
    return this.#status;
  }

  onStatus(fn: (s: BrokerStatus) => void): () => void {
    this.#statusFns.add(fn);
    return () => this.#statusFns.delete(fn);
  }

  async publish(channel: string, payload: Uint8Array): Promise<boolean> {
    if (!this.#connected || this.#clients === null) return false;
    try {
      this.#clients.nc.publish(this.#names.channelSubject(channel), payload);
      return true;
    } catch {
      return false;
    }
  }

  subscribe(channel: string, fn: (payload: Uint8Array) => void): Promise<() => Promise<void>> {
    return this.#subscribeCore(this.#names.channelSubject(channel), fn);
  }

  async append(room: string, payload: Uint8Array): Promise<Position> {
    await this.#ready();
    return this.#rooms.append(room, payload);
  }

  follow(room: string, fn: (m: RoomMessage) => void, reset: (r: RoomReset) => void): Promise<() => Promise<void>> {
    return this.#feeds.follow(room, fn, reset);
  }

  async read(room: string, after: Position, limit: number): Promise<ReadResult> {
    try {
      await this.#ready();
    } catch {
      return { complete: false, reason: 'unavailable' };
    }
    return this.#rooms.read(room, after, limit);
  }

  async top(room: string): Promise<Position> {
    await this.#ready();
    return this.#rooms.top(room);
  }

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
    return this.#subscribeCore(this.#names.presenceSubject(room), (data) => {
      const change = parsePresenceChange(data);
      if (change !== null) fn(change);
    });
  }

  async nodes(): Promise<NodeInfo[]> {
    if (this.#connected) {
      try {
        return await this.#presence.nodes();
      } catch {
        /* only this node is known */
      }
    }
    return [{ id: this.nodeId, since: this.#startedAt }];
  }

  // ------------------------------------------------------------ connection

  async #attach(nc: NatsConnection): Promise<void> {
    if (this.#closed) {
      await nc.close().catch(() => undefined);
      return;
    }
    this.#clients = { nc, js: jetstream(nc, { timeout: this.#timeoutMs }), jsm: await jetstreamManager(nc, { timeout: this.#timeoutMs, checkAPI: false }) };
    this.#connected = true;
    for (const [subject, core] of this.#core) core.sub ??= this.#natsSubscribe(subject, core);
    void this.#watchConnection(nc);
    this.#timers.push(
      setInterval(() => this.#periodic('lease', () => this.#presence.renew()), Math.max(50, Math.floor(this.#leaseMs / 3))).unref(),
      setInterval(() => this.#periodic('janitor', () => this.#janitor()), Math.max(50, Math.floor(this.#leaseMs / 3))).unref(),
      setInterval(() => this.#periodic('check', () => this.#check()), this.#checkMs).unref(),
    );
    await this.#resync();
  }

  async #watchConnection(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (this.#closed) return;
      if (s.type === 'disconnect') {
        this.#connected = false;
        this.#setState('down', 'disconnected from the NATS server');
      } else if (s.type === 'reconnect') {
        this.#connected = true;
        void this.#resync();
      } else if (s.type === 'error') {
        this.#status = { ...this.#status, lastError: String(s.error) };
      } else if (s.type === 'staleConnection') {
        this.#status = { ...this.#status, lastError: 'no answer to pings' };
      }
    }
  }

  /** Brings everything back after a (re)connection; runs once more if asked while running. */
  #resync(): Promise<void> {
    if (this.#resyncing !== null) {
      this.#resyncAgain = true;
      return this.#resyncing;
    }
    this.#resyncing = (async () => {
      do {
        this.#resyncAgain = false;
        if (!this.#connected || this.#closed) return;
        this.#setState('resyncing');
        try {
          if (await this.#rooms.check(true)) await this.#feeds.restart();
          await this.#presence.open();
          await this.#presence.assert();
          await this.#feeds.resume();
          if (this.#connected && !this.#closed) {
            this.#upSince = Date.now();
            this.#setState('up');
          }
        } catch (err) {
          this.#status = { ...this.#status, lastError: errorText(err) };
          clearTimeout(this.#retry);
          this.#retry = setTimeout(() => void this.#resync(), Math.max(250, this.#reconnectMs)).unref();
        }
      } while (this.#resyncAgain);
    })().finally(() => (this.#resyncing = null));
    return this.#resyncing;
  }

  /** Appends and reads wait for a resync under way; while down they fail at once. */
  async #ready(): Promise<void> {
    if (this.#status.state === 'resyncing' && this.#resyncing !== null) {
      await Promise.race([this.#resyncing, new Promise((r) => setTimeout(r, this.#timeoutMs).unref())]);
    }
    if (this.#status.state !== 'up' || !this.#connected) throw new BrokerUnavailableError();
  }

  async #checkStream(): Promise<void> {
    if (!this.#connected || this.#closed) return;
    try {
      if (await this.#rooms.check()) {
        this.#log?.warn({ broker: this.kind, epoch: this.#rooms.epoch }, 'the room stream was replaced: followed rooms are reset');
        await this.#feeds.restart();
      }
    } catch (err) {
      this.#warn(err, 'checking the room stream');
    }
  }

  async #check(): Promise<void> {
    await this.#checkStream();
    await this.#feeds.resume();
    await this.#feeds.checkTails();
  }

  async #janitor(): Promise<void> {
    // after an outage every node needs a lease period to take its lease again before it is judged dead
    if (Date.now() - this.#upSince < this.#leaseMs) return;
    await this.#presence.janitor();
  }

  /** Runs a timer's work when up, never two at once, never throwing. */
  #periodic(name: string, fn: () => Promise<void>): void {
    if (this.#status.state !== 'up' || this.#closed || this.#busy.has(name)) return;
    this.#busy.add(name);
    fn()
      .catch((err: unknown) => {
        if (this.#connected) this.#warn(err, name);
      })
      .finally(() => this.#busy.delete(name));
  }

  // ------------------------------------------------------------ core subscriptions

  async #subscribeCore(subject: string, fn: Handler): Promise<() => Promise<void>> {
    let core = this.#core.get(subject);
    if (core === undefined) this.#core.set(subject, (core = { handlers: new Set(), sub: null }));
    // a handler of its own per call, so one function subscribed twice is two subscriptions
    const handler: Handler = (data) => fn(data);
    core.handlers.add(handler);
    if (this.#clients !== null && core.sub === null) core.sub = this.#natsSubscribe(subject, core);
    // the server knows the subscription before this resolves, so a publish right after reaches it
    if (this.#connected && this.#clients !== null) await Promise.race([this.#clients.nc.flush().catch(() => undefined), new Promise((r) => setTimeout(r, this.#timeoutMs).unref())]);
    const c = core;
    return async () => {
      if (!c.handlers.delete(handler) || c.handlers.size > 0 || this.#core.get(subject) !== c) return;
      this.#core.delete(subject);
      try {
        c.sub?.unsubscribe();
      } catch {
        /* the connection is closed */
      }
    };
  }

  #natsSubscribe(subject: string, core: CoreSub): Subscription {
    return this.#clients!.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err !== null) return this.#warn(err, `subscription ${subject}`);
        for (const h of [...core.handlers]) {
          try {
            h(msg.data);
          } catch (e) {
            this.#warn(e, `a subscriber of ${subject}`);
          }
        }
      },
    });
  }

  // ------------------------------------------------------------ status

  #setState(state: BrokerState, err?: unknown): void {
    const lastError = err === undefined ? this.#status.lastError : errorText(err);
    if (this.#status.state === state && lastError === this.#status.lastError) return;
    const changed = this.#status.state !== state;
    this.#status = { state, since: changed ? Date.now() : this.#status.since, ...(lastError !== undefined ? { lastError } : {}) };
    if (!changed) return;
    for (const fn of [...this.#statusFns]) {
      try {
        fn(this.#status);
      } catch (e) {
        this.#warn(e, 'a broker status listener');
      }
    }
  }

  #warn(err: unknown, what: string): void {
    this.#log?.warn({ broker: this.kind, err: errorText(err), what }, 'NATS broker operation failed');
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
