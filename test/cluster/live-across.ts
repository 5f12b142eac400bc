// One check of live values across real `switchboard serve` nodes, shared by the --workers,
// Redis and NATS suites: subscribers on two nodes see the same dense versions in the same
// order while writers on both race, and the command client's value stays current.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyPatch, type Json } from '../../src/client/json-patch.js';
import { createClient, type CommandClient } from '../../src/client/index.js';
import { connect } from '../../src/transport/index.js';
import { TestClient } from '../runtime/ws-client.js';
import { until } from '../helpers/wait.js';

/** Writes the live service (run as `isolation`) into a services directory. */
export function writeLiveService(dir: string, defineImport: string, isolation: 'inline' | 'worker' | 'process' = 'inline'): void {
  writeFileSync(
    join(dir, 'tally.ts'),
    `import { defineService } from '${defineImport}';
export default defineService({
  isolation: '${isolation}',
  live: { 'tally/:id': { initial: { n: 0, by: {} as Record<string, number> } } },
  commands: {
    where: { handler: (_d, { connection }) => connection.id.split('.')[0] },
    add: { handler: (d: any, { service }) => service.live('tally/' + d.id).update((t: any) => { t.n += 1; t.by[d.by] = (t.by[d.by] ?? 0) + 1; }) },
    read: { handler: async (d: any, { service }) => ({ v: await service.live('tally/' + d).version(), value: await service.live('tally/' + d).get() }) },
  },
});
`,
  );
}

/** A raw client on each of two different nodes (reached through `urls`, tried in turn). */
export async function clientsOnTwoNodes(urls: string[]): Promise<Array<{ c: TestClient; node: string }>> {
  const found = new Map<string, TestClient>();
  const spare: TestClient[] = [];
  for (let i = 0; found.size < 2 && i < 40; i++) {
    const c = await TestClient.open(`${urls[i % urls.length]}/tally`);
    const node = (await c.call('where')) as string;
    if (found.has(node)) spare.push(c);
    else found.set(node, c);
  }
  for (const c of spare) c.close();
  assert.equal(found.size, 2, 'clients on two different nodes');
  return [...found].map(([node, c]) => ({ c, node }));
}

export async function checkLiveAcross(urls: string[], id: string, writes = 40): Promise<void> {
  const pair = await clientsOnTwoNodes(urls);
  const name = `tally/${id}`;
  for (const { c } of pair) assert.deepEqual(await c.call('live.subscribe', { name }), { name, v: 0, value: { n: 0, by: {} } });
  const client: CommandClient<any> = createClient(`${urls[urls.length - 1]}/tally`, { connect, reconnect: false });
  const live = client.live(name);
  await live.ready;
  const replies = await Promise.all(Array.from({ length: writes }, (_, i) => pair[i % 2]!.c.call('add', { id, by: pair[i % 2]!.node })));
  assert.deepEqual((replies as number[]).sort((a, b) => a - b), Array.from({ length: writes }, (_, i) => i + 1), 'every write won a version of its own');
  const seen: string[] = [];
  for (const { c } of pair) {
    const patches = () => (c.received as Array<Record<string, any>>).filter((m) => m.event === 'live.patch' && m.name === name);
    await until(() => patches().length === writes, `${writes} patches`);
    assert.deepEqual(patches().map((m) => m.v), Array.from({ length: writes }, (_, i) => i + 1), 'dense versions, in order');
    let value: Json = { n: 0, by: {} };
    for (const m of patches()) value = applyPatch(value, m.patch);
    assert.deepEqual(value, { n: writes, by: { [pair[0]!.node]: writes / 2, [pair[1]!.node]: writes / 2 } });
    seen.push(JSON.stringify(patches()));
  }
  assert.equal(seen[0], seen[1], 'both nodes pushed the same patch for each version');
  await until(() => live.version === writes, 'the command client caught up');
  assert.deepEqual(live.get(), { n: writes, by: { [pair[0]!.node]: writes / 2, [pair[1]!.node]: writes / 2 } });
  client.close();
  for (const { c } of pair) c.close();
}
