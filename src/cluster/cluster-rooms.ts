/**
 * Rooms that span nodes, over a Broker. Each node follows the rooms its connections are in
 * (one feed per room per node) and writes each message, framed once, to its local members.
 * The client owns its position: a join with `since` is answered from the shared history on
 * whatever node the client reached, and every gap is either filled or reported
 * (`room.reset`), never silent.
 *
 * Join protocol (no message lost or duplicated between the reply and the live feed): follow
 * the room first, buffer what arrives for the new member, read its position or history,
 * write the reply, then the buffered messages after that position, then go live.
 */
import { Buffer } from 'node:buffer';
import { encodeEvent, pushText } from '../app/command-envelope.js';
import { readHistory, type RoomHistory } from '../app/rooms/room-history.js';
import type { JoinedCallback, RoomCallOptions, RoomDelivery, RoomMember, Rooms } from '../app/rooms/rooms.js';
import type { JoinResult, Position, PresenceEntry as AppPresenceEntry } from '../app/service.js';
import { BrokerUnavailableError, type Broker, type PresenceChange, type RoomMessage, type RoomReset } from './broker.js';
import { decodeEnvelope, encodeEnvelope, ENVELOPE_VERSION } from './envelope.js';

export interface ClusterRoomsOptions {
  /** Most messages a rejoin may recover (default 500). */
  maxRecover?: number;
  /** Reports what cannot be handed back to a caller (a failed unfollow, a broker error on leave). */
  onError?: (err: unknown, what: string) => void;
}

interface Member {
  readonly member: RoomMember;
  /** Messages with an offset up to this one were delivered (or replayed, or predate the join). */
  after: number;
  epoch: string;
  /** Live messages that came while the join was being answered. */
  buffer: RoomMessage[] | null;
}

interface FollowedRoom {
  readonly key: string;
  readonly scope: string;
  readonly room: string;
  readonly members: Map<string, Member>;
  /** Resolves when the feeds are set up; holds the functions that undo them. */
  ready: Promise<Array<() => Promise<void>>>;
  /** Presence of the room as last seen (for leave events, which name the member). */
  readonly presence: Map<string, AppPresenceEntry>;
  /** Messages recovered lately, by offset: decoded once for every member that rejoins past them. */
  readonly recovered: Map<number, RecoveredMessage>;
}

interface RecoveredMessage {
  readonly pos: Position;
  /** Parsed once and shared by the join results that recover it. */
  readonly data: unknown;
  /** `{"pos":..,"data":..}`, as JSON.stringify would write it in the reply. */
  readonly json: string;
}

/** Recovered messages kept per room (a thousand clients of a dead node rejoin from about the same position). */
const RECOVERED_KEPT = 2048;

export function roomKey(scope: string, room: string): string {
  return `${scope}#${room}`;
}

export class ClusterRooms implements Rooms {
  readonly #broker: Broker;
  readonly #delivery: RoomDelivery;
  readonly #o: ClusterRoomsOptions;
  readonly #rooms = new Map<string, FollowedRoom>();

  constructor(broker: Broker, delivery: RoomDelivery, options: ClusterRoomsOptions = {}) {
    this.#broker = broker;
    this.#delivery = delivery;
    this.#o = options;
  }

