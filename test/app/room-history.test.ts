// Reading a room's history from outside (the server API's `history`): the single-process
// rooms and the rooms over a broker answer alike, within the history's bounds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalRooms } from '../../src/app/rooms/local-rooms.js';
import type { Rooms } from '../../src/app/rooms/rooms.js';
import { brokerCluster, MemoryBroker, MemoryHub } from '../../src/cluster/index.js';

const nowhere = { deliver: () => 0, close: () => false, event: () => undefined };

async function kinds(historySize: number): Promise<Array<[string, Rooms]>> {
  const broker = new MemoryBroker({ hub: new MemoryHub({ historySize }) });
  await broker.start();
  const cluster = brokerCluster(broker)(nowhere);
  await cluster.start();
  return [
    ['local', new LocalRooms(nowhere, { historySize })],
    ['broker', cluster.rooms],
  ];
}

test('the latest messages the history holds, the messages after a position, and what it cannot answer', async () => {
  for (const [kind, rooms] of await kinds(3)) {
    const empty = await rooms.history('/s', 'r', undefined, 10);
    assert.deepEqual([empty.pos.o, empty.messages], [0, []], kind);
    const positions = [];
    for (let i = 1; i <= 5; i++) positions.push((await rooms.publish('/s', 'r', { i }, []))!);
    const latest = await rooms.history('/s', 'r', undefined, 10);
    assert.deepEqual(latest.messages.map((m) => m.data), [{ i: 3 }, { i: 4 }, { i: 5 }], `${kind}: only what the history holds`);
    assert.equal(latest.pos.o, 5, kind);
    assert.deepEqual((await rooms.history('/s', 'r', undefined, 2)).messages.map((m) => m.pos.o), [4, 5], kind);
    assert.deepEqual((await rooms.history('/s', 'r', positions[2], 1)).messages.map((m) => m.pos.o), [4], `${kind}: first after since`);
    assert.deepEqual((await rooms.history('/s', 'r', positions[4], 10)).messages, [], `${kind}: nothing after the top`);
    const expired = await rooms.history('/s', 'r', positions[0], 10);
    assert.deepEqual([expired.reason, expired.messages, expired.pos.o], ['expired', [], 5], kind);
    const epoch = await rooms.history('/s', 'r', { e: 'other', o: 1 }, 10);
    assert.equal(epoch.reason, 'epoch', kind);
    assert.deepEqual((await rooms.history('/other', 'r', undefined, 10)).messages, [], `${kind}: rooms are per service`);
  }
});
