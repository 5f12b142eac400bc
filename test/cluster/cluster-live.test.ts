// Live values across nodes (in-process brokers sharing one hub, the same App and broker code
// that runs over Redis and NATS): every subscriber on every node sees the same versions in the
// same order while writers on every node race; a node that joins late takes up the value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { brokerCluster, MemoryBroker, MemoryHub } from '../../src/cluster/index.js';
import { applyPatch, type Json } from '../../src/client/json-patch.js';
import { DEFINE, harness, serviceDir } from '../app/helpers.js';
import { until } from '../helpers/wait.js';

const root = serviceDir({
  'tally.ts': `import { defineService } from '${DEFINE}';
export default defineService({
  live: { tally: { initial: { n: 0, by: {} as Record<string, number> } } },
  commands: {
    add: { handler: (d: any, { service }) => service.live('tally').update((t: any) => { t.n += 1; t.by[d] = (t.by[d] ?? 0) + 1; }) },
    read: { handler: async (_d, { service }) => ({ v: await service.live('tally').version(), value: await service.live('tally').get() }) },
  },
});
`,
});

async function nodes(n: number, hub = new MemoryHub()) {
  const list = [];
  for (let i = 0; i < n; i++) {
    const broker = new MemoryBroker({ hub });
    await broker.start();
    const h = harness(root, undefined, { cluster: brokerCluster(broker) });
    await h.app.start();
    list.push(h);
  }
  return { hub, list };
}

test('writers on three nodes race; every node agrees on each version, subscribers see 1..N in order', async () => {
  const { list } = await nodes(3);
  type Conn = Exclude<Awaited<ReturnType<(typeof list)[number]['connect']>>, { rejected: object }>;
  const subs: Conn[] = [];
  for (const h of list) {
    for (let i = 0; i < 2; i++) {
      const c = await h.connect('/tally');
      if (c.rejected) throw new Error('refused');
      const r = await c.call('live.subscribe', { name: 'tally' });
      assert.deepEqual(r.data, { name: 'tally', v: 0, value: { n: 0, by: {} } });
      subs.push(c);
    }
  }
  const writes = [];
  for (let i = 0; i < 60; i++) writes.push(subs[i % subs.length]!.call('add', `node${i % 3}`));
  const replies = await Promise.all(writes);
  assert.ok(replies.every((r) => r.ok));
  assert.deepEqual(replies.map((r) => r.data).sort((a, b) => a - b), Array.from({ length: 60 }, (_, i) => i + 1), 'each write won its own version');
  for (const c of subs) {
    await until(() => c.socket.json.filter((m) => m.event === 'live.patch').length === 60, 'sixty patches');
    const got = c.socket.json.filter((m) => m.event === 'live.patch');
    assert.deepEqual(got.map((m) => m.v), Array.from({ length: 60 }, (_, i) => i + 1));
    let value: Json = { n: 0, by: {} };
    for (const m of got) value = applyPatch(value, m.patch);
    assert.deepEqual(value, { n: 60, by: { node0: 20, node1: 20, node2: 20 } });
  }
  // the same patch at the same version on every node
  const byVersion = (c: Conn) => JSON.stringify(c.socket.json.filter((m) => m.event === 'live.patch'));
  for (const c of subs) assert.equal(byVersion(c), byVersion(subs[0]!));
});

test('a node that starts later takes up the current value from the log', async () => {
  const hub = new MemoryHub();
  const { list } = await nodes(1, hub);
  const a = await list[0]!.connect('/tally');
  assert.ok(!a.rejected);
  for (let i = 0; i < 5; i++) await a.call('add', 'a');
  const { list: later } = await nodes(1, hub);
  const b = await later[0]!.connect('/tally');
  assert.ok(!b.rejected);
  assert.deepEqual((await b.call('live.subscribe', { name: 'tally' })).data, { name: 'tally', v: 5, value: { n: 5, by: { a: 5 } } });
  await b.call('add', 'b');
  assert.deepEqual((await a.call('read')).data, { v: 6, value: { n: 6, by: { a: 5, b: 1 } } });
});
