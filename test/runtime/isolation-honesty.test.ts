// A service's code runs only where its isolation says: the server reads the declaration
// from the source and never imports a worker- or process-isolated file (nor a background
// service) itself. Each file below records, at the top level, the process and thread that
// ran it; the server's own pid/thread 0 must never appear.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ServerProcess } from './server-process.js';
import { TestClient } from './ws-client.js';
import { until } from '../helpers/wait.js';

const BIN = fileURLToPath(new URL('../../../bin/switchboard.js', import.meta.url));
const SERVICE = pathToFileURL(fileURLToPath(new URL('../../src/app/service.js', import.meta.url))).href;
const root = mkdtempSync(join(tmpdir(), 'sb-honest-'));
const services = join(root, 'services');
const ran = join(root, 'ran.log');
mkdirSync(services);
const record = (name: string) =>
  `import { appendFileSync } from 'node:fs';\nimport { threadId } from 'node:worker_threads';\nappendFileSync(${JSON.stringify(ran)}, ${JSON.stringify(name)} + ' ' + process.pid + ' ' + threadId + '\\n');\n`;
writeFileSync(join(services, 'proc.ts'), `${record('proc')}import { defineService } from '${SERVICE}';\nexport const isolation = 'process';\nexport default defineService({ commands: { where: { handler: () => [process.pid, 0] } } });\n`);
writeFileSync(join(services, 'thread.ts'), `${record('thread')}import { defineService } from '${SERVICE}';\nimport { threadId } from 'node:worker_threads';\nexport default defineService({ isolation: 'worker', commands: { where: { handler: () => [process.pid, threadId] } } });\n`);
writeFileSync(join(services, 'ticker.ts'), `${record('ticker')}export const isolation = 'process';\nexport function start(ctx: unknown, signal: AbortSignal) { return new Promise((r) => signal.addEventListener('abort', r)); }\n`);
const server = new ServerProcess(BIN, ['serve', services, '--port', '0', '--run-dir', join(root, 'run')]);
after(async () => {
  await server.kill();
  rmSync(root, { recursive: true, force: true });
});

const runs = (): Array<{ name: string; pid: number; thread: number }> =>
  readFileSync(ran, 'utf8').trim().split('\n').filter(Boolean).map((l) => {
    const [name, pid, thread] = l.split(' ');
    return { name: name!, pid: Number(pid), thread: Number(thread) };
  });

test('worker, process and background files run only in their own thread or process', async () => {
  const started = await server.waitForLog((l) => l.msg === 'switchboard started');
  const url = (started.listening as string[])[0]!;
  const proc = await TestClient.open(`${url}/proc`);
  const thread = await TestClient.open(`${url}/thread`);
  const [procPid] = (await proc.call('where')) as [number, number];
  const [threadPid, threadId] = (await thread.call('where')) as [number, number];
  assert.notEqual(procPid, server.pid);
  assert.equal(threadPid, server.pid);
  assert.ok(threadId > 0);
  await until(() => runs().some((r) => r.name === 'ticker'), 'the background service to run');
  for (const r of runs()) {
    assert.ok(!(r.pid === server.pid && r.thread === 0), `${r.name}'s top-level code ran in the server's main thread`);
    if (r.name === 'proc') assert.equal(r.pid, procPid);
    if (r.name === 'thread') assert.deepEqual([r.pid, r.thread], [server.pid, threadId]);
    if (r.name === 'ticker') assert.notEqual(r.pid, server.pid);
  }
  assert.deepEqual(runs().map((r) => r.name).sort(), ['proc', 'thread', 'ticker']);
  proc.close();
  thread.close();
});
