// The server API over real HTTP on 127.0.0.1: a `switchboard serve` of the chat example, its
// guests connected with the command client, the API driven with ServerApiClient and raw fetch.
// Once on one node and once with `--workers 2`, where the guests sit on different workers and
// every call must reach both of them whichever worker answers it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { CommandClient } from '../../src/client/index.js';
import { ServerApiClient, ServerApiError } from '../../src/client/server-api-client.js';
import { REPO } from '../app/helpers.js';
import { startNode, type Node } from '../cluster/harness.js';
import { until } from '../helpers/wait.js';
import { everyCallReachesBoth, guest, guestsOnTwoNodes } from './server-api-guests.js';

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

  const ann = await guest(node, 'ann', clients);
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
  const [ann, bob] = await guestsOnTwoNodes(node, clients);
  await everyCallReachesBoth(new ServerApiClient(node.url, { token: TOKEN }), ann, bob);
});
