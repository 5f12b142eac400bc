// The runtime around the real app server, in a real server process: isolation kinds,
// crash/hang/restart with connected clients, restart budget, background services,
// graceful stop with clients, metrics.
import { test, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HandshakeError } from '../../src/transport/index.js';
import { ServerProcess } from './server-process.js';
import { runCli } from './run-cli.js';
import { TestClient } from './ws-client.js';
import { until } from '../helpers/wait.js';

const SERVE = fileURLToPath(new URL('./fixtures/serve-server.js', import.meta.url));
const SERVICES = fileURLToPath(new URL('./fixtures/services', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'sb-serve-'));
const servers: ServerProcess[] = [];
const clients: TestClient[] = [];
after(async () => {
  for (const c of clients) c.close();
  for (const s of servers) await s.kill();
  rmSync(root, { recursive: true, force: true });
});

const cli = (args: string[]) => runCli(root, args);

async function serve(name: string, extra: string[] = []): Promise<{ server: ServerProcess; url: string; runDir: string }> {
  const runDir = join(root, name);
  const server = new ServerProcess(SERVE, [
    '--port', '0', '--host', '127.0.0.1', '--services', SERVICES, '--run-dir', runDir,
    '--restart-delay-ms', '20', '--heartbeat-interval-ms', '100', '--heartbeat-timeout-ms', '1500',
    ...extra,
  ]);
  servers.push(server);
  const started = await server.waitForLog((l) => l.msg === 'switchboard started');
  return { server, url: (started.listening as string[])[0]!, runDir };
}

async function client(url: string): Promise<TestClient> {
  const c = await TestClient.openWhenAvailable(url);
  clients.push(c);
  return c;
}

async function serviceStatus(runDir: string, name: string): Promise<{ state: string; restarts: number; connections: number }> {
  const s = JSON.parse((await cli(['status', '--run-dir', runDir, '--json'])).out) as { services: Array<{ name: string; state: string; restarts: number; connections: number }> };
  const found = s.services.find((x) => x.name === name);
  assert.ok(found, `${name} in status`);
  return found;
}