  async join(scope: string, room: string, member: RoomMember, since: Position | undefined, joined: JoinedCallback, options: RoomCallOptions = {}): Promise<JoinResult> {
    const r = this.#follow(scope, room);
    const existing = r.members.get(member.id);
    const m: Member = existing ?? { member, after: Number.MAX_SAFE_INTEGER, epoch: '', buffer: [] };
    if (existing === undefined) r.members.set(member.id, m);
    let result: JoinResult;
    let reset: string | undefined;
    let resultJson: string | undefined;
    try {
      await r.ready;
      if (options.volatile === true) {
        result = { pos: { e: '', o: 0 } };
      } else if (since === undefined) {
        result = { pos: await this.#broker.top(r.key) };
      } else {
        const read = await this.#broker.read(r.key, since, this.#o.maxRecover ?? 500);
        if (read.complete) {
          const recovered = read.messages.map((msg) => this.#recovered(r, msg));
          const pos = { e: read.top.e, o: read.top.o };
          result = { pos, recovered: true, messages: recovered.map((m) => ({ pos: m.pos, data: m.data })) };
          resultJson = `{"pos":${JSON.stringify(pos)},"recovered":true,"messages":[${recovered.map((m) => m.json).join(',')}]}`;
        } else if (read.reason === 'unavailable') {
          throw new BrokerUnavailableError();
        } else {
          const top = read.top ?? (await this.#broker.top(r.key));
          result = { pos: top, recovered: false, reason: read.reason };
          reset = encodeEvent('room.reset', { room, reason: read.reason, pos: top });
        }
      }
    } catch (err) {
      if (existing === undefined && r.members.get(member.id) === m) r.members.delete(member.id);
      if (r.members.size === 0) void this.#unfollow(r);
      throw err;
    }
    if (r.members.get(member.id) !== m) return result; // left (or closed) while joining
    const last = 'messages' in result && result.messages.length > 0 ? result.messages[result.messages.length - 1]!.pos.o : result.pos.o;
    const buffered = m.buffer;
    m.buffer = null;
    m.epoch = result.pos.e;
    m.after = Math.max(last, existing?.after ?? 0);
    joined(result, reset, resultJson);
    if (buffered) for (const msg of buffered) this.#deliverTo(r, msg, [m]);
    if (existing === undefined) {
      const entry = { connId: member.id, info: member.user, node: this.#broker.nodeId, since: Date.now() };
      this.#broker.presenceSet(r.key, entry).catch((err: unknown) => this.#o.onError?.(err, `presence of ${member.id} in ${r.key}`));
    }
    return result;
  }

  async leave(scope: string, room: string, connId: string): Promise<boolean> {
    const r = this.#rooms.get(roomKey(scope, room));
    if (r === undefined || !r.members.delete(connId)) return false;
    this.#gone(r, connId);
    return true;
  }

  leaveAll(scope: string, connId: string): void {
    for (const r of [...this.#rooms.values()]) if (r.scope === scope && r.members.delete(connId)) this.#gone(r, connId);
  }

  async publish(scope: string, room: string, data: unknown, except: readonly string[], options: RoomCallOptions = {}): Promise<Position | null> {
    const key = roomKey(scope, room);
    const json = data === undefined ? 'null' : JSON.stringify(data);
    const header = { v: ENVELOPE_VERSION, t: 'room' as const, n: this.#broker.nodeId, ...(except.length ? { x: [...except] } : {}) };
    if (options.volatile === true) {
      await this.#broker.publish(key, encodeEnvelope({ ...header, t: 'raw' }, pushText('room.message', json, { room, pos: null })));
      return null;
    }
    try {
      return await this.#broker.append(key, encodeEnvelope(header, json));
    } catch (err) {
      if (!(err instanceof BrokerUnavailableError)) throw err;
      // the broker is down: this node's members still get it, flagged by a null position
      const r = this.#rooms.get(key);
      if (r) this.#delivery.deliver(r.members.keys(), pushText('room.message', json, { room, pos: null }), false, except);
      return null;
    }
  }

  send(scope: string, room: string, data: string | Uint8Array, binary: boolean, except: readonly string[]): void {
    const header = { v: ENVELOPE_VERSION, t: 'raw' as const, n: this.#broker.nodeId, b: binary, ...(except.length ? { x: [...except] } : {}) };
    void this.#broker.publish(roomKey(scope, room), encodeEnvelope(header, data));
  }

  async presence(scope: string, room: string): Promise<AppPresenceEntry[]> {
    const { entries } = await this.#broker.presenceList(roomKey(scope, room));
    return entries.map((e) => ({ id: e.connId, user: (e.info ?? null) as AppPresenceEntry['user'] }));
  }

  history(scope: string, room: string, since: Position | undefined, limit: number): Promise<RoomHistory> {
    const key = roomKey(scope, room);
    return readHistory(
      () => this.#broker.top(key),
      async (after, max) => {
        const r = await this.#broker.read(key, after, max);
        if (r.complete) return { complete: true, top: r.top, messages: r.messages.map((m) => ({ pos: m.pos, data: dataOf(m) })) };
        if (r.reason === 'unavailable') throw new BrokerUnavailableError();
        return r;
      },
      since,
      limit,
    );
  }

  memberships(): number {
    let n = 0;
    for (const r of this.#rooms.values()) n += r.members.size;
    return n;
  }

  localRooms(): Array<{ scope: string; room: string; members: string[] }> {
    const out: Array<{ scope: string; room: string; members: string[] }> = [];
    for (const r of this.#rooms.values()) if (r.members.size > 0) out.push({ scope: r.scope, room: r.room, members: [...r.members.keys()] });
    return out;
  }

  /** Rooms this node follows (for status and tests). */
  get followed(): number {
    return this.#rooms.size;
  }

  #follow(scope: string, room: string): FollowedRoom {
    const key = roomKey(scope, room);
    let r = this.#rooms.get(key);
    if (r !== undefined) return r;
    const fr: FollowedRoom = { key, scope, room, members: new Map(), ready: Promise.resolve([]), presence: new Map(), recovered: new Map() };
    this.#rooms.set(key, fr);
    fr.ready = Promise.all([
      this.#broker.follow(key, (m) => this.#onMessage(fr, m), (reset) => this.#onReset(fr, reset)),
      this.#broker.subscribe(key, (payload) => this.#onRaw(fr, payload)),
      this.#broker.watchPresence(key, (change) => this.#onPresence(fr, change)),
    ]);
    fr.ready.catch(() => {
      if (this.#rooms.get(key) === fr) this.#rooms.delete(key);
    });
    return fr;
  }

  async #unfollow(r: FollowedRoom): Promise<void> {
    if (this.#rooms.get(r.key) !== r) return;
    this.#rooms.delete(r.key);
    try {
      for (const undo of await r.ready) await undo();
    } catch (err) {
      this.#o.onError?.(err, `unfollowing ${r.key}`);
    }
  }

  #gone(r: FollowedRoom, connId: string): void {
    this.#broker.presenceDelete(r.key, connId).catch((err: unknown) => this.#o.onError?.(err, `presence of ${connId} in ${r.key}`));
    if (r.members.size === 0) void this.#unfollow(r);
  }

  #onMessage(r: FollowedRoom, m: RoomMessage): void {
    // one pass over the members: those still joining keep it for after their reply
    this.#deliverTo(r, m, r.members.values(), true);
  }

  /** One push text for all recipients; each gets it once, after its position. */
  #deliverTo(r: FollowedRoom, m: RoomMessage, members: Iterable<Member>, bufferJoining = false): void {
    const env = decodeEnvelope(m.payload);
    if (env === null || env.t !== 'room') {
      this.#o.onError?.(new Error('undecodable room message'), r.key);
      return;
    }
    const to: string[] = [];
    for (const member of members) {
      if (member.buffer !== null) {
        if (bufferJoining) member.buffer.push(m);
        continue;
      }
      if (member.epoch !== m.pos.e) {
        // the room's log was lost and started again: this member cannot know what it missed
        this.#resetMember(r, member, 'epoch', m.pos);
        continue;
      }
      if (m.pos.o <= member.after) continue;
      member.after = m.pos.o;
      to.push(member.member.id);
    }
    if (to.length === 0) return;
    const json = Buffer.from(env.payload.buffer, env.payload.byteOffset, env.payload.byteLength).toString('utf8');
    this.#delivery.deliver(to, pushText('room.message', json, { room: r.room, pos: m.pos }), false, env.x ?? []);
  }

  /** A message of the room's history as join results carry it, decoded and serialised once. */
  #recovered(r: FollowedRoom, msg: RoomMessage): RecoveredMessage {
    const kept = r.recovered.get(msg.pos.o);
    if (kept !== undefined && kept.pos.e === msg.pos.e) return kept;
    const pos = { e: msg.pos.e, o: msg.pos.o };
    const json = jsonOf(msg);
    let data: unknown = null;
    if (json !== null) {
      try {
        data = JSON.parse(json);
      } catch {
        /* not JSON: null, as for any undecodable message */
      }
    }
    const m: RecoveredMessage = { pos, data, json: `{"pos":${JSON.stringify(pos)},"data":${data === null ? 'null' : json}}` };
    r.recovered.set(pos.o, m);
    if (r.recovered.size > RECOVERED_KEPT) r.recovered.delete(r.recovered.keys().next().value!);
    return m;
  }

  #onReset(r: FollowedRoom, reset: RoomReset): void {
    for (const member of r.members.values()) {
      if (member.buffer !== null) continue;
      this.#resetMember(r, member, reset.reason, reset.top);
    }
  }

  #resetMember(r: FollowedRoom, member: Member, reason: string, top: Position | undefined): void {
    if (top !== undefined) {
      member.epoch = top.e;
      member.after = top.o;
    }
    this.#delivery.deliver([member.member.id], encodeEvent('room.reset', { room: r.room, reason, pos: top ?? null }), false, []);
  }

  #onRaw(r: FollowedRoom, payload: Uint8Array): void {
    const env = decodeEnvelope(payload);
    if (env === null || env.t !== 'raw') return;
    const ids = [...r.members.entries()].filter(([, m]) => m.buffer === null).map(([id]) => id);
    const data = env.b === true ? env.payload : Buffer.from(env.payload.buffer, env.payload.byteOffset, env.payload.byteLength).toString('utf8');
    this.#delivery.deliver(ids, data, env.b === true, env.x ?? []);
  }

  #onPresence(r: FollowedRoom, change: PresenceChange): void {
    const e = change.entry;
    const entry: AppPresenceEntry = { id: e.connId, user: (e.info ?? null) as AppPresenceEntry['user'] };
    if (change.type === 'join') r.presence.set(e.connId, entry);
    else r.presence.delete(e.connId);
    // a member's service decides whether its room announces presence (all members of a room share a service)
    const anyMember = r.members.values().next().value as Member | undefined;
    if (anyMember === undefined || !anyMember.member.announce) return;
    const ids = [...r.members.keys()].filter((id) => id !== e.connId);
    this.#delivery.deliver(ids, pushText(`presence.${change.type}`, JSON.stringify(entry), { room: r.room }), false, []);
  }
}

function jsonOf(m: RoomMessage): string | null {
  const env = decodeEnvelope(m.payload);
  return env === null ? null : Buffer.from(env.payload.buffer, env.payload.byteOffset, env.payload.byteLength).toString('utf8');
}

function dataOf(m: RoomMessage): unknown {
  const json = jsonOf(m);
  if (json === null) return null;
  try {
    return JSON.parse(json);
  } catch {
    return null;
  }
}
