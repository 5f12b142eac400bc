/**
 * The Redis adapter's pub/sub side: one subscriber connection, every channel this node
 * listens to (subscribed once however many listen), and the liveness probe. A subscriber can
 * be connected and still hear nothing (a Redis restarted behind a proxy, a path that drops
 * packets one way): when it has been quiet, a probe is published to this node's own probe
 * channel, and if even that does not arrive in time the connection is made again.
 */
import type { Buffer } from 'node:buffer';
import type { Logger } from '../app/logger.js';
import { RedisConnection } from './redis-connection.js';

export type Handler = (payload: Buffer) => void;

export interface RedisSubscriberOptions {
  url: string;
  name: string;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  /** This node's probe channel. */
  probeChannel: string;
  /** Publishes to the probe channel (through the command connection). */
  publishProbe(): Promise<unknown>;
  log: Logger;
  /** Subscribed again to every channel (after a connect or reconnect). */
  onReady(): void;
  onDown(reason: string): void;
}

export class RedisSubscriber {
  readonly #o: RedisSubscriberOptions;
  readonly #conn: RedisConnection;
  readonly #channels = new Map<string, Set<Handler>>();
  #heard = Date.now();
  #probeSent = 0;
  #probeTimer: NodeJS.Timeout | undefined;
  readonly #dispatch = (message: Buffer, channel: Buffer): void => this.#onMessage(channel.toString(), message);

  constructor(options: RedisSubscriberOptions) {
    this.#o = options;
    this.#conn = new RedisConnection({
      url: options.url,
      name: options.name,
      connectTimeoutMs: options.connectTimeoutMs,
      commandTimeoutMs: options.commandTimeoutMs,
      // every channel before the client counts as ready: channels added meanwhile are picked up
      // by the next round, channels dropped meanwhile are let go
      setup: async (client) => {
        const done = new Set<string>();
        for (;;) {
          const missing = [...this.#channels.keys(), options.probeChannel].filter((c) => !done.has(c));
          if (missing.length === 0) break;
          await client.SUBSCRIBE(missing, this.#dispatch, true);
          for (const c of missing) done.add(c);
        }
        const dropped = [...done].filter((c) => c !== options.probeChannel && !this.#channels.has(c));
        if (dropped.length > 0) await client.UNSUBSCRIBE(dropped, this.#dispatch, true);
      },
      onReady: () => {
        this.#heard = Date.now();
        options.onReady();
      },
      onDown: (reason) => options.onDown(reason),
    });
  }

  get ready(): boolean {
    return this.#conn.ready;
  }

  start(): Promise<void> {
    return this.#conn.start();
  }

  restart(reason: string): void {
    this.#conn.restart(reason);
  }

  async close(): Promise<void> {
    clearTimeout(this.#probeTimer);
    this.#channels.clear();
    await this.#conn.close();
  }

  /** Calls `fn` with every message of `channel` (re-subscribed after reconnects); resolves with the undo. */
  async listen(channel: string, fn: Handler): Promise<() => Promise<void>> {
    let set = this.#channels.get(channel);
    const first = set === undefined;
    if (set === undefined) this.#channels.set(channel, (set = new Set()));
    set.add(fn);
    // if this fails the connection is going: the next client subscribes every channel again
    if (first && this.#conn.ready) await this.#conn.call((c) => c.SUBSCRIBE(channel, this.#dispatch, true)).catch(() => undefined);
    return async () => {
      const now = this.#channels.get(channel);
      if (now === undefined || !now.delete(fn) || now.size > 0) return;
      this.#channels.delete(channel);
      if (this.#conn.ready) await this.#conn.call((c) => c.UNSUBSCRIBE(channel, this.#dispatch, true)).catch(() => undefined);
    };
  }

  /** Probes when nothing was heard for `quietMs`. */
  probeIfQuiet(quietMs: number): void {
    if (Date.now() - this.#heard >= quietMs) this.probe();
  }

  /** Publishes a probe now; if nothing at all is heard before the deadline, reconnects. */
  probe(): void {
    if (!this.#conn.ready || this.#probeSent !== 0) return;
    const sent = (this.#probeSent = Date.now());
    void this.#o.publishProbe().catch(() => undefined);
    clearTimeout(this.#probeTimer);
    this.#probeTimer = setTimeout(() => {
      this.#probeSent = 0;
      if (this.#heard < sent && this.#conn.ready) {
        this.#o.log.warn({ broker: 'redis' }, 'the pub/sub connection heard nothing, not even its probe: reconnecting it');
        this.#conn.restart('pub/sub probe unanswered');
      }
    }, Math.max(this.#o.commandTimeoutMs, 2_000));
    this.#probeTimer.unref();
  }

  #onMessage(channel: string, payload: Buffer): void {
    this.#heard = Date.now();
    const set = this.#channels.get(channel);
    if (set === undefined) return;
    for (const fn of [...set]) {
      try {
        fn(payload);
      } catch (err) {
        this.#o.log.warn({ err: String(err), channel }, 'a broker subscriber failed');
      }
    }
  }
}
