// `switchboard drain --over` and SIGTERM with a drain window, against a served process: the
// connections leave in the batches the log announces, each with 1012, and the server exits 0.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startNode, type Node } from '../cluster/harness.js';
import { TestClient } from './ws-client.js';
import { commands, type CliIO } from '../../src/cli/commands/index.js';
import type { LogLine } from './server-process.js';

const SERVICE = pathToFileURL(fileURLToPath(new URL('../../src/app/service.js', import.meta.url))).href;
const services = mkdtempSync(join(tmpdir(), 'sb-drain-'));
writeFileSync(join(services, 'svc.ts'), `import { defineService } from '${SERVICE}';\nexport default defineService({ commands: { ping: { handler: () => 'pong' } } });\n`);

const nodes: Node[] = [];
const clients: TestClient[] = [];
after(async () => {
  for (const c of clients) c.close();
  for (const n of nodes) await n.process.kill();
  rmSync(services, { recursive: true, force: true });
});

async function openClients(node: Node, n: number): Promise<TestClient[]> {
  const out: TestClient[] = [];
  for (let i = 0; i < n; i++) {
    const c = await TestClient.open(`${node.url}/svc`);
    clients.push(c);
    out.push(c);
    assert.equal(await c.call('ping'), 'pong');
  }
  return out;
}

const batchLines = (node: Node): LogLine[] => node.process.lines.filter((l) => typeof l.batch === 'number');

test('switchboard drain --over 1s --batches 3: 12 connections leave 4 by 4 with 1012; the server exits 0', async () => {
  const node = await startNode(services);
  nodes.push(node);
  const mine = await openClients(node, 12);
  let out = '';
  const io: CliIO = { stdout: (t) => void (out += t), stderr: (t) => void (out += t), cwd: services, env: {} };
  const drain = commands.find((c) => c.name === 'drain')!;
  assert.equal(await drain.run(['--run-dir', node.runDir, '--over', '1s', '--batches', '3'], io), 0, out);
  assert.match(out, /stopped \(pid \d+\)/);
  for (const c of mine) assert.equal((await c.whenClosed()).code, 1012);
  assert.deepEqual(
    batchLines(node).map((l) => [l.batch, l.of, l.connections, l.remaining]),
    [[1, 3, 4, 8], [2, 3, 4, 4], [3, 3, 4, 0]],
  );
  assert.deepEqual(await node.process.exited(), { code: 0, signal: null });
});

test('SIGTERM with --shutdown-drain-window-ms and --workers 2: every worker staggers its own connections, all leave with 1012', async () => {
  const node = await startNode(services, ['--workers', '2', '--shutdown-drain-window-ms', '600', '--shutdown-drain-batches', '2']);
  nodes.push(node);
  const mine = await openClients(node, 10);
  node.process.child.kill('SIGTERM');
  for (const c of mine) assert.equal((await c.whenClosed()).code, 1012);
  assert.deepEqual(await node.process.exited(), { code: 0, signal: null });
  const lines = batchLines(node);
  // each worker logs its batches (of 2, or 1 when it holds a single connection); together they closed all ten
  assert.equal(lines.filter((l) => l.batch === l.of).reduce((n, l) => n + Number(l.remaining), 0), 0);
  assert.equal(lines.reduce((n, l) => n + Number(l.connections), 0), 10);
  assert.ok(lines.every((l) => l.of === 2 || l.of === 1), JSON.stringify(lines));
});
