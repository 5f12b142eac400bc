// Every abuse limit of the app server over real sockets on 127.0.0.1: what the client sees
// when it bites, the metric it counts and the log line it writes.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import http2 from 'node:http2';
import { AppServer, type AppServerOptions } from '../../src/server/app-server.js';
import { appTelemetry } from '../../src/runtime/app-telemetry.js';
import { ServerMetrics } from '../../src/runtime/server-metrics.js';
import { connect as connectWs, HandshakeError, type ClientOptions } from '../../src/transport/client.js';
import type { WebSocket } from '../../src/transport/websocket.js';
import { DEADLINE_MS, until } from '../helpers/wait.js';
import { DEFINE, captureLogger, serviceDir } from '../app/helpers.js';
import { makeCerts, type CertFiles } from '../helpers/tls-certs.js';

const dir = serviceDir({
  'echo.ts': `import { defineService } from '${DEFINE}';
    export default defineService({
      handshake() { (globalThis as any).__sbHandshakes = ((globalThis as any).__sbHandshakes ?? 0) + 1; },
      message(c, d) { c.send(d); },
    });`,
  'slow-rate.ts': `import { defineService } from '${DEFINE}';
    export default defineService({ limits: { messagesPerSecond: 1, messageBurst: 3 }, message(c, d) { c.send(d); } });`,
  'small.ts': `import { defineService } from '${DEFINE}';
    export default defineService({ limits: { maxMessageBytes: 100 }, message(c, d) { c.send(d); } });`,
  'gate.ts': `import { defineService } from '${DEFINE}';
    export default defineService({
      limits: { commandsInFlight: 2 },
      commands: {
        wait: { handler: () => (globalThis as any).__sbGate.promise.then(() => 'done') },
        ping: { handler: () => 'pong' },
      },
    });`,
  'rooms.ts': `import { defineService } from '${DEFINE}';
    export default defineService({ rooms: true, limits: { roomsPerConnection: 2 } });`,
  'live.ts': `import { defineService } from '${DEFINE}';
    export default defineService({ limits: { subscriptionsPerConnection: 2 }, live: { 'board/:id': { initial: (p: Record<string, string>) => ({ id: p['id'] }) } } });`,
  'hang.ts': `import { defineService } from '${DEFINE}';
    export default defineService({ handshake: () => new Promise(() => {}) });`,
  'whoami.ts': `import { defineService } from '${DEFINE}';
    export default defineService({ open(c) { c.send(c.request.remoteAddress); } });`,
  'quiet.ts': `import { defineService } from '${DEFINE}';
    export default defineService({ limits: { idleTimeoutMs: 200 }, message(c, d) { c.send(d); } });`,
  'slow-auth.ts': `import { defineService } from '${DEFINE}';
    export default defineService({ limits: { handshakeTimeoutMs: 200 }, handshake: () => new Promise(() => {}) });`,
});

interface Started {
  url: string;
  port: number;
  metrics: ServerMetrics;
  log: ReturnType<typeof captureLogger>;
}

const servers: AppServer[] = [];
let certs: CertFiles | null = null;
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  certs?.remove();
});

/** A TLS server (HTTP/1.1 and HTTP/2 on one port) and the options a client needs for it. */
async function startTls(options: Partial<AppServerOptions> = {}): Promise<Started & { wss: string; client: ClientOptions }> {
  certs ??= makeCerts();
  const s = await start({ ...options, tls: { cert: certs.serverCert, key: certs.serverKey } });
  return { ...s, wss: `wss://127.0.0.1:${s.port}`, client: { tls: { ca: certs.read(certs.caCert) } } };
}

async function start(options: Partial<AppServerOptions> = {}): Promise<Started> {
  const log = captureLogger();
  const metrics = new ServerMetrics();
  // a service loads on its first handshake: on a loaded machine that may take a while
  const limits = { handshakeTimeoutMs: DEADLINE_MS, ...options.limits };
  const server = new AppServer({ dir, port: 0, log, observer: appTelemetry(metrics, log, { commandMetrics: false }), ...options, limits });
  servers.push(server);
  const { port } = await server.listen();
  return { url: `ws://127.0.0.1:${port}`, port, metrics, log };
}

function connect(url: string, options: ClientOptions = {}): Promise<WebSocket> {
  return connectWs(url, { handshakeTimeoutMs: DEADLINE_MS, ...options });
}

