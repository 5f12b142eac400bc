// The frames a child process's messages cross in (frame-pipe.ts): read back whole and in
// order however the pipe splits them, segments read in place and valid only during their
// call, a frame longer than the read buffer read into memory of its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type { Socket } from 'node:net';
import { FrameReader, FrameWriter } from '../../src/runtime/frame-pipe.js';
import { IPC_VERSION } from '../../src/runtime/child-messages.js';
import { PackedWriter, readPacked } from '../../src/runtime/packed-records.js';

/** What the writer put on the pipe for `items`. */
function framesOf(items: Array<{ type: string; [k: string]: unknown }>): Buffer {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (c: Buffer) => chunks.push(Buffer.from(c)));
  new FrameWriter(sink as unknown as Socket).write(items);
  return Buffer.concat(chunks);
}

function segment(...texts: string[]): Uint8Array {
  const w = new PackedWriter(true);
  texts.forEach((t, i) => w.add(1, i, t, false));
  return w.take();
}

/** Feeds `bytes` to a reader the way a pipe would: each read lands in the reader's target, `cuts` bytes at a time. */
function feed(bytes: Buffer, cuts: number[]): unknown[] {
  const seen: unknown[] = [];
  const reader = new FrameReader((m) => {
    const x = m as { type: string; bytes?: Uint8Array; transient?: boolean };
    if (x.type === 'packed') {
      const texts: unknown[] = [];
      readPacked(x.bytes!, (_t, slot, data) => texts.push(`${slot}:${String(data)}`));
      seen.push({ packed: texts, transient: x.transient });
    } else seen.push(m);
  });
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    while (at < Math.min(cut, bytes.length)) {
      const target = reader.readTarget();
      const n = Math.min(target.length, cut - at);
      bytes.copy(target, 0, at, at + n);
      at += n;
      reader.onRead(n);
    }
  }
  return seen;
}

const items = [
  { v: IPC_VERSION, type: 'call', id: 1, method: 'open', args: [{ id: 'c1' }, 0] },
  { v: IPC_VERSION, type: 'packed', bytes: segment('héllo', 'second') },
  { v: IPC_VERSION, type: 'batch', messages: [{ v: IPC_VERSION, type: 'message', payload: { bin: Uint8Array.of(1, 2, 3) } }, { v: IPC_VERSION, type: 'packed', bytes: segment('third') }] },
];
const want = [
  items[0],
  { packed: ['0:héllo', '1:second'], transient: true },
  { v: IPC_VERSION, type: 'message', payload: { bin: Uint8Array.of(1, 2, 3) } },
  { packed: ['0:third'], transient: true },
];

test('frames come out whole and in order at every split of the pipe (a batch as its messages)', () => {
  const bytes = framesOf(items);
  assert.deepEqual(feed(bytes, []), want);
  for (let cut = 1; cut < bytes.length; cut++) assert.deepEqual(feed(bytes, [cut]), want, `split at ${cut}`);
  assert.deepEqual(feed(bytes, Array.from({ length: bytes.length }, (_, i) => i + 1)), want, 'one byte per read');
});

test('a frame longer than the read buffer is read into memory of its own, and reading goes on after it', () => {
  const long = 'x'.repeat(600 * 1024);
  const bytes = framesOf([{ v: IPC_VERSION, type: 'packed', bytes: segment(long) }, { v: IPC_VERSION, type: 'ready' }]);
  for (const cuts of [[], [3], [100_000, 400_000]]) {
    assert.deepEqual(feed(bytes, cuts), [{ packed: [`0:${long}`], transient: false }, { v: IPC_VERSION, type: 'ready' }]);
  }
});

test('binary data of a structured message survives the next read (it is deserialized from a copy)', () => {
  const bytes = framesOf([{ v: IPC_VERSION, type: 'message', payload: Uint8Array.of(7, 7, 7) }, { v: IPC_VERSION, type: 'packed', bytes: segment('z'.repeat(5000)) }]);
  const seen: unknown[] = [];
  const reader = new FrameReader((m) => seen.push(m));
  // the two frames in two reads into the same buffer: the second is written over the first
  const first = 5 + (bytes.readUInt32LE(0) as number);
  for (const [from, to] of [[0, first], [first, bytes.length]] as const) {
    const target = reader.readTarget();
    bytes.copy(target, 0, from, to);
    reader.onRead(to - from);
  }
  assert.deepEqual([...((seen[0] as { payload: Uint8Array }).payload)], [7, 7, 7]);
});

test('a frame of an unknown kind is refused', () => {
  const bad = Buffer.from([1, 0, 0, 0, 9, 0]);
  assert.throws(() => feed(bad, []), /unknown frame kind 9/);
});

test('the write buffer is reused only once the socket took all of the last write', () => {
  const taken: Buffer[] = [];
  let pending = 0;
  const socket = { write: (b: Buffer) => void taken.push(b), get writableLength() { return pending; } } as unknown as Socket;
  const w = new FrameWriter(socket);
  const one = [{ v: IPC_VERSION, type: 'packed', bytes: segment('a') }];
  w.write(one);
  w.write(one);
  assert.equal(taken[1]!.buffer, taken[0]!.buffer, 'written over: the socket had taken the first');
  pending = 10;
  w.write(one);
  assert.notEqual(taken[2]!.buffer, taken[1]!.buffer, 'the socket still holds the last write');
});
