/**
 * A worker's broker under `--workers N` without an external one: every operation goes to
 * the primary's IpcHub over the worker's IPC channel, in order; feeds come back on it. The
 * worker's connection to the hub is its IPC channel: while it is open the broker is up.
 */
import { randomBytes } from 'node:crypto';
import type { Broker, BrokerStatus, NodeInfo, Position, PresenceChange, PresenceEntry, ReadResult, RoomMessage, RoomReset } from './broker.js';
import { BrokerUnavailableError } from './broker.js';
import { IPC_TAG, isTagged, type HubAnswers, type HubRequest, type HubToWorker, type IpcEndpoint } from './ipc-messages.js';

type Feed = ((payload: Uint8Array) => void) | ((m: RoomMessage) => void) | ((c: PresenceChange) => void);

export class IpcBroker implements Broker {
  readonly nodeId: string;
  readonly kind = 'ipc';
  readonly #endpoint: IpcEndpoint;
  readonly #pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
  readonly #feeds = new Map<number, Feed>();
  readonly #statusListeners = new Set<(s: BrokerStatus) => void>();
  #status: BrokerStatus = { state: 'down', since: Date.now() };
  #seq = 0;
  #closed = false;
  readonly #onMessage = (m: unknown): void => this.#receive(m);

  constructor(endpoint: IpcEndpoint, options: { nodeId?: string } = {}) {
    this.nodeId = options.nodeId ?? randomBytes(4).toString('hex');
    this.#endpoint = endpoint;
  }

  async start(): Promise<void> {
    this.#endpoint.on('message', this.#onMessage);
    await this.#ask({ op: 'join', node: this.nodeId });
    this.#setStatus({ state: 'up', since: Date.now() });
  }

  /** The channel to the primary is gone: nothing more can be done through it. */
  disconnected(): void {
    this.#setStatus({ state: 'down', since: Date.now(), lastError: 'the primary process is gone' });
    for (const p of this.#pending.values()) p.reject(new BrokerUnavailableError('the primary process is gone'));
    this.#pending.clear();
  }

  async close(options: { graceMs?: number } = {}): Promise<void> {
    if (this.#closed) return;
    if (options.graceMs) await new Promise((r) => setTimeout(r, options.graceMs).unref());
    this.#closed = true;
    await this.#ask({ op: 'leave', graceMs: options.graceMs ?? 0 }).catch(() => undefined);
    this.#endpoint.off('message', this.#onMessage);
    this.#feeds.clear();
  }

  status(): BrokerStatus {
    return this.#status;
  }

  onStatus(fn: (s: BrokerStatus) => void): () => void {
    this.#statusListeners.add(fn);
    return () => this.#statusListeners.delete(fn);
  }

  async publish(channel: string, payload: Uint8Array): Promise<boolean> {
    if (this.#status.state !== 'up') return false;
    return this.#ask({ op: 'publish', channel, payload }).then(
      (v) => v,
      () => false,
    );
  }

  subscribe(channel: string, fn: (payload: Uint8Array) => void): Promise<() => Promise<void>> {
    return this.#feed(fn, (sub) => ({ op: 'subscribe', channel, sub }));
  }

  append(room: string, payload: Uint8Array): Promise<Position> {
    if (this.#status.state !== 'up') return Promise.reject(new BrokerUnavailableError());
    return this.#ask({ op: 'append', room, payload });
  }

  follow(room: string, fn: (m: RoomMessage) => void, _reset: (r: RoomReset) => void): Promise<() => Promise<void>> {
    // the hub delivers a room's messages in offset order over one ordered channel: no gap to heal
    return this.#feed(fn, (sub) => ({ op: 'follow', room, sub }));
  }

  async read(room: string, after: Position, limit: number): Promise<ReadResult> {
    if (this.#status.state !== 'up') return { complete: false, reason: 'unavailable' };
    return this.#ask({ op: 'read', room, after, limit });
  }

  top(room: string): Promise<Position> {
    return this.#ask({ op: 'top', room });
  }

  async presenceSet(room: string, entry: PresenceEntry): Promise<void> {
    await this.#ask({ op: 'presenceSet', room, entry });
  }

  async presenceDelete(room: string, connId: string): Promise<void> {
    await this.#ask({ op: 'presenceDelete', room, connId });
  }

  async presenceList(room: string): Promise<{ entries: PresenceEntry[]; partial: boolean }> {
    return { entries: await this.#ask({ op: 'presenceList', room }), partial: false };
  }

  watchPresence(room: string, fn: (change: PresenceChange) => void): Promise<() => Promise<void>> {
    return this.#feed(fn, (sub) => ({ op: 'watchPresence', room, sub }));
  }

  nodes(): Promise<NodeInfo[]> {
    return this.#ask({ op: 'nodes' });
  }

  async #feed(fn: Feed, request: (sub: number) => HubRequest): Promise<() => Promise<void>> {
    const sub = ++this.#seq;
    this.#feeds.set(sub, fn);
    try {
      await this.#ask(request(sub));
    } catch (err) {
      this.#feeds.delete(sub);
      throw err;
    }
    return async () => {
      if (!this.#feeds.delete(sub)) return;
      await this.#ask({ op: 'unsubscribe', sub }).catch(() => undefined);
    };
  }

  #ask<R extends HubRequest>(req: R): Promise<HubAnswers[R['op']]> {
    if (this.#status.state === 'down' && req.op !== 'join') return Promise.reject(new BrokerUnavailableError());
    const id = ++this.#seq;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      try {
        this.#endpoint.send({ [IPC_TAG]: 'req', id, req });
      } catch (err) {
        this.#pending.delete(id);
        reject(new BrokerUnavailableError(err instanceof Error ? err.message : String(err)));
      }
    });
  }

  #receive(m: unknown): void {
    if (!isTagged(m)) return;
    const msg = m as HubToWorker;
    switch (msg[IPC_TAG]) {
      case 'res': {
        const p = this.#pending.get(msg.id);
        if (!p) return;
        this.#pending.delete(msg.id);
        if (msg.ok) p.resolve(msg.value);
        else p.reject(new Error(msg.error));
        return;
      }
      case 'msg':
        (this.#feeds.get(msg.sub) as ((p: Uint8Array) => void) | undefined)?.(msg.payload);
        return;
      case 'room':
        (this.#feeds.get(msg.sub) as ((m: RoomMessage) => void) | undefined)?.(msg.message);
        return;
      case 'presence':
        (this.#feeds.get(msg.sub) as ((c: PresenceChange) => void) | undefined)?.(msg.change);
        return;
    }
  }

  #setStatus(s: BrokerStatus): void {
    this.#status = s;
    for (const fn of this.#statusListeners) fn(s);
  }
}
