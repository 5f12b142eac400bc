// Switchboard nodes as real `switchboard serve` processes over a real redis-server: routing,
// order, node death with resume on another node, idle-room recovery, broker restarts with and
// without persistence, lost pub/sub, presence after a kill, a stop and a stall, partitions
// through a TCP proxy, and a recovery race (CLUSTER.md T1-T10). Clients: the project's
// command client and the `ws` package. Each suite: at most 3 nodes and 1 Redis, all stopped
// by PID; every wait is a condition with a deadline.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createClient as createRedisClient } from '@redis/client';
import type { Position } from '../../src/client/index.js';
import { RedisNames } from '../../src/cluster/redis-names.js';
import { DEFINE, serviceDir } from '../app/helpers.js';
import { until } from '../helpers/wait.js';
import { BrokerProcess, startNode, type Node } from './harness.js';
import { checkAtLeastOnce, trackedClient, WsPeer, type TrackedClient } from './peers.js';
import { TcpProxy } from './tcp-proxy.js';


const services = serviceDir({
  'chat.ts': `import { defineService } from '${DEFINE}';
const heard: Array<{ event: string; data: unknown; from: string }> = [];
const listeners = new Map<string, (data: unknown, from: string) => void>();
export default defineService({
  rooms: { clientPublish: true },
  resumeExpired(c, room, reason) { c.push('rebuild', { room, reason }); },
  commands: {
    whoami: { handler: (_d, { connection }) => ({ id: connection.id }) },
    say: { handler: async (d: any, { service }) => ({ pos: await service.publish(d.room, d.data) }) },
    dm: { handler: (d: any, { service }) => { service.sendTo([d.to], 'dm', d.data); return true; } },
    listen: { handler: (d: any, { service }) => {
      if (!listeners.has(d.event)) {
        const fn = (data: unknown, from: string) => { heard.push({ event: d.event, data, from }); };
        listeners.set(d.event, fn);
        service.cluster.on(d.event, fn);
      }
      return true;
    } },
    unlisten: { handler: (d: any, { service }) => {
      const fn = listeners.get(d.event);
      if (fn) { listeners.delete(d.event); service.cluster.off(d.event, fn); }
      return true;
    } },
    shout: { handler: (d: any, { service }) => service.cluster.say(d.event, d.data) },
    heard: { handler: () => heard },
  },
});
`,
  // joins that cannot finish while Redis is stopped time out quickly here
  'slow.ts': `import { defineService } from '${DEFINE}';
export default defineService({ rooms: { clientPublish: true }, commandTimeoutMs: 300 });
`,
});

interface Cluster {
  redis: BrokerProcess;
  nodes: Node[];
}

/** Everything a suite started, stopped in after(): nodes by PID, then proxies, then Redis. */
class Resources {
  readonly nodes: Node[] = [];
  readonly proxies: TcpProxy[] = [];
  readonly brokers: BrokerProcess[] = [];
  readonly clients: Array<{ close(): void }> = [];

  async node(brokerUrl: string, args: string[]): Promise<Node> {
    const n = await startNode(services, ['--broker', brokerUrl, ...args]);
    this.nodes.push(n);
    return n;
  }

  async cluster(n: number, args: string[], redis: { persistent?: boolean } = {}): Promise<Cluster> {
    const broker = await BrokerProcess.redis(redis);
    this.brokers.push(broker);
    const nodes = await Promise.all(Array.from({ length: n }, () => this.node(broker.url, args)));
    return { redis: broker, nodes };
  }

  client(url: string, options: { reconnect?: false } = {}): TrackedClient {
    const c = trackedClient(url, options);
    this.clients.push(c.client);
    return c;
  }

  async peer(url: string): Promise<WsPeer> {
    const p = await WsPeer.open(`${url}/chat`);
    this.clients.push(p);
    return p;
  }

  async proxy(port: number): Promise<TcpProxy> {
    const p = await TcpProxy.start(port);
    this.proxies.push(p);
    return p;
  }

  async stop(): Promise<void> {
    for (const c of this.clients) c.close();
    for (const n of this.nodes) {
      n.process.child.kill('SIGCONT');
      await n.process.kill();
    }
    for (const p of this.proxies) await p.close();
    for (const b of this.brokers) await b.teardown();
  }
}

