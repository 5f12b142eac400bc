// Received-message memory and in-place frame output, byte for byte, no sockets: messages
// delivered from the shared slab, from a reused read buffer and from memory the payload was
// read straight into stay intact for as long as a consumer holds them, whatever comes after.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import {
  MessageSlab,
  OutputArena,
  Opcode,
  ProtocolConnection,
  encodeFrame,
  type ProtocolError,
  type ProtocolSink,
} from '../../src/protocol/index.js';
import { MASK } from './sink.js';

/** Keeps every message exactly as delivered (no copy): what a consumer holding them sees. */
class HoldingSink implements ProtocolSink {
  held: { data: Buffer; binary: boolean }[] = [];
  out: Buffer[] = [];
  errors: ProtocolError[] = [];
  output(data: Buffer): void {
    this.out.push(Buffer.from(data));
  }
  outputRange(buf: Buffer, start: number, end: number): void {
    this.out.push(Buffer.from(buf.subarray(start, end)));
  }
  onMessage(data: Buffer, binary: boolean): void {
    this.held.push({ data, binary });
  }
  onPing(): void {}
  onPong(): void {}
  onError(error: ProtocolError): void {
    this.errors.push(error);
  }
  endTransport(): void {}
}

function payload(seed: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = 0x61 + ((x >>> 16) % 26); // letters: valid as text and as binary
  }
  return b;
}

/** A message split into `frames` client frames (first TEXT/BINARY, then continuations). */
function framed(data: Buffer, binary: boolean, frames: number): Buffer {
  const parts: Buffer[] = [];
  const step = Math.ceil(data.length / frames) || 1;
  for (let i = 0, at = 0; i < frames; i++, at += step) {
    const piece = data.subarray(Math.min(at, data.length), Math.min(at + step, data.length));
    const opcode = i === 0 ? (binary ? Opcode.BINARY : Opcode.TEXT) : Opcode.CONTINUATION;
    parts.push(encodeFrame(opcode, piece, i === frames - 1, 0, MASK));
  }
  return Buffer.concat(parts);
}

/**
 * Feed `stream` the way the transport's direct reads do: into one reused read buffer
 * (overwritten before every read, so anything kept from it must have been copied), or,
 * when the connection offers one, straight into its landing buffer; read sizes from `sizes`.
 */
function feedLikeDirectReads(conn: ProtocolConnection, stream: Buffer, sizes: number[], readBuffer: Buffer): void {
  let at = 0;
  let i = 0;
  while (at < stream.length) {
    const landing = conn.landingBuffer();
    const target = landing ?? readBuffer;
    const want = Math.max(1, sizes[i++ % sizes.length]!);
    const n = Math.min(want, target.length, stream.length - at);
    stream.copy(target, 0, at, at + n);
    at += n;
    if (landing) conn.receiveLanded(landing, n);
    else conn.receiveData(readBuffer, false, n);
    readBuffer.fill(0xee); // the next read would overwrite it
  }
}

const arbMessage = fc.record({
  size: fc.oneof(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 200, max: 20_000 }), fc.integer({ min: 60_000, max: 140_000 })),
  binary: fc.boolean(),
  frames: fc.integer({ min: 1, max: 4 }),
});

