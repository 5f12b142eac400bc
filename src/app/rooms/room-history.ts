/**
 * Reading a room's history from outside (the server API): the messages after a position, or
 * the latest ones the history still holds. Built on the one read primitive every rooms
 * implementation has (messages after a position, all or nothing), so the single-process
 * rooms and every broker answer alike.
 */
import type { Position, RoomMessage } from '../service.js';

export interface RoomHistory {
  /** The room's current position. */
  pos: Position;
  /** Oldest first. */
  messages: RoomMessage[];
  /** Set when messages after `since` were asked for and the history no longer holds them all (then none are returned). */
  reason?: 'expired' | 'epoch';
}

export type HistoryRead =
  | { complete: true; messages: RoomMessage[]; top: Position }
  | { complete: false; reason: string; top?: Position };

/** More than any history keeps (historySize is a count in memory or in the broker). */
const READ_ALL = 1_000_000;

/**
 * `since`: the first `limit` messages after it. Without: the latest `limit` messages still
 * held, found by bisecting on the read's all-or-nothing answer (a few reads, for an admin call).
 */
export async function readHistory(top: () => Promise<Position>, read: (after: Position, limit: number) => Promise<HistoryRead>, since: Position | undefined, limit: number): Promise<RoomHistory> {
  if (since !== undefined) {
    const r = await read(since, READ_ALL);
    if (r.complete) return { pos: r.top, messages: r.messages.slice(0, limit) };
    const pos = r.top ?? (await top());
    return { pos, messages: [], reason: r.reason === 'epoch' ? 'epoch' : 'expired' };
  }
  const pos = await top();
  // smallest `after` offset whose read is complete, in [pos.o - limit, pos.o]
  let lo = Math.max(0, pos.o - limit);
  let hi = pos.o;
  let best: RoomMessage[] = [];
  while (lo <= hi) {
    const mid = Math.floor((lo + hi) / 2);
    const r = await read({ e: pos.e, o: mid }, READ_ALL);
    if (r.complete) {
      if (r.top.e !== pos.e) break; // the room started again meanwhile: answer with what was found
      best = r.messages;
      hi = mid - 1;
    } else {
      lo = mid + 1;
    }
  }
  return { pos, messages: best.slice(-limit) };
}