function exceeded(s: Started, limit: string, action: string, service = ''): Promise<number> {
  return counted(s.metrics.limitsExceeded, { limit, action, service });
}

/** A counter's value for exactly these labels (0 before it counted any). */
async function counted(metric: { get(): Promise<{ values: Array<{ labels: Record<string, string | number | undefined>; value: number }> }> }, labels: Record<string, string | number>): Promise<number> {
  const { values } = await metric.get();
  const same = (l: Record<string, string | number | undefined>) =>
    Object.keys(l).length === Object.keys(labels).length && Object.entries(labels).every(([k, v]) => String(l[k]) === String(v));
  return values.find((v) => same(v.labels))?.value ?? 0;
}

async function refusal(url: string, headers?: Record<string, string>): Promise<HandshakeError> {
  const err = await connect(url, headers ? { headers } : {}).then(
    (ws) => {
      ws.terminate();
      throw new Error(`${url} was accepted`);
    },
    (e: unknown) => e,
  );
  assert.ok(err instanceof HandshakeError, String(err));
  return err;
}

function messages(ws: WebSocket): string[] {
  const got: string[] = [];
  ws.on('message', (d) => got.push(d.toString('utf8')));
  return got;
}

/** Sends commands one at a time and resolves with each reply. */
function caller(ws: WebSocket): (cmd: string, data: unknown) => Promise<Record<string, unknown>> {
  const got = messages(ws);
  let id = 0;
  return async (cmd, data) => {
    const n = ++id;
    ws.send(JSON.stringify({ id: n, cmd, data }));
    await until(() => got.some((m) => JSON.parse(m).id === n), `reply ${n}`);
    return JSON.parse(got.find((m) => JSON.parse(m).id === n)!) as Record<string, unknown>;
  };
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason })));
}

