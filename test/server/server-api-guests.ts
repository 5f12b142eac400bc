// Guests of the chat example for the server API's tests, and the check that every API call
// reaches guests held by two different nodes (workers of one server, or servers over a broker).
import assert from 'node:assert/strict';
import { createClient, type CommandClient } from '../../src/client/index.js';
import type { ServerApiClient } from '../../src/client/server-api-client.js';
import { connect } from '../../src/transport/index.js';
import type { Node } from '../cluster/harness.js';
import { until } from '../helpers/wait.js';

export interface Guest {
  client: CommandClient;
  id: string;
  user: string;
  pushes: Array<{ event: string; data: unknown }>;
  closed: { code: number } | null;
}

/** A logged-in guest of /chat on `node` (its client is added to `clients`, for the test's cleanup). */
export async function guest(node: Node, name: string, clients: CommandClient[]): Promise<Guest> {
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
export async function guestsOnTwoNodes(node: Node, clients: CommandClient[]): Promise<[Guest, Guest]> {
  const first = await guest(node, 'ann', clients);
  for (let i = 0; i < 20; i++) {
    const other = await guest(node, `bob${i}`, clients);
    if (other.id.split('.')[0] !== first.id.split('.')[0]) return [first, other];
  }
  throw new Error('no two guests on different workers');
}

/** Publish, presence, history, send, sendToUser and disconnect through `api`, reaching both guests. */
export async function everyCallReachesBoth(api: ServerApiClient, ann: Guest, bob: Guest): Promise<void> {
  assert.notEqual(ann.id.split('.')[0], bob.id.split('.')[0], 'the guests are on different nodes');
  const heard: Record<string, unknown[]> = { ann: [], bob: [] };
  await ann.client.join('lobby', (data) => heard['ann']!.push(data));
  await bob.client.join('lobby', (data) => heard['bob']!.push(data));

  await api.publish('/chat', 'lobby', { text: 'everyone' });
  await until(() => heard['ann']!.length === 1 && heard['bob']!.length === 1, 'the message on both nodes');

  await until(async () => (await api.presence('/chat', 'lobby')).length === 2, 'both guests in presence');
  const members = await api.presence('/chat', 'lobby');
  assert.deepEqual(members.map((m) => m.id).sort(), [ann.id, bob.id].sort());
  const history = await api.history('/chat', 'lobby');
  assert.deepEqual(history.messages.map((m) => m.data), [{ text: 'everyone' }]);

  for (const g of [ann, bob]) await api.send(g.id, 'note', g.id);
  await until(() => ann.pushes.length === 1 && bob.pushes.length === 1, 'a push to each connection');
  assert.deepEqual([ann.pushes[0]!.data, bob.pushes[0]!.data], [ann.id, bob.id]);

  const sent = await api.sendToUser(bob.user, 'news', 'for bob');
  assert.equal(sent.relayed, true);
  await until(() => bob.pushes.length === 2, "the push to the user on its node");
  assert.equal(ann.pushes.length, 1);

  for (const g of [ann, bob]) await api.disconnect(g.id, { code: 4002 });
  await until(() => ann.closed?.code === 4002 && bob.closed?.code === 4002, 'both disconnected');
}
