// The staggered drain over real sockets: connections leave in batches with 1012, each after
// its in-flight commands finished (or were cancelled at its grace), and a client told to
// leave reconnects to another node and recovers every room message it missed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppServer } from '../../src/server/app-server.js';
import { brokerCluster, MemoryBroker, MemoryHub } from '../../src/cluster/index.js';
import { batchCount, batchSizes, paceBatches } from '../../src/app/staggered-close.js';
import { connect } from '../../src/transport/client.js';
import { createClient, type Position, type SocketFactory } from '../../src/client/index.js';
import { TestClient } from '../runtime/ws-client.js';
import { until, within } from '../helpers/wait.js';
import { DEFINE, serviceDir } from './helpers.js';

const dir = serviceDir({
  'svc.ts': `import { defineService } from '${DEFINE}';
export default defineService({
  rooms: true,
  commands: {
    ping: { handler: () => 'pong' },
    slow: { timeoutMs: 600_000, handler: (d: any) => new Promise((r) => setTimeout(() => r('done'), d.ms)) },
    stuck: { timeoutMs: 600_000, handler: (_d, call) => new Promise((_r, reject) => call.signal.addEventListener('abort', () => reject(call.signal.reason))) },
  },
});`,
});

test('batch plan: one batch per second of the window by default, never more than the connections, sizes as even as can be', () => {
  assert.equal(batchCount(1000, 60_000), 60);
  assert.equal(batchCount(1000, 60_000, 12), 12);
  assert.equal(batchCount(3, 60_000), 3);
  assert.equal(batchCount(5, 200), 1);
  assert.equal(batchCount(0, 60_000), 0);
  assert.deepEqual(batchSizes(10, 4), [3, 3, 2, 2]);
  assert.deepEqual(batchSizes(20, 4), [5, 5, 5, 5]);
  assert.equal(batchSizes(10_000, 60).reduce((a, b) => a + b, 0), 10_000);
});

test('paceBatches: the first batch at once, each next one a window/batches step later; an abort starts the rest at once', async () => {
  const waits: number[] = [];
  const started: Array<{ index: number; ids: string[] }> = [];
  const ids = Array.from({ length: 10 }, (_, i) => `c${i}`);
  const sizes = await paceBatches(ids, { windowMs: 60_000, batches: 4, graceMs: 1 }, (b) => started.push({ index: b.index, ids: b.ids }), async (ms) => void waits.push(ms));
  assert.deepEqual(sizes, [3, 3, 2, 2]);
  assert.deepEqual(waits, [15_000, 15_000, 15_000]);
  assert.deepEqual(started.map((b) => b.ids), [['c0', 'c1', 'c2'], ['c3', 'c4', 'c5'], ['c6', 'c7'], ['c8', 'c9']]);
  // with the real pause: an aborted signal cuts the window short (a 10-minute window ends now)
  const cut = new AbortController();
  cut.abort();
  assert.deepEqual(await within(paceBatches(ids, { windowMs: 600_000, batches: 5, graceMs: 1, signal: cut.signal }, () => undefined), 'an aborted window'), [2, 2, 2, 2, 2]);
});

test('20 connections leave in 4 batches of 5 with 1012, in the order they came, each after its batch began', async () => {
  const events: string[] = [];
  const batches: Array<{ index: number; of: number; connections: number; remaining: number }> = [];
  const server = new AppServer({ dir, port: 0, observer: { drainBatch: (e) => (batches.push(e), events.push(`batch ${e.index}`)) } });
  const { port } = await server.listen();
  try {
    const clients: TestClient[] = [];
    for (let i = 0; i < 20; i++) {
      const c = await TestClient.open(`ws://127.0.0.1:${port}/svc`);
      c.ws.on('close', () => events.push(`close ${i}`));
      clients.push(c);
      assert.equal(await c.call('ping'), 'pong'); // open on the server before the next one
    }
    const sizes = await server.closeStaggered({ windowMs: 400, batches: 4, graceMs: 5_000 });
    assert.deepEqual(sizes, [5, 5, 5, 5]);
    for (const c of clients) assert.equal((await c.whenClosed()).code, 1012);
    assert.deepEqual(batches, [0, 1, 2, 3].map((index) => ({ index, of: 4, connections: 5, remaining: 15 - 5 * index })));
    // client i belongs to batch floor(i / 5): its close comes after that batch began
    for (let i = 0; i < 20; i++) {
      assert.ok(events.indexOf(`close ${i}`) > events.indexOf(`batch ${Math.floor(i / 5)}`), `client ${i} closed after batch ${Math.floor(i / 5)} began: ${events.join(', ')}`);
    }
    await until(() => server.connectionCount() === 0, 'every connection gone');
    // and no new connection gets in meanwhile
    await assert.rejects(TestClient.open(`ws://127.0.0.1:${port}/svc`));
  } finally {
    await server.close();
  }
});