async function health(node: Node): Promise<{ ok: boolean; broker: { state: string } }> {
  const res = await fetch(`${node.url.replace('ws:', 'http:')}/health`);
  return (await res.json()) as { ok: boolean; broker: { state: string } };
}

async function admin(redis: BrokerProcess) {
  const c = createRedisClient({ url: redis.url });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

const names = new RedisNames('sb');

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
const roomOf = (room: string): string => `/chat#${room}`;
const datas = (c: TrackedClient): unknown[] => c.log.messages.map((m) => m.data);
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('Redis cluster: routing, order, lost pub/sub, presence (3 nodes)', () => {
  const r = new Resources();
  let cl: Cluster;
  before(async () => {
    cl = await r.cluster(3, ['--lease-ms', '1500']);
  });
  after(() => r.stop());

  /** A member of `room` on each node: the command client on nodes 1 and 2, a raw `ws` peer on node 3. */
  async function membersOnEachNode(room: string) {
    const [n1, n2, n3] = cl.nodes;
    const a = r.client(n1!.url);
    const b = r.client(n2!.url);
    const w = await r.peer(n3!.url);
    const start = await a.join(room);
    await b.join(room);
    await w.call('room.join', { room });
    return { a, b, w, start };
  }

  /** Every member got the `total` messages after `start`, dense, in one order, each sender's (`a0`, `a1`, ...) in its own. */
  async function assertOneOrder(m: Awaited<ReturnType<typeof membersOnEachNode>>, room: string, total: number, senders: string[]): Promise<void> {
    const { a, b, w, start } = m;
    await until(() => a.log.messages.length === total && b.log.messages.length === total && w.messages(room).length === total, `all ${total} messages on every member`);
    assert.deepEqual(a.log.messages.map((x) => x.pos.o), range(start.o + 1, start.o + total), 'dense and increasing');
    assert.deepEqual(b.log.messages.map((x) => x.pos), a.log.messages.map((x) => x.pos), 'the same order on node 2');
    assert.deepEqual(w.messages(room).map((x) => x.pos), a.log.messages.map((x) => x.pos), 'the same order on node 3 (ws client)');
    assert.deepEqual(w.messages(room).map((x) => x.data), datas(a));
    assert.deepEqual(datas(b), datas(a));
    for (const who of senders) {
      assert.deepEqual(datas(a).filter((d) => String(d).startsWith(who)), range(0, total / senders.length - 1).map((i) => `${who}${i}`), `${who}'s messages in its order`);
    }
  }

  test('T2 order: 3 nodes x 300 messages, every member sees the same increasing offsets', async () => {
    const m = await membersOnEachNode('order');
    const { a, b, w } = m;
    const senders = [
      async () => { for (let i = 0; i < 300; i++) await a.client.call('say', { room: 'order', data: `a${i}` }); },
      async () => { for (let i = 0; i < 300; i++) await b.client.call('say', { room: 'order', data: `b${i}` }); },
      async () => { for (let i = 0; i < 300; i++) await w.call('say', { room: 'order', data: `w${i}` }); },
    ];
    await Promise.all(senders.map((s) => s()));
    await assertOneOrder(m, 'order', 900, ['a', 'b', 'w']);
  });

  test('T2 pipelined: clients send 300 room.publish each without waiting for replies: one offset each, every member sees each sender in its order', async () => {
    const m = await membersOnEachNode('piped');
    const { a, w } = m;
    // 50 calls leave at once (under the 64 commands in flight a connection may have); room.publish
    // lets the next one start once its append is sent
    const burst = async (call: (i: number) => Promise<{ pos: Position }>): Promise<Array<{ pos: Position }>> => {
      const out: Array<{ pos: Position }> = [];
      for (let i = 0; i < 300; i += 50) out.push(...(await Promise.all(range(i, i + 49).map(call))));
      return out;
    };
    const replies = await Promise.all([
      burst((i) => a.client.call('room.publish', { room: 'piped', data: `a${i}` }) as Promise<{ pos: Position }>),
      burst((i) => w.call('room.publish', { room: 'piped', data: `w${i}` })),
    ]);
    for (const [who, mine] of [['a', replies[0]], ['w', replies[1]]] as const) {
      const offsets = mine.map((p) => p.pos.o);
      assert.deepEqual([...offsets].sort((x, y) => x - y), offsets, `${who}'s publishes got offsets in the order sent`);
    }
    await assertOneOrder(m, 'piped', 600, ['a', 'w']);
  });

  test('T1 routing: a room message, a message to a connection id, cluster events to other nodes only, off', async () => {
    const [n1, n2, n3] = cl.nodes;
    const a = r.client(n1!.url);
    const b = r.client(n2!.url);
    const w = await r.peer(n3!.url);
    await a.join('t1');
    await b.join('t1');
    await a.client.call('say', { room: 't1', data: 'across' });
    await until(() => datas(b).includes('across'), 'the room message on node 2');

    const { id: bId } = (await b.client.call('whoami')) as { id: string };
    assert.ok(!bId.startsWith(`${n1!.id}.`), 'b is on another node');
    const dm = new Promise((resolve) => b.client.on('dm', resolve));
    assert.equal(await a.client.call('dm', { to: bId, data: 'psst' }), true);
    assert.equal(await dm, 'psst');

    for (const c of [a.client, b.client]) for (const event of ['hello', 'ping']) await c.call('listen', { event });
    for (const event of ['hello', 'ping']) await w.call('listen', { event });
    type Heard = Array<{ event: string; data: { n: number }; from: string }>;
    const heard = async (c: { call(cmd: string): Promise<unknown> }): Promise<Heard> => (await c.call('heard')) as Heard;
    assert.equal(await a.client.call('shout', { event: 'hello', data: { n: 1 } }), true);
    await until(async () => (await heard(b.client)).some((h) => h.event === 'hello') && (await heard(w)).some((h) => h.event === 'hello'), 'hello on nodes 2 and 3');
    assert.deepEqual((await heard(b.client)).find((h) => h.event === 'hello'), { event: 'hello', data: { n: 1 }, from: n1!.id });
    // node 2 answers only after hearing hello, so node 1 hears its ping after its own hello (had it been delivered)
    await b.client.call('shout', { event: 'ping', data: { n: 1 } });
    await until(async () => (await heard(a.client)).some((h) => h.event === 'ping'), 'node 1 to hear the ping');
    assert.deepEqual((await heard(a.client)).filter((h) => h.event === 'hello'), [], 'a node does not hear its own say');

    await b.client.call('unlisten', { event: 'hello' });
    await a.client.call('shout', { event: 'hello', data: { n: 2 } });
    await a.client.call('shout', { event: 'ping', data: { n: 2 } });
    // both come from node 1 in this order over one connection: node 2 hears them in this order
    await until(async () => (await heard(b.client)).some((h) => h.event === 'ping' && h.data.n === 2), 'the second ping on node 2');
    await until(async () => (await heard(w)).some((h) => h.event === 'hello' && h.data.n === 2), 'the second hello on node 3');
    assert.deepEqual((await heard(b.client)).filter((h) => h.event === 'hello').map((h) => h.data.n), [1], 'off stops it');
  });

  test('T6 lost pub/sub: CLIENT KILL TYPE pubsub while a producer on node 2 sends 300: the consumer on node 1 gets all, in order, no reset', async () => {
    const [n1, n2] = cl.nodes;
    const consumer = r.client(n1!.url);
    const producer = r.client(n2!.url);
    const from = await consumer.join('t6');
    const c = await admin(cl.redis);
    let killed = 0;
    const acked: Position[] = [];
    for (let i = 1; i <= 300; i++) {
      acked.push(((await producer.client.call('say', { room: 't6', data: i })) as { pos: Position }).pos);
      if (i % 75 === 0) killed += Number(await c.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']));
    }
    await c.close();
    assert.ok(killed >= 3, 'subscriber connections were killed');
    await until(() => consumer.log.messages.length === 300, 'all 300 on the consumer');
    assert.deepEqual(datas(consumer), range(1, 300));
    checkAtLeastOnce(acked, consumer.log, from);
    assert.deepEqual(consumer.log.resets, []);
  });

  test('T7 presence: SIGKILL a node: its entries go within the lease, one leave each; a graceful stop takes its entry too', async () => {
    const [n1, n2, n3] = cl.nodes;
    const m1a = r.client(n1!.url, { reconnect: false });
    const m1b = r.client(n1!.url, { reconnect: false });
    const m2 = r.client(n2!.url, { reconnect: false });
    const observer = await r.peer(n3!.url);
    await observer.call('room.join', { room: 'p' });
    for (const m of [m1a, m1b, m2]) await m.join('p');
    const ids = await Promise.all([m1a, m1b, m2].map(async (m) => ((await m.client.call('whoami')) as { id: string }).id));
    const listed = async (): Promise<string[]> => ((await observer.call('room.presence', { room: 'p' })) as Array<{ id: string }>).map((e) => e.id).sort();
    await until(async () => (await listed()).length === 4, 'four members listed on node 3');
    const leaves = (): string[] => observer.pushes.filter((p) => p.event === 'presence.leave').map((p) => (p.data as { id: string }).id);

    await n1!.process.kill(); // SIGKILL
    await until(() => leaves().length >= 2, 'the leaves of node 1\'s members');
    assert.deepEqual(leaves().sort(), [ids[0]!, ids[1]!].sort());
    assert.deepEqual(await listed(), [ids[2]!, (await observer.call('whoami')).id].sort());
    // T1: a message to a connection of the dead node goes nowhere and breaks nothing
    assert.equal(await observer.call('dm', { to: ids[0], data: 'anyone?' }), true);
    assert.equal((await health(n3!)).ok, true);

    n2!.process.child.kill('SIGTERM');
    await n2!.process.exited();
    await until(() => leaves().length >= 3, 'the leave of node 2\'s member');
    // a later event from node 3 itself: had a leave come twice, it would have come before this join
    const late = await r.peer(n3!.url);
    const { id: lateId } = await late.call('whoami');
    await late.call('room.join', { room: 'p' });
    await observer.waitFor((p) => p.event === 'presence.join' && (p.data as { id: string }).id === lateId, 'a later join');
    assert.deepEqual(leaves().sort(), [...ids].sort(), 'exactly one leave per entry');
  });
});

describe('Redis cluster: node death mid-stream and a recovery race (3 nodes)', () => {
  const r = new Resources();
  let cl: Cluster;
  let lb: TcpProxy;
  before(async () => {
    cl = await r.cluster(3, ['--history-size', '2000', '--max-recover', '2000']);
    lb = await r.proxy(Number(new URL(cl.nodes[0]!.url).port));
  });
  after(() => r.stop());
  const portOf = (n: Node): number => Number(new URL(n.url).port);
  const lbUrl = (): string => `ws://127.0.0.1:${lb.port}`;

  test('T10 recovery race: 5 publishers running while 20 clients reconnect with since: at least once, in order', async (t) => {
    const [n1, n2, n3] = cl.nodes;
    lb.retarget(portOf(n1!));
    const consumers = Array.from({ length: 20 }, () => r.client(lbUrl()));
    const from = await Promise.all(consumers.map((c) => c.join('race')));
    const publishers = Array.from({ length: 5 }, (_, i) => r.client((i % 2 === 0 ? n2 : n3)!.url));
    const acked: Position[] = [];
    // each publisher stops at two points until a wave of reconnects has begun, then goes on while the clients come back
    const waves = [deferred(), deferred()];
    const publishing = Promise.all(
      publishers.map(async (p, k) => {
        for (let i = 1; i <= 150; i++) {
          if (i === 31) await waves[0]!.promise;
          if (i === 91) await waves[1]!.promise;
          acked.push(((await p.client.call('say', { room: 'race', data: `${k}:${i}` })) as { pos: Position }).pos);
        }
      }),
    );
    await until(() => acked.length === 150, 'the first 150 sent');
    lb.retarget(portOf(n2!));
    for (const c of consumers) c.client.dropConnection();
    waves[0]!.resolve();
    await until(() => acked.length === 450 && consumers.every((c) => c.log.rejoins.length === 1), 'the first wave back, 450 sent');
    lb.retarget(portOf(n3!));
    for (const c of consumers) c.client.dropConnection();
    waves[1]!.resolve();
    await publishing;
    await until(() => consumers.every((c) => c.log.rejoins.length >= 2 && c.log.messages.length === 750), 'every consumer back, with all 750');
    consumers.forEach((c, i) => checkAtLeastOnce(acked, c.log, from[i]!));
    for (const c of consumers) {
      assert.deepEqual(c.log.resets, []);
      assert.ok(c.log.rejoins.every((j) => j.recovered), 'every rejoin recovered');
    }
    const duplicates = consumers.reduce((n, c) => n + c.log.duplicates, 0);
    t.diagnostic(`duplicates dropped by the clients: ${duplicates}`);
  });

  test('T3 node death mid-stream: producer on node 2 sends 2000, SIGKILL the consumer\'s node 1 at 700, it resumes on node 3 with every message', async () => {
    const [n1, n2, n3] = cl.nodes;
    lb.retarget(portOf(n1!));
    const consumer = r.client(lbUrl());
    const from = await consumer.join('death');
    const { id } = (await consumer.client.call('whoami')) as { id: string };
    assert.ok(id.startsWith(`${n1!.id}.`), 'the consumer is on node 1');
    const producer = r.client(n2!.url);
    let killed: Promise<void> | undefined;
    const acked: Position[] = [];
    for (let i = 1; i <= 2000; i++) {
      acked.push(((await producer.client.call('say', { room: 'death', data: i })) as { pos: Position }).pos);
      if (i === 700) {
        // the consumer's progress is the hook: node 1 dies once it has 700, the producer goes on at once
        await until(() => consumer.log.messages.length === 700, 'the consumer at 700');
        lb.retarget(portOf(n3!));
        killed = n1!.process.kill();
      }
    }
    await killed;
    await until(() => consumer.log.messages.length === 2000, 'all 2000 on the consumer');
    assert.deepEqual(datas(consumer), range(1, 2000));
    checkAtLeastOnce(acked, consumer.log, from);
    assert.deepEqual(consumer.log.resets, []);
    assert.equal(consumer.log.rejoins.length, 1);
    assert.equal(consumer.log.rejoins[0]!.recovered, true);
    const now = (await consumer.client.call('whoami')) as { id: string };
    assert.ok(now.id.startsWith(`${n3!.id}.`), 'the consumer is on node 3 now');
  });
});

describe('Redis cluster: a small, short history (2 nodes)', () => {
  const r = new Resources();
  let cl: Cluster;
  before(async () => {
    cl = await r.cluster(2, ['--history-size', '10', '--history-ttl-ms', '1000']);
  });
  after(() => r.stop());

  test('T4 idle room: after its log expired, a resume with since still recovers (nothing missed); an empty room too', async () => {
    const [n1, n2] = cl.nodes;
    const c = r.client(n1!.url);
    const producer = r.client(n2!.url);
    await c.join('idle');
    const empty = await c.join('empty');
    assert.equal(empty.o, 0);
    for (let i = 1; i <= 3; i++) await producer.client.call('say', { room: 'idle', data: i });
    await until(() => c.log.messages.length === 3, 'three messages');
    const redis = await admin(cl.redis);
    await until(async () => Number(await redis.sendCommand(['EXISTS', names.log(roomOf('idle'))])) === 0, 'the log to expire');
    assert.equal(Number(await redis.sendCommand(['EXISTS', names.meta(roomOf('idle'))])), 1, 'the position outlives the log');
    await redis.close();
    c.client.dropConnection();
    await until(() => c.log.rejoins.length === 2, 'both rooms rejoined');
    for (const j of c.log.rejoins) assert.deepEqual([j.recovered, j.replayed], [true, 0], `${j.room} recovered`);
    assert.deepEqual(c.log.resets, []);
    await producer.client.call('say', { room: 'idle', data: 4 });
    await until(() => c.log.messages.length === 4, 'the next message');
    assert.deepEqual(c.log.messages.map((m) => m.pos.o), [1, 2, 3, 4]);
  });

  test('T3 variant: past the history window the resume is refused: room.reset expired, resumeExpired runs, live goes on', async () => {
    const [n1, n2] = cl.nodes;
    const lb = await r.proxy(Number(new URL(n1!.url).port));
    const c = r.client(`ws://127.0.0.1:${lb.port}`);
    const rebuilt: unknown[] = [];
    c.client.on('rebuild', (d) => rebuilt.push(d));
    await c.join('short');
    const producer = r.client(n2!.url);
    for (let i = 1; i <= 5; i++) await producer.client.call('say', { room: 'short', data: i });
    await until(() => c.log.messages.length === 5, 'five messages');
    await n1!.process.kill();
    // the consumer cannot get back until the balancer points elsewhere
    for (let i = 6; i <= 35; i++) await producer.client.call('say', { room: 'short', data: i });
    lb.retarget(Number(new URL(n2!.url).port));
    await until(() => c.log.rejoins.length === 1 && c.log.resets.length === 1, 'the rejoin and its reset');
    assert.deepEqual([c.log.rejoins[0]!.recovered, c.log.rejoins[0]!.reason], [false, 'expired']);
    assert.equal(c.log.resets[0]!.reason, 'expired');
    await until(() => rebuilt.length === 1, 'resumeExpired');
    assert.deepEqual(rebuilt[0], { room: 'short', reason: 'expired' });
    await producer.client.call('say', { room: 'short', data: 36 });
    await until(() => datas(c).includes(36), 'live again');
    assert.deepEqual(datas(c), [1, 2, 3, 4, 5, 36]);
  });
});

describe('Redis cluster: broker restart without persistence (2 nodes)', () => {
  const r = new Resources();
  let cl: Cluster;
  before(async () => {
    cl = await r.cluster(2, []);
  });
  after(() => r.stop());

  test('T5 nodes stay up, /health says down, sends are local and flagged; after the restart: room.reset epoch, traffic flows', async () => {
    const [n1, n2] = cl.nodes;
    const a1 = r.client(n1!.url);
    const a2 = r.client(n1!.url);
    const b = r.client(n2!.url);
    const flagged: unknown[] = [];
    a2.client.on('room.message', (data, push) => {
      if (push.pos === null) flagged.push(data);
    });
    const start = await a1.join('r');
    await a2.join('r');
    await b.join('r');
    await a1.client.call('say', { room: 'r', data: 'first' });
    await until(() => datas(b).includes('first') && datas(a2).includes('first'), 'the first message everywhere');

    await cl.redis.stop();
    await until(async () => (await health(n1!)).broker.state === 'down' && (await health(n2!)).broker.state === 'down', '/health to say down');
    assert.equal((await health(n1!)).ok, true, 'still taking connections');
    assert.deepEqual(await a1.client.call('say', { room: 'r', data: 'local' }), { pos: null });
    await until(() => flagged.includes('local'), 'the local member to get it, flagged');

    await cl.redis.start();
    await until(() => [a1, a2, b].every((c) => c.log.resets.length === 1), 'room.reset on every member');
    for (const c of [a1, a2, b]) {
      assert.equal(c.log.resets[0]!.reason, 'epoch');
      assert.notEqual(c.log.resets[0]!.pos!.e, start.e);
    }
    await until(async () => (await health(n1!)).broker.state === 'up' && (await health(n2!)).broker.state === 'up', '/health to say up');
    const { pos } = (await a1.client.call('say', { room: 'r', data: 'after' })) as { pos: Position };
    assert.notEqual(pos.e, start.e);
    await until(() => datas(b).includes('after'), 'cross-node traffic again');
    assert.ok(!datas(b).includes('local'), 'the local message stayed on node 1');
  });
});

describe('Redis cluster: broker restart with AOF persistence (2 nodes)', () => {
  const r = new Resources();
  let cl: Cluster;
  before(async () => {
    cl = await r.cluster(2, [], { persistent: true });
  });
  after(() => r.stop());

  test('T5 with persistence: the epoch holds across the restart and a resume recovers what was missed', async () => {
    const [n1, n2] = cl.nodes;
    const a = r.client(n1!.url);
    const b = r.client(n2!.url);
    const start = await b.join('r');
    for (let i = 1; i <= 5; i++) await a.client.call('say', { room: 'r', data: i });
    await until(() => b.log.messages.length === 5, 'five messages');
    // an independent client leaves with its position, and comes back after the restart
    const w = await r.peer(n2!.url);
    const joined = (await w.call('room.join', { room: 'r' })) as { pos: Position };
    w.close();
    for (let i = 6; i <= 8; i++) await a.client.call('say', { room: 'r', data: i });

    await cl.redis.stop();
    await until(async () => (await health(n1!)).broker.state === 'down', 'down');
    await cl.redis.start();
    await until(async () => (await health(n1!)).broker.state === 'up' && (await health(n2!)).broker.state === 'up', 'up again');
    const { pos } = (await a.client.call('say', { room: 'r', data: 9 })) as { pos: Position };
    assert.deepEqual(pos, { e: start.e, o: 9 }, 'same epoch, next offset');
    await until(() => b.log.messages.length === 9, 'b gets the next one');
    assert.deepEqual(datas(b), range(1, 9));
    assert.deepEqual(b.log.resets, []);

    const back = await r.peer(n1!.url);
    const resumed = (await back.call('room.join', { room: 'r', since: joined.pos })) as { recovered: boolean; messages: Array<{ data: unknown }> };
    assert.equal(resumed.recovered, true);
    assert.deepEqual(resumed.messages.map((m) => m.data), [6, 7, 8, 9]);
  });
});

describe('Redis cluster: partitions through a TCP proxy and a stalled node (2 nodes)', () => {
  const r = new Resources();
  let n1: Node;
  let n2: Node;
  let proxy: TcpProxy;
  before(async () => {
    const redis = await BrokerProcess.redis();
    r.brokers.push(redis);
    proxy = await r.proxy(redis.port);
    [n1, n2] = await Promise.all([r.node(redis.url, ['--lease-ms', '1500']), r.node(proxy.url, ['--lease-ms', '1500'])]);
  });
  after(() => r.stop());

  for (const mode of ['reset', 'blackhole'] as const) {
    test(`T9 partition (${mode}): node 2 goes down, the others remove its presence; on heal it re-asserts and fills the gap`, async () => {
      const room = `part-${mode}`;
      const observer = r.client(n1.url);
      const member = r.client(n2.url);
      const pushes: Array<{ event: string; id: string }> = [];
      observer.client.on('presence.join', (d: { id: string }) => pushes.push({ event: 'join', id: d.id }));
      observer.client.on('presence.leave', (d: { id: string }) => pushes.push({ event: 'leave', id: d.id }));
      const from = await member.join(room);
      await observer.join(room);
      const { id } = (await member.client.call('whoami')) as { id: string };
      const listed = async (): Promise<string[]> => ((await observer.client.call('room.presence', { room })) as Array<{ id: string }>).map((e) => e.id);
      await until(async () => (await listed()).includes(id), 'the member listed on node 1');

      const mark = pushes.length;
      proxy.setMode(mode);
      await until(async () => (await health(n2)).broker.state === 'down', 'node 2 to see the partition');
      await until(() => pushes.some((p) => p.event === 'leave' && p.id === id), 'node 1 to remove node 2\'s presence');
      assert.ok(!(await listed()).includes(id));
      const acked: Position[] = [];
      for (let i = 1; i <= 5; i++) acked.push(((await observer.client.call('say', { room, data: i })) as { pos: Position }).pos);

      proxy.setMode('forward');
      await until(async () => (await health(n2)).broker.state === 'up', 'node 2 up again');
      await until(() => pushes.some((p) => p.event === 'join' && p.id === id), 'node 2 to re-assert its presence');
      await until(async () => (await listed()).filter((x) => x === id).length === 1, 'listed once');
      await until(() => member.log.messages.length === 5, 'the member to get what was sent during the partition');
      acked.push(((await observer.client.call('say', { room, data: 6 })) as { pos: Position }).pos);
      await until(() => member.log.messages.length === 6, 'and what comes after');
      assert.deepEqual(datas(member), range(1, 6));
      checkAtLeastOnce(acked, member.log, from);
      assert.deepEqual(member.log.resets, []);
      assert.deepEqual(pushes.slice(mark).filter((p) => p.id === id).map((p) => p.event), ['leave', 'join'], 'one leave, one join');
    });
  }

  test('T8 stalled node: SIGSTOP past its lease, SIGCONT: presence converges, no duplicates', async () => {
    const observer = r.client(n1.url);
    const members = [r.client(n2.url), r.client(n2.url)];
    const events: Array<{ event: string; id: string }> = [];
    observer.client.on('presence.join', (d: { id: string }) => events.push({ event: 'join', id: d.id }));
    observer.client.on('presence.leave', (d: { id: string }) => events.push({ event: 'leave', id: d.id }));
    await observer.join('stall');
    for (const m of members) await m.join('stall');
    const ids = await Promise.all(members.map(async (m) => ((await m.client.call('whoami')) as { id: string }).id));
    const listed = async (): Promise<string[]> => ((await observer.client.call('room.presence', { room: 'stall' })) as Array<{ id: string }>).map((e) => e.id);
    await until(async () => (await listed()).length === 3, 'three members listed');

    const mark = events.length;
    n2.process.child.kill('SIGSTOP');
    await until(() => ids.every((id) => events.some((e) => e.event === 'leave' && e.id === id)), 'the stalled node\'s presence removed');
    n2.process.child.kill('SIGCONT');
    await until(() => ids.every((id) => events.some((e) => e.event === 'join' && e.id === id)), 'the presence re-asserted');
    await until(async () => (await listed()).sort().join() === [...ids, ((await observer.client.call('whoami')) as { id: string }).id].sort().join(), 'the list to converge');
    for (const id of ids) assert.deepEqual(events.slice(mark).filter((e) => e.id === id).map((e) => e.event), ['leave', 'join'], `${id}: one leave, one join`);
    assert.equal((await listed()).length, 3);
  });
});

describe('Redis cluster: a join answered with a timeout (1 node)', () => {
  const r = new Resources();
  let c: Cluster;
  before(async () => (c = await r.cluster(1, [])));
  after(() => r.stop());

  test('the client told `timeout` is not a member once the join could finish: no second reply, no room message', async () => {
    const url = c.nodes[0]!.url;
    const member = await WsPeer.open(`${url}/slow`);
    const late = await WsPeer.open(`${url}/slow`);
    r.clients.push(member, late);
    const replies: Array<{ id: number; ok: boolean }> = [];
    late.ws.on('message', (raw) => {
      const m = JSON.parse(String(raw)) as { id?: number; ok?: boolean };
      if (typeof m.id === 'number') replies.push({ id: m.id, ok: m.ok === true });
    });
    await member.call('room.join', { room: 'r' });

    c.redis.pause();
    try {
      await assert.rejects(late.call('room.join', { room: 'r' }), /timeout/);
    } finally {
      c.redis.resume();
    }
    // both connections are on this node: one publish reaches both in the same step, so once
    // the member has it and the late client's next reply is in, a message for it would be too
    await member.call('room.publish', { room: 'r', data: { n: 1 } });
    await member.waitFor((p) => p.event === 'room.message' && (p.data as { n: number }).n === 1, 'the member has the message');
    await assert.rejects(late.call('room.presence', { room: 'r' }), /forbidden/);
    assert.deepEqual(late.messages('r'), []);
    assert.deepEqual(replies.filter((x) => x.id === 1), [{ id: 1, ok: false }], 'one reply to the join: the timeout');
    const listed = (await member.call('room.presence', { room: 'r' })) as Array<{ id: string }>;
    assert.equal(listed.length, 1, 'only the member is present');

    // it can join again, and then gets the room's messages once each
    await late.call('room.join', { room: 'r' });
    await member.call('room.publish', { room: 'r', data: { n: 2 } });
    await late.waitFor((p) => p.event === 'room.message' && (p.data as { n: number }).n === 2, 'the late client has the next message');
    assert.deepEqual(late.messages('r').map((m) => m.data), [{ n: 2 }]);
  });
});
