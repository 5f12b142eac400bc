/**
 * One node's ordered feed of one room, built from a lossy live channel (pub/sub drops what
 * is published while a subscriber is away) and the room's history. Every message is handed
 * on once, in offset order; when continuity cannot be kept it says so with a reset, never
 * silently. It knows nothing of Redis: the store is behind a FeedSource, so the merge can be
 * tested on its own.
 *
 * Rules for a live message at offset o, epoch e, with `pos` the last one handed on:
 *   e differs          -> reset to (e, o-1), then hand it on (the room's log began again)
 *   o == pos.o + 1     -> hand it on
 *   o <= pos.o         -> drop (a copy of what a fill already handed on)
 *   o >  pos.o + 1     -> fill (pos.o, o-1] from history, then hand it on; if history lacks
 *                         them (or the store cannot be read), reset to (e, o-1) first
 * A position check (after every (re)subscribe, and for idle rooms now and then) catches a
 * lost tail the live channel will never bring: same epoch and further -> fill; another
 * epoch -> reset.
 */
import type { Position, RoomMessage, RoomReset } from './broker.js';

export type FillResult = { complete: true; messages: RoomMessage[] } | { complete: false };

export interface FeedSource {
  /** Messages (after.o, to] of epoch after.e, if history holds every one of them. */
  fill(after: Position, to: number): Promise<FillResult>;
  /** The room's position now. `seen` lets the store start a new epoch if it went back below it. */
  position(seen: Position | null): Promise<Position>;
}

export interface FeedSink {
  message(m: RoomMessage): void;
  reset(r: RoomReset): void;
}

type Item = { kind: 'live'; m: RoomMessage } | { kind: 'check' };

export class RoomFeed {
  readonly room: string;
  readonly #source: FeedSource;
  readonly #sink: FeedSink;
  #pos: Position | null = null;
  /** Offsets a fill handed on: their live copies are expected and dropped quietly. */
  #filled: { e: string; from: number; to: number } | null = null;
  readonly #queue: Item[] = [];
  #busy = false;
  #idle: Array<() => void> = [];
  /** When it last handed something on or checked (for the periodic check of idle rooms). */
  lastActivity = Date.now();

  constructor(room: string, source: FeedSource, sink: FeedSink) {
    this.room = room;
    this.#source = source;
    this.#sink = sink;
  }

  /** The last position handed on (or checked). */
  get position(): Position | null {
    return this.#pos;
  }

  /** A message from the live channel. */
  live(m: RoomMessage): void {
    this.#queue.push({ kind: 'live', m });
    this.#pump();
  }

  /** Compares with the store's position; resolves once done (its failure is not reported: the next check repeats it). */
  check(): Promise<void> {
    this.#queue.push({ kind: 'check' });
    const done = this.settled();
    this.#pump();
    return done;
  }

  /** Resolves when everything queued so far is handled. */
  settled(): Promise<void> {
    if (!this.#busy && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #pump(): void {
    if (this.#busy) return;
    while (this.#queue.length > 0) {
      const item = this.#queue.shift()!;
      const pending = item.kind === 'live' ? this.#live(item.m) : this.#check();
      if (pending !== null) {
        this.#busy = true;
        // a step that failed must not wedge the feed: the next check repairs what it left
        void pending
          .catch(() => undefined)
          .then(() => {
            this.#busy = false;
            this.#pump();
          });
        return;
      }
    }
    const idle = this.#idle;
    this.#idle = [];
    for (const fn of idle) fn();
  }

  /** Handles one live message; returns a promise when it has to wait for history. */
  #live(m: RoomMessage): Promise<void> | null {
    const pos = this.#pos;
    if (pos === null) {
      // never positioned (the store was unreachable when the feed began): start here
      this.#hand(m);
      return null;
    }
    if (m.pos.e !== pos.e) {
      this.#reset('epoch', { e: m.pos.e, o: m.pos.o - 1 });
      this.#hand(m);
      return null;
    }
    if (m.pos.o === pos.o + 1) {
      this.#hand(m);
      return null;
    }
    if (m.pos.o <= pos.o) {
      const f = this.#filled;
      const expected = f !== null && f.e === m.pos.e && m.pos.o > f.from && m.pos.o <= f.to;
      // pub/sub never repeats a message: an unexpected old offset means the store went back
      if (!expected) this.#queue.unshift({ kind: 'check' });
      return null;
    }
    return this.#fill(pos, m.pos.o - 1).then((failed) => {
      if (failed !== null) this.#reset(failed, { e: m.pos.e, o: m.pos.o - 1 });
      this.#hand(m);
    });
  }

  async #check(): Promise<void> {
    let top: Position;
    try {
      top = await this.#source.position(this.#pos);
    } catch {
      return;
    }
    this.lastActivity = Date.now();
    const pos = this.#pos;
    if (pos === null) {
      this.#pos = top;
    } else if (top.e !== pos.e || top.o < pos.o) {
      this.#reset('epoch', top);
    } else if (top.o > pos.o) {
      const failed = await this.#fill(pos, top.o);
      if (failed !== null) this.#reset(failed, top);
    }
  }

  /** Hands on (pos.o, to] from history; null when done, else why it could not. */
  async #fill(pos: Position, to: number): Promise<'gap' | 'broker_down' | null> {
    let got: FillResult;
    try {
      got = await this.#source.fill(pos, to);
    } catch {
      return 'broker_down';
    }
    if (!got.complete) return 'gap';
    const count = to - pos.o;
    if (got.messages.length !== count || got.messages.some((m, i) => m.pos.e !== pos.e || m.pos.o !== pos.o + 1 + i)) return 'gap';
    this.#filled = { e: pos.e, from: pos.o, to };
    for (const m of got.messages) this.#hand(m);
    return null;
  }

  #hand(m: RoomMessage): void {
    this.#pos = m.pos;
    this.lastActivity = Date.now();
    try {
      this.#sink.message(m);
    } catch {
      // a follower's failure must not stop the feed of the others
    }
  }

  #reset(reason: RoomReset['reason'], top: Position): void {
    this.#pos = top;
    this.#filled = null;
    try {
      this.#sink.reset({ room: this.room, reason, top });
    } catch {
      // as above
    }
  }
}
