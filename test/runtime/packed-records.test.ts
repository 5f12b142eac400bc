// Packed records (one byte segment for many small messages of a unit's channel) and the
// batcher that sends them: what goes in comes out whole and in order, and a 'settled'
// batcher gathers a promise chain's output into one write, still ahead of any task.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PackedWriter, SlotGroupedReader, packable, readPacked, type TextAs } from '../../src/runtime/packed-records.js';
import { IPC_VERSION, OutboundBatcher, type ChildMessage } from '../../src/runtime/child-messages.js';

interface Rec {
  tag: number;
  slot: number;
  data: string | Uint8Array;
  binary: boolean;
}

const arbRecord: fc.Arbitrary<Rec> = fc.record({
  tag: fc.integer({ min: 0, max: 255 }),
  slot: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.constant(0xffff_ffff)),
  data: fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 200 }),
    fc.uint8Array({ maxLength: 300 }),
    // large enough to make the segment grow past its first 64 KiB
    fc.integer({ min: 30_000, max: 90_000 }).map((n) => new Uint8Array(n).fill(n & 0xff)),
  ),
  binary: fc.boolean(),
});

const plain = (r: Rec) => ({ ...r, data: typeof r.data === 'string' ? r.data : [...r.data] });

function roundTrip(records: Rec[], ownSegments: boolean, text: TextAs): Rec[] {
  const w = new PackedWriter(ownSegments);
  for (const r of records) w.add(r.tag, r.slot, r.data, r.binary);
  const out: Rec[] = [];
  if (!w.empty) readPacked(w.take(), (tag, slot, data, binary) => out.push({ tag, slot, data, binary }), text);
  return out;
}

/** What a reader makes of a record: text (a string, or bytes not flagged binary) as a string when it asks for strings; otherwise bytes. */
function expected(r: Rec, text: TextAs): Rec {
  const bytes = typeof r.data === 'string' ? Buffer.from(r.data) : r.data;
  const textual = typeof r.data === 'string' || !r.binary;
  return { ...r, data: text === 'string' && textual ? Buffer.from(bytes).toString('utf8') : bytes };
}

test('records come out in order, with their tag, slot and flag; text as a string or as its UTF-8 bytes, as the reader asks', () => {
  fc.assert(
    fc.property(fc.array(arbRecord, { maxLength: 12 }), fc.boolean(), fc.constantFrom<TextAs>('string', 'bytes'), (records, own, text) => {
      const out = roundTrip(records, own, text);
      assert.deepEqual(out.map(plain), records.map((r) => plain(expected(r, text))));
      // a service gets plain Uint8Arrays (as inline); the transport gets Buffers it takes as they are
      for (const r of out) if (typeof r.data !== 'string') assert.equal(Buffer.isBuffer(r.data), text === 'bytes');
    }),
    { numRuns: 300 },
  );
});

test('a string stays the same string across (multi-byte UTF-8 included)', () => {
  const s = 'héllo, 世界 🌍';
  assert.deepEqual(roundTrip([{ tag: 1, slot: 3, data: s, binary: false }], true, 'string'), [{ tag: 1, slot: 3, data: s, binary: false }]);
  const [asBytes] = roundTrip([{ tag: 1, slot: 3, data: s, binary: false }], true, 'bytes');
  assert.deepEqual([...(asBytes!.data as Uint8Array)], [...Buffer.from(s)]);
});

const keys = (seg: Uint8Array): string[] => {
  const out: string[] = [];
  readPacked(seg, (_t, slot, data) => out.push(`${slot}:${typeof data === 'string' ? data : `[${data.join()}]`}`));
  return out;
};

test('own segments have memory of their own (transferable)', () => {
  const own = new PackedWriter(true);
  own.add(1, 1, 'x', false);
  const first = own.take();
  own.add(1, 2, 'y', false);
  const second = own.take();
  assert.equal(first.byteOffset, 0);
  assert.notEqual(first.buffer, second.buffer);
  assert.deepEqual([keys(first), keys(second)], [['1:x'], ['2:y']]);
});

test('a reused scratch: segments of one write follow each other, even across a growth; rewound after release', () => {
  const w = new PackedWriter(false);
  w.add(1, 1, 'x', false);
  const first = w.take();
  w.add(1, 2, 'y', false);
  w.add(1, 3, new Uint8Array(3), true); // 3 bytes of 0
  w.add(1, 4, new Uint8Array(100_000).fill(65), false); // grows: the segment so far moves, `first` stays
  const second = w.take();
  w.add(1, 5, 'z', false);
  const third = w.take();
  assert.deepEqual([keys(first), keys(second).map((k) => k.slice(0, 4)), keys(third)], [['1:x'], ['2:y', '3:[0', '4:AA'], ['5:z']]);
  w.release();
  w.add(1, 6, 'w', false);
  const again = w.take();
  assert.equal(again.buffer, third.buffer, 'the scratch is written over once released');
  assert.equal(again.byteOffset, 0);
});

