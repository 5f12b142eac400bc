/**
 * Rooms of one process: room -> members index, connection -> rooms, and per room a position
 * (epoch, offset) and a bounded history (count and age) used to recover a client that rejoins
 * with its last position. No sockets here: delivery is the caller's job.
 */
import { randomBytes } from 'node:crypto';
import { encodePush } from '../command-envelope.js';
import type { Position, RoomMessage } from '../service.js';

export interface RoomIndexOptions {
  /** Messages kept per room (default 100). 0 disables history. */
  historySize?: number;
  /** Age after which a message leaves the history, ms (default 5 minutes). */
  historyTtlMs?: number;
  /** Most messages a rejoin may recover (default 500). */
  maxRecover?: number;
  now?: () => number;
}

/** A stored room message: its data, and the push text built once for every recipient. */
export interface StoredMessage extends RoomMessage {
  at: number;
  text: string;
}

export type ReadResult =
  | { complete: true; messages: StoredMessage[]; top: Position }
  | { complete: false; reason: 'expired' | 'epoch' | 'too_many'; top: Position };

interface Room {
  readonly name: string;
  readonly epoch: string;
  offset: number;
  readonly members: Set<string>;
  readonly history: StoredMessage[];
}

export class RoomIndex {
  readonly #rooms = new Map<string, Room>();
  readonly #byConnection = new Map<string, Set<string>>();
  readonly #historySize: number;
  readonly #ttl: number;
  readonly #maxRecover: number;
  readonly #now: () => number;

  constructor(options: RoomIndexOptions = {}) {
    this.#historySize = options.historySize ?? 100;
    this.#ttl = options.historyTtlMs ?? 5 * 60_000;
    this.#maxRecover = options.maxRecover ?? 500;
    this.#now = options.now ?? Date.now;
    if (!Number.isInteger(this.#historySize) || this.#historySize < 0) throw new TypeError('historySize must be a non-negative integer');
  }

  /** Adds a member; returns false if it already was one. */
  join(room: string, connId: string): boolean {
    const r = this.#room(room);
    if (r.members.has(connId)) return false;
    r.members.add(connId);
    let rooms = this.#byConnection.get(connId);
    if (rooms === undefined) this.#byConnection.set(connId, (rooms = new Set()));
    rooms.add(room);
    return true;
  }

  leave(room: string, connId: string): boolean {
    const r = this.#rooms.get(room);
    if (r === undefined || !r.members.delete(connId)) return false;
    const rooms = this.#byConnection.get(connId);
    rooms?.delete(room);
    if (rooms !== undefined && rooms.size === 0) this.#byConnection.delete(connId);
    this.#evictIfIdle(r);
    return true;
  }

  /** Removes a connection from every room; returns the rooms it left. */
  leaveAll(connId: string): string[] {
    const rooms = this.#byConnection.get(connId);
    if (rooms === undefined) return [];
    const left = [...rooms];
    for (const room of left) this.leave(room, connId);
    return left;
  }

  members(room: string): ReadonlySet<string> {
    return this.#rooms.get(room)?.members ?? EMPTY;
  }

  roomsOf(connId: string): ReadonlySet<string> {
    return this.#byConnection.get(connId) ?? EMPTY;
  }

  /** The room's current position (creates the room, and so its epoch, if new). */
  top(room: string): Position {
    const r = this.#room(room);
    return { e: r.epoch, o: r.offset };
  }

  /** Numbers a message, keeps it in the history and returns it with its push text. */
  append(room: string, data: unknown): StoredMessage {
    const r = this.#room(room);
    r.offset += 1;
    const pos = { e: r.epoch, o: r.offset };
    const text = encodePush('room.message', data, { room, pos });
    const message: StoredMessage = { pos, data: data === undefined ? null : data, at: this.#now(), text };
    if (this.#historySize > 0) {
      r.history.push(message);
      if (r.history.length > this.#historySize) r.history.shift();
    }
    return message;
  }

  /** Everything after `since`, if the history still holds all of it. */
  read(room: string, since: Position): ReadResult {
    const r = this.#room(room);
    this.#trim(r);
    const top = { e: r.epoch, o: r.offset };
    if (since.e !== r.epoch || since.o > r.offset || since.o < 0) return { complete: false, reason: 'epoch', top };
    const missed = r.offset - since.o;
    if (missed === 0) return { complete: true, messages: [], top };
    if (missed > this.#maxRecover) return { complete: false, reason: 'too_many', top };
    const first = r.history[0];
    if (first === undefined || first.pos.o > since.o + 1) return { complete: false, reason: 'expired', top };
    const start = r.history.length - missed;
    return { complete: true, messages: r.history.slice(start), top };
  }

  /** Drops rooms with no members and no live history. Returns how many were dropped. */
  sweep(): number {
    let dropped = 0;
    for (const r of [...this.#rooms.values()]) if (this.#evictIfIdle(r)) dropped += 1;
    return dropped;
  }

  get size(): number {
    return this.#rooms.size;
  }

  #room(name: string): Room {
    let r = this.#rooms.get(name);
    if (r === undefined) {
      r = { name, epoch: randomBytes(6).toString('base64url'), offset: 0, members: new Set(), history: [] };
      this.#rooms.set(name, r);
    }
    return r;
  }

  #trim(r: Room): void {
    const cutoff = this.#now() - this.#ttl;
    let n = 0;
    while (n < r.history.length && r.history[n]!.at <= cutoff) n += 1;
    if (n > 0) r.history.splice(0, n);
  }

  #evictIfIdle(r: Room): boolean {
    if (r.members.size > 0) return false;
    this.#trim(r);
    if (r.history.length > 0) return false;
    this.#rooms.delete(r.name);
    return true;
  }
}

const EMPTY: ReadonlySet<string> = new Set();
