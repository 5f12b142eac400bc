// The server API over real HTTP on 127.0.0.1: a `switchboard serve` of the chat example, its
// guests connected with the command client, the API driven with ServerApiClient and raw fetch.
// Once on one node and once with `--workers 2`, where the guests sit on different workers and
// every call must reach both of them whichever worker answers it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createClient, type CommandClient } from '../../src/client/index.js';
import { ServerApiClient, ServerApiError } from '../../src/client/server-api-client.js';
import { connect } from '../../src/transport/index.js';
import { REPO } from '../app/helpers.js';
import { startNode, type Node } from '../cluster/harness.js';
import { until } from '../helpers/wait.js';

const TOKEN = 'test-token-0123456789';
const nodes: Node[] = [];
const clients: CommandClient[] = [];
after(async () => {
  for (const c of clients) c.close();
  for (const n of nodes) await n.process.kill();
});

async function serve(extra: string[]): Promise<Node> {
  const node = await startNode(join(REPO, 'examples/services'), extra);
  nodes.push(node);
  return node;
}

const httpOf = (node: Node): string => node.url.replace(/^ws:/, 'http:');

interface Guest {
  client: CommandClient;
  id: string;
  user: string;
  pushes: Array<{ event: string; data: unknown }>;
  closed: { code: number } | null;
}

async function guest(node: Node, name: string): Promise<Guest> {
  const client = createClient(`${node.url}/chat`, { connect, reconnect: false });
  clients.push(client);
  const g: Guest = { client, id: '', user: `guest:${name}`, pushes: [], closed: null };
  for (const event of ['news', 'note']) client.on(event, (data) => g.pushes.push({ event, data }));
  client.on('close', (e) => (g.closed = e as { code: number }));
  const welcome = new Promise<{ id: string }>((resolve) => client.on('welcome', (data) => resolve(data as { id: string })));
  await client.call('login', { name });
  g.id = (await welcome).id;
  return g;
}

/** Guests until two sit on different nodes (workers hand connections out round-robin). */
async function guestsOnTwoNodes(node: Node): Promise<[Guest, Guest]> {
  const first = await guest(node, 'ann');
  for (let i = 0; i < 20; i++) {
    const other = await guest(node, `bob${i}`);
    if (other.id.split('.')[0] !== first.id.split('.')[0]) return [first, other];
  }
  throw new Error('no two guests on different workers');
}

async function post(node: Node, path: string, body: unknown, token?: string): Promise<{ status: number; body: { ok: boolean; error?: { code: string; message: string } } }> {
  const res = await fetch(`${httpOf(node)}${path}`, {
    method: 'POST',
    headers: token !== undefined ? { authorization: `Bearer ${token}` } : {},
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as { ok: boolean; error?: { code: string; message: string } } };
}

async function rejects(p: Promise<unknown>, code: string, status: number): Promise<void> {
  await assert.rejects(p, (err: unknown) => err instanceof ServerApiError && err.code === code && err.status === status);
}

test('without a token the API refuses every call and the startup log says so', async () => {
  const node = await serve([]);
  const line = await node.process.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('server API off'));
  assert.match(String(line.msg), /api\.token/);
  const r = await post(node, '/api/publish', { service: '/chat', room: 'lobby', data: 1 }, 'anything');
  assert.equal(r.status, 403);
  assert.equal(r.body.error?.code, 'api_disabled');
});