test('a drained connection first gets the reply of its in-flight command; one that outlives the grace is cancelled, answered, then closed', async () => {
  const server = new AppServer({ dir, port: 0 });
  const { port } = await server.listen();
  try {
    const finisher = await TestClient.open(`ws://127.0.0.1:${port}/svc`);
    const stuck = await TestClient.open(`ws://127.0.0.1:${port}/svc`);
    assert.equal(await finisher.call('ping'), 'pong');
    assert.equal(await stuck.call('ping'), 'pong');
    const slowId = finisher.send('slow', { ms: 300 });
    const stuckId = stuck.send('stuck');
    await until(async () => (await server.services()).find((s) => s.route === '/svc')?.messagesIn === 4, 'both commands in flight');
    // one batch, grace 2 s: `slow` (300 ms) finishes, `stuck` is cancelled at 2 s
    await server.closeStaggered({ windowMs: 1, batches: 1, graceMs: 2_000 });
    // what came before the close frame has been read once the close is seen
    assert.equal((await finisher.whenClosed()).code, 1012);
    assert.equal((await stuck.whenClosed()).code, 1012);
    const finished = finisher.received.find((m) => (m as { id?: number }).id === slowId) as { ok: boolean; data: unknown } | undefined;
    assert.deepEqual(finished && { ok: finished.ok, data: finished.data }, { ok: true, data: 'done' });
    const cancelled = stuck.received.find((m) => (m as { id?: number }).id === stuckId) as { ok: boolean; error: { code: string } } | undefined;
    assert.equal(cancelled?.error.code, 'cancelled', 'the reply went out before the close');
  } finally {
    await server.close();
  }
});

test('a client of a draining node reconnects to another node and recovers, in order and once, the room messages published meanwhile', async () => {
  const hub = new MemoryHub();
  const brokers = [new MemoryBroker({ hub }), new MemoryBroker({ hub })];
  for (const b of brokers) await b.start();
  const [a, b] = brokers.map((broker) => new AppServer({ dir, port: 0, cluster: brokerCluster(broker) }));
  const portA = (await a!.listen()).port;
  const portB = (await b!.listen()).port;
  try {
    // the balancer: the first connection goes to A, every later one to B
    let opened = 0;
    const factory: SocketFactory = async (_url, handlers) => {
      const ws = await connect(`ws://127.0.0.1:${opened++ === 0 ? portA : portB}/svc`);
      ws.on('message', (d, binary) => !binary && handlers.message(d.toString('utf8')));
      ws.on('close', (code, reason) => handlers.close(code, reason));
      ws.on('error', () => undefined);
      return { send: (t) => void ws.send(t), close: (code, reason) => ws.close(code, reason) };
    };
    const client = createClient('ws://balancer/svc', { socketFactory: factory, reconnect: { initialDelayMs: 20, restartSpreadMs: 200 } });
    const got: Array<{ data: unknown; pos: Position }> = [];
    await client.join('lobby', (data, pos) => got.push({ data, pos }));
    const closes: number[] = [];
    const rejoined: Array<{ recovered: boolean; replayed: number }> = [];
    client.on('close', (e: { code: number }) => closes.push(e.code));
    client.on('rejoined', (e) => rejoined.push(e));
    for (let i = 0; i < 10; i++) await b!.app.publish('/svc', 'lobby', `m${i}`);
    await until(() => got.length === 10, 'ten live messages on A');
    // published while the client is between nodes: it must recover them from the history
    const away = new Promise<void>((resolve) =>
      client.on('close', () => {
        void (async () => {
          for (let i = 10; i < 20; i++) await b!.app.publish('/svc', 'lobby', `m${i}`);
          resolve();
        })();
      }),
    );
    await a!.closeStaggered({ windowMs: 1, batches: 1, graceMs: 1_000 });
    await away;
    await until(() => rejoined.length === 1, 'the room rejoined on B');
    for (let i = 20; i < 25; i++) await b!.app.publish('/svc', 'lobby', `m${i}`);
    await until(() => got.length === 25, 'every message');
    assert.deepEqual(closes, [1012]);
    assert.equal(rejoined[0]!.recovered, true);
    assert.ok(rejoined[0]!.replayed >= 1, 'messages published while away were replayed');
    assert.deepEqual(got.map((m) => m.data), Array.from({ length: 25 }, (_, i) => `m${i}`));
    assert.deepEqual(got.map((m) => m.pos.o), Array.from({ length: 25 }, (_, i) => i + 1));
    assert.equal(opened, 2, 'one reconnect');
    client.close();
  } finally {
    await a!.close();
    await b!.close();
  }
});
