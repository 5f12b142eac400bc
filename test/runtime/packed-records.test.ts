// Packed records (one byte segment for many small messages of a unit's channel) and the
// batcher that sends them: what goes in comes out whole and in order, and a 'settled'
// batcher gathers a promise chain's output into one write, still ahead of any task.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PackedWriter, packable, readPacked } from '../../src/runtime/packed-records.js';
import { IPC_VERSION, OutboundBatcher, type ChildMessage } from '../../src/runtime/child-messages.js';

interface Rec {
  tag: number;
  key: string;
  data: string | Uint8Array;
  binary: boolean;
}

const arbRecord: fc.Arbitrary<Rec> = fc.record({
  tag: fc.integer({ min: 0, max: 255 }),
  key: fc.oneof(fc.constant(''), fc.string({ unit: 'grapheme', maxLength: 20 })),
  data: fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 200 }),
    fc.uint8Array({ maxLength: 300 }),
    // large enough to make the segment grow past its first 64 KiB
    fc.integer({ min: 30_000, max: 90_000 }).map((n) => new Uint8Array(n).fill(n & 0xff)),
  ),
  binary: fc.boolean(),
});

const plain = (r: Rec) => ({ ...r, data: typeof r.data === 'string' ? r.data : [...r.data] });

function roundTrip(records: Rec[], ownSegments: boolean): Rec[] {
  const w = new PackedWriter(ownSegments);
  for (const r of records) w.add(r.tag, r.key, r.data, r.binary);
  const out: Rec[] = [];
  if (!w.empty) readPacked(w.take(), (tag, key, data, binary) => out.push({ tag, key, data, binary }));
  return out;
}

test('records come out as they went in, in order (strings as strings, bytes as bytes)', () => {
  fc.assert(
    fc.property(fc.array(arbRecord, { maxLength: 12 }), fc.boolean(), (records, own) => {
      assert.deepEqual(roundTrip(records, own).map(plain), records.map(plain));
    }),
    { numRuns: 300 },
  );
});

const keys = (seg: Uint8Array): string[] => {
  const out: string[] = [];
  readPacked(seg, (_t, key) => out.push(key));
  return out;
};

test('own segments have memory of their own (transferable)', () => {
  const own = new PackedWriter(true);
  own.add(1, 'a', 'x', false);
  const first = own.take();
  own.add(1, 'b', 'y', false);
  const second = own.take();
  assert.equal(first.byteOffset, 0);
  assert.notEqual(first.buffer, second.buffer);
  assert.deepEqual([keys(first), keys(second)], [['a'], ['b']]);
});

test('a reused scratch: segments of one write follow each other, even across a growth; rewound after release', () => {
  const w = new PackedWriter(false);
  w.add(1, 'a', 'x', false);
  const first = w.take();
  w.add(1, 'b', 'y', false);
  w.add(1, 'c', new Uint8Array(100_000), true); // grows: the segment so far moves, `first` stays
  const second = w.take();
  w.add(1, 'd', 'z', false);
  const third = w.take();
  assert.deepEqual([keys(first), keys(second), keys(third)], [['a'], ['b', 'c'], ['d']]);
  w.release();
  w.add(1, 'e', 'w', false);
  const again = w.take();
  assert.equal(again.buffer, third.buffer, 'the scratch is written over once released');
  assert.equal(again.byteOffset, 0);
});

test('a segment cut short is refused, not read past its end', () => {
  const w = new PackedWriter(true);
  w.add(3, 'key', 'some data', false);
  const seg = w.take();
  assert.throws(() => readPacked(seg.subarray(0, seg.length - 1), () => undefined), /runs past/);
  assert.throws(() => readPacked(seg.subarray(0, 5), () => undefined), /truncated/);
});

