// The command client when a connection cannot be opened, against a real server: a refusal
// that retrying cannot change is final; 503/429 are retried no sooner than Retry-After;
// a refused TCP connection is retried with backoff; every failed attempt is an `error` event.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { AppServer } from '../../src/server/app-server.js';
import { connect } from '../../src/transport/client.js';
import { createClient, ClientCommandError, ClientConnectError, type CommandClient, type OpenEvent, type ReconnectingEvent } from '../../src/client/index.js';
import { DEFINE, serviceDir } from './helpers.js';

/** A service that refuses its first handshake with `status` and Retry-After: 1, then accepts. */
const refusesOnce = (status: number) => `
import { defineService } from '${DEFINE}';
let refused = 0;
export default defineService({
  handshake() {
    if (refused++ === 0) return { reject: { status: ${status}, reason: 'not now', headers: { 'retry-after': '1' } } };
  },
  commands: { ping: { handler: () => 'pong' } },
});`;

const refusesAlways = (status: number) => `
import { defineService } from '${DEFINE}';
export default defineService({
  handshake: () => ({ reject: { status: ${status}, reason: 'no entry' } }),
  commands: { ping: { handler: () => 'pong' } },
});`;

const dir = serviceDir({
  'open.ts': `
import { defineService } from '${DEFINE}';
export default defineService({ commands: { ping: { handler: () => 'pong' } } });`,
  'busy.ts': refusesOnce(503),
  'throttled.ts': refusesOnce(429),
  'login.ts': refusesAlways(401),
  'members.ts': refusesAlways(403),
});
const server = new AppServer({ dir, port: 0 });
const { port } = await server.listen();
const base = `ws://127.0.0.1:${port}`;
after(() => server.close());

/** Records the client's error and reconnecting events. */
function watch(client: CommandClient<any>) {
  const errors: ClientConnectError[] = [];
  const retries: ReconnectingEvent[] = [];
  client.on('error', (e) => void errors.push(e));
  client.on('reconnecting', (e) => void retries.push(e));
  return { errors, retries };
}

const refusal = (status: number) => (err: unknown) =>
  err instanceof ClientConnectError && err instanceof ClientCommandError && err.code === 'refused' && err.status === status && err.final;

for (const [path, status] of [['/missing', 404], ['/login', 401], ['/members', 403]] as const) {
  test(`HTTP ${status} is final: ready and pending calls reject with code "refused" and the status; one error event, no retry`, async () => {
    const client = createClient(base + path, { connect, reconnect: { initialDelayMs: 5 } });
    const seen = watch(client);
    const pending = client.call('ping');
    await assert.rejects(client.ready, refusal(status));
    await assert.rejects(pending, refusal(status));
    await assert.rejects(client.call('ping'), refusal(status), 'later calls fail the same way');
    assert.deepEqual(seen.errors.map((e) => [e.code, e.status]), [['refused', status]]);
    assert.equal(seen.retries.length, 0);
    assert.equal(client.connected, false);
  });
}

for (const [path, status] of [['/busy', 503], ['/throttled', 429]] as const) {
  test(`HTTP ${status} with Retry-After: 1 is retried no sooner than 1 s, then the client connects`, async () => {
    const client = createClient(base + path, { connect, reconnect: { initialDelayMs: 5, maxDelayMs: 50 } });
    const seen = watch(client);
    const opened: OpenEvent[] = [];
    client.on('open', (e) => void opened.push(e));
    assert.equal(await client.call('ping'), 'pong'); // queued across the refusal
    await client.ready;
    assert.deepEqual(seen.errors.map((e) => [e.code, e.status, e.retryAfterMs]), [['unavailable', status, 1000]]);
    assert.equal(seen.retries.length, 1);
    assert.ok(seen.retries[0]!.delayMs >= 1000, `delay ${seen.retries[0]!.delayMs} honours Retry-After`);
    assert.equal(seen.retries[0]!.error?.status, status);
    assert.deepEqual(opened, [{ url: base + path, reconnected: false }]);
    client.close();
  });
}

/** A port nothing listens on: the OS picked it for a server that is closed again. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((r) => probe.close(() => r()));
  return port;
}

test('a refused TCP connection is retried with backoff, each attempt an error with code "unreachable" and status 0', async () => {

  const client = createClient(`ws://127.0.0.1:${await closedPort()}/x`, { connect, reconnect: { initialDelayMs: 5, maxDelayMs: 20, maxAttempts: 3 } });
  const seen = watch(client);
  const pending = client.call('ping');
  await assert.rejects(client.ready, (err: unknown) => err instanceof ClientConnectError && err.code === 'unreachable' && err.status === 0 && !err.final);
  await assert.rejects(pending, (err: unknown) => (err as ClientCommandError).code === 'unreachable');
  assert.equal(seen.errors.length, 4, 'the first attempt and 3 retries');
  assert.ok(seen.errors.every((e) => e.code === 'unreachable' && e.status === 0 && /ECONNREFUSED/.test(e.message)));
  assert.deepEqual(seen.retries.map((r) => r.attempt), [1, 2, 3]);
  assert.ok(seen.retries[1]!.delayMs > seen.retries[0]!.delayMs, 'the delay grows');
});

test('with reconnect: false, the error of a failed first connection has a code (refused, unreachable)', async () => {
  const refused = createClient(`${base}/missing`, { connect, reconnect: false });
  await assert.rejects(refused.ready, refusal(404));
  const unreachable = createClient(`ws://127.0.0.1:${await closedPort()}/x`, { connect, reconnect: false });
  await assert.rejects(unreachable.ready, (err: unknown) => (err as ClientConnectError).code === 'unreachable' && (err as ClientConnectError).status === 0);
});

test('open handlers get {url, reconnected}; after a drop, reconnected: true', async () => {
  const client = createClient(`${base}/open`, { connect, reconnect: { initialDelayMs: 5 } });
  const opened: OpenEvent[] = [];
  const second = new Promise<void>((resolve) =>
    client.on('open', (e: OpenEvent) => {
      opened.push(e);
      if (opened.length === 2) resolve();
    }),
  );
  await client.ready;
  client.dropConnection();
  await second;
  assert.deepEqual(opened, [
    { url: `${base}/open`, reconnected: false },
    { url: `${base}/open`, reconnected: true },
  ]);
  assert.equal(await client.call('ping'), 'pong');
  client.close();
});
