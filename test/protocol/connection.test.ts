import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { Opcode, State, encodeFrame } from '../../src/protocol/index.js';
import { server, client, cframe, sframe, feedSplit, closeCodeOf, MASK } from './sink.js';

function only<T extends { type: string }>(events: T[], type: string): T[] {
  return events.filter((e) => e.type === type);
}

describe('framing (RFC 6455 5.2)', () => {
  for (const len of [0, 1, 125, 126, 127, 65535, 65536, 100_000]) {
    test(`text and binary payload of ${len} bytes, 7/16/64-bit lengths`, () => {
      const { conn, sink } = server();
      const payload = Buffer.alloc(len, 0x61);
      conn.receiveData(cframe(Opcode.TEXT, payload));
      conn.receiveData(cframe(Opcode.BINARY, payload));
      const m = only(sink.events, 'message') as { data: Buffer; binary: boolean }[];
      assert.equal(m.length, 2);
      assert.deepEqual(m[0]!.data, payload);
      assert.equal(m[0]!.binary, false);
      assert.equal(m[1]!.binary, true);
    });
  }

  test('every chunking of a stream of frames gives the same events', () => {
    const stream = Buffer.concat([
      cframe(Opcode.TEXT, 'héllo'),
      cframe(Opcode.PING, 'p'),
      cframe(Opcode.TEXT, 'frag', false),
      cframe(Opcode.PING, ''),
      cframe(Opcode.CONTINUATION, 'mented ✓', true),
      cframe(Opcode.BINARY, Buffer.alloc(300, 7)),
    ]);
    const reference = server();
    reference.conn.receiveData(Buffer.from(stream));
    const expected = reference.sink.events;
    assert.equal(only(expected, 'message').length, 3);
    // every single cut point, and every pair of cut points in the first 40 bytes
    for (let a = 1; a < stream.length; a++) {
      const { conn, sink } = server();
      feedSplit(conn, stream, [a]);
      assert.deepEqual(sink.events, expected, `cut at ${a}`);
    }
    for (let a = 1; a < 40; a++) {
      for (let b = a + 1; b < 40; b++) {
        const { conn, sink } = server();
        feedSplit(conn, stream, [a, b]);
        assert.deepEqual(sink.events, expected, `cuts at ${a},${b}`);
      }
    }
    // one byte at a time
    const { conn, sink } = server();
    feedSplit(conn, stream, Array.from({ length: stream.length - 1 }, (_, i) => i + 1));
    assert.deepEqual(sink.events, expected);
  });

  test('64-bit length with the most significant bit set fails with 1002', () => {
    const { conn, sink } = server();
    const h = Buffer.from([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4]);
    conn.receiveData(h);
    assert.equal(closeCodeOf(sink.output_()), 1002);
    assert.deepEqual(only(sink.events, 'error'), [{ type: 'error', code: 'ERR_WS_INVALID_LENGTH', closeCode: 1002 }]);
  });

  test('server requires masked frames; client rejects masked frames', () => {
    const s = server();
    s.conn.receiveData(sframe(Opcode.TEXT, 'x'));
    assert.equal(closeCodeOf(s.sink.output_()), 1002);
    const c = client();
    c.conn.receiveData(encodeFrame(Opcode.TEXT, Buffer.from('x'), true, 0, MASK));
    assert.equal(only(c.sink.events, 'error')[0] && (only(c.sink.events, 'error')[0] as { code: string }).code, 'ERR_WS_MASKED_FRAME');
    assert.equal(closeCodeOf(c.sink.output_()), 1002);
  });

  for (const rsv of [0x40, 0x20, 0x10]) {
    test(`reserved bit ${rsv.toString(16)} without an extension fails with 1002`, () => {
      const { conn, sink } = server();
      conn.receiveData(cframe(Opcode.TEXT, 'x', true, rsv));
      assert.equal(closeCodeOf(sink.output_()), 1002);
      assert.equal(only(sink.events, 'message').length, 0);
    });
  }

  for (const op of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) {
    test(`reserved opcode ${op} fails with 1002`, () => {
      const { conn, sink } = server();
      conn.receiveData(cframe(op, 'x'));
      assert.equal(closeCodeOf(sink.output_()), 1002);
    });
  }

  test('control frames: 125 bytes ok, 126 fails, fragmented fails', () => {
    let s = server();
    s.conn.receiveData(cframe(Opcode.PING, Buffer.alloc(125, 1)));
    assert.equal(only(s.sink.events, 'ping').length, 1);
    s = server();
    s.conn.receiveData(cframe(Opcode.PING, Buffer.alloc(126, 1)));
    assert.equal(closeCodeOf(s.sink.output_()), 1002);
    s = server();
    s.conn.receiveData(cframe(Opcode.PING, 'a', false));
    assert.equal(closeCodeOf(s.sink.output_()), 1002);
  });
});