describe('serve with isolated services', () => {
  let url = '';
  let runDir = '';
  let bystander: TestClient;

  test('start; an inline bystander stays connected through everything below', async () => {
    ({ url, runDir } = await serve('main', ['--metrics', '--max-restarts', '10']));
    bystander = await client(`${url}/inline-echo`);
    assert.deepEqual(await bystander.call('echo', { hi: 1 }), { hi: 1 });
    const who = (await bystander.call('whoami')) as { threadId: number };
    assert.equal(who.threadId, 0);
  });

  for (const kind of ['worker', 'process'] as const) {
    test(`${kind}: runs out of the server thread, echoes text and binary`, async () => {
      const c = await client(`${url}/${kind}-echo`);
      const who = (await c.call('whoami')) as { pid: number; threadId: number };
      const server = servers[0]!;
      if (kind === 'process') assert.notEqual(who.pid, server.pid);
      else assert.ok(who.pid === server.pid && who.threadId > 0);
      c.ws.send(new Uint8Array([1, 2, 3]));
      const bin = await c.waitFor(() => c.received.find((m) => m instanceof Uint8Array) as Uint8Array | undefined, 'binary echo');
      assert.deepEqual([...bin], [1, 2, 3]);
      c.close();
    });

    test(`${kind}: connections that come and go get their own replies only (text as UTF-8 both ways, binary, many in flight)`, async () => {
      const a = await client(`${url}/${kind}-echo`);
      const b = await client(`${url}/${kind}-echo`);
      for (let i = 0; i < 40; i++) a.send('echo', `a ${i}: still in flight when a closes`);
      a.close();
      await a.whenClosed();
      // opened after a closed: may take a's place on the service's channel
      const c = await client(`${url}/${kind}-echo`);
      const round = async (name: string, t: TestClient): Promise<void> => {
        const texts = Array.from({ length: 40 }, (_, i) => `${name} ${i}: héllo ✓ 𝄞`);
        const replies = await Promise.all(texts.map((x) => t.call('echo', x)));
        assert.deepEqual(replies, texts);
        t.ws.send(new TextEncoder().encode(name));
        const echoed = await t.waitFor(() => t.received.find((m) => m instanceof Uint8Array) as Uint8Array | undefined, `${name}'s binary echo`);
        assert.equal(new TextDecoder().decode(echoed), name);
      };
      await Promise.all([round('b', b), round('c', c)]);
      for (const [t, others] of [[b, ['a', 'c']], [c, ['a', 'b']]] as const) {
        for (const other of others) assert.ok(!JSON.stringify(t.received).includes(`"${other} `), `no reply of ${other} reached another client`);
        assert.equal(t.received.filter((m) => m instanceof Uint8Array).length, 1);
      }
      b.close();
      c.close();
    });

    for (const how of ['crash', 'hang'] as const) {
      test(`${kind}: a ${how} closes its clients with 1011, restarts, serves again; the server stays up`, async () => {
        const before = (await serviceStatus(runDir, `/${kind}-echo`)).restarts;
        const c = await client(`${url}/${kind}-echo`);
        const other = await client(`${url}/${kind}-echo`);
        await c.call(how);
        assert.deepEqual(await c.whenClosed(), { code: 1011, reason: 'service crashed' });
        assert.equal((await other.whenClosed()).code, 1011);
        const again = await client(`${url}/${kind}-echo`);
        assert.deepEqual(await again.call('echo', [how]), [how]);
        const st = await serviceStatus(runDir, `/${kind}-echo`);
        assert.equal(st.state, 'running');
        assert.ok(st.restarts > before);
        assert.deepEqual(await bystander.call('echo', 'still here'), 'still here');
        assert.equal(bystander.closed, undefined);
        again.close();
      });
    }
  }

  test('a service that declares connectionsSurviveRestart keeps its clients across a crash', async () => {
    const c = await client(`${url}/survivor`);
    const pid1 = (await c.call('whoami')) as { threadId: number };
    await c.call('crash');
    await until(async () => (await serviceStatus(runDir, '/survivor')).restarts >= 1 && (await serviceStatus(runDir, '/survivor')).state === 'running', 'survivor restarted');
    assert.equal(c.closed, undefined);
    const pid2 = (await c.call('whoami')) as { threadId: number };
    assert.notEqual(pid2.threadId, pid1.threadId, 'answered by the new worker');
    c.close();
  });

  test('background service from the services directory publishes to a room; status and restart', async () => {
    const c = await client(`${url}/inline-echo`);
    await c.call('room.join', { room: 'ticks' });
    await c.waitFor(() => c.received.find((m) => JSON.stringify(m).includes('"tick"')), 'a tick pushed by the background service');
    const st = await serviceStatus(runDir, 'ticker');
    assert.equal(st.state, 'running');
    assert.equal((await cli(['restart', 'ticker', '--run-dir', runDir])).code, 0);
    assert.equal((await serviceStatus(runDir, 'ticker')).restarts, 1);
    c.close();
  });

  test('restart <service> on an isolated endpoint closes its clients with 1012', async () => {
    const c = await client(`${url}/worker-echo`);
    const r = await cli(['restart', '/worker-echo', '--run-dir', runDir]);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(await c.whenClosed(), { code: 1012, reason: 'service restart' });
    const again = await client(`${url}/worker-echo`);
    assert.deepEqual(await again.call('echo', 1), 1);
    again.close();
  });

  test('metrics: connections, messages, restarts, rejections', async () => {
    await assert.rejects(TestClient.open(`${url}/no-such-service`), (e: unknown) => e instanceof HandshakeError && e.status === 404);
    const text = await (await fetch(`${url.replace('ws:', 'http:')}/metrics`)).text();
    assert.match(text, /^switchboard_connections\{service="\/inline-echo"\} [1-9]\d*$/m);
    assert.match(text, /^switchboard_messages_received_total\{service="\/worker-echo"\} [1-9]\d*$/m);
    assert.match(text, /^switchboard_service_restarts_total\{service="\/process-echo",reason="hang"\} 1$/m);
    assert.match(text, /^switchboard_service_restarts_total\{service="\/worker-echo",reason="uncaught-exception"\} 1$/m);
    assert.match(text, /^switchboard_connections_closed_total\{service="\/worker-echo",code="1011"\} [1-9]\d*$/m);
    assert.match(text, /^switchboard_handshake_rejections_total\{status="404",reason="[^"]*"\} 1$/m);
    assert.match(text, /^switchboard_service_up\{service="ticker",state="running"\} 1$/m);
    assert.match(text, /^switchboard_command_duration_seconds_count\{service="\/inline-echo",command="echo",outcome="ok"\} [1-9]\d*$/m);
    assert.match(text, /^switchboard_command_duration_seconds_bucket\{le="\+Inf",service="\/worker-echo",command="echo",outcome="ok"\} [1-9]\d*$/m);
    const c = await client(`${url}/inline-echo`);
    assert.equal((await c.reply(c.send('no.such.command'))).error?.code, 'unknown_command');
    const text2 = await (await fetch(`${url.replace('ws:', 'http:')}/metrics`)).text();
    assert.match(text2, /^switchboard_command_duration_seconds_count\{service="\/inline-echo",command="\(unknown\)",outcome="unknown_command"\} 1$/m);
    assert.doesNotMatch(text2, /no\.such\.command/);
    c.close();
  });

  test('graceful stop: in-flight commands get an error reply, every client gets 1001, exit 0', async () => {
    const slow = await client(`${url}/worker-echo`);
    const idle = await client(`${url}/process-echo`);
    const inline = await client(`${url}/inline-echo`);
    const slowInline = inline.send('slow');
    const slowWorker = slow.send('slow');
    await until(() => true, 'sent');
    const r = await cli(['stop', '--run-dir', runDir]);
    assert.equal(r.code, 0, r.err);
    for (const c of [slow, idle, inline, bystander]) assert.equal((await c.whenClosed()).code, 1001);
    for (const [c, id] of [[inline, slowInline], [slow, slowWorker]] as const) {
      const reply = await c.reply(id);
      assert.equal(reply.ok, false, 'in-flight command answered with an error, not lost');
    }
    assert.deepEqual(await servers[0]!.exited(), { code: 0, signal: null });
    assert.equal(existsSync(join(runDir, 'switchboard.pid')), false);
  });
});

test('restart budget: a service that keeps crashing is failed and answered 503 until restarted', async () => {
  const { url, runDir, server } = await serve('budget', ['--max-restarts', '1']);
  const a = await client(`${url}/worker-echo`);
  await a.call('crash');
  await a.whenClosed();
  const b = await client(`${url}/worker-echo`);
  await b.call('crash');
  await b.whenClosed();
  await until(async () => (await serviceStatus(runDir, '/worker-echo')).state === 'failed', 'failed state');
  await assert.rejects(TestClient.open(`${url}/worker-echo`), (e: unknown) => e instanceof HandshakeError && e.status === 503);
  const st = await cli(['status', '--run-dir', runDir]);
  assert.match(st.out, /\/worker-echo\s+endpoint\s+worker\s+failed/);
  assert.equal((await cli(['restart', '/worker-echo', '--run-dir', runDir])).code, 0);
  const c = await client(`${url}/worker-echo`);
  assert.deepEqual(await c.call('echo', 'back'), 'back');
  server.child.kill('SIGTERM');
  assert.equal((await c.whenClosed()).code, 1001);
  assert.deepEqual(await server.exited(), { code: 0, signal: null });
});

test('the switchboard binary against a served directory: status, reload (changed file), restart, stop', async () => {
  const BIN = fileURLToPath(new URL('../../../bin/switchboard.js', import.meta.url));
  const { spawn } = await import('node:child_process');
  const { mkdirSync, writeFileSync, utimesSync } = await import('node:fs');
  const bin = (args: string[]) =>
    new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const p = spawn(process.execPath, [BIN, ...args], { cwd: root });
      let out = '';
      let err = '';
      p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      p.on('close', (code) => resolve({ code, out, err }));
    });
  const dir = join(root, 'svc-reload');
  mkdirSync(dir, { recursive: true });
  const serviceModule = new URL('../../src/app/service.js', import.meta.url).href;
  const write = (version: number) =>
    writeFileSync(
      join(dir, 'versioned.js'),
      `import { defineService } from '${serviceModule}';\nexport default defineService({ isolation: 'worker', commands: { version: { handler: () => ${version} } } });\n`,
    );
  write(1);
  const { url, runDir, server } = await serve('bin', ['--services', dir]);
  const c1 = await client(`${url}/versioned`);
  assert.equal(await c1.call('version'), 1);

  const status = await bin(['status', '--run-dir', runDir]);
  assert.equal(status.code, 0, status.err);
  assert.match(status.out, /\/versioned\s+endpoint\s+worker\s+running/);

  const unchanged = await bin(['reload', '--run-dir', runDir]);
  assert.deepEqual([unchanged.code, unchanged.out], [0, 'unchanged: /versioned\n']);
  write(2);
  const later = new Date(Date.now() + 5_000);
  utimesSync(join(dir, 'versioned.js'), later, later);
  const reloaded = await bin(['reload', '--run-dir', runDir]);
  assert.deepEqual([reloaded.code, reloaded.out], [0, 'restarted: /versioned\n']);
  const c2 = await client(`${url}/versioned`);
  assert.equal(await c2.call('version'), 2, 'new connections get the changed service');
  assert.equal(await c1.call('version'), 1, 'existing connections keep theirs');

  // a broken change: reload reports it; existing connections keep their version
  writeFileSync(join(dir, 'versioned.js'), 'export default 42;\n');
  const later2 = new Date(Date.now() + 10_000);
  utimesSync(join(dir, 'versioned.js'), later2, later2);
  const broken = await bin(['reload', '--run-dir', runDir]);
  assert.equal(broken.code, 1);
  assert.match(broken.err, /\/versioned: the default export was not made by defineService\(\)/, "reload prints why the changed file failed");
  await assert.rejects(TestClient.open(`${url}/versioned`), (e: unknown) => e instanceof HandshakeError && e.status === 500);
  assert.equal(await c2.call('version'), 2);
  write(3);
  const later3 = new Date(Date.now() + 15_000);
  utimesSync(join(dir, 'versioned.js'), later3, later3);
  assert.equal((await bin(['reload', '--run-dir', runDir])).code, 0);
  const c3 = await client(`${url}/versioned`);
  assert.equal(await c3.call('version'), 3);

  const restarted = await bin(['restart', '/versioned', '--run-dir', runDir]);
  assert.equal(restarted.code, 0, restarted.err);
  assert.equal((await c3.whenClosed()).code, 1012);

  const stopped = await bin(['stop', '--run-dir', runDir]);
  assert.equal(stopped.code, 0, stopped.err);
  assert.equal((await c1.whenClosed()).code, 1001);
  assert.deepEqual(await server.exited(), { code: 0, signal: null });
  const none = await bin(['status', '--run-dir', runDir]);
  assert.equal(none.code, 3);
});