test('packable: strings and Uint8Arrays under a short key; anything else is posted', () => {
  assert.equal(packable('c.1', 'text'), true);
  assert.equal(packable('c.1', Buffer.from('x')), true);
  assert.equal(packable('c.1', new ArrayBuffer(2)), false);
  assert.equal(packable('c.1', { a: 1 }), false);
  assert.equal(packable('k'.repeat(30_000), 'x'), false);
});

type Written = { message: unknown; transfer: ArrayBuffer[] | undefined };

function batcher(flushOn: 'immediate' | 'settled', canTransfer: boolean) {
  const writes: Written[] = [];
  // Like a channel: a process channel has copied the message when send() returns.
  const out = new OutboundBatcher<ChildMessage>(
    (message, transfer) => writes.push({ message: canTransfer ? message : structuredClone(message), transfer }),
    flushOn,
    canTransfer,
  );
  return { out, writes };
}

/** What a receiver makes of the writes: structured messages and packed records in order. */
function unpack(writes: Written[]): unknown[] {
  const seen: unknown[] = [];
  const one = (m: { type: string; bytes?: Uint8Array; messages?: unknown[] }): void => {
    if (m.type === 'batch') for (const x of m.messages!) one(x as typeof m);
    else if (m.type === 'packed') readPacked(m.bytes!, (_tag, key, data) => seen.push(`${key}:${String(data)}`));
    else seen.push(m.type);
  };
  for (const w of writes) one(w.message as Parameters<typeof one>[0]);
  return seen;
}

for (const canTransfer of [true, false]) {
  test(`packed records and structured messages leave in the order they were sent, in one write (${canTransfer ? 'worker' : 'process'})`, async () => {
    const { out, writes } = batcher('immediate', canTransfer);
    for (let turn = 0; turn < 2; turn++) {
      out.sendPacked(1, 'a', '1', false);
      out.sendPacked(1, 'b', '2', false);
      out.send({ v: IPC_VERSION, type: 'ready' });
      out.sendPacked(1, 'a', '3', false);
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(writes.length, 2);
    assert.deepEqual(unpack(writes), ['a:1', 'b:2', 'ready', 'a:3', 'a:1', 'b:2', 'ready', 'a:3']);
    const batch = writes[0]!.message as { messages: Array<{ bytes?: Uint8Array }> };
    const segments = batch.messages.filter((m) => m.bytes).map((m) => m.bytes!.buffer);
    if (canTransfer) assert.deepEqual(writes[0]!.transfer, segments, 'each segment is moved, not copied');
    else assert.equal(writes[0]!.transfer, undefined);
  });
}

test("'settled': the output of promise chains leaves in one write, before a task scheduled first", async () => {
  const { out, writes } = batcher('settled', false);
  const order: string[] = [];
  setImmediate(() => order.push(`task saw ${writes.length} write(s)`));
  // three chains, each sending after a few hops, like one connection's messages in turn
  const chain = async (name: string): Promise<void> => {
    for (let i = 0; i < 3; i++) {
      await null;
      await null;
      out.sendPacked(1, name, String(i), false);
    }
  };
  await Promise.all([chain('a'), chain('b'), chain('c')]);
  await new Promise((r) => setImmediate(r));
  assert.equal(writes.length, 1);
  assert.deepEqual(unpack(writes), ['a:0', 'b:0', 'c:0', 'a:1', 'b:1', 'c:1', 'a:2', 'b:2', 'c:2']);
  assert.deepEqual(order, ['task saw 1 write(s)']);
  assert.equal(writes[0]!.transfer, undefined, 'nothing to transfer over a process channel');
});

test("'settled': a sender busy in every round of the microtask queue still gets its output out", async () => {
  const { out, writes } = batcher('settled', false);
  let n = 0;
  const spin = (): void => {
    out.sendPacked(1, 'k', String(n), false);
    if (++n < 1000) queueMicrotask(spin);
  };
  spin();
  await new Promise((r) => setImmediate(r));
  assert.ok(writes.length > 1, 'flushed before the sender stopped');
  assert.equal(unpack(writes).length, 1000);
});
