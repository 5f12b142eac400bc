// Live state over real sockets: subscribe, versioned patches in order, resume with `since`,
// the whole value when the patches are gone, guards, unsubscribe, and the command client's
// live values across a reconnect; one frame per change for all subscribers (in-memory app).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { until } from '../helpers/wait.js';
import { AppServer } from '../../src/server/app-server.js';
import { connect } from '../../src/transport/client.js';
import { createClient, type CommandClient } from '../../src/client/index.js';
import { applyPatch, type Json } from '../../src/client/json-patch.js';
import { TestClient } from '../runtime/ws-client.js';
import { DEFINE, harness, serviceDir } from './helpers.js';

const SERVICE = `
import { defineService } from '${DEFINE}';
export default defineService({
  live: {
    score: { initial: { home: 0, away: 0, log: [] as string[] } },
    short: { initial: 0, history: 2 },
    'board/:id': { initial: (p) => ({ id: p.id, n: 0 }) },
    'private/:user': { initial: 'secret', subscribe: (c, p) => c.user?.id === p.user },
  },
  commands: {
    login: { handler: (d: any, { connection }) => (connection.setUser({ id: d }), true) },
    goal: { handler: (d: any, { service }) => service.live('score').update((s: any) => { s[d.side] += 1; s.log.push(d.side); }) },
    bump: { handler: (d: any, { service }) => service.live('board/' + d.id).update((b: any) => { b.n += 1; }) },
    setShort: { handler: (d: any, { service }) => service.live('short').set(d) },
    read: { handler: async (d: any, { service }) => ({ v: await service.live(d).version(), value: await service.live(d).get() }) },
    kick: { handler: (_d, { connection }) => { setTimeout(() => connection.close(4000, 'kicked'), 0); return true; } },
  },
});`;
const dir = serviceDir({ 'game.ts': SERVICE });
const server = new AppServer({ dir, port: 0 });
const { port } = await server.listen();
const url = `ws://127.0.0.1:${port}/game`;
after(() => server.close());

type Msg = Record<string, any>;
const patches = (c: TestClient, name: string) => (c.received as Msg[]).filter((m) => m.event === 'live.patch' && m.name === name);

test('subscribe answers the value and version; every change is pushed as the next version, in order, to every subscriber', async () => {
  const a = await TestClient.open(url);
  const b = await TestClient.open(url);
  const first = (await a.call('live.subscribe', { name: 'score' })) as Msg;
  assert.deepEqual(first, { name: 'score', v: first.v, value: first.value });
  const start = first.v as number;
  await b.call('live.subscribe', { name: 'score' });
  // concurrent writers: each change still gets exactly one version
  await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).call('goal', { side: i % 3 ? 'home' : 'away' })));
  for (const c of [a, b]) {
    await until(() => patches(c, 'score').length === 20, 'twenty patches');
    const got = patches(c, 'score');
    assert.deepEqual(got.map((m) => m.v), Array.from({ length: 20 }, (_, i) => start + i + 1), 'dense versions, in order');
    let value = first.value as Json;
    for (const m of got) value = applyPatch(value, m.patch);
    const read = (await a.call('read', 'score')) as Msg;
    assert.deepEqual(value, read.value, 'the patches rebuild the server value');
    assert.equal(read.v, start + 20);
  }
  a.close();
  b.close();
});

test('resubscribe with since: the patches after it, or the whole value when they are no longer kept', async () => {
  const c = await TestClient.open(url);
  const s0 = (await c.call('live.subscribe', { name: 'short' })) as Msg;
  await c.call('setShort', 1);
  await c.call('setShort', 2);
  const v = s0.v + 2;
  const resumed = (await c.call('live.subscribe', { name: 'short', since: v - 1 })) as Msg;
  assert.equal(resumed.v, v);
  assert.deepEqual(resumed.patches.map((p: Msg) => p.v), [v]);
  assert.equal(applyPatch(1, resumed.patches[0].patch), 2);
  await c.call('setShort', 3);
  await c.call('setShort', 4);
  // history 2: version v-1 -> v+2 needs three patches
  const whole = (await c.call('live.subscribe', { name: 'short', since: v - 1 })) as Msg;
  assert.deepEqual(whole, { name: 'short', v: v + 2, value: 4 });
  // a version from the future (another server's) also gets the whole value
  assert.deepEqual(await c.call('live.subscribe', { name: 'short', since: v + 100 }), { name: 'short', v: v + 2, value: 4 });
  c.close();
});

