// The NATS adapter against a real nats-server (JetStream, file store) on a free port: the
// Broker contract, then what only NATS can do wrong (a restarted server, a lost stream, a
// consumer that missed messages the stream had already trimmed).
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { Broker, Position, ReadResult, RoomMessage, RoomReset } from '../../src/cluster/broker.js';
import { BrokerUnavailableError } from '../../src/cluster/broker.js';
import { NatsBroker, type NatsBrokerOptions } from '../../src/cluster/nats-broker.js';
import { NatsNames } from '../../src/cluster/nats-names.js';
import { brokerSuite } from './broker-suite.js';
import { BrokerProcess, freePort } from './harness.js';
import { until, within } from '../helpers/wait.js';

const bytes = (s: string): Uint8Array => Buffer.from(s);
const text = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
const freshPrefix = (): string => `t${randomBytes(4).toString('hex')}`;
const shape = (r: ReadResult): unknown => (r.complete ? { top: r.top, messages: r.messages.map((m) => [m.pos, text(m.payload)]) } : r);

let shared: Promise<BrokerProcess> | undefined;
const nats = (): Promise<BrokerProcess> => (shared ??= BrokerProcess.nats());
const opened: Broker[] = [];
const servers: BrokerProcess[] = [];
after(async () => {
  for (const b of opened) await b.close().catch(() => undefined);
  for (const s of servers) await s.teardown();
  if (shared) await (await shared).teardown();
});

async function startNodes(n: number, options: Partial<NatsBrokerOptions> & { url: string }): Promise<NatsBroker[]> {
  const list = Array.from({ length: n }, () => new NatsBroker({ leaseMs: 3_000, ...options }));
  opened.push(...list);
  for (const b of list) await b.start();
  return list;
}

/** Forwards TCP to the server until cut: then open connections are destroyed and new ones refused, until healed. */
class Cuttable {
  readonly port: number;
  readonly #target: number;
  readonly #sockets = new Set<Socket>();
  #server: Server | null = null;

  private constructor(port: number, target: number) {
    this.port = port;
    this.#target = target;
  }

  static async to(target: number): Promise<Cuttable> {
    const c = new Cuttable(await freePort(), target);
    await c.heal();
    return c;
  }