/** Sends a raw upgrade request and resolves with the server's answer: a 101 head, or all it wrote before it closed. */
function rawUpgrade(port: number, path: string, extra = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const s: Socket = netConnect(port, '127.0.0.1', () => {
      s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`);
    });
    let data = '';
    s.setEncoding('latin1');
    s.on('data', (c: string) => {
      data += c;
      // an accepted upgrade stays open: its head is the whole answer
      if (data.startsWith('HTTP/1.1 101 ') && data.includes('\r\n\r\n')) s.destroy();
    });
    s.on('close', () => resolve(data));
    s.on('error', reject);
    s.setTimeout(DEADLINE_MS, () => reject(new Error('the server kept the socket open')));
  });
}

test('connections per client address: the one past the limit gets 429, and a slot frees when a connection closes', async () => {
  const s = await start({ limits: { connectionsPerIp: 2, handshakesPerSecond: 0 } });
  const a = await connect(`${s.url}/echo`);
  const b = await connect(`${s.url}/echo`);
  const err = await refusal(`${s.url}/echo`);
  assert.equal(err.status, 429);
  assert.match(err.body, /2 connections from this address/);
  assert.equal(await exceeded(s, 'connections_per_ip', 'refused'), 1);
  const line = await s.log.waitFor((l) => l.msg === 'limit exceeded: connections_per_ip (refused)');
  assert.equal((line.obj as { address: string }).address, '127.0.0.1');
  a.close();
  // the slot is free once the server has seen the close
  await until(async () => {
    try {
      (await connect(`${s.url}/echo`)).close();
      return true;
    } catch {
      return false;
    }
  }, 'a connection slot to free');
  b.close();
});

test('handshakes per second per address: 429 with Retry-After, before any service code runs', async () => {
  const s = await start({ limits: { handshakesPerSecond: 1, handshakeBurst: 2, connectionsPerIp: 0 } });
  (globalThis as { __sbHandshakes?: number }).__sbHandshakes = 0;
  const first = await rawUpgrade(s.port, '/echo');
  const second = await rawUpgrade(s.port, '/echo');
  const third = await rawUpgrade(s.port, '/echo');
  assert.match(first, /^HTTP\/1\.1 101 /);
  assert.match(second, /^HTTP\/1\.1 101 /);
  assert.match(third, /^HTTP\/1\.1 429 Too Many Requests\r\n/);
  assert.match(third, /\r\nRetry-After: 1\r\n/i);
  assert.match(third, /handshake rate exceeded$/);
  assert.equal((globalThis as { __sbHandshakes?: number }).__sbHandshakes, 2, "the refused handshake never reached the service's hook");
  assert.equal(await exceeded(s, 'handshake_rate', 'refused'), 1);
  assert.equal(await counted(s.metrics.handshakeRejections, { status: 429, reason: 'Too Many Requests: handshake rate exceeded' }), 1);
  await s.log.waitFor((l) => l.msg === 'limit exceeded: handshake_rate (refused)');
});

test('behind a trusted proxy each X-Forwarded-For client is counted on its own; from an untrusted peer the header is ignored', async () => {
  const trusted = await start({ limits: { connectionsPerIp: 1, handshakesPerSecond: 0 }, trustProxy: ['loopback'] });
  const one = await connect(`${trusted.url}/echo`, { headers: { 'x-forwarded-for': '203.0.113.1' } });
  const two = await connect(`${trusted.url}/echo`, { headers: { 'x-forwarded-for': '203.0.113.2' } });
  const again = await refusal(`${trusted.url}/echo`, { 'x-forwarded-for': '203.0.113.1' });
  assert.equal(again.status, 429);
  const line = await trusted.log.waitFor((l) => l.msg === 'limit exceeded: connections_per_ip (refused)');
  assert.equal((line.obj as { address: string }).address, '203.0.113.1');
  // RFC 7239 Forwarded is read too, and wins over X-Forwarded-For
  const three = await connect(`${trusted.url}/echo`, { headers: { forwarded: 'for="[2001:db8::7]:4711"', 'x-forwarded-for': '203.0.113.1' } });
  for (const ws of [one, two, three]) ws.close();

  const untrusted = await start({ limits: { connectionsPerIp: 1, handshakesPerSecond: 0 } });
  const first = await connect(`${untrusted.url}/echo`, { headers: { 'x-forwarded-for': '203.0.113.1' } });
  const spoofed = await refusal(`${untrusted.url}/echo`, { 'x-forwarded-for': '203.0.113.2' });
  assert.equal(spoofed.status, 429, 'a client cannot pose as another address');
  first.close();
});

test("a service sees the client's address behind a trusted proxy, and the peer's otherwise", async () => {
  const firstMessage = async (url: string): Promise<string> => {
    const ws = await connect(url, { headers: { 'x-forwarded-for': '203.0.113.9' } });
    const got = messages(ws);
    await until(() => got.length > 0, 'the address the service saw');
    ws.close();
    return got[0]!;
  };
  const behind = await start({ limits: { handshakesPerSecond: 0 }, trustProxy: ['loopback'] });
  assert.equal(await firstMessage(`${behind.url}/whoami`), '203.0.113.9');
  const direct = await start({ limits: { handshakesPerSecond: 0 } });
  assert.match(await firstMessage(`${direct.url}/whoami`), /^(::ffff:)?127\.0\.0\.1$/, 'an untrusted peer cannot choose the address a service sees');
});

test("a service's own idle timeout: its silent clients are pinged, then dropped; the server's (off here) holds for the others", async () => {
  const s = await start({ limits: { idleTimeoutMs: 0 } });
  const answering = await connect(`${s.url}/quiet`);
  let pings = 0;
  answering.on('ping', () => pings++);
  const other = await connect(`${s.url}/echo`);
  let otherPings = 0;
  other.on('ping', () => otherPings++);
  await until(() => pings >= 2, 'pings to a client of the service with its own idle timeout');
  // a peer that never answers (no pong, nothing sent) is dropped after a second silent period
  const silent = netConnect(s.port, '127.0.0.1');
  let answer = '';
  silent.setEncoding('latin1').on('data', (c: string) => (answer += c));
  const gone = new Promise<void>((resolve) => silent.on('close', () => resolve()));
  silent.on('error', () => {});
  silent.write(`GET /quiet HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  await gone;
  assert.match(answer, /^HTTP\/1\.1 101 /, 'it was accepted, then dropped for its silence');
  assert.equal(answering.readyState, 1, 'a client that answers the pings stays');
  assert.equal(otherPings, 0, 'no heartbeat runs for connections on the server-wide setting, which is off');
  answering.close();
  other.close();
});

test("messages per second per connection (the service's own limit): close 1008 with a reason", async () => {
  const s = await start();
  const ws = await connect(`${s.url}/slow-rate`);
  const got = messages(ws);
  const done = closed(ws);
  for (let i = 0; i < 10; i++) ws.send(`m${i}`);
  const { code, reason } = await done;
  assert.equal(code, 1008);
  assert.equal(reason, 'message rate exceeded');
  assert.ok(got.length <= 3, `at most the burst reached the service (${got.length})`);
  assert.equal(await exceeded(s, 'message_rate', 'closed', '/slow-rate'), 1);
  await s.log.waitFor((l) => l.msg === 'limit exceeded: message_rate (closed)');
});

test('bytes per second per connection with the drop policy: the message is dropped and counted, the connection stays', async () => {
  const s = await start({ limits: { bytesPerSecond: 100, byteBurst: 1000, overRate: 'drop' } });
  const ws = await connect(`${s.url}/echo`);
  const got = messages(ws);
  ws.send('a'.repeat(600));
  ws.send('b'.repeat(600));
  ws.send('c');
  await until(() => got.length === 2, 'two echoes');
  assert.deepEqual(got, ['a'.repeat(600), 'c']);
  assert.equal(ws.readyState, 1);
  assert.equal(await exceeded(s, 'byte_rate', 'dropped', '/echo'), 1);
  await s.log.waitFor((l) => l.msg === 'limit exceeded: byte_rate (dropped)');
  ws.close();
});

test('commands in flight per connection: the one past the limit is answered too_many_commands at once', async () => {
  const s = await start();
  let release!: () => void;
  (globalThis as { __sbGate?: unknown }).__sbGate = { promise: new Promise<void>((r) => (release = r)) };
  const ws = await connect(`${s.url}/gate`);
  const got = messages(ws);
  ws.send(JSON.stringify({ id: 1, cmd: 'wait' }));
  ws.send(JSON.stringify({ id: 2, cmd: 'wait' }));
  ws.send(JSON.stringify({ id: 3, cmd: 'ping' }));
  await until(() => got.length === 1, 'the refusal');
  assert.deepEqual(JSON.parse(got[0]!), { id: 3, ok: false, error: { code: 'too_many_commands', message: 'more than 2 commands in flight on this connection' } });
  release();
  await until(() => got.length === 3, 'the two waiting commands');
  assert.deepEqual(got.slice(1).map((m) => JSON.parse(m)), [{ id: 1, ok: true, data: 'done' }, { id: 2, ok: true, data: 'done' }]);
  ws.send(JSON.stringify({ id: 4, cmd: 'ping' }));
  await until(() => got.length === 4, 'a command once the queue emptied');
  assert.deepEqual(JSON.parse(got[3]!), { id: 4, ok: true, data: 'pong' });
  assert.equal(await exceeded(s, 'commands_in_flight', 'refused', '/gate'), 1);
  await s.log.waitFor((l) => l.msg === 'limit exceeded: commands_in_flight (refused)');
  ws.close();
});

test('rooms per connection: a join past the limit is answered too_many_rooms; leaving makes room', async () => {
  const s = await start();
  const ws = await connect(`${s.url}/rooms`);
  const call = caller(ws);
  assert.equal((await call('room.join', { room: 'a' })).ok, true);
  assert.equal((await call('room.join', { room: 'b' })).ok, true);
  assert.deepEqual((await call('room.join', { room: 'c' })).error, { code: 'too_many_rooms', message: 'this connection already holds 2 rooms, the most it may' });
  assert.equal((await call('room.join', { room: 'a' })).ok, true, 'a room it is in already costs nothing');
  assert.equal((await call('room.leave', { room: 'a' })).ok, true);
  assert.equal((await call('room.join', { room: 'c' })).ok, true);
  assert.equal(await exceeded(s, 'rooms', 'refused', '/rooms'), 1);
  await s.log.waitFor((l) => l.msg === 'limit exceeded: rooms (refused)');
  ws.close();
});

test('live subscriptions per connection: a subscribe past the limit is answered too_many_subscriptions; unsubscribing makes room', async () => {
  const s = await start();
  const ws = await connect(`${s.url}/live`);
  const call = caller(ws);
  assert.equal((await call('live.subscribe', { name: 'board/a' })).ok, true);
  assert.equal((await call('live.subscribe', { name: 'board/b' })).ok, true);
  assert.deepEqual((await call('live.subscribe', { name: 'board/c' })).error, { code: 'too_many_subscriptions', message: 'this connection already holds 2 live subscriptions, the most it may' });
  assert.equal((await call('live.subscribe', { name: 'board/a' })).ok, true, 'a value it follows already costs nothing');
  assert.equal((await call('live.unsubscribe', { name: 'board/a' })).ok, true);
  assert.equal((await call('live.subscribe', { name: 'board/c' })).ok, true);
  assert.equal(await exceeded(s, 'subscriptions', 'refused', '/live'), 1);
  await s.log.waitFor((l) => l.msg === 'limit exceeded: subscriptions (refused)');
  ws.close();
});

test("a service's own message size limit closes with 1009; other services keep the server's", async () => {
  const s = await start();
  const small = await connect(`${s.url}/small`);
  const done = closed(small);
  small.send('x'.repeat(200));
  assert.equal((await done).code, 1009);
  const echo = await connect(`${s.url}/echo`);
  const got = messages(echo);
  echo.send('x'.repeat(200));
  await until(() => got.length === 1, 'the echo');
  echo.close();
});

test('the handshake timeout covers a service whose handshake hook never answers', async () => {
  const s = await start({ limits: { handshakeTimeoutMs: 300 } });
  const answer = await rawUpgrade(s.port, '/hang');
  assert.equal(answer, '', 'dropped without a 101');
});

test("a service's own handshake timeout answers 503 when its hook takes longer, within the server's deadline", async () => {
  const s = await start();
  const err = await refusal(`${s.url}/slow-auth`);
  assert.equal(err.status, 503);
  assert.match(err.body, /handshake timed out/);
  assert.equal(await exceeded(s, 'handshake_timeout', 'refused', '/slow-auth'), 1);
  await s.log.waitFor((l) => l.msg === 'service handshake hook timed out');
  const ws = await connect(`${s.url}/echo`);
  ws.close();
});

test('the server-wide frame size and slow-consumer limits reach the transport', async () => {
  const s = await start({ limits: { maxFrameBytes: 64 } });
  const ws = await connect(`${s.url}/echo`);
  const done = closed(ws);
  ws.send('y'.repeat(65));
  assert.equal((await done).code, 1009);
  assert.throws(() => new AppServer({ dir, port: 0, limits: { slowConsumer: 'ignore' as 'close' } }), /slowConsumer/);
  assert.throws(() => new AppServer({ dir, port: 0, limits: { nope: 1 } as never }), /unknown limit "nope"/);
});

// The same limits over HTTP/2: an extended CONNECT stream (RFC 8441) is admitted by the same
// address guard, gets its service's own transport limits and the same handshake deadline.

test('connections per client address count WebSockets over HTTP/1.1 and HTTP/2 streams together', async () => {
  const s = await startTls({ limits: { connectionsPerIp: 2, handshakesPerSecond: 0 } });
  const a = await connect(`${s.wss}/echo`, s.client);
  const b = await connect(`${s.wss}/echo`, { ...s.client, http2: true });
  const err = await connect(`${s.wss}/echo`, { ...s.client, http2: true }).then(
    (ws) => {
      ws.terminate();
      throw new Error('the third connection was accepted');
    },
    (e: unknown) => e,
  );
  assert.ok(err instanceof HandshakeError, String(err));
  assert.equal(err.status, 429);
  assert.match(err.body, /2 connections from this address/);
  assert.equal(await exceeded(s, 'connections_per_ip', 'refused'), 1);
  a.close();
  b.close();
});

test("a service's own message size limit applies to its WebSockets over HTTP/2", async () => {
  const s = await startTls();
  const small = await connect(`${s.wss}/small`, { ...s.client, http2: true });
  const done = closed(small);
  small.send('x'.repeat(200));
  assert.equal((await done).code, 1009);
  const echo = await connect(`${s.wss}/echo`, { ...s.client, http2: true });
  const got = messages(echo);
  echo.send('x'.repeat(200));
  await until(() => got.length === 1, 'the echo');
  echo.close();
});

test('the handshake timeout covers an HTTP/2 stream whose service hook never answers', async () => {
  const s = await startTls({ limits: { handshakeTimeoutMs: 300 } });
  const session = http2.connect(s.wss.replace('wss:', 'https:'), { ca: certs!.read(certs!.caCert) });
  session.on('error', () => {});
  try {
    const stream = session.request(
      { ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'https', ':authority': `127.0.0.1:${s.port}`, ':path': '/hang', 'sec-websocket-version': '13' },
      { endStream: false },
    );
    stream.on('error', () => {});
    let answered = false;
    stream.on('response', () => (answered = true));
    await until(() => stream.closed, 'the stream to be reset');
    assert.equal(answered, false, 'reset without a response');
    assert.equal(session.closed, false, 'the connection stays for other streams');
  } finally {
    session.destroy();
  }
});
