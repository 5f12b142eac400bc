// examples/services/chat.ts, unchanged, across the workers of `--workers 2`: two guests on
// different workers talk in one room and see each other in its presence.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createClient, type CommandClient } from '../../src/client/index.js';
import { connect } from '../../src/transport/index.js';
import { REPO } from '../app/helpers.js';
import { startNode, type Node } from './harness.js';
import { until } from '../helpers/wait.js';

let node: Node;
const clients: CommandClient[] = [];
after(async () => {
  for (const c of clients) c.close();
  await node?.process.kill();
});

async function guest(name: string): Promise<{ client: CommandClient; node: string; name: string }> {
  const client = createClient(`${node.url}/chat`, { connect, reconnect: false });
  clients.push(client);
  const welcome = new Promise<{ id: string }>((resolve) => client.on('welcome', (data) => resolve(data as { id: string })));
  await client.call('login', { name });
  return { client, node: (await welcome).id.split('.')[0]!, name };
}

test('the chat example runs unchanged across two workers', async () => {
  node = await startNode(join(REPO, 'examples/services'), ['--workers', '2']);
  const first = await guest('ann');
  let second = await guest('bob');
  for (let i = 0; i < 20 && second.node === first.node; i++) second = await guest(`bob${i}`);
  assert.notEqual(second.node, first.node, 'the two guests are on different workers');
  const heard: unknown[] = [];
  await first.client.join('lobby', (data) => heard.push(data));
  await second.client.join('lobby', () => undefined);
  await second.client.call('say', { room: 'lobby', text: 'hello from the other worker' });
  await until(() => heard.length === 1, 'the message on the first worker');
  assert.deepEqual(heard, [{ from: second.name, text: 'hello from the other worker' }]);
  const present = (await first.client.call('room.presence', { room: 'lobby' })) as Array<{ user: { name: string } }>;
  assert.deepEqual(present.map((p) => p.user.name).sort(), ['ann', second.name].sort());
});