  async heal(): Promise<void> {
    const server = createServer((client) => {
      const upstream = tcpConnect(this.#target, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('error', () => undefined).on('close', () => (this.#sockets.delete(s), client.destroy(), upstream.destroy()));
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.#server = server;
  }

  async cut(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    for (const s of this.#sockets) s.destroy();
    if (server) await new Promise((resolve) => server.close(resolve));
  }
}

// needs Debian's nats-server (`npm run test:all`; .ci/run installs it)
brokerSuite('nats', async () => {
  const server = await nats();
  return {
    dense: false,
    nodes: (n, history) => startNodes(n, { url: server.url, prefix: freshPrefix(), ...history }),
    async teardown() {},
  };
});

describe('NATS adapter', () => {
  test('a server restart with the same store keeps the epoch; while it is down publish and append fail at once; resumes recover after it', async () => {
    const server = await BrokerProcess.nats();
    servers.push(server);
    // a request timeout far beyond the test's deadlines: failing "at once" cannot be a timeout
    const [a, b] = await startNodes(2, { url: server.url, prefix: freshPrefix(), requestTimeoutMs: 60_000 });
    const room = '/chat#restart';
    const seen: RoomMessage[] = [];
    const resets: RoomReset[] = [];
    await b!.follow(room, (m) => seen.push(m), (r) => resets.push(r));
    const before = await a!.top(room);
    const p1 = await a!.append(room, bytes('before-1'));
    const p2 = await a!.append(room, bytes('before-2'));
    await until(() => seen.length === 2, 'both messages on the follower');

    await server.stop('SIGKILL');
    await until(() => a!.status().state === 'down' && b!.status().state === 'down', 'both nodes to see the server gone');
    assert.equal(await within(a!.publish('chan', bytes('lost')), 'publish while down'), false);
    await assert.rejects(within(a!.append(room, bytes('lost')), 'append while down'), BrokerUnavailableError);
    assert.deepEqual(await within(a!.read(room, p1, 10), 'read while down'), { complete: false, reason: 'unavailable' });
    const local = await within(a!.presenceList(room), 'presence while down');
    assert.equal(local.partial, true);

    await server.start();
    await until(() => a!.status().state === 'up' && b!.status().state === 'up', 'both nodes up again');
    assert.equal((await a!.top(room)).e, before.e, 'same epoch after the restart');
    const p3 = await a!.append(room, bytes('after-1'));
    assert.equal(p3.e, before.e);
    assert.ok(p3.o > p2.o);
    const resumed = await b!.read(room, p1, 100);
    assert.ok(resumed.complete);
    assert.deepEqual(resumed.messages.map((m) => text(m.payload)), ['before-2', 'after-1']);
    await until(() => seen.length === 3, 'the follower to go on after the restart');
    assert.deepEqual(seen.map((m) => text(m.payload)), ['before-1', 'before-2', 'after-1']);
    assert.deepEqual(resets, []);
  });

  test('a server restarted without its store: a new epoch, followers reset to it, presence written again', async () => {
    const server = await BrokerProcess.nats();
    servers.push(server);
    const [a, b] = await startNodes(2, { url: server.url, prefix: freshPrefix() });
    const room = '/chat#amnesia';
    const seen: RoomMessage[] = [];
    const resets: RoomReset[] = [];
    await b!.follow(room, (m) => seen.push(m), (r) => resets.push(r));
    // more messages than the new stream will have had when the follower goes on: its numbers start again
    let old = await a!.append(room, bytes('old'));
    for (let i = 0; i < 9; i++) old = await a!.append(room, bytes('old'));
    await b!.presenceSet(room, { connId: `${b!.nodeId}.1`, info: { id: 'bo' }, node: b!.nodeId, since: Date.now() });
    await until(() => seen.length === 10, 'the first messages');

    await server.stop('SIGKILL');
    rmSync(join(server.dir, 'jetstream'), { recursive: true, force: true });
    await server.start();
    await until(() => a!.status().state === 'up' && b!.status().state === 'up', 'both nodes up again');
    await until(() => resets.some((r) => r.reason === 'epoch'), 'the follower reset to the new epoch');
    const fresh = await a!.append(room, bytes('new'));
    assert.notEqual(fresh.e, old.e);
    assert.equal(resets.find((r) => r.reason === 'epoch')!.top?.e, fresh.e);
    await until(() => seen.some((m) => text(m.payload) === 'new'), 'the follower to go on in the new epoch');
    const stale = await a!.read(room, old, 100);
    assert.deepEqual([stale.complete, !stale.complete && stale.reason], [false, 'epoch']);
    await until(async () => (await a!.presenceList(room)).entries.some((e) => e.connId === `${b!.nodeId}.1`), 'b\'s entry written again');
  });

  test('started while the server is down: start resolves, the node is down; subscriptions, feeds and presence made meanwhile work once it is up', async () => {
    const server = await BrokerProcess.nats();
    servers.push(server);
    await server.stop('SIGKILL');
    const prefix = freshPrefix();
    const [late] = await startNodes(1, { url: server.url, prefix, reconnectWaitMs: 100 });
    assert.equal(late!.status().state, 'down');
    const got: string[] = [];
    const seen: string[] = [];
    await late!.subscribe('chan', (p) => got.push(text(p)));
    await late!.follow('/chat#late', (m) => seen.push(text(m.payload)), () => undefined);
    await late!.presenceSet('/chat#late', { connId: `${late!.nodeId}.1`, info: null, node: late!.nodeId, since: Date.now() });
    assert.equal(await late!.publish('chan', bytes('early')), false);

    await server.start();
    await until(() => late!.status().state === 'up', 'the node up');
    const [other] = await startNodes(1, { url: server.url, prefix });
    await until(async () => {
      await other!.publish('chan', bytes('hello'));
      return got.includes('hello');
    }, 'the subscription made while down');
    await other!.append('/chat#late', bytes('room'));
    await until(() => seen.includes('room'), 'the feed made while down');
    assert.deepEqual((await other!.presenceList('/chat#late')).entries.map((e) => e.connId), [`${late!.nodeId}.1`]);
  });

  test('a lost stream (deleted, made again) is a new epoch: followers are reset, old positions read as epoch', async () => {
    const server = await nats();
    const prefix = freshPrefix();
    const [a, b] = await startNodes(2, { url: server.url, prefix, checkIntervalMs: 1_000 });
    const room = '/chat#lost';
    const seen: RoomMessage[] = [];
    const resets: RoomReset[] = [];
    await b!.follow(room, (m) => seen.push(m), (r) => resets.push(r));
    let old = await a!.append(room, bytes('old'));
    for (let i = 0; i < 9; i++) old = await a!.append(room, bytes('old'));
    await until(() => seen.length === 10, 'the first messages');

    const nc = await connect({ servers: server.url });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.delete(new NatsNames(prefix).stream);
    } finally {
      await nc.close();
    }
    const fresh = await a!.append(room, bytes('new'));
    assert.notEqual(fresh.e, old.e, 'a new epoch');
    await until(() => resets.some((r) => r.reason === 'epoch'), 'the follower to be reset');
    const reset = resets.find((r) => r.reason === 'epoch')!;
    assert.equal(reset.top?.e, fresh.e);
    const stale = await b!.read(room, old, 100);
    assert.deepEqual([stale.complete, !stale.complete && stale.reason], [false, 'epoch']);
    const next = await a!.append(room, bytes('newer'));
    await until(() => seen.some((m) => text(m.payload) === 'newer'), 'the follower to go on in the new epoch');
    assert.equal(seen.at(-1)!.pos.e, next.e);
  });

  test('history is kept per room on a shared sequence: trimmed positions are expired, kept ones give exactly the room\'s messages', async () => {
    const server = await nats();
    const [a] = await startNodes(1, { url: server.url, prefix: freshPrefix(), historySize: 3 });
    const room = '/chat#trim';
    const other = '/chat#busy';
    const positions = [await a!.top(room)];
    for (let i = 0; i < 6; i++) {
      positions.push(await a!.append(room, bytes(`t${i}`)));
      await a!.append(other, bytes(`o${i}`));
    }
    for (let i = 2; i < positions.length; i++) assert.ok(positions[i]!.o > positions[i - 1]!.o + 1, 'offsets skip the other room\'s sequence numbers');
    for (const old of positions.slice(0, 3)) {
      const r = await a!.read(room, old, 100);
      assert.deepEqual([r.complete, !r.complete && r.reason], [false, 'expired']);
    }
    const kept = await a!.read(room, positions[3]!, 100);
    assert.ok(kept.complete);
    assert.deepEqual(kept.messages.map((m) => text(m.payload)), ['t3', 't4', 't5']);
    assert.deepEqual(kept.top, positions[6]);
    const idle = await a!.read(room, positions[6]!, 100);
    assert.ok(idle.complete, 'the top of an idle room reads as complete');
    assert.deepEqual(idle.messages, []);
  });

  test('reads of one room that come together (a thousand clients rejoining) are answered as each would be alone', async () => {
    const server = await nats();
    const [a] = await startNodes(1, { url: server.url, prefix: freshPrefix(), historySize: 20 });
    const room = '/chat#together';
    const positions = [await a!.top(room)];
    let foreign: Position | undefined;
    for (let i = 0; i < 30; i++) {
      positions.push(await a!.append(room, bytes(`m${i}`)));
      if (i === 20) foreign = await a!.append('/chat#elsewhere', bytes('x'));
    }
    const asks: Array<[Position, number]> = [];
    for (const p of positions) for (const limit of [5, 100]) asks.push([p, limit]);
    asks.push([{ e: 'another', o: 3 }, 100], [foreign!, 100], [{ e: positions[0]!.e, o: positions[30]!.o + 1000 }, 100]);
    // each scan of the room makes a consumer: counted on the JetStream API subject
    const nc = await connect({ servers: `127.0.0.1:${server.port}` });
    let scans = 0;
    nc.subscribe('$JS.API.CONSUMER.CREATE.>', { callback: () => void scans++ });
    await nc.flush();
    const alone: ReadResult[] = [];
    for (const [p, limit] of asks) alone.push(await a!.read(room, p, limit));
    await nc.flush();
    const scansAlone = scans;
    const together = await Promise.all(asks.map(([p, limit]) => a!.read(room, p, limit)));
    await nc.flush();
    await nc.close();
    assert.deepEqual(together.map(shape), alone.map(shape));
    assert.ok(scansAlone >= 20, `one scan per read that needs one (${scansAlone})`);
    assert.equal(scans - scansAlone, 2, 'the first read alone, then one scan for all that came while it ran');
    // and what that is: trimmed positions expired (or too many), kept ones exactly the room's messages after them
    const reasons = new Set(alone.map((r) => (r.complete ? 'complete' : r.reason)));
    assert.deepEqual([...reasons].sort(), ['complete', 'epoch', 'expired', 'too_many']);
    const fromKept = alone[2 * 12 + 1]!;
    assert.ok(fromKept.complete);
    assert.deepEqual(fromKept.messages.map((m) => text(m.payload)), Array.from({ length: 18 }, (_, i) => `m${12 + i}`));
  });

  test('reads answered together while messages are appended: each has every message of the room after its position, up to at least what was appended before it asked', async () => {
    const server = await nats();
    const [a] = await startNodes(1, { url: server.url, prefix: freshPrefix(), historySize: 500 });
    const room = '/chat#busy-rejoin';
    const appended = [await a!.top(room)];
    for (let i = 0; i < 20; i++) appended.push(await a!.append(room, bytes(`m${i}`)));
    let writing = true;
    const writer = (async () => {
      for (let i = 20; writing && i < 400; i++) appended.push(await a!.append(room, bytes(`m${i}`)));
    })();
    const checks: Array<Promise<void>> = [];
    try {
      for (let round = 0; round < 20; round++) {
        for (let k = 0; k < 25; k++) {
          const from = appended[(round * 7 + k * 3) % appended.length]!;
          const known = appended.length;
          checks.push(
            a!.read(room, from, 1_000).then((r) => {
              assert.ok(r.complete, `read from ${from.o}: ${JSON.stringify(r)}`);
              const got = r.messages.map((m) => m.pos.o);
              const expected = appended.map((p) => p.o).filter((o) => o > from.o && o <= (got[got.length - 1] ?? from.o));
              assert.deepEqual(got, expected, 'every message after the position, in order');
              assert.ok((got[got.length - 1] ?? from.o) >= appended[known - 1]!.o, 'nothing appended before the read was asked is missing');
            }),
          );
        }
        await new Promise((r) => setImmediate(r));
      }
      await Promise.all(checks);
    } finally {
      writing = false;
      await writer;
    }
  });

  test('a follower cut off while its room was trimmed past it is reset (gap); a room that kept everything goes on', async () => {
    const server = await nats();
    const proxy = await Cuttable.to(server.port);
    const prefix = freshPrefix();
    const [writer] = await startNodes(1, { url: server.url, prefix, historySize: 3 });
    const [reader] = await startNodes(1, { url: `nats://127.0.0.1:${proxy.port}`, prefix, historySize: 3, reconnectWaitMs: 100 });
    const trimmed = '/chat#gap';
    const calm = '/chat#calm';
    const seen = new Map<string, string[]>([[trimmed, []], [calm, []]]);
    const resets: RoomReset[] = [];
    for (const room of [trimmed, calm]) {
      await reader!.follow(room, (m) => seen.get(room)!.push(text(m.payload)), (r) => resets.push(r));
      await writer!.append(room, bytes('first'));
    }
    await until(() => seen.get(trimmed)!.length === 1 && seen.get(calm)!.length === 1, 'the first messages');

    await proxy.cut();
    await until(() => reader!.status().state === 'down', 'the reader to see the cut');
    for (let i = 0; i < 8; i++) await writer!.append(trimmed, bytes(`missed-${i}`));
    await writer!.append(calm, bytes('kept'));
    await proxy.heal();
    await until(() => reader!.status().state === 'up', 'the reader back');

    await until(() => resets.some((r) => r.room === trimmed), 'a reset for the trimmed room');
    const reset = resets.find((r) => r.room === trimmed)!;
    assert.equal(reset.reason, 'gap');
    await until(() => seen.get(calm)!.length === 2, 'the calm room to go on');
    assert.deepEqual(seen.get(calm), ['first', 'kept']);
    assert.ok(!resets.some((r) => r.room === calm), 'no reset where nothing was lost');
    const after = await writer!.append(trimmed, bytes('after'));
    await until(() => seen.get(trimmed)!.includes('after'), 'the trimmed room to go on after its reset');
    assert.ok(after.o > reset.top!.o);
    await proxy.cut();
  });
});
