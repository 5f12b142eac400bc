// The soak's clients: command clients that join and leave rooms, call, publish and announce
// (some dropped at random, some resuming with `since`), the users of the service that gets
// crashed, and slow consumers that stop reading.
import { connect as netConnect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { createClient, ClientCommandError, type CommandClient, type SocketFactory } from '../../src/client/index.js';
import { connect, type WebSocket } from '../../src/transport/index.js';
import { encodeFrame, OP } from '../helpers/frames.js';
import { Membership, type Ledger } from './ledger.js';

export interface Clock {
  /** False once the soak's load phase is over: lives wind down. */
  running(): boolean;
}

/** Generous: on a machine shared with other work a handshake can wait long for the CPU. */
const CONNECT_TIMEOUT_MS = 30_000;

/** Our client's connect with the soak's handshake timeout. */
const slowConnect = (url: string): ReturnType<typeof connect> => connect(url, { handshakeTimeoutMs: CONNECT_TIMEOUT_MS });

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;
const between = (lo: number, hi: number): number => lo + Math.random() * (hi - lo);

/** A factory that keeps the socket, so the soak can cut it like a network failure would. */
function cuttableFactory(url: string): { factory: SocketFactory; cut(): void } {
  let current: WebSocket | null = null;
  const factory: SocketFactory = async (_url, handlers) => {
    const ws = await connect(url, { handshakeTimeoutMs: CONNECT_TIMEOUT_MS });
    current = ws;
    ws.on('message', (d, binary) => !binary && handlers.message(d.toString('utf8')));
    ws.on('close', (code, reason) => handlers.close(code, reason));
    ws.on('error', () => undefined);
    return { send: (t) => void ws.send(t), close: (code, reason) => ws.close(code, reason) };
  };
  return { factory, cut: () => current?.terminate() };
}

export interface LifeOptions {
  url: string;
  rooms: readonly string[];
  ledger: Ledger;
  clock: Clock;
  /** How long it lives, ms (a witness lives until the end). */
  lifetimeMs: number;
  /** Mean pause between its actions, ms. */
  actionEveryMs: number;
  kind: 'member' | 'witness' | 'resumer';
  /** Witnesses collect every announce they receive. */
  announces?: Set<number>;
  /** Ends the life early: dropped at random (a `member`) rather than closed cleanly. */
  dropChance?: number;
}

/**
 * One client's life: join 1-2 rooms, act (echo, slow echo, publish) until its time is up,
 * then either close cleanly (after every room reached its last acknowledged offset) or be
 * cut off. A resumer is cut off once mid-life and must resume every room with `since`.
 */
export async function live(o: LifeOptions): Promise<void> {
  const { ledger } = o;
  const socket = cuttableFactory(o.url);
  let dropping = false;
  let cutMidLife = false;
  const client = createClient(o.url, { socketFactory: socket.factory, reconnect: o.kind === 'resumer' ? { initialDelayMs: 50, maxDelayMs: 500 } : false, callTimeoutMs: 30_000 });
  client.on('close', (e: { code: number }) => {
    if (dropping || cutMidLife) return;
    ledger.unexpectedClose(e.code);
  });
  try {
    await client.ready;
  } catch (err) {
    ledger.connectFailed(err);
    return;
  }
  ledger.opened();
  const memberships = new Map<string, Membership>();
  if (o.announces) client.on('announce', (d: { n: number }) => o.announces!.add(d.n));
  if (o.kind === 'resumer') {
    client.on('rejoined', (e: { recovered: boolean }) => {
      ledger.resumes += 1;
      if (e.recovered) ledger.resumesRecovered += 1;
      else ledger.problem('a resume was not recovered');
    });
  }
  const join = async (room: string): Promise<void> => {
    const m = new Membership(ledger);
    memberships.set(room, m);
    const reply = await client.join(room, (_data, pos) => m.message(pos));
    m.joined(reply.pos);
  };
  try {
    for (const room of new Set([pick(o.rooms), pick(o.rooms)])) await join(room);
    const end = Date.now() + o.lifetimeMs;
    const cutAt = o.kind === 'resumer' ? Date.now() + o.lifetimeMs / 2 : Infinity;
    while (o.clock.running() && Date.now() < end) {
      await sleep(between(0.5, 1.5) * o.actionEveryMs);
      if (!o.clock.running()) break;
      if (Date.now() > cutAt && !cutMidLife) {
        cutMidLife = true;
        socket.cut();
        await new Promise<void>((resolve) => client.on('reconnected', () => resolve()));
        cutMidLife = false;
        continue;
      }
      await act(client, o, memberships, join);
    }
    if (o.kind === 'member' && Math.random() < (o.dropChance ?? 0)) {
      dropping = true;
      ledger.randomDrops += 1;
      socket.cut();
      return;
    }
    await reachTails(memberships, ledger);
    dropping = true;
    client.close(1000, 'done');
  } catch (err) {
    if (!dropping) ledger.problem(`client life failed: ${String(err)}`);
  } finally {
    ledger.closed();
  }
}

async function act(client: CommandClient, o: LifeOptions, memberships: Map<string, Membership>, join: (room: string) => Promise<void>): Promise<void> {
  const { ledger } = o;
  const r = Math.random();
  if (r < 0.5) return call(client, ledger, 'echo', { n: Math.random(), text: randomBytes(8).toString('hex') });
  if (r < 0.6) return call(client, ledger, 'slow', { ms: Math.round(between(10, 200)), n: Math.random() });
  if (r < 0.9) {
    const room = pick([...memberships.keys()]);
    ledger.commandsSent += 1;
    try {
      const pos = (await client.call('say', { room, text: randomBytes(16).toString('hex') })) as { e: string; o: number };
      ledger.repliesOk += 1;
      ledger.ack(room, pos.o);
    } catch (err) {
      countFailure(ledger, err);
    }
    return;
  }
  // leave a room (once every room it reached is accounted for) and join another
  const room = pick([...memberships.keys()]);
  await reachTails(new Map([[room, memberships.get(room)!]]), ledger);
  memberships.delete(room);
  await client.leave(room);
  const next = pick(o.rooms);
  if (!memberships.has(next)) await join(next);
}

async function call(client: CommandClient, ledger: Ledger, cmd: string, data: unknown): Promise<void> {
  ledger.commandsSent += 1;
  try {
    const reply = await client.call(cmd, data);
    if (isDeepStrictEqual(reply, data)) ledger.repliesOk += 1;
    else {
      ledger.repliesWrong += 1;
      ledger.problem(`${cmd}: reply ${JSON.stringify(reply)} to ${JSON.stringify(data)}`);
    }
  } catch (err) {
    countFailure(ledger, err);
  }
}

function countFailure(ledger: Ledger, err: unknown): void {
  const code = err instanceof ClientCommandError ? err.code : '';
  if (code === 'timeout') {
    ledger.repliesMissing += 1;
    ledger.problem('a command got no reply');
  } else if (code === 'disconnected' || code === 'closed') ledger.abandoned += 1;
  else ledger.problem(`command failed: ${String(err)}`);
}

/** Before a member leaves on its own, every room must have reached its last acknowledged offset. */
async function reachTails(memberships: Map<string, Membership>, ledger: Ledger): Promise<void> {
  for (const [room, m] of memberships) {
    const target = ledger.acked.get(room) ?? 0;
    const end = Date.now() + 20_000;
    while ((m.last ?? 0) < target && Date.now() < end) await sleep(20);
    if ((m.last ?? 0) < target) {
      ledger.tailMisses += 1;
      ledger.problem(`a member of ${room} stopped at ${m.last} though ${target} was acknowledged`);
    }
  }
}

/** One user of the service that gets crashed: calls `work` until the server closes it (1011) or its time is up. */
export async function crashyUser(url: string, ledger: Ledger, clock: Clock, lifetimeMs: number): Promise<boolean> {
  const client = createClient(url, { connect: slowConnect, reconnect: false, callTimeoutMs: 30_000 });
  let closedBy: number | undefined;
  client.on('close', (e: { code: number }) => (closedBy = e.code));
  try {
    await client.ready;
  } catch {
    return false; // restarting: answered 503 or refused; the next user tries again
  }
  ledger.opened();
  let worked = false;
  try {
    const end = Date.now() + lifetimeMs;
    while (clock.running() && Date.now() < end && closedBy === undefined) {
      await sleep(between(200, 600));
      ledger.crashyCalls += 1;
      worked = (await client.call('work', { n: 1 }).then(() => true, () => false)) || worked;
    }
    if (closedBy !== undefined) {
      if (closedBy === 1011 || closedBy === 1012) ledger.crashClientsClosed += 1;
      else ledger.unexpectedClose(closedBy);
    }
    client.close();
    return worked;
  } finally {
    ledger.closed();
  }
}

/** Crash the isolated service: its process dies on an uncaught exception; the supervisor restarts it. */
export async function crashOnce(url: string, ledger: Ledger): Promise<void> {
  // the previous crash may still be restarting (503), or a busy machine may time a handshake out: try again for a while
  const end = Date.now() + 60_000;
  for (;;) {
    const client = createClient(url, { connect: slowConnect, reconnect: false });
    try {
      await client.ready;
      await client.call('crash');
      ledger.crashes += 1;
      return;
    } catch (err) {
      if (Date.now() > end) return ledger.problem(`could not crash the crashy service: ${String(err)}`);
      await sleep(500);
    } finally {
      client.close();
    }
  }
}

/**
 * A slow consumer: joins the firehose room over a raw socket, then stops reading. Resolves
 * true when the server had closed it by the time `giveUp` came, false when it was still open and was cut.
 */
export function slowConsumer(host: string, port: number, path: string, giveUp: Promise<void>): Promise<boolean> {
  return new Promise((resolve) => {
    const socket: Socket = netConnect(port, host);
    socket.on('error', () => undefined);
    socket.once('connect', () => {
      const key = randomBytes(16).toString('base64');
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      socket.write(encodeFrame({ op: OP.TEXT, payload: JSON.stringify({ id: 1, cmd: 'room.join', data: { room: 'firehose' } }) }, true));
      // read the 101 and the join reply, then stop reading for good
      socket.once('data', () => socket.pause());
    });
    // a paused socket does not see the server's FIN: at the end it reads again, and a socket
    // the server closed ends while the rest is drained; one it kept is cut
    let settled = false;
    socket.once('close', () => {
      settled = true;
      resolve(true);
    });
    void giveUp.then(async () => {
      socket.on('data', () => undefined);
      socket.resume();
      await sleep(3_000);
      if (settled) return;
      socket.removeAllListeners('close');
      socket.destroy();
      resolve(false);
    });
  });
}
