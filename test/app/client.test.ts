// The command-protocol client against a real server: calls, errors, pushes, rooms, and
// reconnect with re-auth and re-join from the last position.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { until } from '../helpers/wait.js';
import { AppServer } from '../../src/server/app-server.js';
import { connect } from '../../src/transport/client.js';
import { createClient, ClientCommandError, type CommandClient, type Position, type SocketFactory, type SocketHandlers } from '../../src/client/index.js';
import { DEFINE, ZOD, serviceDir } from './helpers.js';

const dir = serviceDir({
  'svc.ts': `
import { z } from '${ZOD}';
import { defineService } from '${DEFINE}';
export default defineService({
  auth: { name: 'token', fromCommand: (d: any) => (d?.token === 'good' ? { id: 'tok-user' } : null) },
  rooms: true,
  commands: {
    add: { input: z.object({ a: z.number(), b: z.number() }), handler: (d) => d.a + d.b },
    me: { auth: true, handler: (_d, { connection }) => connection.user },
    say: { handler: async (d: any, { service }) => service.publish(d.room, d.text) },
    kick: { handler: (_d, { connection }) => { setTimeout(() => connection.close(4000, 'kicked'), 0); return true; } },
    poke: { handler: (_d, { connection }) => (connection.push('poked', { by: 'server' }), true) },
  },
});`,
});
const server = new AppServer({ dir, port: 0 });
const { port } = await server.listen();
const url = `ws://127.0.0.1:${port}/svc`;
after(() => server.close());

function once<T>(client: CommandClient<any>, event: string, pred: (data: any) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const off = client.on(event, (data) => {
      if (pred(data)) {
        off();
        resolve(data as T);
      }
    });
  });
}

test('call resolves with data; errors reject with the server code; pushes reach on()', async () => {
  const client = createClient(url, { connect });
  await client.ready;
  assert.equal(await client.call('add', { a: 2, b: 3 }), 5);
  await assert.rejects(client.call('add', { a: 'x' }), (err: unknown) => err instanceof ClientCommandError && err.code === 'invalid_input');
  await assert.rejects(client.call('nope'), (err: unknown) => err instanceof ClientCommandError && err.code === 'unknown_command');
  await assert.rejects(client.call('me'), (err: unknown) => err instanceof ClientCommandError && err.code === 'unauthorized');
  const poked = once(client, 'poked');
  await client.call('poke');
  assert.deepEqual(await poked, { by: 'server' });
  client.close();
  await assert.rejects(client.call('add', { a: 1, b: 1 }), (err: unknown) => err instanceof ClientCommandError && err.code === 'closed');
});

test('calls made before the socket opens are queued', async () => {
  const client = createClient(url, { connect });
  assert.equal(await client.call('add', { a: 1, b: 1 }), 2);
  client.close();
});

test('reconnect with backoff re-authenticates and re-joins rooms from the last position, without loss or duplicates', async () => {
  const client = createClient(url, { connect, auth: () => ({ token: 'good' }), reconnect: { initialDelayMs: 10, maxDelayMs: 50 } });
  await client.call('auth', { token: 'good' });
  const got: Array<{ data: unknown; pos: Position }> = [];
  const join = await client.join('news', (data, pos) => got.push({ data, pos }));
  assert.equal(join.pos.o, 0);
  const writer = createClient(url, { connect });
  await writer.call('say', { room: 'news', text: 'one' });
  await until(() => got.length >= 1, 'the room message');
  assert.equal(got.length, 1);

  const closed = once(client, 'close');
  const reconnected = once(client, 'reconnected');
  await client.call('kick');
  assert.deepEqual(await closed, { code: 4000, reason: 'kicked' });
  // while the client is away
  await writer.call('say', { room: 'news', text: 'two' });
  await writer.call('say', { room: 'news', text: 'three' });
  await reconnected;
  assert.deepEqual(await client.call('me'), { id: 'tok-user' }, 're-authenticated');
  await writer.call('say', { room: 'news', text: 'four' });
  await until(() => got.length >= 4, 'four room messages');
  assert.deepEqual(got.map((m) => m.data), ['one', 'two', 'three', 'four']);
  assert.deepEqual(got.map((m) => m.pos.o), [1, 2, 3, 4]);
  assert.equal(client.position('news')?.o, 4);
  client.close();
  writer.close();
});

test('a reset when history cannot cover the gap is surfaced as room.reset', async () => {
  const dir2 = serviceDir({ 'r.ts': `import { defineService } from '${DEFINE}'; export default defineService({ rooms: true, commands: { say: { handler: async (d: any, { service }) => service.publish(d.room, d.text) }, kick: { handler: (_d, { connection }) => { setTimeout(() => connection.close(4000, 'kicked'), 0); return true; } } } });` });
  const s = new AppServer({ dir: dir2, port: 0, rooms: { historySize: 1 } });
  const { port: p } = await s.listen();
  try {
    const client = createClient(`ws://127.0.0.1:${p}/r`, { connect, reconnect: { initialDelayMs: 10 } });
    await client.join('x');
    const writer = createClient(`ws://127.0.0.1:${p}/r`, { connect });
    const reset = once<unknown>(client, 'room.reset');
    const closed = once(client, 'close');
    await client.call('kick');
    await closed;
    for (let i = 0; i < 3; i++) await writer.call('say', { room: 'x', text: i });
    await reset;
    assert.equal(client.position('x')?.o, 3, 'continues from the top');
    client.close();
    writer.close();
  } finally {
    await s.close();
  }
});

