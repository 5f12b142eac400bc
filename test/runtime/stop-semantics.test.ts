// What stopping does to in-flight commands, for each isolation: the server drains (a command
// that finishes within `shutdown.graceMs` gets its normal reply), then cancels what is left
// (its AbortSignal fires, the reply is `cancelled`), then closes every connection with 1001.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startNode, type Node } from '../cluster/harness.js';
import { TestClient } from './ws-client.js';
import { commands, type CliIO } from '../../src/cli/commands/index.js';
import type { ServerStatus } from '../../src/runtime/control-protocol.js';
import { until } from '../helpers/wait.js';

const SERVICE = pathToFileURL(fileURLToPath(new URL('../../src/app/service.js', import.meta.url))).href;
const root = mkdtempSync(join(tmpdir(), 'sb-stop-'));
const services = join(root, 'services');
mkdirSync(services);
const ISOLATIONS = ['inline', 'worker', 'process'] as const;
for (const isolation of ISOLATIONS) {
  // `finish` waits for `release`: it is in flight when the stop begins and ends within the grace period
  writeFileSync(
    join(services, `${isolation}.ts`),
    `import { defineService } from '${SERVICE}';
let release: () => void = () => {};
const released = new Promise<void>((r) => (release = r));
export default defineService({
  isolation: '${isolation}',
  commands: {
    finish: { timeoutMs: 600_000, handler: async () => { await released; return 'finished'; } },
    stuck: { timeoutMs: 600_000, handler: (_d, call) => new Promise((_r, reject) => call.signal.addEventListener('abort', () => reject(call.signal.reason))) },
    release: { handler: () => { release(); return 'released'; } },
  },
});
`,
  );
}

let node: Node;

async function status(): Promise<ServerStatus> {
  let out = '';
  const io: CliIO = { stdout: (t) => void (out += t), stderr: () => undefined, cwd: root, env: {} };
  assert.equal(await commands.find((c) => c.name === 'status')!.run(['--run-dir', node.runDir, '--json'], io), 0);
  return JSON.parse(out) as ServerStatus;
}
const clients: TestClient[] = [];
after(async () => {
  for (const c of clients) c.close();
  await node?.process.kill();
  rmSync(root, { recursive: true, force: true });
});

test('stop drains in-flight commands, cancels the rest at the deadline, then closes with 1001 (inline, worker, process)', async () => {
  node = await startNode(services, ['--shutdown-grace-ms', '8000']);
  const open = async (isolation: string): Promise<TestClient> => {
    const c = await TestClient.open(`${node.url}/${isolation}`);
    clients.push(c);
    return c;
  };
  const calls = [];
  for (const isolation of ISOLATIONS) {
    const finisher = await open(isolation);
    const stuck = await open(isolation);
    const releaser = await open(isolation);
    calls.push({ isolation, finisher, stuck, releaser, finishId: finisher.send('finish'), stuckId: stuck.send('stuck') });
  }
  // the commands are in flight once the app handed them to their services
  await until(async () => (await status()).services.every((s) => s.messagesIn >= 2), 'both commands of each service in flight');

  process.kill(node.process.pid, 'SIGTERM');
  await node.process.waitForLog((l) => l.msg === 'shutting down: no longer accepting connections');
  // during the drain, connections still work: release each `finish`
  for (const c of calls) assert.equal(await c.releaser.call('release'), 'released');

  for (const c of calls) {
    const finished = await c.finisher.reply(c.finishId);
    assert.deepEqual({ ok: finished.ok, data: finished.data }, { ok: true, data: 'finished' }, `${c.isolation}: drained with its normal reply`);
    const stuck = await c.stuck.reply(c.stuckId);
    assert.equal(stuck.ok, false, `${c.isolation}: cancelled`);
    assert.equal(stuck.error?.code, 'cancelled', `${c.isolation}: its signal fired at the deadline`);
    for (const client of [c.finisher, c.stuck, c.releaser]) assert.equal((await client.whenClosed()).code, 1001);
  }
  assert.deepEqual(await node.process.exited(), { code: 0, signal: null });
});
