/**
 * The in-process broker: one node's view of a MemoryHub. The default for one process, and
 * the store behind `--workers N` (the primary's hub). Always up.
 */
import { randomBytes } from 'node:crypto';
import type { Broker, BrokerStatus, NodeInfo, Position, PresenceChange, PresenceEntry, ReadResult, RoomMessage, RoomReset } from './broker.js';
import { MemoryHub, type HistoryOptions } from './memory-hub.js';

export interface MemoryBrokerOptions extends HistoryOptions {
  /** Share a hub with other nodes of this process (default: a hub of its own). */
  hub?: MemoryHub;
  nodeId?: string;
}

export class MemoryBroker implements Broker {
  readonly nodeId: string;
  readonly kind = 'memory';
  readonly hub: MemoryHub;
  readonly #status: BrokerStatus = { state: 'up', since: Date.now() };
  readonly #undo = new Set<() => void>();
  #closed = false;

  constructor(options: MemoryBrokerOptions = {}) {
    this.nodeId = options.nodeId ?? randomBytes(4).toString('hex');
    this.hub = options.hub ?? new MemoryHub(options);
  }

  async start(): Promise<void> {
    this.hub.join(this.nodeId);
  }

  async close(options: { graceMs?: number } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const undo of this.#undo) undo();
    this.#undo.clear();
    if (options.graceMs) await new Promise((r) => setTimeout(r, options.graceMs).unref());
    this.hub.leave(this.nodeId);
  }

  status(): BrokerStatus {
    return this.#status;
  }

  onStatus(): () => void {
    return () => {};
  }

  async publish(channel: string, payload: Uint8Array): Promise<boolean> {
    if (this.#closed) return false;
    this.hub.publish(channel, payload);
    return true;
  }

  async subscribe(channel: string, fn: (payload: Uint8Array) => void): Promise<() => Promise<void>> {
    return this.#keep(this.hub.subscribe(channel, fn));
  }

  async append(room: string, payload: Uint8Array): Promise<Position> {
    return this.hub.append(room, payload);
  }

  async follow(room: string, fn: (m: RoomMessage) => void, _reset: (r: RoomReset) => void): Promise<() => Promise<void>> {
    return this.#keep(this.hub.follow(room, fn));
  }

  async read(room: string, after: Position, limit: number): Promise<ReadResult> {
    return this.hub.read(room, after, limit);
  }

  async top(room: string): Promise<Position> {
    return this.hub.top(room);
  }

  async presenceSet(room: string, entry: PresenceEntry): Promise<void> {
    this.hub.presenceSet(room, entry);
  }

  async presenceDelete(room: string, connId: string): Promise<void> {
    this.hub.presenceDelete(room, connId);
  }

  async presenceList(room: string): Promise<{ entries: PresenceEntry[]; partial: boolean }> {
    return { entries: this.hub.presenceList(room), partial: false };
  }

  async watchPresence(room: string, fn: (change: PresenceChange) => void): Promise<() => Promise<void>> {
    return this.#keep(this.hub.watchPresence(room, fn));
  }

  async nodes(): Promise<NodeInfo[]> {
    return this.hub.nodes();
  }

  /** Undone at close; the returned function undoes it earlier. */
  #keep(undo: () => void): () => Promise<void> {
    this.#undo.add(undo);
    return async () => {
      if (this.#undo.delete(undo)) undo();
    };
  }
}
