// Every runtime CLI command against a real server process (the runtime around a fake app).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { commands, type CliIO } from '../../src/cli/commands/index.js';
import { ServerProcess } from './server-process.js';

const SERVER = fileURLToPath(new URL('./fixtures/runtime-server.js', import.meta.url));
const TICKER = fileURLToPath(new URL('./fixtures/ticker-service.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'sb-cli-'));
const servers: ServerProcess[] = [];
after(async () => {
  for (const s of servers) await s.kill();
  rmSync(root, { recursive: true, force: true });
});

async function cli(args: string[], cwd = root): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = { stdout: (t) => void (out += t), stderr: (t) => void (err += t), cwd, env: {} };
  const cmd = commands.find((c) => c.name === args[0]);
  assert.ok(cmd, `command ${args[0]}`);
  const code = await cmd.run(args.slice(1), io);
  return { code, out, err };
}

function start(runDir: string, extra: string[] = [], env: Record<string, string> = {}): ServerProcess {
  const s = new ServerProcess(SERVER, ['--run-dir', runDir, ...extra], { SWITCHBOARD_LOG_LEVEL: 'debug', ...env }, root);
  servers.push(s);
  return s;
}

const started = (s: ServerProcess) => s.waitForLog((l) => l.msg === 'switchboard started');

test('status, reload, restart, metrics and stop against a running server', async () => {
  const runDir = join(root, 'run1');
  const configFile = join(root, 'sb1.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      metrics: { enabled: true, port: 0, token: 'sekret' },
      background: { ticker: { module: TICKER, isolation: 'process', options: { intervalMs: 20 } } },
    }),
  );
  const server = start(runDir, ['--config', configFile]);
  const ready = await started(server);
  assert.equal(JSON.parse(readFileSync(join(runDir, 'switchboard.pid'), 'utf8')).pid, server.pid);

  const status = await cli(['status', '--run-dir', runDir]);
  assert.equal(status.code, 0, status.err);
  assert.match(status.out, new RegExp(`^pid ${server.pid}, up `));
  assert.match(status.out, /^\/fake\s+endpoint\s+inline\s+running\s+0\s+2\s+5\s+7/m);
  assert.match(status.out, /^ticker\s+background\s+process\s+running\s+0/m);
  const json = JSON.parse((await cli(['status', '--run-dir', runDir, '--json'])).out);
  assert.equal(json.pid, server.pid);
  assert.equal(json.connections, 2);
  assert.deepEqual(json.services.map((s: { name: string }) => s.name), ['/fake', 'ticker']);
  assert.ok(json.memory.rss > 0);

  const reload = await cli(['reload', '--run-dir', runDir]);
  assert.deepEqual([reload.code, reload.out], [0, 'unchanged: /fake\n']);
  server.child.kill('SIGHUP');
  const hup = await server.waitForLog((l) => l.msg === 'SIGHUP: services re-scanned');
  assert.deepEqual(hup.unchanged, ['/fake']);

  assert.deepEqual(await cli(['restart', '/fake', '--run-dir', runDir]), { code: 0, out: 'restarted /fake\n', err: '' });
  assert.equal((await cli(['restart', 'ticker', '--run-dir', runDir])).code, 0);
  const after1 = JSON.parse((await cli(['status', '--run-dir', runDir, '--json'])).out);
  assert.deepEqual(after1.services.map((s: { restarts: number }) => s.restarts), [1, 1]);
  const missing = await cli(['restart', 'nope', '--run-dir', runDir]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /no service "nope"/);
  assert.equal((await cli(['restart', '--run-dir', runDir])).code, 2);

  // metrics on the admin port, behind a bearer token
  const url = ready.metrics as string;
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  assert.equal((await fetch(url)).status, 401);
  const res = await fetch(url, { headers: { authorization: 'Bearer sekret' } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  assert.match(text, /^# TYPE switchboard_messages_received_total counter$/m);
  assert.match(text, /^switchboard_messages_received_total\{service="\/fake"\} 5$/m);
  assert.match(text, /^switchboard_handshake_rejections_total\{status="404",reason="no service at this path"\} 1$/m);
  assert.match(text, /^switchboard_command_duration_seconds_bucket\{le="0.005",service="\/fake",command="echo",outcome="ok"\} 1$/m);
  assert.match(text, /^switchboard_service_up\{service="ticker",state="running"\} 1$/m);
  assert.match(text, /^process_resident_memory_bytes \d+$/m);
  assert.equal((await fetch(url.replace('/metrics', '/other'))).status, 404);

  // a second server on the same run directory is refused
  const second = start(runDir);
  const r2 = await second.exited();
  assert.equal(r2.code, 1);
  assert.match(second.stderr, new RegExp(`another server \\(pid ${server.pid}\\) holds`));

  const stop = await cli(['stop', '--run-dir', runDir]);
  assert.deepEqual(stop, { code: 0, out: `stopped (pid ${server.pid})\n`, err: '' });
  assert.deepEqual(await server.exited(), { code: 0, signal: null });
  const events = server.lines.find((l) => l.msg === 'fake app events');
  assert.deepEqual(events?.events, ['stop-accepting', 'close-1001']);
  assert.ok((events?.roomSends as number) > 0, 'the background service sent to rooms through the bridge');
  assert.equal(existsSync(join(runDir, 'switchboard.pid')), false, 'lock removed');
  assert.equal(existsSync(join(runDir, 'control.sock')), false, 'socket removed');

  const none = await cli(['status', '--run-dir', runDir]);
  assert.equal(none.code, 3);
  assert.match(none.err, /no server is running with run directory/);
});

test('SIGTERM: graceful, in-flight work aborted after the grace period, exit 0', async () => {
  const runDir = join(root, 'run2');
  const server = start(runDir, ['--shutdown-grace-ms', '200'], { FAKE_INFLIGHT: '1' });
  await started(server);
  server.child.kill('SIGTERM');
  assert.deepEqual(await server.exited(), { code: 0, signal: null });
  const events = server.lines.find((l) => l.msg === 'fake app events');
  assert.deepEqual(events?.events, ['stop-accepting', 'inflight-aborted', 'close-1001']);
  assert.ok(server.lines.some((l) => /SIGTERM received/.test(l.msg)));
  assert.equal(existsSync(join(runDir, 'switchboard.pid')), false);
});

test('a second signal exits at once', async () => {
  const runDir = join(root, 'run3');
  const server = start(runDir, ['--shutdown-grace-ms', '600000'], { FAKE_INFLIGHT: '1' });
  await started(server);
  server.child.kill('SIGINT');
  await server.waitForLog((l) => /no longer accepting/.test(l.msg));
  server.child.kill('SIGINT');
  assert.deepEqual(await server.exited(), { code: 130, signal: null });
});

test('a stale lock from a dead process is taken over, with a log line', async () => {
  const runDir = join(root, 'run4');
  const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString());
  const { mkdirSync } = await import('node:fs');
  mkdirSync(runDir, { recursive: true });
  writeFileSync(join(runDir, 'switchboard.pid'), JSON.stringify({ pid: dead, startedAt: '2020-01-01T00:00:00.000Z' }));
  writeFileSync(join(runDir, 'control.sock'), 'left over');
  const server = start(runDir);
  await started(server);
  const line = server.lines.find((l) => /took over a stale lock/.test(l.msg));
  assert.equal(line?.stalePid, dead);
  assert.equal(line?.level, 'warn');
  assert.equal((await cli(['status', '--run-dir', runDir])).code, 0);
  assert.equal((await cli(['stop', '--run-dir', runDir])).code, 0);
  assert.equal((await server.exited()).code, 0);
});

test('new scaffolds a service and its test, refuses to overwrite and bad paths', async () => {
  const dir = join(root, 'proj');
  const made = await cli(['new', 'rooms/lobby'], dir);
  assert.equal(made.code, 0, made.err);
  const service = readFileSync(join(dir, 'services/rooms/lobby.ts'), 'utf8');
  assert.match(service, /export default defineService\(/);
  const testText = readFileSync(join(dir, 'test/services/rooms/lobby.test.ts'), 'utf8');
  assert.match(testText, /new URL\('\.\.\/\.\.\/\.\.\/services\/', import\.meta\.url\)/);
  const again = await cli(['new', 'rooms/lobby'], dir);
  assert.equal(again.code, 1);
  assert.match(again.err, /already exist/);
  assert.equal((await cli(['new', 'rooms/lobby', '--force'], dir)).code, 0);
  assert.equal((await cli(['new', '../escape'], dir)).code, 2);
  assert.equal((await cli(['new'], dir)).code, 2);
  assert.equal((await cli(['new', 'ticks', '--background', '--js'], dir)).code, 0);
  assert.match(readFileSync(join(dir, 'services/ticks.js'), 'utf8'), /export async function start\(ctx, signal\)/);
  assert.ok(existsSync(join(dir, 'test/services/ticks.test.js')));
});
