/**
 * The rooms seam: membership, numbered messages with history, presence and their events.
 * The app layer uses rooms only through this interface, so one process (LocalRooms) and a
 * cluster behind a broker are interchangeable. A `scope` keeps the rooms of different
 * services apart (it is the service's route).
 */
import type { JoinResult, Position, PresenceEntry, User } from '../service.js';
import type { RoomHistory } from './room-history.js';

export interface RoomMember {
  id: string;
  user: User | null;
  /** Announce this member's joins and leaves to the room (presence.join / presence.leave). */
  announce: boolean;
}

/** How rooms reach the connections of this process. */
export interface RoomDelivery {
  /** Writes `data`, framed once, to each of these local connections that still exists, minus `except`. */
  deliver(ids: Iterable<string>, data: string | Uint8Array, binary: boolean, except: readonly string[]): number;
}

export interface RoomCallOptions {
  /** The room skips history: its messages are neither numbered nor kept (pos null). */
  volatile?: boolean;
}

export type JoinedCallback = (result: JoinResult, reset: string | undefined, resultJson?: string) => void;

export interface Rooms {
  /**
   * Adds a member (again: no effect but the result). `joined` runs in the same synchronous
   * step in which the member starts to receive the room's messages, with the result and,
   * when `since` could not be honoured, the `room.reset` push: the caller writes its reply
   * there, so no room message can overtake the position it is relative to. `resultJson`,
   * when given, is the result as JSON text (recovered messages serialised once for every
   * member that recovers them): the reply is written from it.
   */
  join(scope: string, room: string, member: RoomMember, since: Position | undefined, joined: JoinedCallback, options?: RoomCallOptions): Promise<JoinResult>;
  /** Removes a member; false if it was not one. */
  leave(scope: string, room: string, connId: string): Promise<boolean>;
  /** The connection is gone: it leaves every room of the scope. */
  leaveAll(scope: string, connId: string): void;
  /**
   * Numbers the message, keeps it in the room's history and pushes it to the members.
   * Resolves with its position, or null when it was not numbered (a volatile room, or a
   * cluster whose broker is down: then only this node's members got it).
   */
  publish(scope: string, room: string, data: unknown, except: readonly string[], options?: RoomCallOptions): Promise<Position | null>;
  /** A raw message to every member, neither numbered nor kept. */
  send(scope: string, room: string, data: string | Uint8Array, binary: boolean, except: readonly string[]): void;
  presence(scope: string, room: string): Promise<PresenceEntry[]>;
  /** The first `limit` messages after `since`, or without it the latest `limit` the history holds. */
  history(scope: string, room: string, since: Position | undefined, limit: number): Promise<RoomHistory>;
  /** Room memberships of this node's connections (metrics). */
  memberships(): number;
  /** Rooms with members on this node, and those members (operators' views). */
  localRooms(): Array<{ scope: string; room: string; members: string[] }>;
  /** Stops what the rooms run on their own (a sweep timer). */
  dispose?(): void;
}
