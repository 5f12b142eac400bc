// `switchboard top` on one of two `switchboard serve` nodes over a real redis-server (free
// port, own data directory, stopped by PID): it shows the other node too, with its
// connections, from the figures that node publishes through the broker.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createClient, type CommandClient } from '../../src/client/index.js';
import { connect } from '../../src/transport/index.js';
import { commands, type CliIO } from '../../src/cli/commands/index.js';
import type { ClusterFigures } from '../../src/runtime/live-figures.js';
import { BrokerProcess, startNode, type Node } from '../cluster/harness.js';
import { until } from '../helpers/wait.js';

const SERVICE = pathToFileURL(fileURLToPath(new URL('../../src/app/service.js', import.meta.url))).href;
const root = mkdtempSync(join(tmpdir(), 'sb-top-brokers-'));
const services = join(root, 'services');
mkdirSync(services);
writeFileSync(join(services, 'chat.ts'), `import { defineService } from '${SERVICE}';
export default defineService({ rooms: true });
`);

const nodes: Node[] = [];
const clients: CommandClient[] = [];
let broker: BrokerProcess | undefined;
after(async () => {
  for (const c of clients) c.close();
  await Promise.all(nodes.map((n) => n.process.kill()));
  await broker?.teardown();
  rmSync(root, { recursive: true, force: true });
});

async function topOnce(node: Node): Promise<ClusterFigures> {
  let out = '';
  let err = '';
  const io: CliIO = { stdout: (t) => void (out += t), stderr: (t) => void (err += t), cwd: root, env: {} };
  const code = await commands.find((c) => c.name === 'top')!.run(['--once', '--json', '--run-dir', node.runDir], io);
  assert.equal(code, 0, err);
  return JSON.parse(out) as ClusterFigures;
}

test('redis: top on one node lists both nodes, the other with its connections and rooms', async () => {
  broker = await BrokerProcess.redis();
  const [a, b] = await Promise.all([startNode(services, ['--broker', broker.url]), startNode(services, ['--broker', broker.url])]);
  nodes.push(a, b);
  const guest = createClient(`${b.url}/chat`, { connect });
  clients.push(guest);
  await guest.join('lobby', () => undefined);
  let figures: ClusterFigures | undefined;
  await until(async () => {
    figures = await topOnce(a);
    const other = figures.nodes.find((n) => n.node === b.id);
    // figures are a snapshot a second old at most: wait for one taken after the join
    return other !== undefined && other.connections === 1 && other.rooms.length === 1;
  }, "node b's figures, with its guest in its room, in top on node a");
  assert.deepEqual(figures!.nodes.map((n) => n.node).sort(), [a.id, b.id].sort());
  assert.deepEqual(figures!.cluster.map((n) => n.id).sort(), [a.id, b.id].sort());
  const other = figures!.nodes.find((n) => n.node === b.id)!;
  assert.deepEqual(other.rooms.map((r) => [r.route, r.room, r.members.length]), [['/chat', 'lobby', 1]]);
  assert.equal(figures!.nodes.find((n) => n.node === a.id)!.connections, 0);
});
