// Switchboard nodes as real `switchboard serve` processes joined by a real nats-server:
// routing, order, a node killed mid-stream, the broker restarted, presence after a kill, a
// graceful stop and a stall. Clients: the project's command client and an independent one
// (`ws`). At most three nodes and one broker at a time, each stopped by its PID.
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import WebSocket from 'ws';
import { connect } from '../../src/transport/index.js';
import { createClient, nodeSocketFactory, type CommandClient, type Position } from '../../src/client/index.js';
import { DEFINE, serviceDir } from '../app/helpers.js';
import { BrokerProcess, startNode, type Node } from './harness.js';
import { until } from '../helpers/wait.js';

const LONG_MS = 90_000;

const services = serviceDir({
  'rooms.ts': `import { defineService } from '${DEFINE}';
export default defineService({
  rooms: true,
  state: () => ({ heard: [] as unknown[], listening: false }),
  open(c) {
    if (c.service.state.listening) return;
    c.service.state.listening = true;
    c.service.cluster.on('hello', (data, from) => c.service.state.heard.push({ data, from }));
  },
  commands: {
    whoami: { handler: (_d, { connection }) => ({ id: connection.id }) },
    say: { handler: async (d: any, { service }) => ({ pos: await service.publish(d.room, d.data) }) },
    dm: { handler: (d: any, { service }) => { service.sendTo([d.to], 'dm', d.text); return true; } },
    shout: { handler: (d: any, { service }) => service.cluster.say('hello', d) },
    heard: { handler: (_d, { service }) => service.state.heard },
  },
});
`,
});

interface Reply {
  ok: boolean;
  data?: any;
  error?: { code: string; message: string };
}

/** The independent client: `ws` and the JSON command protocol by hand. */
class Peer {
  readonly pushes: any[] = [];
  readonly #ws: WebSocket;
  readonly #pending = new Map<number, (r: Reply) => void>();
  #seq = 0;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (raw) => {
      const m = JSON.parse(raw.toString()) as any;
      if (typeof m.id === 'number' && this.#pending.has(m.id)) {
        this.#pending.get(m.id)!(m as Reply);
        this.#pending.delete(m.id);
      } else if (typeof m.event === 'string') this.pushes.push(m);
    });
    ws.on('error', () => undefined);
  }

  static open(url: string): Promise<Peer> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.once('open', () => resolve(new Peer(ws)));
      ws.once('error', reject);
    });
  }

  call(cmd: string, data?: unknown): Promise<Reply> {
    const id = ++this.#seq;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.#ws.send(JSON.stringify({ id, cmd, data: data ?? null }));
    });
  }

  async data(cmd: string, data?: unknown): Promise<any> {
    const r = await this.call(cmd, data);
    assert.equal(r.ok, true, `${cmd}: ${JSON.stringify(r.error)}`);
    return r.data;
  }

  count(event: string, pred: (m: any) => boolean = () => true): number {
    return this.pushes.filter((m) => m.event === event && pred(m)).length;
  }

  close(): void {
    this.#ws.terminate();
  }
}

const http = (node: Node): string => node.url.replace(/^ws:/, 'http:');

async function health(node: Node): Promise<{ ok: boolean; broker: { kind: string; state: string } }> {
  return (await fetch(`${http(node)}/health`)).json() as Promise<{ ok: boolean; broker: { kind: string; state: string } }>;
}

