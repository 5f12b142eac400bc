/**
 * Rooms of one process: a RoomIndex (members, positions, history) per scope, delivering to
 * local connections. The default when no cluster is configured.
 */
import { encodeEvent, encodePush } from '../command-envelope.js';
import type { JoinResult, Position, PresenceEntry } from '../service.js';
import { readHistory, type RoomHistory } from './room-history.js';
import { DEFAULT_HISTORY_TTL_MS, RoomIndex, type RoomIndexOptions } from './room-index.js';
import type { RoomCallOptions, RoomDelivery, RoomMember, Rooms } from './rooms.js';

export class LocalRooms implements Rooms {
  readonly #options: RoomIndexOptions;
  readonly #delivery: RoomDelivery;
  readonly #scopes = new Map<string, { index: RoomIndex; members: Map<string, RoomMember> }>();

  readonly #sweeper: ReturnType<typeof setInterval>;

  constructor(delivery: RoomDelivery, options: RoomIndexOptions = {}) {
    this.#delivery = delivery;
    this.#options = options;
    // A room nobody is in keeps its history for the history's age, then goes: without a
    // sweep, a server with a room per conversation would keep every room it ever had, each
    // with its last messages, however old.
    const ttl = options.historyTtlMs ?? DEFAULT_HISTORY_TTL_MS;
    this.#sweeper = setInterval(() => this.sweep(), Math.min(60_000, Math.max(1_000, ttl / 2)));
    this.#sweeper.unref();
  }

  /** Drops the rooms nobody is in whose history has expired, and expired messages everywhere. Returns the rooms dropped. */
  sweep(): number {
    let dropped = 0;
    for (const [scope, s] of this.#scopes) {
      dropped += s.index.sweep();
      if (s.index.size === 0 && s.members.size === 0) this.#scopes.delete(scope);
    }
    return dropped;
  }

  dispose(): void {
    clearInterval(this.#sweeper);
  }

  async join(scope: string, room: string, member: RoomMember, since: Position | undefined, joined: (result: JoinResult, reset: string | undefined) => void, options: RoomCallOptions = {}): Promise<JoinResult> {
    const s = this.#scope(scope);
    const added = s.index.join(room, member.id);
    s.members.set(member.id, member);
    let result: JoinResult;
    let reset: string | undefined;
    if (options.volatile === true) {
      result = { pos: { e: '', o: 0 } };
    } else if (since === undefined) {
      result = { pos: s.index.top(room) };
    } else {
      const read = s.index.read(room, since);
      if (read.complete) {
        result = { pos: read.top, recovered: true, messages: read.messages.map((m) => ({ pos: m.pos, data: m.data })) };
      } else {
        result = { pos: read.top, recovered: false, reason: read.reason };
        reset = encodeEvent('room.reset', { room, reason: read.reason, pos: read.top });
      }
    }
    joined(result, reset);
    if (added && member.announce) this.#announce(scope, 'presence.join', room, member);
    return result;
  }

  async leave(scope: string, room: string, connId: string): Promise<boolean> {
    const s = this.#scopes.get(scope);
    if (s === undefined || !s.index.leave(room, connId)) return false;
    const member = s.members.get(connId);
    if (s.index.roomsOf(connId).size === 0) s.members.delete(connId);
    if (member?.announce) this.#announce(scope, 'presence.leave', room, member);
    return true;
  }

  leaveAll(scope: string, connId: string): void {
    const s = this.#scopes.get(scope);
    if (s === undefined) return;
    const member = s.members.get(connId);
    s.members.delete(connId);
    for (const room of s.index.leaveAll(connId)) if (member?.announce) this.#announce(scope, 'presence.leave', room, member);
  }

  async publish(scope: string, room: string, data: unknown, except: readonly string[], options: RoomCallOptions = {}): Promise<Position | null> {
    const index = this.#scope(scope).index;
    if (options.volatile === true) {
      this.#delivery.deliver(index.members(room), encodePush('room.message', data, { room, pos: null }), false, except);
      return null;
    }
    const message = index.append(room, data);
    this.#delivery.deliver(index.members(room), message.text, false, except);
    return message.pos;
  }

  send(scope: string, room: string, data: string | Uint8Array, binary: boolean, except: readonly string[]): void {
    const s = this.#scopes.get(scope);
    if (s !== undefined) this.#delivery.deliver(s.index.members(room), data, binary, except);
  }

  async presence(scope: string, room: string): Promise<PresenceEntry[]> {
    const s = this.#scopes.get(scope);
    if (s === undefined) return [];
    const out: PresenceEntry[] = [];
    for (const id of s.index.members(room)) out.push({ id, user: s.members.get(id)?.user ?? null });
    return out;
  }

  history(scope: string, room: string, since: Position | undefined, limit: number): Promise<RoomHistory> {
    const index = this.#scope(scope).index;
    return readHistory(
      async () => index.top(room),
      async (after, max) => {
        const r = index.read(room, after, max);
        return r.complete ? { complete: true, top: r.top, messages: r.messages.map((m) => ({ pos: m.pos, data: m.data })) } : r;
      },
      since,
      limit,
    );
  }

  memberships(): number {
    let n = 0;
    for (const s of this.#scopes.values()) n += s.index.memberships;
    return n;
  }

  localRooms(): Array<{ scope: string; room: string; members: string[] }> {
    const out: Array<{ scope: string; room: string; members: string[] }> = [];
    for (const [scope, s] of this.#scopes) for (const [room, members] of s.index.occupied()) out.push({ scope, room, members: [...members] });
    return out;
  }

  #announce(scope: string, event: 'presence.join' | 'presence.leave', room: string, member: RoomMember): void {
    const s = this.#scopes.get(scope)!;
    this.#delivery.deliver(s.index.members(room), encodePush(event, { id: member.id, user: member.user }, { room }), false, [member.id]);
  }

  #scope(scope: string): { index: RoomIndex; members: Map<string, RoomMember> } {
    let s = this.#scopes.get(scope);
    if (s === undefined) this.#scopes.set(scope, (s = { index: new RoomIndex(this.#options), members: new Map() }));
    return s;
  }
}
