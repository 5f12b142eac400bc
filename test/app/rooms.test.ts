// Rooms, presence and delivery with many connections; positions and recovery from history.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFINE, harness, serviceDir } from './helpers.js';

const root = serviceDir({
  'room.ts': `
import { defineService } from '${DEFINE}';
export default defineService({
  rooms: { join: (_c, room) => !room.startsWith('vip'), clientPublish: true },
  commands: {
    say: { handler: async (d: any, { connection, service }) => ({ pos: await service.publish(d.room, d.data, d.exceptMe ? { except: connection.id } : undefined) }) },
    dm: { handler: (d: any, { service }) => (service.sendTo(d.to, 'dm', d.data), true) },
    all: { handler: (d: any, { connection, service }) => (service.broadcast('news', d, { except: connection.id }), true) },
    everyone: { handler: (d: any, { service }) => (service.broadcastAll('global', d), true) },
    raw: { handler: (d: any, { service }) => (service.broadcastRaw(d), true) },
    enter: { handler: async (d: any, { connection }) => connection.join(d.room) },
    whoami: { handler: (_d, { connection }) => ({ id: connection.id, rooms: [...connection.rooms] }) },
    login: { handler: (d: any, { connection }) => (connection.setUser({ id: d }), true) },
  },
});`,
  'other.ts': `
import { defineService } from '${DEFINE}';
export default defineService({ rooms: { presenceEvents: false }, commands: { say: { handler: async (d: any, { service }) => service.publish(d.room, d.data) } } });`,
});

test('many connections: join, publish framed once, positions on every push, except the sender', async () => {
  const h = harness(root);
  const conns = [];
  for (let i = 0; i < 60; i++) {
    const c = await h.connect('/room');
    assert.ok(!c.rejected);
    conns.push(c);
  }
  const joins = await Promise.all(conns.map((c) => c.call('room.join', { room: 'lobby' })));
  const epoch = joins[0].data.pos.e;
  assert.ok(joins.every((j) => j.ok && j.data.pos.e === epoch && j.data.pos.o === 0));
  const before = h.framer.framed;
  const r = await conns[0]!.call('say', { room: 'lobby', data: { text: 'hi' }, exceptMe: true });
  assert.deepEqual(r.data.pos, { e: epoch, o: 1 });
  assert.equal(h.framer.framed - before, 1, 'one room message is framed once for all recipients');
  for (const c of conns.slice(1)) {
    const push = await c.socket.next((m) => m.event === 'room.message');
    assert.deepEqual(push, { event: 'room.message', room: 'lobby', pos: { e: epoch, o: 1 }, data: { text: 'hi' } });
  }
  assert.equal(conns[0]!.socket.json.filter((m) => m.event === 'room.message').length, 0, 'the sender was excluded');
  await conns[1]!.call('say', { room: 'lobby', data: 2 });
  await conns[0]!.socket.next((m) => m.event === 'room.message' && m.pos.o === 2);
});

test('presence: list and join/leave events to the other members; leave on close', async () => {
  const h = harness(root);
  const a = await h.connect('/room');
  const b = await h.connect('/room');
  assert.ok(!a.rejected && !b.rejected);
  await a.call('login', 'ann');
  await a.call('room.join', { room: 'r' });
  await b.call('room.join', { room: 'r' });
  const joined = await a.socket.next((m) => m.event === 'presence.join');
  assert.deepEqual(joined, { event: 'presence.join', room: 'r', data: { id: b.id, user: null } });
  assert.equal(b.socket.json.filter((m) => m.event === 'presence.join').length, 0, 'no event about yourself');
  const list = await b.call('room.presence', { room: 'r' });
  assert.deepEqual(list.data.map((e: { id: string }) => e.id).sort(), [a.id, b.id].sort());
  assert.deepEqual(list.data.find((e: { id: string }) => e.id === a.id).user, { id: 'ann' });
  await b.close(1000, '');
  assert.deepEqual(await a.socket.next((m) => m.event === 'presence.leave'), { event: 'presence.leave', room: 'r', data: { id: b.id, user: null } });
  assert.deepEqual((await a.call('room.presence', { room: 'r' })).data, [{ id: a.id, user: { id: 'ann' } }]);
  await a.call('room.leave', { room: 'r' });
  assert.equal((await a.call('room.presence', { room: 'r' })).error.code, 'forbidden', 'presence is for members');
});

test('join guard, input checks, clientPublish for members only, rooms are per service', async () => {
  const h = harness(root);
  const a = await h.connect('/room');
  const o = await h.connect('/other');
  assert.ok(!a.rejected && !o.rejected);
  assert.equal((await a.call('room.join', { room: 'vip-1' })).error.code, 'forbidden');
  assert.equal((await a.call('room.join', { room: '' })).error.code, 'invalid_input');
  assert.equal((await a.call('room.join', { room: 'x'.repeat(201) })).error.code, 'invalid_input');
  assert.equal((await a.call('room.join', { room: 'r', since: { e: 1, o: 'x' } })).error.code, 'invalid_input');
  assert.equal((await a.call('room.publish', { room: 'r', data: 1 })).error.code, 'forbidden');
  await a.call('room.join', { room: 'r' });
  assert.equal((await a.call('room.publish', { room: 'r', data: 1 })).data.pos.o, 1);
  await o.call('room.join', { room: 'r' });
  await o.call('say', { room: 'r', data: 'other service' });
  assert.equal(a.socket.json.filter((m) => m.event === 'room.message' && m.data === 'other service').length, 0);
  assert.equal((await o.call('room.publish', { room: 'r', data: 1 })).error.code, 'unknown_command', 'clientPublish is opt-in');
});