describe('ping and pong (5.5.2, 5.5.3)', () => {
  test('a ping is answered with a pong carrying the same payload', () => {
    const { conn, sink } = server();
    conn.receiveData(cframe(Opcode.PING, 'abc'));
    assert.deepEqual(sink.output_(), sframe(Opcode.PONG, 'abc'));
    assert.deepEqual(only(sink.events, 'ping'), [{ type: 'ping', data: Buffer.from('abc') }]);
  });
  test('an unsolicited pong is reported and not answered', () => {
    const { conn, sink } = server();
    conn.receiveData(cframe(Opcode.PONG, 'z'));
    assert.equal(sink.out.length, 0);
    assert.equal(only(sink.events, 'pong').length, 1);
  });
  test('client pings are masked', () => {
    const { conn, sink } = client();
    conn.sendPing(Buffer.from('hi'));
    const out = sink.output_();
    assert.equal(out[0], 0x89);
    assert.equal(out[1], 0x82);
  });
});

describe('fragmentation (5.4)', () => {
  test('a fragmented message with interleaved control frames is reassembled', () => {
    const { conn, sink } = server();
    conn.receiveData(Buffer.concat([cframe(Opcode.BINARY, 'ab', false), cframe(Opcode.PING, 'x'), cframe(Opcode.CONTINUATION, 'cd', false), cframe(Opcode.CONTINUATION, 'e', true)]));
    const m = only(sink.events, 'message') as { data: Buffer }[];
    assert.equal(m.length, 1);
    assert.equal(m[0]!.data.toString(), 'abcde');
    assert.equal(only(sink.events, 'ping').length, 1);
  });
  test('continuation without a message fails with 1002', () => {
    const { conn, sink } = server();
    conn.receiveData(cframe(Opcode.CONTINUATION, 'x'));
    assert.equal(closeCodeOf(sink.output_()), 1002);
  });
  test('a new data frame before the message ended fails with 1002', () => {
    const { conn, sink } = server();
    conn.receiveData(Buffer.concat([cframe(Opcode.TEXT, 'a', false), cframe(Opcode.TEXT, 'b')]));
    assert.equal(closeCodeOf(sink.output_()), 1002);
    assert.equal(only(sink.events, 'message').length, 0);
  });
  test('empty fragments are fine', () => {
    const { conn, sink } = server();
    conn.receiveData(Buffer.concat([cframe(Opcode.TEXT, '', false), cframe(Opcode.CONTINUATION, '', false), cframe(Opcode.CONTINUATION, '')]));
    assert.deepEqual(only(sink.events, 'message'), [{ type: 'message', data: Buffer.alloc(0), binary: false }]);
  });
  test('streaming receive delivers pieces as they arrive', () => {
    const { conn, sink } = server({ streamMessages: true });
    conn.receiveData(Buffer.concat([cframe(Opcode.BINARY, 'ab', false), cframe(Opcode.CONTINUATION, 'cd', true)]));
    assert.deepEqual(
      only(sink.events, 'fragment').map((e) => [(e as { data: Buffer }).data.toString(), (e as { fin: boolean }).fin]),
      [['ab', false], ['cd', true]],
    );
  });
  test('fragmented send uses continuation opcodes', () => {
    const { conn, sink } = server();
    conn.sendFragment('ab', false, false);
    conn.sendFragment('cd', false, false);
    conn.sendFragment('e', false, true);
    assert.deepEqual(sink.output_(), Buffer.concat([sframe(1, 'ab', false), sframe(0, 'cd', false), sframe(0, 'e', true)]));
  });
  test('frame-level API reports every frame', () => {
    const { conn, sink } = server({ observeFrames: true });
    conn.receiveData(Buffer.concat([cframe(Opcode.TEXT, 'ab', false), cframe(Opcode.CONTINUATION, 'c')]));
    const frames = only(sink.events, 'frame').map((e) => (e as { frame: { opcode: number; fin: boolean; payload: Buffer } }).frame);
    assert.deepEqual(frames.map((f) => [f.opcode, f.fin, f.payload.toString()]), [[1, false, 'ab'], [0, true, 'c']]);
  });
});