test('a segment cut short is refused, not read past its end', () => {
  const w = new PackedWriter(true);
  w.add(3, 7, 'some data', false);
  const seg = w.take();
  assert.throws(() => readPacked(seg.subarray(0, seg.length - 1), () => undefined), /runs past/);
  assert.throws(() => readPacked(seg.subarray(0, 5), () => undefined), /truncated/);
});

test('packable: strings and Uint8Arrays; anything else is posted', () => {
  assert.equal(packable('text'), true);
  assert.equal(packable(Buffer.from('x')), true);
  assert.equal(packable(new ArrayBuffer(2)), false);
  assert.equal(packable({ a: 1 }), false);
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
    else if (m.type === 'packed') readPacked(m.bytes!, (_tag, slot, data) => seen.push(`${slot}:${String(data)}`));
    else seen.push(m.type);
  };
  for (const w of writes) one(w.message as Parameters<typeof one>[0]);
  return seen;
}

for (const canTransfer of [true, false]) {
  test(`packed records and structured messages leave in the order they were sent, in one write (${canTransfer ? 'worker' : 'process'})`, async () => {
    const { out, writes } = batcher('immediate', canTransfer);
    for (let turn = 0; turn < 2; turn++) {
      out.sendPacked(1, 1, '1', false);
      out.sendPacked(1, 2, '2', false);
      out.send({ v: IPC_VERSION, type: 'ready' });
      out.sendPacked(1, 1, '3', false);
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(writes.length, 2);
    assert.deepEqual(unpack(writes), ['1:1', '2:2', 'ready', '1:3', '1:1', '2:2', 'ready', '1:3']);
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
  const chain = async (slot: number): Promise<void> => {
    for (let i = 0; i < 3; i++) {
      await null;
      await null;
      out.sendPacked(1, slot, String(i), false);
    }
  };
  await Promise.all([chain(1), chain(2), chain(3)]);
  await new Promise((r) => setImmediate(r));
  assert.equal(writes.length, 1);
  assert.deepEqual(unpack(writes), ['1:0', '2:0', '3:0', '1:1', '2:1', '3:1', '1:2', '2:2', '3:2']);
  assert.deepEqual(order, ['task saw 1 write(s)']);
  assert.equal(writes[0]!.transfer, undefined, 'nothing to transfer over a process channel');
});

test("'settled': a sender busy in every round of the microtask queue still gets its output out", async () => {
  const { out, writes } = batcher('settled', false);
  let n = 0;
  const spin = (): void => {
    out.sendPacked(1, 9, String(n), false);
    if (++n < 1000) queueMicrotask(spin);
  };
  spin();
  await new Promise((r) => setImmediate(r));
  assert.ok(writes.length > 1, 'flushed before the sender stopped');
  assert.equal(unpack(writes).length, 1000);
});

const arbSmall: fc.Arbitrary<Rec> = fc.record({
  tag: fc.integer({ min: 0, max: 255 }),
  slot: fc.oneof({ weight: 50, arbitrary: fc.integer({ min: 0, max: 100 }) }, { weight: 1, arbitrary: fc.constant(0xffff_ffff) }),
  data: fc.oneof(fc.string({ maxLength: 12 }), fc.uint8Array({ maxLength: 12 })),
  binary: fc.boolean(),
});

test('grouped by slot: each slot\'s records in the order sent, slots by first appearance, every record once', () => {
  const reader = new SlotGroupedReader();
  fc.assert(
    // small records, enough of them to outgrow the reader's first lists (256 records, 64 slots)
    fc.property(fc.array(arbSmall, { maxLength: 400 }), fc.constantFrom<TextAs>('string', 'bytes'), (records, text) => {
      const w = new PackedWriter(false);
      for (const r of records) w.add(r.tag, r.slot, r.data, r.binary);
      const out: Rec[] = [];
      if (!w.empty) reader.read(w.take(), (tag, slot, data, binary) => out.push({ tag, slot, data, binary }), text);
      w.release();
      const want = records.map((r) => expected(r, text));
      // a slot too large to index hands the segment on as sent
      const order = records.some((r) => r.slot >= 1 << 20) ? want : [...new Set(want.map((r) => r.slot))].flatMap((slot) => want.filter((r) => r.slot === slot));
      assert.deepEqual(out.map(plain), order.map(plain));
    }),
    { numRuns: 200 },
  );
});

test('grouped by slot: a bad segment is refused before any record is handed on, and the next one reads whole', () => {
  const reader = new SlotGroupedReader();
  const w = new PackedWriter(false);
  w.add(1, 3, 'a', false);
  w.add(1, 4, 'b', false);
  w.add(1, 3, 'c', false);
  const seg = Buffer.from(w.take());
  w.release();
  const seen: string[] = [];
  const keep = (_t: number, slot: number, data: string | Uint8Array): void => void seen.push(`${slot}:${data as string}`);
  assert.throws(() => reader.read(seg.subarray(0, seg.length - 1), keep), /runs past/);
  assert.deepEqual(seen, []);
  reader.read(seg, keep);
  assert.deepEqual(seen, ['3:a', '3:c', '4:b']);
});

test('given-back memory is written in again: an own segment reuses it when it holds the records, a scratch never does', () => {
  const own = new PackedWriter(true);
  own.add(1, 1, 'first', false);
  const first = own.take();
  const memory = first.buffer as ArrayBuffer;
  own.reuse(memory);
  own.add(1, 2, 'second', false);
  const second = own.take();
  assert.equal(second.buffer, memory, 'the next segment is written in the given-back memory');
  assert.deepEqual(keys(second), ['2:second']);
  // memory too small for the next records is passed over, and kept for later
  own.reuse(new ArrayBuffer(16));
  own.add(1, 3, 'x'.repeat(100), false);
  assert.notEqual(own.take().byteLength, 0);
  own.add(1, 4, 'y', false);
  assert.equal(own.take().buffer.byteLength, 16, 'small memory serves a small segment');
  // detached memory (moved on again) has no bytes to write in
  const moved = new ArrayBuffer(1024);
  structuredClone(moved, { transfer: [moved] });
  own.reuse(moved);
  own.add(1, 5, 'z', false);
  assert.notEqual(own.take().buffer, moved);
  // memory that grew for large messages is not kept
  const large = new ArrayBuffer(8 * 1024 * 1024);
  own.reuse(large);
  own.add(1, 6, 'w', false);
  assert.notEqual(own.take().buffer, large);
  const scratch = new PackedWriter(false);
  const foreign = new ArrayBuffer(64 * 1024);
  scratch.reuse(foreign);
  scratch.add(1, 1, 'a', false);
  assert.notEqual(scratch.take().buffer, foreign, 'a scratch writer takes no memory it does not own');
});

test('a segment may be reused once read unless its handler was given a view it may keep', () => {
  const segment = (records: Array<[string | Uint8Array, boolean]>): Uint8Array => {
    const w = new PackedWriter(true);
    for (const [data, binary] of records) w.add(1, 1, data, binary);
    return w.take();
  };
  const none = (): void => undefined;
  const text = segment([['a', false], [Buffer.from('b'), false]]);
  const small = segment([['a', false], [new Uint8Array(100), true]]);
  const large = segment([['a', false], [new Uint8Array(5000), true]]);
  // text read as strings is copied out; binary is a view the handler may keep
  assert.equal(readPacked(text, none, 'string'), true);
  assert.equal(readPacked(small, none, 'string'), false);
  // read as bytes, every record is a view: reusable only when all are shorter than what the handler keeps
  assert.equal(readPacked(text, none, 'bytes'), false);
  assert.equal(readPacked(small, none, 'bytes', 4096), true);
  assert.equal(readPacked(large, none, 'bytes', 4096), false);
  const grouped = new SlotGroupedReader();
  assert.equal(grouped.read(small, none, 'bytes', 4096), true);
  assert.equal(grouped.read(large, none, 'bytes', 4096), false);
  assert.equal(grouped.read(text, none, 'string'), true);
});

test('memory given back leaves with the next flush, moved (worker); a process channel has nothing to give back', async () => {
  for (const canTransfer of [true, false]) {
    const { out, writes } = batcher('immediate', canTransfer);
    const read = new Uint8Array(new ArrayBuffer(256), 0, 10);
    out.giveBack(read);
    await new Promise((r) => setImmediate(r));
    if (!canTransfer) {
      assert.deepEqual(writes, []);
      continue;
    }
    assert.equal(writes.length, 1);
    const m = writes[0]!.message as { type: string; memory: ArrayBuffer[] };
    assert.equal(m.type, 'reuse');
    assert.deepEqual(m.memory, [read.buffer]);
    assert.deepEqual(writes[0]!.transfer, [read.buffer]);
  }
});
