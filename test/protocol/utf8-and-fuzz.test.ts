import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { Utf8Validator, isValidUtf8, applyMask, FrameParser, Opcode, encodeFrame, ProtocolConnection } from '../../src/protocol/index.js';
import { server, client, feedSplit, MASK } from './sink.js';

const fatal = new TextDecoder('utf-8', { fatal: true });
function reference(b: Uint8Array): boolean {
  try {
    fatal.decode(b);
    return true;
  } catch {
    return false;
  }
}

describe('UTF-8 validator', () => {
  test('agrees with a fatal TextDecoder on random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => isValidUtf8(b) === reference(b)), { numRuns: 20000 });
  });
  test('the byte loop alone agrees with a fatal TextDecoder on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        const v = new Utf8Validator();
        return (v.feed(b) && v.complete) === reference(b);
      }),
      { numRuns: 20000 },
    );
  });
  test('end() after any prefix agrees with a fatal TextDecoder (natively checked from a boundary)', () => {
    // Valid ASCII in front of random bytes or text: rests long enough for the native check.
    const tail = fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.string({ unit: 'binary', maxLength: 100 }).map((s) => new Uint8Array(Buffer.from(s))));
    const arb = fc.tuple(fc.integer({ min: 0, max: 300 }), tail).map(([ascii, t]) => new Uint8Array(Buffer.concat([Buffer.alloc(ascii, 0x61), t])));
    fc.assert(
      fc.property(arb, fc.nat(), (b, cut) => {
        const at = b.length ? cut % (b.length + 1) : 0;
        const v = new Utf8Validator();
        return (v.feed(b, 0, at) && v.end(b, at)) === reference(b);
      }),
      { numRuns: 20000 },
    );
  });
  test('agrees on random strings, and on any split of them', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.nat(), (s, cut) => {
        const b = Buffer.from(s);
        const at = b.length ? cut % b.length : 0;
        const v = new Utf8Validator();
        return v.feed(b.subarray(0, at)) && v.feed(b.subarray(at)) && v.complete;
      }),
    );
  });
  test('the Autobahn 6.x classics', () => {
    const bad = [[0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xfe], [0xff], [0xe0, 0x80, 0xaf], [0xc2]];
    for (const b of bad) assert.equal(isValidUtf8(Uint8Array.from(b)), false, Buffer.from(b).toString('hex'));
    const good = [[0xf4, 0x8f, 0xbf, 0xbf], [0xef, 0xbf, 0xbf], [0x7f], [0xed, 0x9f, 0xbf]];
    for (const b of good) assert.equal(isValidUtf8(Uint8Array.from(b)), true, Buffer.from(b).toString('hex'));
  });
});

describe('masking', () => {
  test('word-wise unmasking equals byte-wise at every alignment and offset', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 1200 }), fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 3 }), (data, shift, offset) => {
        const backing = new Uint8Array(data.length + 16);
        const view = backing.subarray(shift, shift + data.length);
        view.set(data);
        applyMask(view, MASK, offset);
        for (let i = 0; i < data.length; i++) if (view[i] !== (data[i]! ^ MASK[(offset + i) & 3]!)) return false;
        return true;
      }),
    );
  });
});

const arbFrame = fc.record({
  opcode: fc.constantFrom(Opcode.BINARY, Opcode.PING, Opcode.PONG),
  payload: fc.oneof(fc.uint8Array({ maxLength: 125 }), fc.uint8Array({ minLength: 126, maxLength: 70_000 })),
});

describe('frame parser properties', () => {
  test('serialize -> parse round-trips under random chunking', () => {
    fc.assert(
      fc.property(fc.array(arbFrame, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 8 }), (frames, cutsRaw) => {
        frames = frames.map((f) => (f.opcode !== Opcode.BINARY && f.payload.length > 125 ? { ...f, payload: f.payload.subarray(0, 125) } : f));
        const bytes = Buffer.concat(frames.map((f) => encodeFrame(f.opcode, f.payload, true, 0, MASK)));
        const cuts = [...new Set(cutsRaw.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const seen: { opcode: number; payload: Buffer }[] = [];
        let cur: Buffer[] = [];
        let op = 0;
        const parser = new FrameParser(
          {
            onFrameStart: (_fin, _rsv, opcode) => ((op = opcode), (cur = []), true),
            onFramePayload: (d, end) => {
              cur.push(Buffer.from(d));
              if (end) seen.push({ opcode: op, payload: Buffer.concat(cur) });
              return true;
            },
            onFrameError: () => {
              throw new Error('unexpected error');
            },
          },
          { expectMasked: true, allowedRsv: 0, maxFrameBytes: 1 << 20 },
        );
        let prev = 0;
        for (const c of [...cuts, bytes.length]) {
          parser.push(bytes.subarray(prev, c));
          prev = c;
        }
        assert.equal(seen.length, frames.length);
        frames.forEach((f, i) => {
          assert.equal(seen[i]!.opcode, f.opcode);
          assert.deepEqual(seen[i]!.payload, Buffer.from(f.payload));
        });
      }),
      { numRuns: 300 },
    );
  });

  test('random bytes never throw, and a failure always writes a close frame', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat(), { maxLength: 5 }), (bytes, cuts) => {
        for (const role of ['server', 'client'] as const) {
          const { conn, sink } = role === 'server' ? server({ maxMessageBytes: 1000, maxFrameBytes: 1000 }) : client({ maxMessageBytes: 1000 });
          feedSplit(conn, Buffer.from(bytes), [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b));
          if (conn.failure) assert.equal(sink.out.at(-1)![0], 0x88);
        }
      }),
      { numRuns: 3000 },
    );
  });

  test('chunking never changes the events of a random message stream', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 30 }), { minLength: 1, maxLength: 5 }), fc.nat(), (texts, cut) => {
        const bytes = Buffer.concat(texts.map((t, i) => encodeFrame(i === 0 ? Opcode.TEXT : Opcode.CONTINUATION, Buffer.from(t), i === texts.length - 1, 0, MASK)));
        const a = server();
        a.conn.receiveData(Buffer.from(bytes));
        const b = server();
        feedSplit(b.conn, bytes, [cut % (bytes.length + 1)]);
        assert.deepEqual(b.sink.events, a.sink.events);
        assert.equal((a.sink.events[0] as { data: Buffer }).data.toString(), texts.join(''));
      }),
    );
  });
});

void ProtocolConnection;
