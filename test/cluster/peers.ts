// Clients of a cluster under test: the project's command client (with a tap that counts what
// arrived twice on the wire, before its own de-duplication), an independent one (`ws`), and
// the at-least-once check every recovery test ends with.
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { connect } from '../../src/transport/client.js';
import { createClient, nodeSocketFactory, type CommandClient, type Position, type RejoinedEvent } from '../../src/client/index.js';
import { DEADLINE_MS, until } from '../helpers/wait.js';

export interface RoomLog {
  /** What the room handler got (de-duplicated by the client), in order. */
  messages: Array<{ data: unknown; pos: Position }>;
  resets: Array<{ reason: string; pos: Position | null }>;
  rejoins: RejoinedEvent[];
  /** Room messages that arrived with an offset already seen (around resumes). */
  duplicates: number;
}

export interface TrackedClient {
  client: CommandClient;
  log: RoomLog;
  /** Joins the room and records its messages; resolves with the join position. */
  join(room: string): Promise<Position>;
}

/** A command client of `${url}/chat` that reconnects fast and records one room's traffic. */
export function trackedClient(url: string, options: { reconnect?: false } = {}): TrackedClient {
  const log: RoomLog = { messages: [], resets: [], rejoins: [], duplicates: 0 };
  const lastSeen = new Map<string, Position>();
  const tally = (room: string, pos: Position): void => {
    const last = lastSeen.get(room);
    if (last !== undefined && last.e === pos.e && pos.o <= last.o) log.duplicates += 1;
    else lastSeen.set(room, pos);
  };
  const plain = nodeSocketFactory(connect);
  const joins = new Map<number, string>();
  const client = createClient(`${url}/chat`, {
    reconnect: options.reconnect ?? { initialDelayMs: 50, maxDelayMs: 400 },
    socketFactory: async (u, handlers) => {
      const socket = await plain(u, {
        message(text) {
          const m = JSON.parse(text) as { id?: number; event?: string; room?: string; pos?: Position | null; data?: { messages?: Array<{ pos: Position }> } };
          if (m.event === 'room.message' && m.room && m.pos) tally(m.room, m.pos);
          const room = m.id === undefined ? undefined : joins.get(m.id);
          if (room !== undefined && Array.isArray(m.data?.messages)) for (const r of m.data.messages) tally(room, r.pos);
          handlers.message(text);
        },
        close: handlers.close,
      });
      return {
        send(text) {
          const m = JSON.parse(text) as { id: number; cmd: string; data?: { room?: string } };
          if (m.cmd === 'room.join' && m.data?.room) joins.set(m.id, m.data.room);
          socket.send(text);
        },
        close: (code, reason) => socket.close(code, reason),
      };
    },
  });
  client.on('error', () => undefined);
  client.on('room.reset', (_d, push) => log.resets.push({ reason: String(push.reason), pos: push.pos ?? null }));
  client.on('rejoined', (e: RejoinedEvent) => log.rejoins.push(e));
  return {
    client,
    log,
    async join(room) {
      const reply = await client.join(room, (data, pos) => log.messages.push({ data, pos }));
      return reply.pos;
    },
  };
}

/**
 * At least once, in order: every acknowledged position after `from` was received, offsets
 * grow by one within an epoch (the client drops what it already had; `duplicates` counts those).
 */
export function checkAtLeastOnce(acked: Position[], log: RoomLog, from: Position): void {
  const got = new Set(log.messages.map((m) => `${m.pos.e}:${m.pos.o}`));
  const missing = acked.filter((p) => p.e === from.e && p.o > from.o && !got.has(`${p.e}:${p.o}`));
  assert.deepEqual(missing, [], 'every acknowledged message after the join was received');
  let prev = from;
  for (const m of log.messages) {
    assert.equal(m.pos.e, prev.e, 'one epoch');
    assert.equal(m.pos.o, prev.o + 1, `offset ${m.pos.o} follows ${prev.o}`);
    prev = m.pos;
  }
}

/** The independent client: the `ws` package speaking the JSON command protocol by hand. */
export class WsPeer {
  readonly ws: WebSocket;
  readonly pushes: Array<{ event: string; room?: string; pos?: Position | null; data?: unknown; reason?: string }> = [];
  readonly #replies = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  #seq = 0;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (raw) => {
      const m = JSON.parse(String(raw)) as { id?: number; ok?: boolean; data?: unknown; error?: { code: string }; event?: string };
      if (typeof m.event === 'string') this.pushes.push(m as WsPeer['pushes'][number]);
      else if (typeof m.id === 'number') {
        const r = this.#replies.get(m.id);
        this.#replies.delete(m.id);
        if (m.ok) r?.resolve(m.data);
        else r?.reject(new Error(`${m.error?.code}`));
      }
    });
    ws.on('error', () => undefined);
  }

  static open(url: string): Promise<WsPeer> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.once('open', () => resolve(new WsPeer(ws)));
      ws.once('error', reject);
    });
  }

  call<T = any>(cmd: string, data: unknown = null): Promise<T> {
    const id = ++this.#seq;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${cmd}`)), DEADLINE_MS);
      this.#replies.set(id, {
        resolve: (v) => (clearTimeout(timer), resolve(v as T)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.ws.send(JSON.stringify({ id, cmd, data }));
    });
  }

  /** Room messages of a room, in arrival order. */
  messages(room: string): Array<{ data: unknown; pos: Position | null }> {
    return this.pushes.filter((p) => p.event === 'room.message' && p.room === room).map((p) => ({ data: p.data, pos: p.pos ?? null }));
  }

  async waitFor(pred: (p: WsPeer['pushes'][number]) => boolean, what: string): Promise<void> {
    await until(() => this.pushes.some(pred), what);
  }

  close(): void {
    this.ws.terminate();
  }
}
