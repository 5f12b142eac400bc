// The Redis adapter against a real redis-server on a free port: the Broker contract, then
// what only Redis can do wrong (offsets rolled back, a lost pub/sub connection, an outage).
import { describe, test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { createClient } from '@redis/client';
import type { Broker, Position, RoomMessage, RoomReset } from '../../src/cluster/broker.js';
import { BrokerUnavailableError } from '../../src/cluster/broker.js';
import { RedisBroker, type RedisBrokerOptions } from '../../src/cluster/redis-broker.js';
import { RedisNames } from '../../src/cluster/redis-names.js';
import { brokerSuite } from './broker-suite.js';
import { BrokerProcess } from './harness.js';
import { TcpProxy } from './tcp-proxy.js';
import { until, within } from '../helpers/wait.js';

const bytes = (s: string): Uint8Array => Buffer.from(s);
const text = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');

let shared: Promise<BrokerProcess> | undefined;
const redis = (): Promise<BrokerProcess> => (shared ??= BrokerProcess.redis());
after(async () => {
  if (shared) await (await shared).teardown();
});

const freshPrefix = (): string => `t${randomBytes(4).toString('hex')}`;

async function startNodes(n: number, options: Partial<RedisBrokerOptions> & { url: string }): Promise<RedisBroker[]> {
  const list = Array.from({ length: n }, () => new RedisBroker({ leaseMs: 3_000, ...options }));
  for (const b of list) await b.start();
  return list;
}

// needs Debian's redis-server (`npm run test:all`; .ci/run installs it)
brokerSuite('redis', async () => {
  const server = await redis();
  return {
    dense: true,
    nodes: (n, history) => startNodes(n, { url: server.url, prefix: freshPrefix(), ...history }),
    async teardown() {},
  };
});

describe('Redis adapter', () => {
  let server: BrokerProcess;
  const opened: Broker[] = [];
  const admin = async () => {
    const c = createClient({ url: server.url });
    c.on('error', () => undefined);
    await c.connect();
    return c;
  };
  const nodes = async (n: number, options: Partial<RedisBrokerOptions> = {}): Promise<{ list: RedisBroker[]; names: RedisNames; prefix: string }> => {
    const prefix = freshPrefix();
    const list = await startNodes(n, { url: server.url, prefix, ...options });
    opened.push(...list);
    return { list, names: new RedisNames(prefix), prefix };
  };
  before(async () => {
    server = await redis();
  });
  after(async () => {
    for (const b of opened) await b.close().catch(() => undefined);
  });

  test('T11 rollback guard: offsets that went back start a new epoch, and followers are reset', async () => {
    const { list: [a, b], names } = await nodes(2);
    const room = 'rollback';
    const seen: RoomMessage[] = [];
    const resets: RoomReset[] = [];
    await b!.follow(room, (m) => seen.push(m), (r) => resets.push(r));
    const first: Position[] = [];
    for (let i = 1; i <= 5; i++) first.push(await a!.append(room, bytes(`m${i}`)));
    await until(() => seen.length === 5, 'five messages on the follower');
    // the store loses its last writes (an old snapshot, a lagging replica promoted): the counter goes back
    const c = await admin();
    await c.sendCommand(['HSET', names.meta(room), 's', '2']);
    await c.sendCommand(['DEL', names.log(room)]);
    await c.close();
    const next = await a!.append(room, bytes('after'));
    assert.notEqual(next.e, first[0]!.e, 'a new epoch');
    assert.equal(next.o, 1);
    await until(() => resets.length === 1 && seen.length === 6, 'the reset and the new message on the follower');
    assert.deepEqual([resets[0]!.reason, resets[0]!.top], ['epoch', { e: next.e, o: 0 }]);
    assert.deepEqual([text(seen[5]!.payload), seen[5]!.pos], ['after', next]);
    const old = await a!.read(room, first[4]!, 100);
    assert.deepEqual([old.complete, !old.complete && old.reason], [false, 'epoch'], 'an old position is never answered from the new log');
  });

  test('T11: a follower that sees the counter below what it delivered forces the new epoch itself', async () => {
    const { list: [a, b], names, prefix } = await nodes(2);
    const room = 'rollback-follower';
    const resets: RoomReset[] = [];
    const seen: RoomMessage[] = [];
    await b!.follow(room, (m) => seen.push(m), (r) => resets.push(r));
    for (let i = 1; i <= 4; i++) await a!.append(room, bytes(`m${i}`));
    await until(() => seen.length === 4, 'four messages');
    const c = await admin();
    await c.sendCommand(['HSET', names.meta(room), 's', '1']);
    await c.sendCommand(['DEL', names.log(room)]);
    await c.close();
    // a node that never saw the room appends: offset 2 again, in the old epoch; the follower notices
    const [fresh] = await startNodes(1, { url: server.url, prefix });
    opened.push(fresh!);
    const reused = await fresh!.append(room, bytes('reused'));
    assert.equal(reused.o, 2);
    await until(() => resets.length === 1, 'the follower to reset');
    assert.equal(resets[0]!.reason, 'epoch');
    assert.notEqual(resets[0]!.top!.e, reused.e);
    const after1 = await a!.append(room, bytes('later'));
    assert.equal(after1.e, resets[0]!.top!.e, 'everyone continues in the new epoch');
  });

  test('lost pub/sub (CLIENT KILL TYPE pubsub mid-stream): the gap is filled from history, no reset, nothing lost', async () => {
    const { list: [a, b] } = await nodes(2);
    const room = 'killed-pubsub';
    const seen: RoomMessage[] = [];
    const resets: RoomReset[] = [];
    await b!.follow(room, (m) => seen.push(m), (r) => resets.push(r));
    const c = await admin();
    let lost = 0;
    b!.onStatus((st) => {
      if (st.state !== 'up') lost += 1;
    });
    let killed = 0;
    let i = 0;
    const send = (n: number): Promise<Position[]> => Promise.all(Array.from({ length: n }, () => a!.append(room, bytes(`m${++i}`))));
    for (let round = 0; round < 4; round++) {
      for (let k = 0; k < 40; k++) await send(1);
      killed += Number(await c.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']));
      // written in one go, before b can even begin to reconnect: only history can give them to b
      await send(10);
      await until(() => lost > round, 'b to notice');
      await until(() => b!.status().state === 'up', 'b to resubscribe and catch up');
    }
    await c.close();
    assert.ok(killed >= 4, 'subscriber connections were killed');
    await until(() => seen.length >= 200, 'all 200 messages on the follower');
    assert.deepEqual(seen.map((m) => m.pos.o), Array.from({ length: 200 }, (_, i) => i + 1));
    assert.deepEqual(seen.map((m) => text(m.payload)), Array.from({ length: 200 }, (_, i) => `m${i + 1}`));
    assert.deepEqual(resets, []);
  });

  test('a path that swallows packets: down after a command times out, then up and hearing again once it heals', async () => {
    const proxy = await TcpProxy.start(server.port);
    try {
      const prefix = freshPrefix();
      const [a] = await startNodes(1, { url: server.url, prefix });
      const [b] = await startNodes(1, { url: proxy.url, prefix, commandTimeoutMs: 300, probeMs: 500 });
      opened.push(a!, b!);
      const got: string[] = [];
      await b!.subscribe('swallowed', (p) => got.push(text(p)));
      await until(async () => (await a!.publish('swallowed', bytes('before'))) && got.includes('before'), 'b to hear before');
      proxy.setMode('blackhole');
      // nothing fails loudly: b finds out from its own commands and probe
      await until(async () => {
        await b!.publish('swallowed', bytes('probe')).catch(() => false);
        return b!.status().state === 'down';
      }, 'b to notice');
      proxy.setMode('forward');
      await until(() => b!.status().state === 'up', 'b up again');
      await until(async () => (await a!.publish('swallowed', bytes('after'))) && got.includes('after'), 'b to hear again');
    } finally {
      await proxy.close();
    }
  });

  test('while Redis is down: publish resolves false and append rejects at once; it comes back by itself', async () => {
    const own = await BrokerProcess.redis();
    try {
      // with no reply deadline to speak of, anything that waited for Redis would outlast the test's deadline
      const [a] = await startNodes(1, { url: own.url, prefix: freshPrefix(), commandTimeoutMs: 600_000 });
      opened.push(a!);
      const states: string[] = [];
      a!.onStatus((s) => states.push(s.state));
      assert.equal(await a!.publish('x', bytes('before')), true);
      await own.stop();
      await until(() => a!.status().state === 'down', 'down');
      assert.equal(await within(a!.publish('x', bytes('lost')), 'publish while down'), false);
      await within(assert.rejects(a!.append('r', bytes('lost')), BrokerUnavailableError), 'append while down');
      assert.deepEqual(await within(a!.read('r', { e: 'x', o: 0 }, 10), 'read while down'), { complete: false, reason: 'unavailable' });
      await within(assert.rejects(a!.top('r'), BrokerUnavailableError), 'top while down');
      assert.equal((await within(a!.presenceList('r'), 'presence while down')).partial, true);
      await own.start();
      await until(() => a!.status().state === 'up', 'up again');
      assert.equal(await a!.publish('x', bytes('after')), true);
      assert.ok(states.includes('down') && states.at(-1) === 'up');
    } finally {
      await own.teardown();
    }
  });

  test('a node started while Redis is unreachable starts down and comes up when Redis does', async () => {
    const own = await BrokerProcess.redis();
    await own.stop();
    try {
      const b = new RedisBroker({ url: own.url, prefix: freshPrefix(), connectTimeoutMs: 500, startTimeoutMs: 500 });
      opened.push(b);
      await within(b.start(), 'start while Redis is down');
      assert.equal(b.status().state, 'down');
      await own.start();
      await until(() => b.status().state === 'up', 'up');
      const pos = await b.append('late', bytes('first'));
      assert.equal(pos.o, 1);
    } finally {
      await own.teardown();
    }
  });

  test('rooms are kept per prefix: two clusters on one Redis do not see each other', async () => {
    const { list: [a] } = await nodes(1);
    const { list: [b] } = await nodes(1);
    await a!.append('same', bytes('one'));
    await a!.append('same', bytes('two'));
    assert.equal((await b!.top('same')).o, 0);
  });
});
