// Several app nodes in one process, joined by in-process brokers sharing one hub: rooms,
// presence, history and resume, direct sends and cluster events across nodes, through the
// same App and ClusterRooms code that runs over Redis and NATS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { brokerCluster, MemoryBroker, MemoryHub, type HistoryOptions } from '../../src/cluster/index.js';
import { DEFINE, harness, serviceDir } from '../app/helpers.js';
import { until } from '../helpers/wait.js';

const root = serviceDir({
  'chat.ts': `import { defineService } from '${DEFINE}';
export default defineService({
  rooms: { clientPublish: true, volatile: (room) => room.startsWith('tmp-') },
  state: () => ({ heard: [] as unknown[] }),
  open(c) { c.service.cluster.on('hello', (data, from) => c.service.state.heard.push({ data, from })); },
  resumeExpired(c, room, reason) { c.push('rebuild', { room, reason }); },
  commands: {
    say: { handler: (d: any, { service }) => service.publish(d.room, d.text) },
    dm: { handler: (d: any, { service }) => { service.sendTo([d.to], 'dm', d.text); return true; } },
    shout: { handler: (d: any, { service }) => service.cluster.say('hello', d) },
    heard: { handler: (_d, { service }) => service.state.heard },
  },
});
`,
});

function cluster(n: number, history?: HistoryOptions) {
  const hub = new MemoryHub(history);
  const brokers = Array.from({ length: n }, () => new MemoryBroker({ hub }));
  const nodes = brokers.map((b) => harness(root, undefined, { cluster: brokerCluster(b) }));
  return {
    hub,
    brokers,
    nodes,
    async start() {
      for (const b of brokers) await b.start();
      for (const h of nodes) await h.app.start();
    },
  };
}

async function connect(h: ReturnType<typeof harness>, path = '/chat') {
  const c = await h.connect(path);
  assert.ok(!c.rejected);
  return c;
}

test('a room message crosses nodes; every member on every node sees the same increasing offsets', async () => {
  const cl = cluster(3);
  await cl.start();
  const members = [await connect(cl.nodes[0]!), await connect(cl.nodes[1]!), await connect(cl.nodes[2]!)];
  for (const m of members) assert.equal((await m.call('room.join', { room: 'lobby' })).ok, true);
  for (let i = 0; i < 30; i++) await members[i % 3]!.call('say', { room: 'lobby', text: `m${i}` });
  for (const m of members) {
    await until(() => m.socket.json.filter((x) => x.event === 'room.message').length === 30, 'thirty room messages');
    const got = m.socket.json.filter((x) => x.event === 'room.message');
    assert.deepEqual(got.map((x) => x.data), Array.from({ length: 30 }, (_, i) => `m${i}`));
    assert.deepEqual(got.map((x) => x.pos.o), Array.from({ length: 30 }, (_, i) => i + 1));
  }
  // one frame per node per message, not one per member
  assert.equal(cl.nodes[0]!.framer.framed >= 30, true);
});

test('presence is cluster-wide, with join and leave events across nodes', async () => {
  const cl = cluster(2);
  await cl.start();
  const a = await connect(cl.nodes[0]!);
  const b = await connect(cl.nodes[1]!);
  await a.call('room.join', { room: 'p' });
  await b.call('room.join', { room: 'p' });
  await a.socket.next((m) => m.event === 'presence.join' && m.data.id === b.id);
  await until(async () => ((await a.call('room.presence', { room: 'p' })).data as unknown[]).length === 2, 'two members listed from a');
  const ids = ((await b.call('room.presence', { room: 'p' })).data as Array<{ id: string }>).map((e) => e.id).sort();
  assert.deepEqual(ids, [a.id, b.id].sort());
  await b.close();
  await a.socket.next((m) => m.event === 'presence.leave' && m.data.id === b.id);
});

test('a client resumes on another node with every message it missed; past the window it gets room.reset and resumeExpired runs', async () => {
  const cl = cluster(2, { historySize: 5 });
  await cl.start();
  const writer = await connect(cl.nodes[0]!);
  const reader = await connect(cl.nodes[0]!);
  const { pos } = (await reader.call('room.join', { room: 'r' })).data;
  await writer.call('room.join', { room: 'r' });
  await writer.call('say', { room: 'r', text: 'seen' });
  await reader.socket.next((m) => m.event === 'room.message' && m.data === 'seen');
  const last = reader.socket.json.find((m) => m.event === 'room.message').pos;
  await reader.close(1006);
  for (const t of ['x1', 'x2', 'x3']) await writer.call('say', { room: 'r', text: t });
  const again = await connect(cl.nodes[1]!);
  const resumed = (await again.call('room.join', { room: 'r', since: last })).data;
  assert.equal(resumed.recovered, true);
  assert.deepEqual(resumed.messages.map((m: any) => m.data), ['x1', 'x2', 'x3']);
  await writer.call('say', { room: 'r', text: 'live' });
  await again.socket.next((m) => m.event === 'room.message' && m.data === 'live');
  assert.deepEqual(again.socket.json.filter((m) => m.event === 'room.message').map((m) => m.data), ['live'], 'no duplicate of what was replayed');

  for (let i = 0; i < 8; i++) await writer.call('say', { room: 'r', text: `y${i}` });
  const late = await connect(cl.nodes[1]!);
  const expired = (await late.call('room.join', { room: 'r', since: pos })).data;
  assert.deepEqual([expired.recovered, expired.reason], [false, 'expired']);
  await late.socket.next((m) => m.event === 'room.reset' && m.reason === 'expired');
  await late.socket.next((m) => m.event === 'rebuild' && m.data.room === 'r' && m.data.reason === 'expired');
});

test('a message to a connection id reaches it on its node; cluster events reach other nodes only', async () => {
  const cl = cluster(2);
  await cl.start();
  const a = await connect(cl.nodes[0]!);
  const b = await connect(cl.nodes[1]!);
  assert.equal((await a.call('dm', { to: b.id, text: 'psst' })).ok, true);
  await b.socket.next((m) => m.event === 'dm' && m.data === 'psst');
  assert.equal((await a.call('shout', { n: 1 })).data, true);
  await until(async () => ((await b.call('heard')).data as unknown[]).length === 1, 'b to hear it');
  assert.deepEqual((await b.call('heard')).data, [{ data: { n: 1 }, from: cl.brokers[0]!.nodeId }]);
  assert.deepEqual((await a.call('heard')).data, [], 'a node does not hear its own say');
});

test('volatile rooms skip history: pos null, nothing to recover', async () => {
  const cl = cluster(2);
  await cl.start();
  const a = await connect(cl.nodes[0]!);
  const b = await connect(cl.nodes[1]!);
  const joined = (await b.call('room.join', { room: 'tmp-1' })).data;
  assert.deepEqual(joined.pos, { e: '', o: 0 });
  await a.call('room.join', { room: 'tmp-1' });
  assert.equal((await a.call('say', { room: 'tmp-1', text: 'gone' })).data, null);
  const msg = await b.socket.next((m) => m.event === 'room.message' && m.data === 'gone');
  assert.equal(msg.pos, null);
});
