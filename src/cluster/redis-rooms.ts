/**
 * Rooms over Redis: append, follow, read and top on the room scripts (redis-scripts.ts).
 * A followed room is one subscription to its live channel per node, fed through a RoomFeed
 * that fills gaps from the log or reports them. The node remembers the furthest position it
 * saw of each room, so that the store, if its counter went back, starts a new epoch instead
 * of reusing offsets.
 */
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import type { Position, ReadResult, RoomMessage, RoomReset } from './broker.js';
import type { Client } from './redis-connection.js';
import type { RedisNames } from './redis-names.js';
import { APPEND, POSITION_OF, READ, runScript } from './redis-scripts.js';
import type { Handler } from './redis-subscriber.js';
import { RoomFeed, type FeedSource, type FillResult } from './room-feed.js';

export interface RedisRoomsOptions {
  historySize: number;
  historyTtlMs: number;
  metaTtlMs: number;
  /** Runs on the command connection (BrokerUnavailableError when it cannot). */
  run<T>(fn: (c: Client) => Promise<T>): Promise<T>;
  /** Listens to a channel on the subscriber connection. */
  listen(channel: string, fn: Handler): Promise<() => Promise<void>>;
}

interface Followed {
  readonly feed: RoomFeed;
  readonly followers: Set<{ fn: (m: RoomMessage) => void; reset: (r: RoomReset) => void }>;
  ready: Promise<void>;
  unsubscribe: (() => Promise<void>) | null;
}

type Read = { ok: true; messages: RoomMessage[]; top: Position } | { ok: false; reason: 'epoch' | 'too_many' | 'expired'; top: Position };

/** Rooms whose furthest position this node keeps without following them (its own appends). */
const SEEN_LIMIT = 10_000;

export class RedisRooms {
  readonly #names: RedisNames;
  readonly #o: RedisRoomsOptions;
  readonly #feeds = new Map<string, Followed>();
  readonly #seen = new Map<string, Position>();

  constructor(names: RedisNames, options: RedisRoomsOptions) {
    this.#names = names;
    this.#o = options;
  }

