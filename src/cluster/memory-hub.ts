/**
 * The broker's state kept in one process: channels, room logs with bounded history, presence
 * and node leases. A MemoryBroker is one node's view of a hub; several nodes may share one
 * (tests, and the primary of `--workers N`, which serves its workers' IpcBrokers from it).
 * Deliveries happen synchronously, in call order, so a room's followers see offset order.
 */
import { RoomLog } from '../app/rooms/room-log.js';
import type { NodeInfo, Position, PresenceChange, PresenceEntry, ReadResult, RoomMessage } from './broker.js';

export interface HistoryOptions {
  /** Messages kept per room (default 100). 0 keeps none. */
  historySize?: number;
  /** Age after which a message leaves the history, ms (default 5 minutes). */
  historyTtlMs?: number;
  /** How long an idle room keeps its position after its last message, ms (default 24 h). */
  metaTtlMs?: number;
  now?: () => number;
}

interface StoredMessage extends RoomMessage {
  at: number;
}

interface Room {
  readonly log: RoomLog<StoredMessage>;
  touched: number;
  readonly followers: Set<(m: RoomMessage) => void>;
}

type Subscriber = (payload: Uint8Array) => void;
type Watcher = (change: PresenceChange) => void;

export class MemoryHub {
  readonly #channels = new Map<string, Set<Subscriber>>();
  readonly #rooms = new Map<string, Room>();
  readonly #presence = new Map<string, Map<string, PresenceEntry>>();
  readonly #watchers = new Map<string, Set<Watcher>>();
  readonly #nodes = new Map<string, NodeInfo>();
  readonly #historySize: number;
  readonly #ttl: number;
  readonly #metaTtl: number;
  readonly #now: () => number;

  constructor(options: HistoryOptions = {}) {
    this.#historySize = options.historySize ?? 100;
    this.#ttl = options.historyTtlMs ?? 5 * 60_000;
    this.#metaTtl = options.metaTtlMs ?? 24 * 3_600_000;
    this.#now = options.now ?? Date.now;
    if (!Number.isInteger(this.#historySize) || this.#historySize < 0) throw new TypeError('historySize must be a non-negative integer');
  }

  // ------------------------------------------------------------ nodes

  join(nodeId: string): void {
    if (!this.#nodes.has(nodeId)) this.#nodes.set(nodeId, { id: nodeId, since: this.#now() });
  }

  /** The node is gone: its presence entries leave (each announced once). */
  leave(nodeId: string): void {
    this.#nodes.delete(nodeId);
    for (const [room, entries] of this.#presence) {
      for (const [connId, e] of entries) if (e.node === nodeId) this.presenceDelete(room, connId);
    }
  }

  nodes(): NodeInfo[] {
    return [...this.#nodes.values()];
  }

  // ------------------------------------------------------------ channels

  publish(channel: string, payload: Uint8Array): void {
    const subs = this.#channels.get(channel);
    if (subs) for (const fn of [...subs]) fn(payload);
  }

  subscribe(channel: string, fn: Subscriber): () => void {
    let subs = this.#channels.get(channel);
    if (!subs) this.#channels.set(channel, (subs = new Set()));
    subs.add(fn);
    return () => {
      subs!.delete(fn);
      if (subs!.size === 0 && this.#channels.get(channel) === subs) this.#channels.delete(channel);
    };
  }

  // ------------------------------------------------------------ rooms

  append(room: string, payload: Uint8Array): Position {
    const r = this.#room(room);
    r.touched = this.#now();
    const m = r.log.append((pos) => ({ room, pos, payload, at: r.touched }));
    const delivered: RoomMessage = { room, pos: m.pos, payload };
    for (const fn of [...r.followers]) fn(delivered);
    return m.pos;
  }

  follow(room: string, fn: (m: RoomMessage) => void): () => void {
    const r = this.#room(room);
    r.followers.add(fn);
    return () => {
      r.followers.delete(fn);
      this.#evictIfIdle(room, r);
    };
  }

  top(room: string): Position {
    return this.#room(room).log.top;
  }

  read(room: string, after: Position, limit: number): ReadResult {
    const r = this.#room(room).log.read(after, limit, this.#now());
    if (!r.complete) return r;
    return { complete: true, messages: r.messages.map(({ room: rm, pos, payload }) => ({ room: rm, pos, payload })), top: r.top };
  }

  // ------------------------------------------------------------ presence

  presenceSet(room: string, entry: PresenceEntry): void {
    let entries = this.#presence.get(room);
    if (!entries) this.#presence.set(room, (entries = new Map()));
    const had = entries.has(entry.connId);
    entries.set(entry.connId, entry);
    if (!had) this.#announce(room, { type: 'join', entry });
  }

  presenceDelete(room: string, connId: string): void {
    const entries = this.#presence.get(room);
    const e = entries?.get(connId);
    if (!entries || !e) return;
    entries.delete(connId);
    if (entries.size === 0) this.#presence.delete(room);
    this.#announce(room, { type: 'leave', entry: e });
  }

  presenceList(room: string): PresenceEntry[] {
    return [...(this.#presence.get(room)?.values() ?? [])].filter((e) => this.#nodes.has(e.node));
  }

  watchPresence(room: string, fn: Watcher): () => void {
    let set = this.#watchers.get(room);
    if (!set) this.#watchers.set(room, (set = new Set()));
    set.add(fn);
    return () => {
      set!.delete(fn);
      if (set!.size === 0 && this.#watchers.get(room) === set) this.#watchers.delete(room);
    };
  }

  #announce(room: string, change: PresenceChange): void {
    const set = this.#watchers.get(room);
    if (set) for (const fn of [...set]) fn(change);
  }

  #room(name: string): Room {
    let r = this.#rooms.get(name);
    if (r !== undefined && r.followers.size === 0 && this.#now() - r.touched > this.#metaTtl) {
      // an idle room past its meta TTL starts again under a new epoch, as Redis would after expiry
      this.#rooms.delete(name);
      r = undefined;
    }
    if (r === undefined) {
      r = { log: new RoomLog({ historySize: this.#historySize, historyTtlMs: this.#ttl }), touched: this.#now(), followers: new Set() };
      this.#rooms.set(name, r);
    }
    return r;
  }

  #evictIfIdle(name: string, r: Room): void {
    if (r.followers.size === 0 && !r.log.used) this.#rooms.delete(name);
  }
}