test('one node: auth, validation, and every method reaching a real connection', async () => {
  const node = await serve(['--api-token', TOKEN]);
  await node.process.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('server API at'));
  assert.equal((await post(node, '/api/publish', { service: '/chat', room: 'r', data: 1 })).status, 401);
  assert.equal((await post(node, '/api/publish', { service: '/chat', room: 'r', data: 1 }, 'wrong')).status, 401);
  const api = new ServerApiClient(node.url, { token: TOKEN });
  await rejects(api.call('nope' as 'publish', { service: '/chat', room: 'r' }), 'not_found', 404);
  await rejects(api.call('publish', { service: '/chat' } as never), 'bad_request', 400);
  await rejects(api.call('disconnect', { connection: 'x.1', code: 1006 }), 'bad_request', 400);
  const malformed = await fetch(`${httpOf(node)}/api/publish`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: '{"service":' });
  assert.equal(malformed.status, 400);

  const ann = await guest(node, 'ann');
  const heard: unknown[] = [];
  await ann.client.join('lobby', (data) => heard.push(data));
  const pos = await api.publish('chat', 'lobby', { text: 'from the backend' });
  assert.ok(pos !== null && pos.o === 1);
  await until(() => heard.length === 1, 'the published message');
  assert.deepEqual(heard, [{ text: 'from the backend' }]);

  await api.publish('/chat', 'lobby', { text: 'second' });
  const latest = await api.history('/chat', 'lobby', { limit: 1 });
  assert.deepEqual(latest.messages.map((m) => m.data), [{ text: 'second' }]);
  assert.equal(latest.pos.o, 2);
  const all = await api.history('/chat', 'lobby');
  assert.deepEqual(all.messages.map((m) => m.pos.o), [1, 2]);
  const after = await api.history('/chat', 'lobby', { since: pos });
  assert.deepEqual(after.messages.map((m) => m.data), [{ text: 'second' }]);
  const otherEpoch = await api.history('/chat', 'lobby', { since: { e: 'gone', o: 1 } });
  assert.deepEqual([otherEpoch.reason, otherEpoch.messages], ['epoch', []]);

  assert.deepEqual(await api.presence('/chat', 'lobby'), [{ id: ann.id, user: { id: 'guest:ann', name: 'ann' } }]);

  await api.send(ann.id, 'note', { n: 1 });
  await until(() => ann.pushes.length === 1, 'the push to the connection');
  assert.deepEqual(ann.pushes[0], { event: 'note', data: { n: 1 } });
  await rejects(api.send(`${ann.id}0`, 'note'), 'not_found', 404);

  const sent = await api.sendToUser('guest:ann', 'news', 'for ann', { service: '/chat' });
  assert.deepEqual(sent, { local: 1, relayed: false });
  await until(() => ann.pushes.length === 2, 'the push to the user');
  assert.deepEqual(ann.pushes[1], { event: 'news', data: 'for ann' });

  await api.disconnect(ann.id, { code: 4001, reason: 'bye' });
  await until(() => ann.closed !== null, 'the disconnect');
  assert.equal(ann.closed!.code, 4001);
  await rejects(api.disconnect(ann.id), 'not_found', 404);
});

test('--workers 2: every call reaches the guests of both workers', async () => {
  const node = await serve(['--workers', '2', '--api-token', TOKEN]);
  const api = new ServerApiClient(node.url, { token: TOKEN });
  const [ann, bob] = await guestsOnTwoNodes(node);
  const heard: Record<string, unknown[]> = { ann: [], bob: [] };
  await ann.client.join('lobby', (data) => heard['ann']!.push(data));
  await bob.client.join('lobby', (data) => heard['bob']!.push(data));

  await api.publish('/chat', 'lobby', { text: 'everyone' });
  await until(() => heard['ann']!.length === 1 && heard['bob']!.length === 1, 'the message on both workers');

  const members = await api.presence('/chat', 'lobby');
  assert.deepEqual(members.map((m) => m.id).sort(), [ann.id, bob.id].sort());
  const history = await api.history('/chat', 'lobby');
  assert.deepEqual(history.messages.map((m) => m.data), [{ text: 'everyone' }]);

  for (const g of [ann, bob]) await api.send(g.id, 'note', g.id);
  await until(() => ann.pushes.length === 1 && bob.pushes.length === 1, 'a push to each connection');
  assert.deepEqual([ann.pushes[0]!.data, bob.pushes[0]!.data], [ann.id, bob.id]);

  const sent = await api.sendToUser(bob.user, 'news', 'for bob');
  assert.equal(sent.relayed, true);
  await until(() => bob.pushes.length === 2, 'the push to the user on its worker');
  assert.equal(ann.pushes.length, 1);

  for (const g of [ann, bob]) await api.disconnect(g.id, { code: 4002 });
  await until(() => ann.closed?.code === 4002 && bob.closed?.code === 4002, 'both disconnected');
});