describe('received messages stay intact while held', () => {
  test('direct reads: reused read buffer and landing in place, any read sizes', () => {
    fc.assert(
      fc.property(fc.array(arbMessage, { minLength: 1, maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 6 }), (msgs, sizes) => {
        const sink = new HoldingSink();
        // a small shared slab: blocks fill up and roll over often
        const conn = new ProtocolConnection(sink, { role: 'server', maxMessageBytes: 1 << 20, maxFrameBytes: 1 << 20, messageSlab: new MessageSlab(32 * 1024) });
        const expected = msgs.map((m, i) => ({ data: payload(i, m.size), binary: m.binary }));
        const stream = Buffer.concat(msgs.map((m, i) => framed(expected[i]!.data, m.binary, m.frames)));
        feedLikeDirectReads(conn, stream, sizes, Buffer.allocUnsafe(16 * 1024));
        assert.equal(sink.errors.length, 0);
        assert.equal(sink.held.length, expected.length);
        sink.held.forEach((h, i) => {
          assert.equal(h.binary, expected[i]!.binary);
          assert.ok(h.data.equals(expected[i]!.data), `message ${i} (${expected[i]!.data.length} bytes) changed after delivery`);
        });
      }),
      { numRuns: 150 },
    );
  });

  test('direct reads with the default slab: a full landing place and the rest of its frame in the next short read', () => {
    fc.assert(
      fc.property(fc.integer({ min: 65_537, max: 80_000 }), fc.integer({ min: 1, max: 4000 }), fc.boolean(), (size, first, binary) => {
        const sink = new HoldingSink();
        // default slab: regions, landing places and bulk copies of short reads share 1 MiB blocks
        const conn = new ProtocolConnection(sink, { role: 'server', maxMessageBytes: 1 << 20, maxFrameBytes: 1 << 20, messageSlab: new MessageSlab() });
        const data = payload(size, size);
        const stream = Buffer.concat([framed(data, binary, 1), framed(payload(1, 20), false, 1)]);
        const readBuffer = Buffer.allocUnsafe(16 * 1024);
        let at = 0;
        const short = (n: number) => {
          stream.copy(readBuffer, 0, at, at + n);
          conn.receiveData(readBuffer, false, n);
          at += n;
        };
        short(first);
        // land until the landing place is exhausted (it is capped ahead of the frame's end)
        for (let place = conn.landingBuffer(); place !== null && at < stream.length; place = conn.landingBuffer()) {
          const n = Math.min(place.length, stream.length - at);
          stream.copy(place, 0, at, at + n);
          at += n;
          conn.receiveLanded(place, n);
          if (n < place.length) break;
        }
        while (at < stream.length) short(Math.min(100, stream.length - at));
        assert.equal(sink.held.length, 2);
        assert.ok(sink.held[0]!.data.equals(data), 'the large message is whole');
        assert.ok(sink.held[1]!.data.equals(payload(1, 20)));
      }),
      { numRuns: 60 },
    );
  });

  test("Node's reads: chunks that outlive the read, messages spanning them", () => {
    fc.assert(
      fc.property(fc.array(arbMessage, { minLength: 1, maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 6 }), (msgs, sizes) => {
        const sink = new HoldingSink();
        const conn = new ProtocolConnection(sink, { role: 'server', maxMessageBytes: 1 << 20, maxFrameBytes: 1 << 20, messageSlab: new MessageSlab(32 * 1024) });
        const expected = msgs.map((m, i) => ({ data: payload(i, m.size), binary: m.binary }));
        const stream = Buffer.concat(msgs.map((m, i) => framed(expected[i]!.data, m.binary, m.frames)));
        for (let at = 0, i = 0; at < stream.length; i++) {
          const n = Math.min(sizes[i % sizes.length]!, stream.length - at);
          conn.receiveData(Buffer.from(stream.subarray(at, at + n)));
          at += n;
        }
        assert.equal(sink.held.length, expected.length);
        sink.held.forEach((h, i) => assert.ok(h.data.equals(expected[i]!.data), `message ${i} changed after delivery`));
      }),
      { numRuns: 150 },
    );
  });

  test('a large frame is read straight into its message: the landed bytes are not copied again', () => {
    const sink = new HoldingSink();
    const conn = new ProtocolConnection(sink, { role: 'server', maxMessageBytes: 1 << 20, maxFrameBytes: 1 << 20 });
    const data = payload(7, 50_000);
    const stream = framed(data, true, 1);
    const readBuffer = Buffer.allocUnsafe(16 * 1024);
    // header and the first bytes arrive through the read buffer
    stream.copy(readBuffer, 0, 0, 1000);
    conn.receiveData(readBuffer, false, 1000);
    const landing = conn.landingBuffer();
    assert.ok(landing, 'a landing buffer is offered mid-frame');
    let at = 1000;
    let place = landing;
    while (at < stream.length) {
      const n = Math.min(place.length, stream.length - at);
      stream.copy(place, 0, at, at + n);
      at += n;
      conn.receiveLanded(place, n);
      if (at < stream.length) place = conn.landingBuffer()!;
    }
    assert.equal(sink.held.length, 1);
    const got = sink.held[0]!.data;
    assert.ok(got.equals(data));
    assert.ok(got.buffer === landing.buffer, 'the message is the memory its payload was read into');
  });

  test('bytes that land past a frame belong to the next frames and are delivered intact', () => {
    const sink = new HoldingSink();
    const conn = new ProtocolConnection(sink, { role: 'server', maxMessageBytes: 1 << 20, maxFrameBytes: 1 << 20 });
    const big = payload(1, 50_000);
    const small = [payload(2, 10), payload(3, 300)];
    const stream = Buffer.concat([framed(big, true, 1), framed(small[0]!, false, 1), framed(small[1]!, false, 2)]);
    const readBuffer = Buffer.allocUnsafe(16 * 1024);
    stream.copy(readBuffer, 0, 0, 100);
    conn.receiveData(readBuffer, false, 100);
    const landing = conn.landingBuffer()!;
    assert.ok(landing.length > 50_000 + 14 - 100, 'the landing place reaches past the frame');
    const n = stream.length - 100;
    stream.copy(landing, 0, 100);
    conn.receiveLanded(landing, n);
    const expected = [big, ...small];
    assert.equal(sink.held.length, 3);
    sink.held.forEach((h, i) => assert.ok(h.data.equals(expected[i]!), `message ${i}`));
  });

  test('a peer announcing a huge frame and trickling gets memory for what it sent, not what it announced', () => {
    const sink = new HoldingSink();
    const conn = new ProtocolConnection(sink, { role: 'server', maxMessageBytes: 64 << 20, maxFrameBytes: 64 << 20 });
    // a 32 MiB frame: 127 + 8-byte length + mask, then 10 bytes
    const head = Buffer.alloc(14);
    head[0] = 0x82;
    head[1] = 0x80 | 127;
    head.writeUInt32BE(0, 2);
    head.writeUInt32BE(32 << 20, 6);
    MASK.forEach((b, i) => (head[10 + i] = b));
    conn.receiveData(Buffer.concat([head, Buffer.alloc(10)]));
    const landing = conn.landingBuffer()!;
    assert.ok(landing.length <= 64 * 1024, `reserved ${landing.length} bytes ahead of the peer`);
  });
});

