// `switchboard serve --workers 2` on one machine, no external broker: the workers share the
// port and reach the primary's hub over IPC. Room messages and presence cross workers; a
// worker killed mid-stream is a node death: its clients resume on a live worker with every
// message, the primary forks a new worker, and the cluster stops cleanly.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createClient, type CommandClient } from '../../src/client/index.js';
import { connect } from '../../src/transport/index.js';
import { commands, type CliIO } from '../../src/cli/commands/index.js';
import type { ServerStatus } from '../../src/runtime/control-protocol.js';
import type { ClusterFigures } from '../../src/runtime/live-figures.js';
import { startNode, type Node } from './harness.js';
import { until } from '../helpers/wait.js';

const SERVICE = pathToFileURL(fileURLToPath(new URL('../../src/app/service.js', import.meta.url))).href;
const root = mkdtempSync(join(tmpdir(), 'sb-workers-'));
const services = join(root, 'services');
mkdirSync(services);
writeFileSync(
  join(services, 'room.ts'),
  `import { defineService } from '${SERVICE}';
export default defineService({
  rooms: { clientPublish: true },
  commands: {
    where: { handler: (_d, { connection }) => ({ pid: process.pid, node: connection.id.split('.')[0] }) },
    say: { handler: (d: any, { service }) => service.publish(d.room, d.n) },
  },
});
`,
);

const clients: CommandClient[] = [];
let node: Node;
after(async () => {
  for (const c of clients) c.close();
  await node?.process.kill();
  rmSync(root, { recursive: true, force: true });
});

async function status(): Promise<ServerStatus> {
  let out = '';
  const io: CliIO = { stdout: (t) => void (out += t), stderr: () => undefined, cwd: root, env: {} };
  assert.equal(await commands.find((c) => c.name === 'status')!.run(['--run-dir', node.runDir, '--json'], io), 0);
  return JSON.parse(out) as ServerStatus;
}

function client(): CommandClient {
  const c = createClient(`${node.url}/room`, { connect, reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
  clients.push(c);
  return c;
}

/** Clients until two of them sit on different workers. */
async function onTwoWorkers(): Promise<[{ c: CommandClient; pid: number }, { c: CommandClient; pid: number }]> {
  const seen = new Map<number, CommandClient>();
  for (let i = 0; i < 40 && seen.size < 2; i++) {
    const c = client();
    const where = (await c.call('where')) as { pid: number };
    if (!seen.has(where.pid)) seen.set(where.pid, c);
  }
  assert.equal(seen.size, 2, 'connections reached both workers');
  const [[pa, a], [pb, b]] = [...seen.entries()];
  return [{ c: a!, pid: pa! }, { c: b!, pid: pb! }];
}

test('two workers: one port, room messages and presence cross them; status lists both nodes', async () => {
  // the history covers every message the producer sends while the consumer reconnects
  node = await startNode(services, ['--workers', '2', '--history-size', '1000', '--metrics']);
  const [a, b] = await onTwoWorkers();
  const got: unknown[] = [];
  await b.c.join('lobby', (data) => got.push(data));
  await a.c.join('lobby', () => undefined);
  await a.c.call('say', { room: 'lobby', n: 'across' });
  await until(() => got.length === 1, 'the message on the other worker');
  assert.deepEqual(got, ['across']);
  const members = (await a.c.call('room.presence', { room: 'lobby' })) as Array<{ id: string }>;
  assert.equal(members.length, 2);
  const st = await status();
  assert.equal(st.broker.kind, 'ipc');
  assert.equal(st.nodes.length, 2);
  assert.ok(st.connections >= 2);
});

test('one scrape merges every worker: connections and messages are the sums, process metrics included', async () => {
  const open = clients.length;
  const text = await (await fetch(`${node.url.replace('ws:', 'http:')}/metrics`)).text();
  // each worker holds only some of the connections: the sum is only right if both were asked
  assert.match(text, new RegExp(`^switchboard_connections\\{service="/room"\\} ${open}$`, 'm'));
  const received = Number(/^switchboard_messages_received_total\{service="\/room"\} (\d+)$/m.exec(text)?.[1]);
  assert.ok(received >= open + 3, `every worker's messages counted (${received})`);
  assert.match(text, /^switchboard_broker_state\{kind="ipc",state="up"\} 1$/m);
  assert.match(text, /^nodejs_eventloop_lag_seconds \d/m);
  assert.match(text, /^process_resident_memory_bytes \d+$/m);
});

test('top --once lists both workers as nodes, with their connections', async () => {
  let out = '';
  const io: CliIO = { stdout: (t) => void (out += t), stderr: () => undefined, cwd: root, env: {} };
  assert.equal(await commands.find((c) => c.name === 'top')!.run(['--run-dir', node.runDir, '--once', '--json'], io), 0);
  const f = JSON.parse(out) as ClusterFigures;
  assert.equal(f.nodes.length, 2);
  assert.deepEqual(f.nodes.map((n) => n.node).sort(), f.cluster.map((c) => c.id).sort());
  assert.equal(f.nodes.reduce((s, n) => s + n.connections, 0), clients.length);
  for (const n of f.nodes) assert.ok(n.connections > 0, `worker ${n.node} holds connections`);
});

test('a worker killed mid-stream: its clients resume on a live worker with every message; the primary forks a new one', async () => {
  const [consumer, producer] = await onTwoWorkers();
  const seen: number[] = [];
  const resets: unknown[] = [];
  consumer.c.on('room.reset', (_d, push) => resets.push(push));
  await consumer.c.join('stream', (data) => seen.push(data as number));
  const total = 400;
  let killed = false;
  for (let n = 1; n <= total; n++) {
    // paced by acks: each message is appended before the next is sent
    await producer.c.call('say', { room: 'stream', n });
    if (n === 150) {
      process.kill(consumer.pid, 'SIGKILL');
      killed = true;
    }
  }
  assert.ok(killed);
  await until(() => seen.length >= total, `all ${total} messages after the resume`).catch((err: unknown) => {
    const missing = Array.from({ length: total }, (_, i) => i + 1).filter((n) => !seen.includes(n));
    throw new Error(`${String(err)}; have ${seen.length}, missing ${missing.length}: ${missing.slice(0, 10).join(',')}...${missing.slice(-3).join(',')}; resets ${JSON.stringify(resets)}`);
  });
  assert.deepEqual(resets, [], 'resumed from history, never reset');
  assert.deepEqual([...new Set(seen)].sort((x, y) => x - y), Array.from({ length: total }, (_, i) => i + 1), 'every message, none lost');
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! > seen[i - 1]!, 'in order, no duplicate delivered to the handler');
  await until(async () => (await status()).nodes.length === 2, 'the primary to fork a replacement worker');
});

test('stop: the primary stops every worker and exits 0', async () => {
  let out = '';
  const io: CliIO = { stdout: (t) => void (out += t), stderr: () => undefined, cwd: root, env: {} };
  assert.equal(await commands.find((c) => c.name === 'stop')!.run(['--run-dir', node.runDir], io), 0);
  assert.deepEqual(await node.process.exited(), { code: 0, signal: null });
});
