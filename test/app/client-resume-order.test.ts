// The command client hands a join reply over as a promise, while the pushes that follow it
// in the same read are handled at once. A resume must still deliver the reply's replayed
// messages first and the live ones after them, none dropped as a "duplicate".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient, type SocketHandlers } from '../../src/client/index.js';

test('replayed messages of a rejoin come before the live ones read with the reply', async () => {
  let handlers!: SocketHandlers;
  const client = createClient('ws://test/room', {
    reconnect: false,
    socketFactory: async (_url, h) => {
      handlers = h;
      return {
        send(text) {
          const { id, cmd, data } = JSON.parse(text) as { id: number; cmd: string; data: { room: string; since?: { e: string; o: number } } };
          if (cmd !== 'room.join') return;
          if (data.since === undefined) {
            handlers.message(JSON.stringify({ id, ok: true, data: { pos: { e: 'E', o: 5 } } }));
            return;
          }
          // one read: the reply with the messages after `since`, then a live message
          handlers.message(JSON.stringify({ id, ok: true, data: { pos: { e: 'E', o: 8 }, recovered: true, messages: [6, 7, 8].map((o) => ({ pos: { e: 'E', o }, data: o })) } }));
          handlers.message(JSON.stringify({ event: 'room.message', room: 'r', pos: { e: 'E', o: 9 }, data: 9 }));
        },
        close() {},
      };
    },
  });
  const got: number[] = [];
  await client.join('r', (data) => got.push(data as number));
  // joining again rejoins from the last position, as a reconnect does
  await client.join('r');
  assert.deepEqual(got, [6, 7, 8, 9]);
  client.close();
});
