// `switchboard top` against a served directory: one snapshot over the control socket with
// this node's connections (path, user, rooms, bytes), rooms and their members, services,
// and message/command rates; as a table and as JSON; and its argument errors.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createClient, type CommandClient } from '../../src/client/index.js';
import { connect } from '../../src/transport/index.js';
import { commands, type CliIO } from '../../src/cli/commands/index.js';
import type { ClusterFigures } from '../../src/runtime/live-figures.js';
import { startNode, type Node } from '../cluster/harness.js';
import { until } from '../helpers/wait.js';

const SERVICE = pathToFileURL(fileURLToPath(new URL('../../src/app/service.js', import.meta.url))).href;
const root = mkdtempSync(join(tmpdir(), 'sb-top-'));
const services = join(root, 'services');
mkdirSync(services);
writeFileSync(join(services, 'chat.ts'), `import { defineService } from '${SERVICE}';
export default defineService({ rooms: { clientPublish: true }, commands: { ping: { handler: () => 'pong' } } });
`);

let node: Node;
const clients: CommandClient[] = [];
before(async () => {
  node = await startNode(services);
});
after(async () => {
  for (const c of clients) c.close();
  await node?.process.kill();
  rmSync(root, { recursive: true, force: true });
});

async function top(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = { stdout: (t) => void (out += t), stderr: (t) => void (err += t), cwd: root, env: {} };
  const code = await commands.find((c) => c.name === 'top')!.run([...args, '--run-dir', node.runDir], io);
  return { code, out, err };
}

test('top --once: connections with path, rooms and bytes; rooms with members; services; command rates', async () => {
  const a = createClient(`${node.url}/chat?x=1`, { connect });
  const b = createClient(`${node.url}/chat`, { connect });
  clients.push(a, b);
  await a.join('lobby', () => undefined);
  await b.join('lobby', () => undefined);
  await b.join('side', () => undefined);
  // commands keep coming until a one-second sample has seen them
  let figures: ClusterFigures | undefined;
  await until(async () => {
    await Promise.all([a.call('ping'), b.call('ping')]);
    const r = await top(['--once', '--json']);
    assert.equal(r.code, 0, r.err);
    figures = JSON.parse(r.out) as ClusterFigures;
    return figures.nodes[0]!.rates.commands > 0;
  }, 'a command rate above zero');
  const n = figures!.nodes[0]!;
  assert.equal(figures!.nodes.length, 1);
  assert.equal(n.node, node.id);
  assert.deepEqual(figures!.cluster.map((c) => c.id), [node.id]);
  assert.equal(n.connections, 2);
  assert.ok(n.series.commands.length >= 1);
  const rooms = Object.fromEntries(n.rooms.map((r) => [r.room, r.members.length]));
  assert.deepEqual(rooms, { lobby: 2, side: 1 });
  const byRooms = n.connectionList.map((c) => [c.path, [...c.rooms].sort().join(',')]).sort();
  assert.deepEqual(byRooms, [['/chat', 'lobby,side'], ['/chat', 'lobby']].sort());
  for (const c of n.connectionList) {
    assert.equal(c.route, '/chat');
    assert.ok(c.id.startsWith(`${node.id}.`));
    assert.ok(c.bytesIn > 0 && c.bytesOut > 0, 'bytes counted both ways');
  }
  assert.deepEqual(n.services.map((s) => [s.name, s.state, s.connections]), [['/chat', 'running', 2]]);

  const table = await top(['--once']);
  assert.equal(table.code, 0, table.err);
  assert.match(table.out, /^switchboard top: 1 node\(s\), 2 connection\(s\)/);
  assert.match(table.out, new RegExp(`^${node.id} +\\d+ +\\S+ +2 `, 'm'));
  assert.match(table.out, /^lobby +\/chat +2 +1$/m);
  assert.match(table.out, /^\/chat +\S+ +endpoint +inline +running +0 +2$/m);
  assert.match(table.out, /^CONNECTION +PATH +USER +ROOMS +IN +OUT +AGE$/m);
});

test('top: argument mistakes exit 2 with one line', async () => {
  const r = await top(['--json']);
  assert.equal(r.code, 2);
  assert.match(r.err, /--json needs --once/);
  const bad = await top(['--interval-ms', '5']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--interval-ms 5: expected a whole number of milliseconds, 100 or more/);
});
