import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocketServer, reconnecting, SendStatus, HandshakeError, type WebSocket } from '../../src/index.js';
import { next } from '../helpers/wait.js';

test('reconnects after the server drops the connection, and flushes what was queued', async () => {
  const server = new WebSocketServer({ port: 0 });
  const { port } = await server.listen();
  const received: string[] = [];
  server.on('connection', (ws) => ws.on('message', (d) => received.push(d.toString())));
  const client = reconnecting(`ws://127.0.0.1:${port}/`, { initialDelayMs: 10, maxDelayMs: 50, queueLimit: 10 });
  const [first] = await next<[WebSocket]>(client, 'open');
  assert.equal(client.send('one'), SendStatus.SENT);
  while (received.length < 1) await new Promise((r) => setImmediate(r));
  const reopened = next<[WebSocket]>(client, 'open');
  for (const ws of server.clients) ws.terminate();
  await next(client, 'close');
  assert.equal(client.send('queued while down'), SendStatus.BACKPRESSURE);
  const [second] = await reopened;
  assert.notEqual(first, second);
  while (received.length < 2) await new Promise((r) => setImmediate(r));
  assert.deepEqual(received, ['one', 'queued while down']);
  client.close();
  await server.close();
});

test('gives up after maxAttempts consecutive failures', async () => {
  const server = new WebSocketServer({ port: 0 });
  const { port } = await server.listen();
  await server.close();
  const client = reconnecting(`ws://127.0.0.1:${port}/`, { initialDelayMs: 1, maxDelayMs: 5, maxAttempts: 3 });
  let attempts = 0;
  const errors: Error[] = [];
  client.on('reconnecting', (n) => (attempts = n));
  client.on('error', (e) => errors.push(e));
  await new Promise<void>((resolve) => client.once('giveup', resolve));
  assert.equal(errors.length, 4, 'each failed attempt is reported');
  assert.match(errors[0]!.message, /ECONNREFUSED/);
  assert.equal(attempts, 3);
});

test('a refusal that retrying cannot change (404) gives up at once; 503 waits for Retry-After', async () => {
  let busy = 1;
  const server = new WebSocketServer({
    port: 0,
    handshake(request) {
      if (request.path === '/gone') return { reject: { status: 404, reason: 'no such thing' } };
      if (request.path === '/busy' && busy-- > 0) return { reject: { status: 503, reason: 'later', headers: { 'retry-after': '1' } } };
      return undefined;
    },
  });
  const { port } = await server.listen();
  try {
    const gone = reconnecting(`ws://127.0.0.1:${port}/gone`, { initialDelayMs: 1 });
    const errors: Error[] = [];
    let retries = 0;
    gone.on('error', (e) => errors.push(e));
    gone.on('reconnecting', () => retries++);
    await new Promise<void>((resolve) => gone.once('giveup', resolve));
    assert.deepEqual(errors.map((e) => (e as HandshakeError).status), [404]);
    assert.equal(retries, 0);

    const later = reconnecting(`ws://127.0.0.1:${port}/busy`, { initialDelayMs: 1, maxDelayMs: 5 });
    const delays: number[] = [];
    later.on('error', () => undefined); // (events.once would reject on it)
    later.on('reconnecting', (_attempt, delayMs) => delays.push(delayMs));
    await new Promise((resolve) => later.once('open', resolve));
    later.close();
    assert.equal(delays.length, 1);
    assert.ok(delays[0]! >= 1000, `delay ${delays[0]} honours Retry-After`);
  } finally {
    await server.close();
  }
});
