import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlushQueue, type Flushable } from '../../src/transport/flush-queue.js';
import { until } from '../helpers/wait.js';

/** A socket stand-in that joins `bytes` for its write on flush, as WebSocket does, and reports whether the "kernel" took it. */
function writer(q: FlushQueue, bytes: number, fill: number, taken: boolean, seen: Array<{ buf: Buffer; at: number }>): Flushable {
  return {
    flush() {
      const at = q.joins.reserve(bytes);
      q.joins.buf.fill(fill, at, at + bytes);
      seen.push({ buf: q.joins.buf, at });
      return taken;
    },
  };
}

test('a turn whose writes the kernel all takes joins them in one block, however many there are', async () => {
  const q = new FlushQueue(4096);
  const seen: Array<{ buf: Buffer; at: number }> = [];
  // 100 sockets x 1000 bytes: 25 blocks' worth if each write kept its bytes
  for (let i = 0; i < 100; i++) q.add(writer(q, 1000, i, true, seen));
  await until(() => seen.length === 100, 'the turn to flush');
  assert.equal(new Set(seen.map((s) => s.buf)).size, 1, 'one block for the whole turn');
  assert.ok(seen.every((s) => s.at === 0), 'each write starts where the last one, already taken, started');
});

test('bytes a socket still holds are never written over, in its turn or later', async () => {
  const q = new FlushQueue(4096);
  const seen: Array<{ buf: Buffer; at: number }> = [];
  q.add(writer(q, 1000, 1, true, seen));
  q.add(writer(q, 1000, 2, false, seen)); // left queued: its bytes must stay as written
  for (let i = 3; i < 20; i++) q.add(writer(q, 1000, i, true, seen));
  await until(() => seen.length === 19, 'the turn to flush');
  const held = seen[1]!;
  assert.ok(held.buf.subarray(held.at, held.at + 1000).every((b) => b === 2), 'the queued write kept its bytes through the turn');
  // the next turn starts in a fresh block
  for (let i = 0; i < 5; i++) q.add(writer(q, 1000, 100 + i, true, seen));
  await until(() => seen.length === 24, 'the next turn to flush');
  assert.ok(held.buf.subarray(held.at, held.at + 1000).every((b) => b === 2), 'and through the next turn');
});

test('frames built during the turn stay intact until their own socket writes them', async () => {
  const q = new FlushQueue(64 * 1024);
  const seen: Array<{ buf: Buffer; at: number }> = [];
  // a frame built in the arena while the turn ran (as outputRange does), for a socket that flushes last
  const at = q.arena.reserve(1000);
  const frame = q.arena.buf.subarray(at, at + 1000).fill(0xbb);
  let intact: boolean | undefined;
  const last: Flushable = {
    flush() {
      intact = frame.every((b) => b === 0xbb);
      return true;
    },
  };
  for (let i = 0; i < 10; i++) q.add(writer(q, 1000, i, true, seen));
  q.add(last);
  await until(() => intact !== undefined, 'the turn to flush');
  assert.equal(intact, true, 'the other sockets\' joined writes did not go over it');
  assert.equal(new Set(seen.map((s) => s.buf)).size, 1, 'and they still shared one block');
});