  async append(room: string, payload: Uint8Array): Promise<Position> {
    const seen = this.#seen.get(room);
    const reply = await this.#o.run((c) =>
      runScript<[string, number]>(c, APPEND, [this.#names.meta(room), this.#names.log(room)], [
        asBuffer(payload),
        this.#o.historySize,
        this.#o.historyTtlMs,
        this.#o.metaTtlMs,
        newEpoch(),
        this.#names.live(room),
        seen?.e ?? '',
        seen?.o ?? 0,
      ]),
    );
    const pos = { e: String(reply[0]), o: Number(reply[1]) };
    this.#see(room, pos);
    return pos;
  }

  async follow(room: string, fn: (m: RoomMessage) => void, reset: (r: RoomReset) => void): Promise<() => Promise<void>> {
    const f = this.#feeds.get(room) ?? this.#startFeed(room);
    const follower = { fn, reset };
    f.followers.add(follower);
    await f.ready;
    return async () => {
      if (!f.followers.delete(follower) || f.followers.size > 0) return;
      if (this.#feeds.get(room) === f) this.#feeds.delete(room);
      await f.ready;
      await f.unsubscribe?.();
    };
  }

  async read(room: string, after: Position, limit: number): Promise<ReadResult> {
    const r = await this.#read(room, after, limit, -1);
    return r.ok ? { complete: true, messages: r.messages, top: r.top } : { complete: false, reason: r.reason, top: r.top };
  }

  top(room: string): Promise<Position> {
    return this.#position(room, this.#seen.get(room) ?? null);
  }

  /** Every followed room compared with the store (after a reconnect). */
  async checkAll(): Promise<void> {
    await Promise.all([...this.#feeds.values()].map((f) => f.feed.check()));
  }

  /** Followed rooms with nothing handed on for `ms`: a lost tail shows here. */
  checkIdle(ms: number): void {
    const before = Date.now() - ms;
    for (const f of this.#feeds.values()) if (f.feed.lastActivity < before) void f.feed.check();
  }

  clear(): void {
    this.#feeds.clear();
  }

  #startFeed(room: string): Followed {
    const followers: Followed['followers'] = new Set();
    const feed = new RoomFeed(room, this.#source(room), {
      message: (m) => {
        this.#see(room, m.pos);
        for (const l of [...followers]) l.fn(m);
      },
      reset: (r) => {
        if (r.top) this.#see(room, r.top, true);
        for (const l of [...followers]) l.reset(r);
      },
    });
    const f: Followed = { feed, followers, ready: Promise.resolve(), unsubscribe: null };
    this.#feeds.set(room, f);
    // subscribed first, then positioned: nothing published in between is missed
    f.ready = (async () => {
      f.unsubscribe = await this.#o.listen(this.#names.live(room), (p) => onLive(feed, p));
      await feed.check();
    })();
    return f;
  }

  #source(room: string): FeedSource {
    return {
      fill: async (after, to): Promise<FillResult> => {
        const r = await this.#read(room, after, to - after.o, to);
        return r.ok ? { complete: true, messages: r.messages } : { complete: false };
      },
      position: (seen) => this.#position(room, later(seen, this.#seen.get(room))),
    };
  }

  async #read(room: string, after: Position, limit: number, upTo: number): Promise<Read> {
    const reply = await this.#o.run((c) =>
      runScript<[Buffer, Buffer, number, Buffer[]?]>(c, READ, [this.#names.meta(room), this.#names.log(room)], [after.e, after.o, limit, upTo, this.#o.historySize, newEpoch(), this.#o.metaTtlMs], true),
    );
    const status = reply[0].toString();
    const top = { e: reply[1].toString(), o: Number(reply[2]) };
    this.#see(room, top);
    if (status !== 'ok') return { ok: false, reason: status as 'epoch' | 'too_many' | 'expired', top };
    const messages = (reply[3] ?? []).map((payload, i) => ({ room, pos: { e: after.e, o: after.o + 1 + i }, payload }));
    return { ok: true, messages, top };
  }

  async #position(room: string, seen: Position | null): Promise<Position> {
    const reply = await this.#o.run((c) => runScript<[string, number]>(c, POSITION_OF, [this.#names.meta(room), this.#names.log(room)], [newEpoch(), this.#o.metaTtlMs, seen?.e ?? '', seen?.o ?? 0]));
    const pos = { e: String(reply[0]), o: Number(reply[1]) };
    this.#see(room, pos, true);
    return pos;
  }

  /** Remembers the furthest position of a room in its epoch (`replace`: the store's word, e.g. a new epoch). */
  #see(room: string, pos: Position, replace = false): void {
    const known = this.#seen.get(room);
    if (known !== undefined && known.e === pos.e && (replace ? known.o > pos.o : known.o >= pos.o)) return;
    this.#seen.delete(room);
    this.#seen.set(room, pos);
    if (this.#seen.size <= SEEN_LIMIT) return;
    for (const key of this.#seen.keys()) {
      if (this.#seen.size <= SEEN_LIMIT) break;
      if (!this.#feeds.has(key)) this.#seen.delete(key);
    }
  }
}

/** "<offset>:<epoch>:<payload>", as the append script publishes it. */
function onLive(feed: RoomFeed, p: Buffer): void {
  const a = p.indexOf(0x3a);
  const b = a < 0 ? -1 : p.indexOf(0x3a, a + 1);
  if (b < 0) return;
  const o = Number(p.toString('latin1', 0, a));
  if (!Number.isSafeInteger(o)) return;
  feed.live({ room: feed.room, pos: { e: p.toString('utf8', a + 1, b), o }, payload: p.subarray(b + 1) });
}

function later(a: Position | null, b: Position | undefined): Position | null {
  if (b === undefined) return a;
  if (a === null || a.e !== b.e) return a ?? b;
  return a.o >= b.o ? a : b;
}

function newEpoch(): string {
  return randomBytes(6).toString('base64url');
}

export function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}
