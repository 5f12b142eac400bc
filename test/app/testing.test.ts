// The in-memory service tester that service authors use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { HandshakeRejected, serviceTester } from '../../src/app/testing.js';
import { REPO } from './helpers.js';

test('serviceTester drives the example chat service without a network', async () => {
  const t = serviceTester({ dir: join(REPO, 'examples/services') });
  await assert.rejects(t.connect('/missing'), (err: unknown) => err instanceof HandshakeRejected && err.status === 404);
  const ann = await t.connect('/chat');
  const bob = await t.connect('/chat', { headers: { authorization: 'Basic ' + Buffer.from('alice:wonderland').toString('base64') } });
  assert.deepEqual((await bob.next((m) => m.event === 'welcome')).data.user, { id: 'alice', name: 'Alice' });
  assert.equal((await ann.call('room.join', { room: 'lobby' })).error?.code, 'forbidden', 'guests must sign in first');
  assert.equal((await ann.call('login', { name: 'ann' })).ok, true);
  assert.equal((await ann.call('room.join', { room: 'lobby' })).ok, true);
  assert.equal((await bob.call('room.join', { room: 'lobby' })).ok, true);
  assert.equal((await ann.call('say', { room: 'lobby', text: '' })).error?.code, 'invalid_input');
  const said = await ann.call('say', { room: 'lobby', text: 'hello' });
  const push = await bob.next((m) => m.event === 'room.message');
  assert.deepEqual(push, { event: 'room.message', room: 'lobby', pos: said.data.pos, data: { from: 'ann', text: 'hello' } });
  assert.equal((await ann.call('slow', { ms: 60_000 })).error?.code, 'timeout');
  assert.deepEqual((await bob.call('stats')).data, { messages: 1, connections: 2 });
  await ann.close(1000, 'bye');
  assert.equal((await bob.next((m) => m.event === 'presence.leave')).data.user.name, 'ann');
});