test('recovered messages are applied before live ones that arrive in the same read as the join reply', async () => {
  let handlers: SocketHandlers | undefined;
  const sent: Array<{ id: number; cmd: string; data: any }> = [];
  const client = createClient('ws://server.test/svc', {
    reconnect: false,
    socketFactory: async (_url, h) => {
      handlers = h;
      return { send: (text) => void sent.push(JSON.parse(text)), close() {} };
    },
  });
  await client.ready;
  const got: unknown[] = [];
  const first = client.join('r', (data) => got.push(data));
  await until(() => sent.length === 1, 'the first join');
  handlers!.message(JSON.stringify({ id: sent[0]!.id, ok: true, data: { pos: { e: 'E', o: 1 } } }));
  await first;
  // joined again from its position: the reply replays 2 and 3, and the live 4 follows in the same read
  const again = client.join('r');
  await until(() => sent.length === 2, 'the second join');
  assert.deepEqual(sent[1]!.data, { room: 'r', since: { e: 'E', o: 1 } });
  const replay = [2, 3].map((o) => ({ pos: { e: 'E', o }, data: `m${o}` }));
  handlers!.message(JSON.stringify({ id: sent[1]!.id, ok: true, data: { pos: { e: 'E', o: 3 }, recovered: true, messages: replay } }));
  handlers!.message(JSON.stringify({ event: 'room.message', room: 'r', pos: { e: 'E', o: 4 }, data: 'm4' }));
  await again;
  assert.deepEqual(got, ['m2', 'm3', 'm4']);
  assert.deepEqual(client.position('r'), { e: 'E', o: 4 });
  client.close();
});

test('without reconnect, a failed first connection rejects ready', async () => {
  const client = createClient(`ws://127.0.0.1:${port}/missing`, { connect, reconnect: false });
  await assert.rejects(client.ready);
});

test('a rejoin reply and the live message right behind it in the same read: replayed messages first, none taken for duplicates', async () => {
  // a scripted server: the second connection answers the rejoin with two replayed messages
  // and, in the same tick (as one TCP read would), pushes the next live one
  let connections = 0;
  let drop: (() => void) | undefined;
  const socketFactory: SocketFactory = async (_url, handlers) => {
    const n = ++connections;
    drop = () => handlers.close(1006, '');
    return {
      send(text) {
        const msg = JSON.parse(text) as { id: number; cmd: string; data: { since?: Position } };
        if (msg.cmd !== 'room.join') return;
        setImmediate(() => {
          if (n === 1) {
            handlers.message(JSON.stringify({ id: msg.id, ok: true, data: { pos: { e: 'E', o: 1 } } }));
            return;
          }
          assert.deepEqual(msg.data.since, { e: 'E', o: 1 });
          const replayed = [2, 3].map((o) => ({ pos: { e: 'E', o }, data: `m${o}` }));
          handlers.message(JSON.stringify({ id: msg.id, ok: true, data: { pos: { e: 'E', o: 3 }, recovered: true, messages: replayed } }));
          handlers.message(JSON.stringify({ event: 'room.message', room: 'r', pos: { e: 'E', o: 4 }, data: 'm4' }));
        });
      },
      close() {},
    };
  };
  const client = createClient('ws://scripted/svc', { socketFactory, reconnect: { initialDelayMs: 1 } });
  const got: string[] = [];
  await client.join('r', (data) => got.push(String(data)));
  const rejoined = once<{ room: string; recovered: boolean; replayed: number }>(client, 'rejoined');
  drop!();
  assert.deepEqual(await rejoined, { room: 'r', recovered: true, replayed: 2, pos: { e: 'E', o: 3 } });
  await until(() => got.length === 3, 'three messages');
  assert.deepEqual(got, ['m2', 'm3', 'm4']);
  assert.deepEqual(client.position('r'), { e: 'E', o: 4 });
  client.close();
});

test('a room whose rejoin fails is tried again without holding up the other rooms', async () => {
  let connections = 0;
  let drop: (() => void) | undefined;
  let refusals = 0;
  const socketFactory: SocketFactory = async (_url, handlers) => {
    const n = ++connections;
    drop = () => handlers.close(1006, '');
    return {
      send(text) {
        const msg = JSON.parse(text) as { id: number; cmd: string; data: { room: string } };
        if (msg.cmd !== 'room.join') return;
        setImmediate(() => {
          // on the new connection, room a fails twice (its node cannot reach the broker yet)
          if (n > 1 && msg.data.room === 'a' && refusals < 2) {
            refusals += 1;
            handlers.message(JSON.stringify({ id: msg.id, ok: false, error: { code: 'handler_error', message: 'unavailable' } }));
            return;
          }
          handlers.message(JSON.stringify({ id: msg.id, ok: true, data: { pos: { e: 'E', o: 0 }, ...(n > 1 ? { recovered: true, messages: [] } : {}) } }));
        });
      },
      close() {},
    };
  };
  const client = createClient('ws://scripted/svc', { socketFactory, reconnect: { initialDelayMs: 1, maxDelayMs: 5 } });
  client.on('error', () => undefined);
  await client.join('a');
  await client.join('b');
  const rejoined: string[] = [];
  client.on('rejoined', (e: { room: string }) => rejoined.push(e.room));
  const reconnected = once(client, 'reconnected');
  drop!();
  await reconnected;
  assert.deepEqual(rejoined, ['b', 'a'], 'b at once, a once its node could answer');
  assert.equal(refusals, 2);
  client.close();
});
