// `switchboard serve` (the real CLI, in a child process) must exit on SIGTERM whatever became
// of the reader of its stdout, where the logs go: gone (EPIPE), or alive but not reading.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { DEFINE, REPO, serviceDir } from '../app/helpers.js';
import { within } from '../helpers/wait.js';
import { until } from '../helpers/wait.js';
import { TestClient } from '../runtime/ws-client.js';

const SERVICES = serviceDir({
  'noisy.ts': `
    import { defineService } from '${DEFINE}';
    export default defineService({
      commands: {
        // many large log lines at once: more than a pipe holds
        flood: { handler: (n: number, { service }) => { for (let i = 0; i < n; i++) service.log.info({ pad: 'x'.repeat(4000), i }, 'filler'); return n; } },
        // in-flight until the server cancels it
        slow: {
          timeoutMs: 600_000,
          handler: (_d: unknown, { connection, signal }) => {
            connection.push('slow-started', null);
            return new Promise((_r, reject) => signal.addEventListener('abort', () => reject(new Error('cancelled'))));
          },
        },
      },
    });
  `,
});
const root = mkdtempSync(join(tmpdir(), 'sb-exit-'));
const children: ChildProcess[] = [];
const clients: TestClient[] = [];
after(() => {
  for (const c of clients) c.close();
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
  rmSync(SERVICES, { recursive: true, force: true });
});

interface Served {
  child: ChildProcess;
  port: number;
  runDir: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the CLI; resolves once its first log line ("switchboard started") has been read from stdout. */
function serve(name: string, extra: string[] = []): Promise<Served> {
  const runDir = join(root, name);
  const child = spawn(process.execPath, [join(REPO, 'bin/switchboard.js'), 'serve', SERVICES, '--port', '0', '--run-dir', runDir, ...extra], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (t: string) => void (stderr += t));
  return new Promise((resolve, reject) => {
    void exited.then((r) => reject(new Error(`serve exited early (${JSON.stringify(r)}): ${stderr}`)));
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const entry = JSON.parse(line) as { msg: string; listening?: string[] };
      if (entry.msg !== 'switchboard started') return;
      lines.close(); // stdout is now for the test to take away (or stop reading)
      resolve({ child, port: Number(new URL(entry.listening![0]!).port), runDir, exited });
    });
  });
}

async function client(port: number): Promise<TestClient> {
  const c = await TestClient.open(`ws://127.0.0.1:${port}/noisy`);
  clients.push(c);
  return c;
}

const refusesConnections = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = netConnect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(false)));
    s.once('error', () => resolve(true));
  });

test('the reader of stdout is gone (EPIPE): SIGTERM still stops the server, exit code 0', async () => {
  const s = await serve('epipe');
  s.child.stdout!.destroy(); // like `| head -1` exiting: every later log write fails with EPIPE
  s.child.kill('SIGTERM');
  assert.deepEqual(await within(s.exited, 'exit after SIGTERM'), { code: 0, signal: null });
  assert.equal(existsSync(join(s.runDir, 'switchboard.pid')), false, 'a clean stop: the lock is removed');
});

test('a reader that stopped reading (a full pipe): SIGTERM still stops the server, exit code 0', async () => {
  const s = await serve('stalled');
  s.child.stdout!.pause();
  const c = await client(s.port);
  assert.equal(await c.call('flood', 500), 500); // about 2 MB of log lines, queued behind the full pipe
  s.child.kill('SIGTERM');
  assert.deepEqual(await within(s.exited, 'exit after SIGTERM'), { code: 0, signal: null });
});

test('a second SIGTERM during the shutdown exits at once (143), with the reader of stdout gone', async () => {
  const s = await serve('second', ['--shutdown-grace-ms', '600000']);
  const c = await client(s.port);
  c.send('slow'); // keeps the shutdown in its drain phase for the whole grace period
  await c.waitFor(() => c.received.find((m) => (m as { event?: string }).event === 'slow-started'), 'the slow command to start');
  s.child.stdout!.destroy();
  s.child.kill('SIGTERM');
  await until(() => refusesConnections(s.port), 'the server to stop accepting');
  assert.equal(s.child.exitCode, null, 'still draining');
  s.child.kill('SIGTERM');
  assert.deepEqual(await within(s.exited, 'exit after the second SIGTERM'), { code: 143, signal: null });
});
