// What the runtime drives: service summaries, rescan, restart, stop accepting (503), drain.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { until } from '../helpers/wait.js';
import { unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppServer } from '../../src/server/app-server.js';
import { connect, HandshakeError } from '../../src/transport/client.js';
import { DEFINE, serviceDir } from './helpers.js';

const svc = (text: string) => `import { defineService } from '${DEFINE}'; export default defineService({ open(c) { c.send('${text}'); }, message(c, d) { c.send(d); },
  commands: undefined });`;
const dir = serviceDir({
  'a.ts': svc('a1'),
  'b.ts': svc('b1'),
  'c.ts': svc('c1'),
  'slow.ts': `import { defineService } from '${DEFINE}'; export default defineService({ commands: { wait: { timeoutMs: 60000, handler: (_d, { signal }) => new Promise((r) => signal.addEventListener('abort', () => r('aborted'))) } } });`,
});
const server = new AppServer({ dir, port: 0 });
const { port } = await server.listen();
after(() => server.close());

async function first(path: string): Promise<string> {
  const ws = await connect(`ws://127.0.0.1:${port}${path}`);
  const text = await new Promise<string>((resolve) => ws.once('message', (d) => resolve(d.toString())));
  ws.close();
  return text;
}

test('services(), rescan() and restartService()', async () => {
  assert.equal(await first('/a'), 'a1');
  assert.equal(await first('/b'), 'b1');
  const ws = await connect(`ws://127.0.0.1:${port}/a`);
  const summary = (await server.services()).find((s) => s.route === '/a');
  assert.ok(summary);
  assert.equal(summary.state, 'running');
  assert.equal(summary.connections, 1);
  assert.ok(summary.messagesOut >= 2);
  ws.close();

  writeFileSync(join(dir, 'a.ts'), svc('a2'));
  const later = new Date(Date.now() + 5000);
  utimesSync(join(dir, 'a.ts'), later, later);
  unlinkSync(join(dir, 'b.ts'));
  const r = await server.rescan();
  assert.deepEqual(r.restarted, ['/a']);
  assert.deepEqual(r.removed, ['/b']);
  assert.deepEqual(r.added.sort(), ['/c', '/slow']);
  assert.equal(await first('/a'), 'a2');

  writeFileSync(join(dir, 'c.ts'), svc('c2'));
  assert.equal(await server.restartService('/c'), true);
  assert.equal(await first('/c'), 'c2');
  writeFileSync(join(dir, 'c.ts'), svc('c3'));
  assert.equal(await server.restartService('/c'), true);
  assert.equal(await first('/c'), 'c3');
  assert.equal((await server.services()).find((s) => s.route === '/c')?.reloads, 1);
  assert.equal(await server.restartService('/nope'), false);
});

test('drain waits for in-flight commands, cancels them at the deadline; stopAccepting answers 503', async () => {
  const ws = await connect(`ws://127.0.0.1:${port}/slow`);
  const reply = new Promise<any>((resolve) => ws.on('message', (d) => resolve(JSON.parse(d.toString()))));
  ws.send(JSON.stringify({ id: 1, cmd: 'wait' }));
  // the command is in flight once the service counted the message
  await until(async () => ((await server.services()).find((s) => s.route === '/slow')?.messagesIn ?? 0) >= 1, 'the command in flight');
  const deadline = new AbortController();
  const drained = server.drain(deadline.signal);
  await assert.rejects(connect(`ws://127.0.0.1:${port}/a`), (err: unknown) => err instanceof HandshakeError && err.status === 503);
  deadline.abort();
  await drained;
  assert.deepEqual((await reply).error.code, 'cancelled');
  assert.equal(server.connectionCount(), 1);
  await server.closeConnections(1001, 'bye');
  assert.equal(server.connectionCount(), 0);
});
