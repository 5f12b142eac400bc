/**
 * Rooms of one process: room -> members index, connection -> rooms, and per room a position
 * (epoch, offset) and a bounded history (count and age) used to recover a client that rejoins
 * with its last position. No sockets here: delivery is the caller's job.
 */
import { encodePush } from '../command-envelope.js';
import { RoomLog, type LogRead } from './room-log.js';
import type { Position, RoomMessage } from '../service.js';

/** How long a room message stays in the history by default. */
export const DEFAULT_HISTORY_TTL_MS = 5 * 60_000;

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

export type ReadResult = LogRead<StoredMessage>;

interface Room {
  readonly name: string;
  readonly log: RoomLog<StoredMessage>;
  readonly members: Set<string>;
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
    this.#ttl = options.historyTtlMs ?? DEFAULT_HISTORY_TTL_MS;
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
    return this.#room(room).log.top;
  }

  /** Numbers a message, keeps it in the history and returns it with its push text. */
  append(room: string, data: unknown): StoredMessage {
    const value = data === undefined ? null : data;
    return this.#room(room).log.append((pos) => ({ pos, data: value, at: this.#now(), text: encodePush('room.message', value, { room, pos }) }));
  }

  /** Everything after `since`, if the history still holds all of it (at most `limit`, default maxRecover). */
  read(room: string, since: Position, limit = this.#maxRecover): ReadResult {
    return this.#room(room).log.read(since, limit, this.#now());
  }

  /** Drops rooms with no members and no live history, and expired messages from the others. Returns how many rooms were dropped. */
  sweep(): number {
    let dropped = 0;
    const now = this.#now();
    for (const r of [...this.#rooms.values()]) {
      if (this.#evictIfIdle(r)) dropped += 1;
      else r.log.trim(now);
    }
    return dropped;
  }

  /** Rooms that have members, with them. */
  *occupied(): IterableIterator<[string, ReadonlySet<string>]> {
    for (const r of this.#rooms.values()) if (r.members.size > 0) yield [r.name, r.members];
  }

  get size(): number {
    return this.#rooms.size;
  }

  /** Connection-room memberships. */
  get memberships(): number {
    let n = 0;
    for (const rooms of this.#byConnection.values()) n += rooms.size;
    return n;
  }

  #room(name: string): Room {
    let r = this.#rooms.get(name);
    if (r === undefined) {
      r = { name, log: new RoomLog({ historySize: this.#historySize, historyTtlMs: this.#ttl }), members: new Set() };
      this.#rooms.set(name, r);
    }
    return r;
  }

  #evictIfIdle(r: Room): boolean {
    if (r.members.size > 0) return false;
    r.log.trim(this.#now());
    if (!r.log.empty) return false;
    this.#rooms.delete(r.name);
    return true;
  }
}

const EMPTY: ReadonlySet<string> = new Set();
