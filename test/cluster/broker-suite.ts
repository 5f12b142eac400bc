// The Broker contract, run against every adapter: each adapter's test file calls
// brokerSuite() with a way to make connected nodes. Positions are only required to grow
// (NATS numbers a room with the stream's sequence); `dense` adapters must number 1, 2, 3.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import type { Broker, PresenceChange, RoomMessage, RoomReset } from '../../src/cluster/broker.js';
import { until, within } from '../helpers/wait.js';

export interface HistoryLimits {
  historySize?: number;
  historyTtlMs?: number;
}

export interface BrokerFixture {
  /** `n` started nodes sharing one broker (one fresh namespace per call). */
  nodes(n: number, history?: HistoryLimits): Promise<Broker[]>;
  /** Offsets are 1, 2, 3 ... per room. */
  dense: boolean;
  teardown(): Promise<void>;
}

const bytes = (s: string): Uint8Array => Buffer.from(s);
const text = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
let roomSeq = 0;
const freshRoom = (): string => `/suite#room-${process.pid}-${++roomSeq}`;

export function brokerSuite(name: string, make: () => Promise<BrokerFixture>): void {
  describe(`Broker contract: ${name}`, () => {
    let fx: BrokerFixture;
    const opened: Broker[] = [];
    const nodes = async (n: number, history?: HistoryLimits): Promise<Broker[]> => {
      fx ??= await make();
      const list = await fx.nodes(n, history);
      opened.push(...list);
      return list;
    };
    after(async () => {
      for (const b of opened) await b.close().catch(() => undefined);
      await fx?.teardown();
    });

    test('status is up once started; node ids are distinct and listed by nodes()', async () => {
      const [a, b] = await nodes(2);
      assert.equal(a!.status().state, 'up');
      assert.notEqual(a!.nodeId, b!.nodeId);
      await until(async () => {
        const ids = (await a!.nodes()).map((x) => x.id);
        return ids.includes(a!.nodeId) && ids.includes(b!.nodeId);
      }, 'both nodes to hold a lease');
    });

    test('publish reaches every subscriber of the channel, on every node; unsubscribe stops it', async () => {
      const [a, b] = await nodes(2);
      const channel = `chan-${roomSeq++}`;
      const gotA: string[] = [];
      const gotB: string[] = [];
      await a!.subscribe(channel, (p) => gotA.push(text(p)));
      const unsubB = await b!.subscribe(channel, (p) => gotB.push(text(p)));
      assert.equal(await a!.publish(channel, bytes('one')), true);
      await until(() => gotA.length === 1 && gotB.length === 1, 'the first message on both nodes');
      await unsubB();
      assert.equal(await b!.publish(channel, bytes('two')), true);
      await until(() => gotA.length === 2, 'the second message on a');
      assert.deepEqual(gotA, ['one', 'two']);
      assert.deepEqual(gotB, ['one']);
    });

    test('append numbers in order; every follower on every node gets each message once, in order', async () => {
      const [a, b, c] = await nodes(3);
      const room = freshRoom();
      const seenA: RoomMessage[] = [];
      const seenB: RoomMessage[] = [];
      const resets: RoomReset[] = [];
      await a!.follow(room, (m) => seenA.push(m), (r) => resets.push(r));
      await b!.follow(room, (m) => seenB.push(m), (r) => resets.push(r));
      const start = await c!.top(room);
      const positions = [];
      for (let i = 0; i < 30; i++) positions.push(await [a, b, c][i % 3]!.append(room, bytes(`m${i}`)));
      for (let i = 1; i < positions.length; i++) {
        assert.equal(positions[i]!.e, positions[0]!.e);
        assert.ok(positions[i]!.o > positions[i - 1]!.o, 'offsets grow');
        if (fx.dense) assert.equal(positions[i]!.o, positions[i - 1]!.o + 1, 'dense offsets');
      }
      if (fx.dense) assert.equal(positions[0]!.o, start.o + 1);
      await until(() => seenA.length === 30 && seenB.length === 30, 'all 30 messages on both followers');
      for (const seen of [seenA, seenB]) {
        assert.deepEqual(seen.map((m) => text(m.payload)), positions.map((_, i) => `m${i}`));
        assert.deepEqual(seen.map((m) => m.pos), positions);
        assert.ok(seen.every((m) => m.room === room));
      }
      assert.deepEqual(resets, []);
    });

    test('read: everything after a position, complete; nothing after the top; an unknown epoch is said', async () => {
      const [a, b] = await nodes(2);
      const room = freshRoom();
      const top0 = await a!.top(room);
      const empty = await b!.read(room, top0, 100);
      assert.ok(empty.complete);
      assert.deepEqual(empty.messages, []);
      const p = [];
      for (let i = 0; i < 5; i++) p.push(await a!.append(room, bytes(`r${i}`)));
      const r = await b!.read(room, p[1]!, 100);
      assert.ok(r.complete);
      assert.deepEqual(r.messages.map((m) => text(m.payload)), ['r2', 'r3', 'r4']);
      assert.deepEqual(r.top, p[4]);
      const tooMany = await b!.read(room, p[0]!, 2);
      assert.deepEqual([tooMany.complete, !tooMany.complete && tooMany.reason], [false, 'too_many']);
      const other = await b!.read(room, { e: 'no-such-epoch', o: 1 }, 100);
      assert.deepEqual([other.complete, !other.complete && other.reason], [false, 'epoch']);
      assert.deepEqual((await b!.top(room)).e, p[0]!.e);
    });

    test('history keeps the last historySize messages: older positions are expired', async () => {
      const [a] = await nodes(1, { historySize: 3 });
      const room = freshRoom();
      const p = [await a!.top(room)];
      for (let i = 0; i < 8; i++) p.push(await a!.append(room, bytes(`h${i}`)));
      const old = await a!.read(room, p[1]!, 100);
      assert.deepEqual([old.complete, !old.complete && old.reason], [false, 'expired']);
      const recent = await a!.read(room, p[5]!, 100);
      assert.ok(recent.complete);
      assert.deepEqual(recent.messages.map((m) => text(m.payload)), ['h5', 'h6', 'h7']);
    });

    test('presence: set on one node, listed and announced on another; delete announces a leave with the entry', async () => {
      const [a, b] = await nodes(2);
      const room = freshRoom();
      const changes: PresenceChange[] = [];
      await b!.watchPresence(room, (c) => changes.push(c));
      const entry = { connId: `${a!.nodeId}.1`, info: { id: 'ada' }, node: a!.nodeId, since: Date.now() };
      await a!.presenceSet(room, entry);
      await until(async () => (await b!.presenceList(room)).entries.length === 1, 'the entry listed on b');
      const listed = (await b!.presenceList(room)).entries[0]!;
      assert.deepEqual({ connId: listed.connId, info: listed.info, node: listed.node }, { connId: entry.connId, info: { id: 'ada' }, node: a!.nodeId });
      await until(() => changes.some((c) => c.type === 'join'), 'the join announced on b');
      await a!.presenceDelete(room, entry.connId);
      await until(() => changes.some((c) => c.type === 'leave'), 'the leave announced on b');
      const leave = changes.find((c) => c.type === 'leave')!;
      assert.equal(leave.entry.connId, entry.connId);
      assert.deepEqual(leave.entry.info, { id: 'ada' });
      assert.deepEqual((await b!.presenceList(room)).entries, []);
    });

    test('a node that closes takes its presence with it: exactly one leave per entry', async () => {
      const [a, b] = await nodes(2);
      const room = freshRoom();
      const leaves: string[] = [];
      await b!.watchPresence(room, (c) => {
        if (c.type === 'leave') leaves.push(c.entry.connId);
      });
      for (const i of [1, 2, 3]) await a!.presenceSet(room, { connId: `${a!.nodeId}.${i}`, info: null, node: a!.nodeId, since: Date.now() });
      await b!.presenceSet(room, { connId: `${b!.nodeId}.9`, info: null, node: b!.nodeId, since: Date.now() });
      await until(async () => (await b!.presenceList(room)).entries.length === 4, 'four entries');
      await a!.close();
      await until(async () => (await b!.presenceList(room)).entries.length === 1, 'only b\'s entry left');
      await until(() => leaves.length >= 3, 'three leaves');
      assert.deepEqual([...leaves].sort(), [1, 2, 3].map((i) => `${a!.nodeId}.${i}`).sort());
      await until(async () => !(await b!.nodes()).some((n) => n.id === a!.nodeId), 'a\'s lease gone');
    });

    test('unfollow stops the feed', async () => {
      const [a, b] = await nodes(2);
      const room = freshRoom();
      const seen: string[] = [];
      const unfollow = await a!.follow(room, (m) => seen.push(text(m.payload)), () => undefined);
      await b!.append(room, bytes('before'));
      await until(() => seen.length === 1, 'the first message');
      await unfollow();
      await b!.append(room, bytes('after'));
      // a second follower proves the message went out, so its absence on `a` means something
      const other: string[] = [];
      await b!.follow(room, (m) => other.push(text(m.payload)), () => undefined);
      await b!.append(room, bytes('third'));
      await within(until(() => other.length === 1, 'the third message on b'), 'b sees the third message');
      assert.deepEqual(seen, ['before']);
    });
  });
}
