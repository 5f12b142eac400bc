// Live values across two `switchboard serve` nodes over a real redis-server and a real
// nats-server (each on a free port with its own data directory, stopped by PID).
import { test, after } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import assert from 'node:assert/strict';
import { TestClient } from '../runtime/ws-client.js';
import { BrokerProcess, startNode, type Node } from './harness.js';
import { checkLiveAcross, writeLiveService } from './live-across.js';

const SERVICE = pathToFileURL(fileURLToPath(new URL('../../src/app/service.js', import.meta.url))).href;
const root = mkdtempSync(join(tmpdir(), 'sb-live-brokers-'));
writeLiveService(root, SERVICE);
const nodes: Node[] = [];
const brokers: BrokerProcess[] = [];
after(async () => {
  await Promise.all(nodes.map((n) => n.process.kill()));
  for (const b of brokers) await b.teardown();
  rmSync(root, { recursive: true, force: true });
});

for (const kind of ['redis', 'nats'] as const) {
  test(`${kind}: subscribers on two nodes see the same versions in order; writers on both race; a third node joins late`, async () => {
    const broker = kind === 'redis' ? await BrokerProcess.redis() : await BrokerProcess.nats();
    brokers.push(broker);
    const a = await startNode(root, ['--broker', broker.url]);
    const b = await startNode(root, ['--broker', broker.url]);
    nodes.push(a, b);
    await checkLiveAcross([a.url, b.url], kind);
    // a node that starts after the changes takes up the value from the broker's log
    const c = await startNode(root, ['--broker', broker.url]);
    nodes.push(c);
    const late = await TestClient.open(`${c.url}/tally`);
    const name = `tally/${kind}`;
    const got = (await late.call('live.subscribe', { name })) as { v: number; value: { n: number } };
    assert.deepEqual([got.v, got.value.n], [40, 40]);
    await late.call('add', { id: kind, by: 'late' });
    assert.deepEqual(await late.waitFor(() => (late.received as any[]).find((m) => m.event === 'live.patch' && m.name === name), 'patch'), {
      event: 'live.patch',
      name,
      v: 41,
      patch: { n: 41, by: { late: 1 } },
    });
    late.close();
  });
}
