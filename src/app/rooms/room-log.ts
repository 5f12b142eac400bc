/**
 * One room's numbered messages: an epoch (random, new when the log starts again), dense
 * offsets, and a bounded history (count and age) to recover a client that rejoins with its
 * last position. Shared by the single-process rooms and the in-process broker.
 */
import { randomBytes } from 'node:crypto';
import type { Position } from '../service.js';

export interface LoggedMessage {
  pos: Position;
  /** When it was appended (ms since the epoch). */
  at: number;
}

export type LogRead<M> =
  | { complete: true; messages: M[]; top: Position }
  | { complete: false; reason: 'expired' | 'epoch' | 'too_many'; top: Position };

export interface LogLimits {
  /** Messages kept (0 keeps none). */
  historySize: number;
  /** Age after which a message leaves the history, ms. */
  historyTtlMs: number;
}

export class RoomLog<M extends LoggedMessage> {
  readonly epoch = randomBytes(6).toString('base64url');
  #offset = 0;
  readonly #history: M[] = [];
  readonly #limits: LogLimits;

  constructor(limits: LogLimits) {
    this.#limits = limits;
  }

  get top(): Position {
    return { e: this.epoch, o: this.#offset };
  }

  /** Nothing was ever appended, or everything appended has left the history (after trim). */
  get empty(): boolean {
    return this.#history.length === 0;
  }

  get used(): boolean {
    return this.#offset > 0;
  }

  /** Numbers the next message; `make` builds it from its position. */
  append(make: (pos: Position) => M): M {
    this.#offset += 1;
    const message = make({ e: this.epoch, o: this.#offset });
    if (this.#limits.historySize > 0) {
      this.#history.push(message);
      if (this.#history.length > this.#limits.historySize) this.#history.shift();
    }
    return message;
  }

  /** Everything after `after`, if the history still holds all of it (at most `limit`). */
  read(after: Position, limit: number, now: number): LogRead<M> {
    this.trim(now);
    const top = this.top;
    if (after.e !== this.epoch || after.o > this.#offset || after.o < 0) return { complete: false, reason: 'epoch', top };
    const missed = this.#offset - after.o;
    if (missed === 0) return { complete: true, messages: [], top };
    if (missed > limit) return { complete: false, reason: 'too_many', top };
    const first = this.#history[0];
    if (first === undefined || first.pos.o > after.o + 1) return { complete: false, reason: 'expired', top };
    return { complete: true, messages: this.#history.slice(this.#history.length - missed), top };
  }

  /** Drops what is older than the history's age. */
  trim(now: number): void {
    const cutoff = now - this.#limits.historyTtlMs;
    let n = 0;
    while (n < this.#history.length && this.#history[n]!.at <= cutoff) n += 1;
    if (n > 0) this.#history.splice(0, n);
  }
}