test('names with parameters are values of their own; undeclared names and refused guards answer errors', async () => {
  const c = await TestClient.open(url);
  assert.deepEqual(await c.call('live.subscribe', { name: 'board/x' }), { name: 'board/x', v: 0, value: { id: 'x', n: 0 } });
  await c.call('bump', { id: 'x' });
  await c.call('bump', { id: 'y' });
  await until(() => patches(c, 'board/x').length === 1, 'board/x patch');
  assert.equal(patches(c, 'board/y').length, 0, 'not subscribed to board/y');
  const missing = await c.reply(c.send('live.subscribe', { name: 'nothing' }));
  assert.deepEqual([missing.ok, missing.error?.code], [false, 'not_found']);
  const refused = await c.reply(c.send('live.subscribe', { name: 'private/ann' }));
  assert.deepEqual([refused.ok, refused.error?.code], [false, 'forbidden']);
  await c.call('login', 'ann');
  assert.deepEqual(await c.call('live.subscribe', { name: 'private/ann' }), { name: 'private/ann', v: 0, value: 'secret' });
  const bad = await c.reply(c.send('live.subscribe', { name: 'short', since: -1 }));
  assert.deepEqual([bad.ok, bad.error?.code], [false, 'invalid_input']);
  c.close();
});

test('unsubscribe: no more patches for that value (and the others keep coming)', async () => {
  const c = await TestClient.open(url);
  await c.call('live.subscribe', { name: 'board/u' });
  await c.call('live.subscribe', { name: 'board/w' });
  assert.deepEqual(await c.call('live.unsubscribe', { name: 'board/u' }), { name: 'board/u', subscribed: true });
  assert.deepEqual(await c.call('live.unsubscribe', { name: 'board/u' }), { name: 'board/u', subscribed: false });
  await c.call('bump', { id: 'u' });
  await c.call('bump', { id: 'w' });
  // pushes to one connection keep their order: board/w's patch came after board/u's change
  await until(() => patches(c, 'board/w').length === 1, 'board/w patch');
  assert.equal(patches(c, 'board/u').length, 0);
  c.close();
});

test('the command client: get, subscribe, change events and async iteration; current again after a reconnect', async () => {
  const client: CommandClient<any> = createClient(url, { connect, reconnect: { initialDelayMs: 20 } });
  const other = await TestClient.open(url);
  const board = client.live('board/c');
  assert.deepEqual(await board.ready, { id: 'c', n: 0 });
  assert.equal(board.version, 0);
  const seen: number[] = [];
  board.subscribe((value: any) => seen.push(value.n));
  const changes: number[] = [];
  board.on('change', (_value, change) => changes.push(change.v));
  const iterated: number[] = [];
  const iterating = (async () => {
    for await (const value of board) {
      iterated.push((value as any).n);
      if ((value as any).n === 3) break;
    }
  })();
  for (let i = 0; i < 3; i++) await other.call('bump', { id: 'c' });
  await until(() => board.version === 3, 'version 3');
  await iterating;
  assert.deepEqual(seen, [0, 1, 2, 3]);
  assert.deepEqual(changes, [1, 2, 3]);
  assert.deepEqual(iterated, [0, 1, 2, 3]);
  assert.equal(client.live('board/c'), board, 'one object per name');

  // disconnected while it changes: after the reconnect it resubscribes from version 3
  const closed = new Promise((resolve) => client.on('close', resolve));
  await client.call('kick');
  await closed;
  for (let i = 0; i < 2; i++) await other.call('bump', { id: 'c' });
  await until(() => board.version === 5, 'caught up after the reconnect');
  assert.deepEqual(board.get(), { id: 'c', n: 5 });
  assert.deepEqual(seen, [0, 1, 2, 3, 4, 5], 'the missed versions arrive as patches, in order');
  await board.close();
  await other.call('bump', { id: 'c' });
  await other.call('read', 'board/c');
  assert.equal(board.version, 5, 'closed: no more changes');
  client.close();
  other.close();
});

test('the command client: a refused subscription rejects ready', async () => {
  const client: CommandClient<any> = createClient(url, { connect });
  await assert.rejects(client.live('private/bob').ready, (err: any) => err.code === 'forbidden');
  client.close();
});

test('a change is framed once for all the subscribers of a node', async () => {
  const h = harness(dir);
  const conns = [];
  for (let i = 0; i < 50; i++) {
    const c = await h.connect('/game');
    assert.ok(!c.rejected);
    conns.push(c);
  }
  for (const c of conns) assert.equal((await c.call('live.subscribe', { name: 'board/f' })).ok, true);
  const before = h.framer.framed;
  await conns[0]!.call('bump', { id: 'f' });
  for (const c of conns) await c.socket.next((m) => m.event === 'live.patch' && m.name === 'board/f');
  assert.equal(h.framer.framed - before, 1, 'one frame for fifty subscribers (the reply is a plain send)');
});
