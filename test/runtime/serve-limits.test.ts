// `switchboard serve` with limits from flags, environment and a config file, a worker-isolated
// service under a command limit, and its logs at trace level searched for the secrets a
// session sent (headers, cookies, query tokens, Basic passwords, command data).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect as connectWs, HandshakeError, type ClientOptions } from '../../src/transport/index.js';
import { ServerProcess } from './server-process.js';
import { until } from '../helpers/wait.js';

const BIN = fileURLToPath(new URL('../../../bin/switchboard.js', import.meta.url));
const SERVICES = fileURLToPath(new URL('./fixtures/limit-services', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'sb-limits-'));
const servers: ServerProcess[] = [];
after(async () => {
  for (const s of servers) await s.kill();
  rmSync(root, { recursive: true, force: true });
});

async function serve(name: string, args: string[], env: Record<string, string> = {}): Promise<{ server: ServerProcess; url: string }> {
  const cwd = join(root, name);
  const server = new ServerProcess(BIN, ['serve', SERVICES, '--port', '0', '--run-dir', join(cwd, 'run'), '--handshake-timeout-ms', '20000', ...args], env, root);
  servers.push(server);
  const started = await server.waitForLog((l) => l.msg === 'switchboard started');
  return { server, url: (started.listening as string[])[0]! };
}

function connect(url: string, options: ClientOptions = {}): ReturnType<typeof connectWs> {
  return connectWs(url, { handshakeTimeoutMs: 20_000, ...options });
}

function replies(ws: Awaited<ReturnType<typeof connect>>): Array<Record<string, unknown>> {
  const got: Array<Record<string, unknown>> = [];
  ws.on('message', (d) => got.push(JSON.parse(d.toString('utf8')) as Record<string, unknown>));
  return got;
}

test('serve flags, environment and config file set the limits; a worker-isolated service is held to commandsInFlight', async () => {
  const config = join(root, 'limits.config.json');
  writeFileSync(config, JSON.stringify({ limits: { commandsInFlight: 1 } }));
  const { server, url } = await serve('limits', ['--config', config, '--connections-per-ip', '2', '--handshakes-per-second', '0', '--log-level', 'info'], { SWITCHBOARD_MAX_MESSAGE_BYTES: '64' });

  // environment: the message size limit
  const echo = await connect(`${url}/echo`);
  const closed = new Promise<number>((resolve) => echo.once('close', (code) => resolve(code)));
  echo.send('z'.repeat(65));
  assert.equal(await closed, 1009);

  // config file: one command in flight, in a worker thread
  const a = await connect(`${url}/queue`);
  const got = replies(a);
  a.send(JSON.stringify({ id: 1, cmd: 'hold' }));
  a.send(JSON.stringify({ id: 2, cmd: 'hold' }));
  await until(() => got.length === 1, 'the refusal');
  assert.deepEqual(got[0], { id: 2, ok: false, error: { code: 'too_many_commands', message: 'more than 1 commands in flight on this connection' } });

  // flag: two connections from this address (a is one; the echo connection has closed)
  await until(async () => {
    const b = await connect(`${url}/queue`).catch(() => null);
    if (b === null) return false;
    const freed = replies(b);
    b.send(JSON.stringify({ id: 1, cmd: 'free' }));
    await until(() => freed.length === 1, 'free');
    const third = await connect(`${url}/queue`).then(
      (ws) => (ws.terminate(), null),
      (e: unknown) => e,
    );
    assert.ok(third instanceof HandshakeError && third.status === 429, String(third));
    b.close();
    return true;
  }, 'a second connection, then a refused third');
  await until(() => got.length === 2, 'the held command');
  assert.deepEqual(got[1], { id: 1, ok: true, data: 'held' });
  const line = await server.waitForLog((l) => l.msg === 'limit exceeded: commands_in_flight (refused)');
  assert.equal(line.service, '/queue');
  await server.waitForLog((l) => l.msg === 'limit exceeded: connections_per_ip (refused)');
  a.close();
});

test('secrets a session sends never reach the logs, even at trace level', async () => {
  const secrets = {
    bearer: 'bearer-Zq81',
    cookie: 'cookie-Xw27',
    query: 'query-Lm55',
    basic: 'basic-Pp09',
    data: 'password-Kd44',
    admin: 'admin-Tt63',
    metrics: 'metrics-Rr12',
  };
  const { server, url } = await serve('secrets', ['--log-level', 'trace', '--admin-token', secrets.admin, '--metrics', '--metrics-token', secrets.metrics]);
  const headers = { authorization: `Bearer ${secrets.bearer}`, cookie: `session=${secrets.cookie}; theme=dark` };
  const echo = await connect(`${url}/echo?access_token=${secrets.query}`, { headers });
  echo.close();
  const basic = await connect(`${url}/queue`, { headers: { authorization: `Basic ${Buffer.from(`ann:${secrets.basic}`).toString('base64')}` } });
  const got = replies(basic);
  basic.send(JSON.stringify({ id: 1, cmd: 'login', data: { user: 'ann', password: secrets.data } }));
  basic.send(JSON.stringify({ id: 2, cmd: 'nope', data: { token: secrets.data } }));
  await until(() => got.length === 2, 'the replies');
  basic.close();
  const opened = await server.waitForLog((l) => l.msg === 'opened with');
  const login = await server.waitForLog((l) => l.msg === 'login attempt');
  await server.waitForLog((l) => l.msg === 'command failed');
  await server.waitForLog((l) => l.msg === 'connection closed' && l.service === '/queue');
  // the lines are there, with the secrets taken out
  assert.equal((opened.request as { headers: Record<string, string> }).headers.authorization, '[redacted]');
  assert.equal((opened.request as { url: string }).url, '/echo?[redacted]');
  assert.equal((login.data as { password: string }).password, '[redacted]');
  for (const [what, secret] of Object.entries(secrets)) {
    assert.ok(!server.stdoutText.includes(secret), `the ${what} secret is in the log`);
    assert.ok(!server.stderr.includes(secret), `the ${what} secret is on stderr`);
  }
});