describe('UTF-8 (8.1)', () => {
  test('invalid UTF-8 in a text message fails with 1007', () => {
    const { conn, sink } = server();
    conn.receiveData(cframe(Opcode.TEXT, Buffer.from([0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed, 0xa0, 0x80, 0x65, 0x64, 0x69, 0x74, 0x65, 0x64])));
    assert.equal(closeCodeOf(sink.output_()), 1007);
  });
  test('fails fast: the first invalid fragment closes before the message ends', () => {
    const { conn, sink } = server();
    conn.receiveData(cframe(Opcode.TEXT, Buffer.from([0x61, 0xc0, 0xaf]), false));
    assert.equal(closeCodeOf(sink.output_()), 1007);
    assert.equal(conn.state, State.CLOSED);
  });
  test('fails fast inside one frame split across chunks', () => {
    const { conn, sink } = server();
    const f = cframe(Opcode.TEXT, Buffer.concat([Buffer.from('ok'), Buffer.from([0xf5]), Buffer.alloc(1000, 0x61)]));
    conn.receiveData(f.subarray(0, 12)); // header (8) + 4 payload bytes, the 3rd is invalid
    assert.equal(closeCodeOf(sink.output_()), 1007);
  });
  test('a character split across fragments is valid', () => {
    const { conn, sink } = server();
    const euro = Buffer.from('€');
    conn.receiveData(Buffer.concat([cframe(1, euro.subarray(0, 1), false), cframe(0, euro.subarray(1, 2), false), cframe(0, euro.subarray(2))]));
    assert.equal((only(sink.events, 'message')[0] as { data: Buffer }).data.toString(), '€');
  });
  test('a message ending inside a character fails with 1007', () => {
    const { conn, sink } = server();
    conn.receiveData(cframe(1, Buffer.from([0xe2, 0x82])));
    assert.equal(closeCodeOf(sink.output_()), 1007);
  });
  test('binary messages are not validated', () => {
    const { conn, sink } = server();
    conn.receiveData(cframe(2, Buffer.from([0xff, 0xfe])));
    assert.equal(only(sink.events, 'message').length, 1);
  });
});