describe('memory blocks', () => {
  test('the message slab never hands out the same bytes twice', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 20_000 }), { maxLength: 60 }), (sizes) => {
        const slab = new MessageSlab(32 * 1024);
        const given = sizes.map((n, i) => {
          const b = slab.alloc(n);
          assert.equal(b.length, n);
          b.fill(i & 0xff);
          return b;
        });
        given.forEach((b, i) => assert.ok(b.every((x) => x === (i & 0xff)), `allocation ${i} was overwritten`));
      }),
    );
  });

  test('rest() and commit() interleaved with alloc() never hand out the same bytes twice', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ rest: fc.boolean(), n: fc.integer({ min: 0, max: 20_000 }), min: fc.integer({ min: 1, max: 20_000 }) }), { maxLength: 60 }),
        (steps) => {
          const slab = new MessageSlab(32 * 1024);
          const given = steps.map(({ rest, n, min }, i) => {
            let b: Buffer;
            if (rest) {
              const room = slab.rest(min);
              assert.ok(room.length >= Math.min(min, slab.smallCarve), `rest(${min}) gave ${room.length} bytes`);
              b = room.subarray(0, Math.min(n, room.length));
              slab.commit(b.length);
            } else {
              b = slab.alloc(n);
            }
            b.fill(i & 0xff);
            return b;
          });
          given.forEach((b, i) => assert.ok(b.every((x) => x === (i & 0xff)), `step ${i} was overwritten`));
        },
      ),
    );
  });

  test('the output arena rewinds on release and never reuses a retired block', () => {
    const arena = new OutputArena(1024);
    assert.equal(arena.reserve(100), 0);
    const first = arena.buf;
    assert.equal(arena.reserve(100), 100);
    arena.release();
    assert.equal(arena.reserve(10), 0, 'released: the block starts over');
    assert.equal(arena.buf, first);
    arena.retire();
    arena.reserve(10);
    assert.notEqual(arena.buf, first, 'retired: a fresh block');
    arena.release();
    arena.retire();
    arena.release();
    arena.reserve(10);
    assert.notEqual(arena.buf, first, 'a release after a retire does not bring the retired block back');
    const big = arena.reserve(5000);
    assert.equal(big, 0);
    assert.ok(arena.buf.length >= 5000, 'a frame larger than a block gets a block of its own');
  });
});

describe('frames built in place', () => {
  const sizes = [0, 1, 125, 126, 1000, 16 * 1024 - 1, 16 * 1024, 70_000];
  for (const role of ['server', 'client'] as const) {
    test(`${role}: the arena path writes exactly the frames encodeFrame would`, () => {
      const viaArena = new HoldingSink();
      const plain = new HoldingSink();
      let k1 = 0;
      let k2 = 0;
      const key = (n: number) => Uint8Array.of(9, 8, 7, n & 0xff);
      const base = { role, maxMessageBytes: 1 << 20, maxFrameBytes: 1 << 20 } as const;
      const a = new ProtocolConnection(viaArena, { ...base, outputArena: new OutputArena(4096), ...(role === 'client' ? { maskKey: () => key(k1++) } : {}) });
      const b = new ProtocolConnection(plain, { ...base, ...(role === 'client' ? { maskKey: () => key(k2++) } : {}) });
      for (const c of [a, b]) {
        for (const n of sizes) {
          c.sendBinary(payload(n, n));
          c.sendText(payload(n + 1, n).toString('latin1'));
        }
        c.sendPing(Buffer.from('p'));
        c.close(1000, 'bye');
      }
      assert.ok(Buffer.concat(viaArena.out).equals(Buffer.concat(plain.out)));
    });
  }
});