test('a server-side join (connection.join) answers the position and updates connection.rooms', async () => {
  const h = harness(root);
  const a = await h.connect('/room');
  assert.ok(!a.rejected);
  const r = await a.call('enter', { room: 'side' });
  assert.equal(r.data.pos.o, 0);
  assert.deepEqual((await a.call('whoami')).data.rooms, ['side']);
});

test('sendTo, broadcast to the service, broadcastAll across services, raw broadcast framed once', async () => {
  const h = harness(root);
  const a = await h.connect('/room');
  const b = await h.connect('/room');
  const o = await h.connect('/other');
  assert.ok(!a.rejected && !b.rejected && !o.rejected);
  await a.call('dm', { to: [b.id, o.id, 'nobody'], data: 'psst' });
  assert.equal((await b.socket.next((m) => m.event === 'dm')).data, 'psst');
  assert.equal((await o.socket.next((m) => m.event === 'dm')).data, 'psst');
  await a.call('all', 'n1');
  await b.socket.next((m) => m.event === 'news');
  assert.equal(a.socket.json.filter((m) => m.event === 'news').length, 0);
  assert.equal(o.socket.json.filter((m) => m.event === 'news').length, 0, 'broadcast stays within the service');
  await a.call('everyone', 'g');
  for (const c of [a, b, o]) await c.socket.next((m) => m.event === 'global');
  const before = h.framer.framed;
  await a.call('raw', 'plain text');
  assert.equal(h.framer.framed - before, 1);
  assert.ok(b.socket.sent.includes('plain text') && a.socket.sent.includes('plain text') && !o.socket.sent.includes('plain text'));
});

test('rejoin with the last position recovers what was missed, in order', async () => {
  const h = harness(root);
  const a = await h.connect('/room');
  const w = await h.connect('/room');
  assert.ok(!a.rejected && !w.rejected);
  const since = (await a.call('room.join', { room: 'h' })).data.pos;
  await w.call('room.join', { room: 'h' });
  await w.call('say', { room: 'h', data: 'seen' });
  const last = (await a.socket.next((m) => m.event === 'room.message')).pos;
  await a.close(1006, '');
  for (let i = 1; i <= 3; i++) await w.call('say', { room: 'h', data: `missed ${i}` });
  const again = await h.connect('/room');
  assert.ok(!again.rejected);
  const r = await again.call('room.join', { room: 'h', since: last });
  assert.equal(r.data.recovered, true);
  assert.deepEqual(r.data.pos, { e: since.e, o: 4 });
  assert.deepEqual(r.data.messages, [2, 3, 4].map((o, i) => ({ pos: { e: since.e, o }, data: `missed ${i + 1}` })));
  await w.call('say', { room: 'h', data: 'live' });
  const live = await again.socket.next((m) => m.event === 'room.message');
  assert.deepEqual(live.pos, { e: since.e, o: 5 });
  const upToDate = await h.connect('/room');
  assert.ok(!upToDate.rejected);
  assert.deepEqual((await upToDate.call('room.join', { room: 'h', since: live.pos })).data, { pos: live.pos, recovered: true, messages: [] });
});

test('a gap the history cannot fill gets recovered:false and a room.reset push; so does an unknown epoch', async () => {
  const h = harness(root, { historySize: 2 });
  const w = await h.connect('/room');
  assert.ok(!w.rejected);
  const { pos } = (await w.call('room.join', { room: 'z' })).data;
  for (let i = 0; i < 5; i++) await w.call('say', { room: 'z', data: i });
  const c = await h.connect('/room');
  assert.ok(!c.rejected);
  const r = await c.call('room.join', { room: 'z', since: pos });
  assert.deepEqual(r.data, { pos: { e: pos.e, o: 5 }, recovered: false, reason: 'expired' });
  const reset = await c.socket.next((m) => m.event === 'room.reset');
  assert.deepEqual(reset, { event: 'room.reset', room: 'z', reason: 'expired', pos: { e: pos.e, o: 5 } });
  const replyIndex = c.socket.json.findIndex((m) => m.id !== undefined && m.data?.reason === 'expired');
  const resetIndex = c.socket.json.findIndex((m) => m.event === 'room.reset');
  assert.ok(replyIndex < resetIndex, 'the reply comes before the reset');
  const d = await h.connect('/room');
  assert.ok(!d.rejected);
  assert.equal((await d.call('room.join', { room: 'z', since: { e: 'gone', o: 3 } })).data.reason, 'epoch');
  await d.socket.next((m) => m.event === 'room.reset' && m.reason === 'epoch');
});

test('presenceEvents: false sends no presence events', async () => {
  const h = harness(root);
  const a = await h.connect('/other');
  const b = await h.connect('/other');
  assert.ok(!a.rejected && !b.rejected);
  await a.call('room.join', { room: 'q' });
  await b.call('room.join', { room: 'q' });
  await b.close();
  await a.call('say', { room: 'q', data: 'end' });
  await a.socket.next((m) => m.event === 'room.message');
  assert.equal(a.socket.json.filter((m) => String(m.event).startsWith('presence')).length, 0);
});