describe('a NATS cluster of switchboard serve nodes', () => {
  let broker: BrokerProcess;
  const running: Node[] = [];
  const closers: Array<() => void> = [];

  before(async () => {
    broker = await BrokerProcess.nats();
  });

  afterEach(async () => {
    for (const close of closers.splice(0)) close();
    for (const n of running.splice(0)) {
      n.process.child.kill('SIGCONT');
      await n.process.kill();
      rmSync(n.runDir, { recursive: true, force: true });
    }
  });

  after(async () => {
    await broker?.teardown();
    rmSync(services, { recursive: true, force: true });
  });

  async function nodes(n: number, extra: string[] = [], on: BrokerProcess = broker): Promise<Node[]> {
    const started = await Promise.all(Array.from({ length: n }, () => startNode(services, ['--broker', on.url, ...extra])));
    running.push(...started);
    return started;
  }

  async function peer(node: Node): Promise<Peer> {
    const p = await Peer.open(`${node.url}/rooms`);
    closers.push(() => p.close());
    return p;
  }

  /** The command client, connecting wherever `target()` says (a load balancer in miniature). */
  function client(target: () => string, replies: any[] = []): CommandClient {
    const open = nodeSocketFactory(connect);
    const c = createClient(target(), {
      reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
      socketFactory: (_url, handlers) =>
        open(target(), {
          ...handlers,
          message: (text) => {
            const m = JSON.parse(text) as any;
            if (m.data && typeof m.data === 'object' && 'recovered' in m.data) replies.push(m.data);
            handlers.message(text);
          },
        }),
    });
    closers.push(() => c.close());
    return c;
  }

  test('T1 routing: a room message, a message to a connection id and a cluster event cross nodes; a node does not hear its own event', async () => {
    const [a, b] = await nodes(2);
    const onA = await peer(a!);
    const got: unknown[] = [];
    const onB = client(() => `${b!.url}/rooms`);
    await onB.join('t1', (data) => got.push(data));
    await onA.data('room.join', { room: 't1' });
    await onA.data('say', { room: 't1', data: 'across' });
    await until(() => got.includes('across'), 'the room message on b');

    const bId = (await onB.call('whoami')) as { id: string };
    const dms: unknown[] = [];
    onB.on('dm', (d) => dms.push(d));
    await onA.data('dm', { to: bId.id, text: 'psst' });
    await until(() => dms.includes('psst'), 'the direct message on b');

    // b listens once a connection opened there; an event said before its subscription is lost, so say until it is heard
    let n = 0;
    await until(async () => {
      assert.equal(await onA.data('shout', { n: ++n }), true);
      return ((await onB.call('heard')) as unknown[]).length > 0;
    }, 'b to hear a cluster event');
    const heard = (await onB.call('heard')) as Array<{ from: string }>;
    assert.ok(heard.every((h) => h.from === a!.id));
    assert.deepEqual(await onA.data('heard'), [], 'a node does not hear its own event');
  });

  test('T2 order: three nodes publish 300 messages each into one room; every node sees the same increasing offsets', async () => {
    const cluster = await nodes(3);
    const members = await Promise.all(cluster.map((n) => peer(n)));
    for (const m of members) await m.data('room.join', { room: 't2' });
    await Promise.all(
      members.map(async (m, k) => {
        for (let i = 0; i < 300; i++) await m.data('say', { room: 't2', data: `${k}:${i}` });
      }),
    );
    const seen = members.map((m) => () => m.pushes.filter((p) => p.event === 'room.message' && p.room === 't2'));
    await until(() => seen.every((s) => s().length === 900), 'all 900 messages on every node', LONG_MS);
    const first = seen[0]!();
    const offsets = first.map((p) => p.pos.o as number);
    for (let i = 1; i < offsets.length; i++) assert.ok(offsets[i]! > offsets[i - 1]!, 'offsets increase');
    assert.equal(new Set(first.map((p) => p.pos.e)).size, 1, 'one epoch');
    for (const s of seen.slice(1)) assert.deepEqual(s().map((p) => [p.pos, p.data]), first.map((p) => [p.pos, p.data]));
    for (let k = 0; k < 3; k++) {
      const own = first.filter((p) => String(p.data).startsWith(`${k}:`)).map((p) => p.data);
      assert.deepEqual(own, Array.from({ length: 300 }, (_, i) => `${k}:${i}`), 'each sender in its own order');
    }
  });

  test('T3 node death mid-stream: the consumer\'s node is killed; it resumes on another node with every message, in order', async () => {
    const [n1, n2, n3] = await nodes(3, ['--history-size', '3000', '--max-recover', '3000']);
    const total = 2000;
    const killAt = 700;
    let target = `${n1!.url}/rooms`;
    const replies: any[] = [];
    const got: Array<{ data: number; pos: Position }> = [];
    const resets: unknown[] = [];
    const consumer = client(() => target, replies);
    consumer.on('room.reset', (_d, push) => resets.push(push));
    await consumer.join('t3', (data, pos) => {
      got.push({ data: data as number, pos });
      if (got.length === killAt) {
        target = `${n3!.url}/rooms`;
        n1!.process.child.kill('SIGKILL');
      }
    });
    const producer = await peer(n2!);
    for (let i = 1; i <= total; i++) await producer.data('say', { room: 't3', data: i });
    await until(() => got.length >= total, `all ${total} messages on the consumer`, LONG_MS);
    assert.deepEqual(got.map((m) => m.data), Array.from({ length: total }, (_, i) => i + 1));
    for (let i = 1; i < got.length; i++) assert.ok(got[i]!.pos.o > got[i - 1]!.pos.o && got[i]!.pos.e === got[0]!.pos.e);
    assert.ok(replies.some((r) => r.recovered === true), `a resume that recovered: ${JSON.stringify(replies)}`);
    assert.deepEqual(resets, []);
    assert.equal(n1!.process.child.signalCode, 'SIGKILL');
  });

  test('T5 broker restart with the same store: nodes stay up and say so on /health; the epoch holds and resumes recover', async () => {
    const own = await BrokerProcess.nats();
    try {
      const [n1, n2] = await nodes(2, [], own);
      const replies: any[] = [];
      const got: Array<{ data: unknown; pos: Position }> = [];
      const consumer = client(() => `${n1!.url}/rooms`, replies);
      await consumer.join('t5', (data, pos) => got.push({ data, pos }));
      const producer = await peer(n2!);
      for (let i = 1; i <= 5; i++) await producer.data('say', { room: 't5', data: i });
      await until(() => got.length === 5, 'five messages');
      const before = got[4]!.pos;

      await own.stop('SIGKILL');
      for (const n of [n1!, n2!]) await until(async () => (await health(n)).broker.state === 'down', '/health to show the broker down');
      const h = await health(n1!);
      assert.deepEqual([h.ok, h.broker.kind], [true, 'nats']);
      assert.deepEqual(await producer.data('say', { room: 't5', data: 'local' }), { pos: null }, 'local delivery, flagged by a null position');

      await own.start();
      for (const n of [n1!, n2!]) await until(async () => (await health(n)).broker.state === 'up', '/health to show the broker up');
      const late = await peer(n2!);
      const resumed = await late.data('room.join', { room: 't5', since: before });
      assert.equal(resumed.recovered, true, JSON.stringify(resumed));
      assert.equal(resumed.pos.e, before.e, 'the epoch holds');
      consumer.dropConnection();
      for (let i = 6; i <= 8; i++) await producer.data('say', { room: 't5', data: i });
      await until(() => got.filter((m) => typeof m.data === 'number').length === 8, 'the consumer to have 1..8 after resuming');
      assert.deepEqual(got.filter((m) => typeof m.data === 'number').map((m) => m.data), [1, 2, 3, 4, 5, 6, 7, 8]);
      assert.ok(got.filter((m) => typeof m.data === 'number').every((m) => m.pos.e === before.e));
      await until(() => replies.some((r) => r.recovered === true), 'the command client\'s resume to recover');
      await until(() => late.count('room.message', (m) => m.data === 8) === 1, 'the late member to go on live');
    } finally {
      // the nodes go in afterEach, like every test's
      await own.teardown();
    }
  });

  test('T7 presence: a killed node\'s entries vanish within the lease with one leave each; a stopped node\'s entries go at once', async () => {
    const [n1, n2, n3] = await nodes(3, ['--lease-ms', '1500']);
    const watcher = await peer(n2!);
    await watcher.data('room.join', { room: 't7' });
    const doomed = [await peer(n1!), await peer(n1!)];
    const polite = await peer(n3!);
    const ids = new Map<Peer, string>();
    for (const p of [...doomed, polite]) {
      ids.set(p, (await p.data('whoami')).id);
      await p.data('room.join', { room: 't7' });
    }
    const listed = async (): Promise<string[]> => ((await watcher.data('room.presence', { room: 't7' })) as Array<{ id: string }>).map((e) => e.id).sort();
    await until(async () => (await listed()).length === 4, 'four members listed');

    n1!.process.child.kill('SIGKILL');
    const leftIds = doomed.map((p) => ids.get(p)!);
    await until(async () => !(await listed()).some((id) => leftIds.includes(id)), 'the killed node\'s members to vanish');
    await until(() => leftIds.every((id) => watcher.count('presence.leave', (m) => m.data.id === id) >= 1), 'a leave for each');

    const stopping = n3!.process.exited();
    n3!.process.child.kill('SIGTERM');
    await stopping;
    await until(async () => (await listed()).length === 1, 'only the watcher listed');
    await until(() => watcher.count('presence.leave', (m) => m.data.id === ids.get(polite)) >= 1, 'the stopped node\'s leave');
    // a later event from the watcher's own node: whatever was announced before it has arrived
    const late = await peer(n2!);
    await late.data('room.join', { room: 't7' });
    await until(() => watcher.count('presence.join', (m) => m.data.id !== undefined && !leftIds.includes(m.data.id) && m.data.id !== ids.get(polite)) >= 1, 'the late join');
    for (const id of [...leftIds, ids.get(polite)!]) assert.equal(watcher.count('presence.leave', (m) => m.data.id === id), 1, `one leave for ${id}`);
  });

  test('T8 a stalled node: past its lease its members leave; woken, it takes them back once each, and its members still talk', async () => {
    const [n1, n2] = await nodes(2, ['--lease-ms', '1500']);
    const watcher = await peer(n2!);
    await watcher.data('room.join', { room: 't8' });
    const sleepers = [await peer(n1!), await peer(n1!)];
    const ids: string[] = [];
    for (const p of sleepers) {
      ids.push((await p.data('whoami')).id);
      await p.data('room.join', { room: 't8' });
    }
    const listed = async (): Promise<string[]> => ((await watcher.data('room.presence', { room: 't8' })) as Array<{ id: string }>).map((e) => e.id).sort();
    await until(async () => (await listed()).length === 3, 'three members listed');

    n1!.process.child.kill('SIGSTOP');
    await until(() => ids.every((id) => watcher.count('presence.leave', (m) => m.data.id === id) === 1), 'the stalled node\'s members to be cleaned up');
    assert.deepEqual(await listed(), [(await watcher.data('whoami')).id]);

    n1!.process.child.kill('SIGCONT');
    const everyone = [...ids, (await watcher.data('whoami')).id].sort();
    await until(async () => JSON.stringify(await listed()) === JSON.stringify(everyone), 'the stalled node\'s members back');
    await until(() => ids.every((id) => watcher.count('presence.join', (m) => m.data.id === id) >= 1), 'their joins announced again');
    await sleepers[0]!.data('say', { room: 't8', data: 'awake' });
    await until(() => watcher.count('room.message', (m) => m.data === 'awake') === 1, 'a message from the woken node');
    assert.deepEqual(await listed(), everyone, 'no duplicates');
  });
});