describe('close handshake (5.5.1, 7)', () => {
  test('a peer close is answered with the same code, then TCP ends (server)', () => {
    const { conn, sink } = server();
    conn.receiveData(cframe(Opcode.CLOSE, Buffer.from([0x03, 0xe8, 0x62, 0x79, 0x65])));
    assert.deepEqual(sink.output_(), sframe(Opcode.CLOSE, Buffer.from([0x03, 0xe8])));
    assert.deepEqual(sink.events.map((e) => e.type), ['closeFrame', 'end']);
    assert.equal(conn.state, State.CLOSED);
    assert.deepEqual(conn.closeReceived, { code: 1000, reason: 'bye' });
  });
  test('the reply can be chosen (passive closing handshake)', () => {
    const { conn, sink } = server();
    sink.reply = { code: 4000, reason: 'mine' };
    conn.receiveData(cframe(Opcode.CLOSE, Buffer.from([0x0f, 0xa0])));
    assert.equal(closeCodeOf(sink.output_()), 4000);
  });
  test('an empty close is answered with an empty close', () => {
    const { conn, sink } = server();
    conn.receiveData(cframe(Opcode.CLOSE, ''));
    assert.deepEqual(sink.output_(), sframe(Opcode.CLOSE, ''));
    assert.equal(conn.closeReceived!.code, 1005);
  });
  test('a client does not end TCP after the handshake: the server does', () => {
    const { conn, sink } = client();
    conn.receiveData(sframe(Opcode.CLOSE, Buffer.from([0x03, 0xe8])));
    assert.ok(!sink.events.some((e) => e.type === 'end'));
    assert.equal(conn.state, State.CLOSED);
  });
  test('we close first: CLOSING until the peer answers', () => {
    const { conn, sink } = server();
    conn.close(1001, 'going');
    assert.equal(conn.state, State.CLOSING);
    assert.ok(conn.closeExpected());
    assert.equal(closeCodeOf(sink.output_()), 1001);
    conn.receiveData(cframe(Opcode.TEXT, 'late data is still read'));
    conn.receiveData(cframe(Opcode.CLOSE, Buffer.from([0x03, 0xe9])));
    assert.equal(conn.state, State.CLOSED);
    assert.equal(sink.out.length, 1, 'no second close frame');
  });
  test('nothing is read after a close frame', () => {
    const { conn, sink } = server();
    conn.receiveData(Buffer.concat([cframe(Opcode.CLOSE, Buffer.from([0x03, 0xe8])), cframe(Opcode.TEXT, 'x')]));
    assert.equal(only(sink.events, 'message').length, 0);
  });
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]) {
    test(`close code ${code} on the wire fails with 1002`, () => {
      const { conn, sink } = server();
      conn.receiveData(cframe(Opcode.CLOSE, Buffer.from([code >> 8, code & 0xff])));
      assert.equal(closeCodeOf(sink.output_()), 1002);
    });
  }
  for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999]) {
    test(`close code ${code} is echoed`, () => {
      const { conn, sink } = server();
      conn.receiveData(cframe(Opcode.CLOSE, Buffer.from([code >> 8, code & 0xff])));
      assert.equal(closeCodeOf(sink.output_()), code);
    });
  }
  test('a 1-byte close payload fails with 1002', () => {
    const { conn, sink } = server();
    conn.receiveData(cframe(Opcode.CLOSE, Buffer.from([0x03])));
    assert.equal(closeCodeOf(sink.output_()), 1002);
  });
  test('a close reason that is not UTF-8 fails with 1007', () => {
    const { conn, sink } = server();
    conn.receiveData(cframe(Opcode.CLOSE, Buffer.from([0x03, 0xe8, 0xff])));
    assert.equal(closeCodeOf(sink.output_()), 1007);
  });
  test('close() refuses codes that may not be sent and reasons over 123 bytes', () => {
    const { conn } = server();
    assert.throws(() => conn.close(1005), /may not be sent/);
    assert.throws(() => conn.close(1006), /may not be sent/);
    assert.throws(() => conn.close(1000, 'x'.repeat(124)), /123/);
    conn.close(1000, 'x'.repeat(123));
  });
  test('nothing is sent after close', () => {
    const { conn, sink } = server();
    conn.close(1000);
    assert.equal(conn.sendText('x'), false);
    assert.equal(conn.sendPing(), false);
    assert.equal(sink.out.length, 1);
  });
});

describe('limits', () => {
  test('a frame over maxFrameBytes fails with 1009 before its payload arrives', () => {
    const { conn, sink } = server({ maxFrameBytes: 100 });
    conn.receiveData(cframe(Opcode.BINARY, Buffer.alloc(101)).subarray(0, 8));
    assert.equal(closeCodeOf(sink.output_()), 1009);
  });
  test('a fragmented message over maxMessageBytes fails with 1009', () => {
    const { conn, sink } = server({ maxMessageBytes: 100 });
    conn.receiveData(cframe(Opcode.BINARY, Buffer.alloc(60), false));
    conn.receiveData(cframe(Opcode.CONTINUATION, Buffer.alloc(60), true));
    assert.equal(closeCodeOf(sink.output_()), 1009);
    assert.equal(only(sink.events, 'message').length, 0);
  });
});

describe('sending', () => {
  test('server text frame bytes', () => {
    const { conn, sink } = server();
    conn.sendText('Hello');
    assert.deepEqual(sink.output_(), Buffer.from([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f])); // RFC 6455 5.7
  });
  test('client frames are masked with a fresh key', () => {
    const { conn, sink } = client();
    conn.sendText('Hello');
    const out = sink.output_();
    assert.equal(out[0], 0x81);
    assert.equal(out[1], 0x85);
    const key = out.subarray(2, 6);
    const payload = Buffer.from(out.subarray(6));
    for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i & 3]!;
    assert.equal(payload.toString(), 'Hello');
  });
  test('large payloads are written as header + the same buffer (no copy)', () => {
    const { conn, sink } = server();
    const big = Buffer.alloc(70_000, 1);
    conn.sendBinary(big);
    assert.equal(sink.out.length, 2);
    assert.deepEqual(sink.out[0], Buffer.from([0x82, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]));
  });
});
