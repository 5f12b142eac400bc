import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { RoomIndex } from '../../src/app/rooms/room-index.js';
import { LocalRooms } from '../../src/app/rooms/local-rooms.js';

test('join, leave, members, roomsOf, leaveAll', () => {
  const rooms = new RoomIndex();
  assert.equal(rooms.join('a', 'c1'), true);
  assert.equal(rooms.join('a', 'c1'), false);
  rooms.join('a', 'c2');
  rooms.join('b', 'c1');
  assert.deepEqual([...rooms.members('a')], ['c1', 'c2']);
  assert.deepEqual([...rooms.roomsOf('c1')], ['a', 'b']);
  assert.deepEqual(rooms.leaveAll('c1').sort(), ['a', 'b']);
  assert.deepEqual([...rooms.members('a')], ['c2']);
  assert.equal(rooms.leave('a', 'c1'), false);
  assert.equal(rooms.leave('a', 'c2'), true);
  assert.equal(rooms.size, 0, 'empty rooms without history are dropped');
});

test('positions: offsets grow per room within an epoch; push text carries them', () => {
  const rooms = new RoomIndex();
  const top = rooms.top('r');
  assert.equal(top.o, 0);
  const m1 = rooms.append('r', { x: 1 });
  const m2 = rooms.append('r', 'two');
  assert.deepEqual([m1.pos.o, m2.pos.o], [1, 2]);
  assert.equal(m1.pos.e, top.e);
  assert.deepEqual(JSON.parse(m2.text), { event: 'room.message', room: 'r', pos: { e: top.e, o: 2 }, data: 'two' });
  assert.notEqual(rooms.top('other').e, top.e, 'each room has its own epoch');
});

test('read: complete, empty, expired (count), epoch, too_many', () => {
  const rooms = new RoomIndex({ historySize: 3, maxRecover: 4 });
  const { e } = rooms.top('r');
  for (let i = 1; i <= 5; i++) rooms.append('r', i);
  const ok = rooms.read('r', { e, o: 3 });
  assert.ok(ok.complete);
  assert.deepEqual(ok.messages.map((m) => m.data), [4, 5]);
  const none = rooms.read('r', { e, o: 5 });
  assert.ok(none.complete && none.messages.length === 0);
  const edge = rooms.read('r', { e, o: 2 });
  assert.ok(edge.complete && edge.messages.length === 3);
  assert.deepEqual(rooms.read('r', { e, o: 1 }), { complete: false, reason: 'expired', top: { e, o: 5 } });
  assert.equal((rooms.read('r', { e: 'other', o: 1 }) as { reason: string }).reason, 'epoch');
  assert.equal((rooms.read('r', { e, o: 9 }) as { reason: string }).reason, 'epoch');
  const big = new RoomIndex({ historySize: 100, maxRecover: 2 });
  const e2 = big.top('r').e;
  for (let i = 0; i < 5; i++) big.append('r', i);
  assert.equal((big.read('r', { e: e2, o: 1 }) as { reason: string }).reason, 'too_many');
});

test('history expires by age; an idle room is swept and comes back with a new epoch', () => {
  let now = 1000;
  const rooms = new RoomIndex({ historyTtlMs: 100, now: () => now });
  rooms.join('r', 'c');
  const { e } = rooms.top('r');
  rooms.append('r', 'old');
  now += 50;
  rooms.append('r', 'new');
  now += 60; // 'old' is 110 ms old, 'new' 60
  const r = rooms.read('r', { e, o: 0 });
  assert.equal((r as { reason: string }).reason, 'expired');
  const r2 = rooms.read('r', { e, o: 1 });
  assert.ok(r2.complete && r2.messages.length === 1);
  rooms.leave('r', 'c');
  assert.equal(rooms.sweep(), 0, 'history still alive');
  now += 1000;
  assert.equal(rooms.sweep(), 1);
  assert.notEqual(rooms.top('r').e, e);
});

test('history size 0 keeps no messages', () => {
  const rooms = new RoomIndex({ historySize: 0 });
  const { e } = rooms.top('r');
  rooms.append('r', 1);
  assert.equal((rooms.read('r', { e, o: 0 }) as { reason: string }).reason, 'expired');
  assert.throws(() => new RoomIndex({ historySize: -1 }), TypeError);
});

test('LocalRooms sweeps: a room nobody is in goes once its history expired; an occupied room keeps only unexpired messages', async () => {
  let now = 1_000;
  const delivered: string[] = [];
  const rooms = new LocalRooms({ deliver: (ids) => (delivered.push(...ids), 0) }, { historyTtlMs: 100, now: () => now });
  after(() => rooms.dispose());
  const member = (id: string) => ({ id, user: null, announce: false });
  await rooms.join('/chat', 'left-behind', member('a'), undefined, () => {});
  await rooms.join('/chat', 'busy', member('b'), undefined, () => {});
  await rooms.publish('/chat', 'left-behind', 'last words', []);
  await rooms.publish('/chat', 'busy', 'old', []);
  await rooms.leave('/chat', 'left-behind', 'a');
  assert.equal(rooms.sweep(), 0, 'the history of the empty room is still young');
  assert.equal((await rooms.history('/chat', 'left-behind', undefined, 10)).messages.length, 1);
  now += 150;
  await rooms.publish('/chat', 'busy', 'new', []);
  assert.equal(rooms.sweep(), 1, 'the empty room is dropped once its history expired');
  assert.equal((await rooms.history('/chat', 'left-behind', undefined, 10)).messages.length, 0);
  assert.deepEqual((await rooms.history('/chat', 'busy', undefined, 10)).messages.map((m) => m.data), ['new']);
});
