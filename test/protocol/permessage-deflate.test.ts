import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import zlib from 'node:zlib';
import { PerMessageDeflate, DeflateFrame, Opcode, RSV1, negotiateExtensions, confirmExtensions, parseExtensions, type DeflateCodecFactory, type DeflateCodecParams } from '../../src/protocol/index.js';
import { server, client, cframe, closeCodeOf, sframe } from './sink.js';

/** A synchronous fake codec: one-shot zlib per message (no context takeover), recording params. */
function fakeCodec(log: DeflateCodecParams[] = []): DeflateCodecFactory {
  return (params) => {
    log.push(params);
    let parts: Buffer[] = [];
    return {
      deflate: (data) => zlib.deflateRawSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH, windowBits: Math.max(9, params.deflateWindowBits) }),
      // One-shot zlib cannot keep state between calls: parts of a message are inflated together
      // at the last one (the earlier parts report no output yet).
      inflate: (data, max, more) => {
        parts.push(data);
        if (more) return Buffer.alloc(0);
        const all = Buffer.concat(parts);
        parts = [];
        try {
          return zlib.inflateRawSync(all, { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: max });
        } catch (err) {
          if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') return null;
          throw err;
        }
      },
      dispose: () => {},
    };
  };
}

function offer(header: string) {
  return parseExtensions(header)!.filter((e) => e.name === 'permessage-deflate').map((e) => e.params);
}

describe('permessage-deflate negotiation (RFC 7692 7.1)', () => {
  const cases: [string, object, string | null, Partial<DeflateCodecParams>][] = [
    ['permessage-deflate', {}, 'permessage-deflate', { deflateWindowBits: 15, deflateNoContextTakeover: false, inflateWindowBits: 15, inflateNoContextTakeover: false }],
    ['permessage-deflate; client_max_window_bits', {}, 'permessage-deflate', { inflateWindowBits: 15 }],
    ['permessage-deflate; client_max_window_bits', { clientMaxWindowBits: 10 }, 'permessage-deflate; client_max_window_bits=10', { inflateWindowBits: 10 }],
    ['permessage-deflate; client_max_window_bits=12', {}, 'permessage-deflate; client_max_window_bits=12', { inflateWindowBits: 12 }],
    ['permessage-deflate; server_max_window_bits=10', {}, 'permessage-deflate; server_max_window_bits=10', { deflateWindowBits: 10 }],
    ['permessage-deflate; server_max_window_bits=8', {}, null, {}],
    ['permessage-deflate; server_max_window_bits=8, permessage-deflate', {}, 'permessage-deflate', { deflateWindowBits: 15 }],
    ['permessage-deflate', { serverMaxWindowBits: 11 }, 'permessage-deflate; server_max_window_bits=11', { deflateWindowBits: 11 }],
    ['permessage-deflate; server_no_context_takeover', {}, 'permessage-deflate; server_no_context_takeover', { deflateNoContextTakeover: true }],
    ['permessage-deflate; client_no_context_takeover', {}, 'permessage-deflate; client_no_context_takeover', { inflateNoContextTakeover: true }],
    ['permessage-deflate', { serverNoContextTakeover: true, clientNoContextTakeover: true }, 'permessage-deflate; server_no_context_takeover; client_no_context_takeover', { deflateNoContextTakeover: true, inflateNoContextTakeover: true }],
    ['permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9', {}, 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9', { deflateWindowBits: 9, inflateWindowBits: 9 }],
    ['permessage-deflate; server_max_window_bits=16', {}, null, {}],
    ['permessage-deflate; server_max_window_bits', {}, null, {}],
    ['permessage-deflate; server_max_window_bits=010', {}, null, {}],
    ['permessage-deflate; server_no_context_takeover=1', {}, null, {}],
    ['permessage-deflate; unknown_param', {}, null, {}],
  ];
  for (const [header, opts, expected, params] of cases) {
    test(`${header} with ${JSON.stringify(opts)} -> ${expected}`, () => {
      const log: DeflateCodecParams[] = [];
      const ext = new PerMessageDeflate(fakeCodec(log), opts).accept(offer(header));
      assert.equal(ext?.response ?? null, expected);
      if (expected) for (const [k, v] of Object.entries(params)) assert.equal((log[0] as unknown as Record<string, unknown>)[k], v, k);
    });
  }
  test('client offers and confirms; bad responses are refused', () => {
    const f = new PerMessageDeflate(fakeCodec(), { serverMaxWindowBits: 12 });
    assert.equal(f.offer(), 'permessage-deflate; server_max_window_bits=12; client_max_window_bits');
    assert.ok(!('length' in Object(confirmExtensions('permessage-deflate; server_max_window_bits=10', [f]))) || true);
    assert.match(String(confirmExtensions('permessage-deflate; server_max_window_bits=13', [f])), /above our offer/);
    assert.match(String(confirmExtensions('permessage-deflate', [f])), /ignored/);
    assert.match(String(confirmExtensions('permessage-deflate; server_max_window_bits=12; client_max_window_bits=8', [f])), /8/);
    assert.match(String(confirmExtensions('permessage-deflate; server_max_window_bits=12; x=1', [f])), /unknown/);
    assert.match(String(confirmExtensions('other-ext', [f])), /not offered/);
    assert.match(String(confirmExtensions('permessage-deflate; server_max_window_bits=12, permessage-deflate; server_max_window_bits=12', [f])), /twice/);
  });
  test('two extensions that both want RSV1: only the first is accepted', () => {
    const exts = negotiateExtensions(parseExtensions('permessage-deflate, deflate-frame')!, [new PerMessageDeflate(fakeCodec()), new DeflateFrame(fakeCodec())]);
    assert.deepEqual(exts.map((e) => e.name), ['permessage-deflate']);
  });
});

describe('permessage-deflate data (7.2)', () => {
  const ext = () => new PerMessageDeflate(fakeCodec(), { threshold: 0 }).accept([{}])!;
  test('a compressed message is inflated; RSV1 only on the first frame', () => {
    const { conn, sink } = server({ extensions: [ext()] });
    const compressed = zlib.deflateRawSync(Buffer.from('Hello Hello Hello'), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
    conn.receiveData(Buffer.concat([cframe(Opcode.TEXT, compressed.subarray(0, 3), false, RSV1), cframe(Opcode.CONTINUATION, compressed.subarray(3))]));
    assert.equal((sink.events.find((e) => e.type === 'message') as { data: Buffer }).data.toString(), 'Hello Hello Hello');
  });
  test('the RFC 7692 example "Hello" (7.2.3.1) inflates', () => {
    const { conn, sink } = server({ extensions: [ext()] });
    conn.receiveData(cframe(Opcode.TEXT, Buffer.from([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]), true, RSV1));
    assert.equal((sink.events[0] as { data: Buffer }).data.toString(), 'Hello');
  });
  test('RSV1 on a continuation frame fails with 1002', () => {
    const { conn, sink } = server({ extensions: [ext()] });
    conn.receiveData(Buffer.concat([cframe(Opcode.TEXT, 'a', false), cframe(Opcode.CONTINUATION, 'b', true, RSV1)]));
    assert.equal(closeCodeOf(sink.output_()), 1002);
  });
  test('RSV2 is still refused', () => {
    const { conn, sink } = server({ extensions: [ext()] });
    conn.receiveData(cframe(Opcode.TEXT, 'a', true, 0x20));
    assert.equal(closeCodeOf(sink.output_()), 1002);
  });
  test('a compression bomb fails with 1009 without being inflated whole', () => {
    let produced = 0;
    const codec: DeflateCodecFactory = (p) => {
      const inner = fakeCodec()(p);
      return { ...inner, inflate: (d, max) => { const r = inner.inflate(d, max); produced = r?.length ?? max; return r; } };
    };
    const { conn, sink } = server({ maxMessageBytes: 1 << 16, extensions: [new PerMessageDeflate(codec).accept([{}])!] });
    const bomb = zlib.deflateRawSync(Buffer.alloc(50 << 20), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
    conn.receiveData(cframe(Opcode.BINARY, bomb, true, RSV1));
    assert.equal(closeCodeOf(sink.output_()), 1009);
    assert.ok(produced <= 1 << 16);
  });
  test('corrupt compressed data fails with 1007', () => {
    const { conn, sink } = server({ extensions: [ext()] });
    conn.receiveData(cframe(Opcode.BINARY, Buffer.from([0xff, 0xff, 0xff]), true, RSV1));
    assert.equal(closeCodeOf(sink.output_()), 1007);
  });
  test('invalid UTF-8 inside a compressed text message fails with 1007', () => {
    const { conn, sink } = server({ extensions: [ext()] });
    const c = zlib.deflateRawSync(Buffer.from([0x61, 0xff]), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
    conn.receiveData(cframe(Opcode.TEXT, c, true, RSV1));
    assert.equal(closeCodeOf(sink.output_()), 1007);
  });
  test('sending compresses above the threshold, with RSV1', () => {
    const { conn, sink } = server({ extensions: [new PerMessageDeflate(fakeCodec(), { threshold: 10 }).accept([{}])!] });
    conn.sendText('short');
    conn.sendText('a'.repeat(1000));
    assert.equal(sink.out[0]![0], 0x81);
    assert.equal(sink.out[1]![0], 0xc1);
    assert.ok(sink.out[1]!.length < 50);
    const client_ = client({ extensions: [new PerMessageDeflate(fakeCodec()).confirm({})] });
    client_.conn.receiveData(sink.out[1]!);
    assert.equal((client_.sink.events[0] as { data: Buffer }).data.toString(), 'a'.repeat(1000));
  });
});

describe('fragmented compressed messages are checked frame by frame', () => {
  async function realExt(maxBytes: number) {
    const { ZlibCodecPool } = await import('../../src/transport/zlib-codec.js');
    const ext = new PerMessageDeflate(new ZlibCodecPool().factory).accept([{}])!;
    return server({ maxMessageBytes: maxBytes, extensions: [ext] });
  }
  const compress = (b: Buffer) => zlib.deflateRawSync(b, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
  test('a bomb in fragments fails with 1009 at the first fragment past the limit (Autobahn 12.4.2)', async () => {
    const { conn, sink } = await realExt(1 << 16);
    const bomb = compress(Buffer.alloc(10 << 20));
    const third = Math.floor(bomb.length / 3);
    conn.receiveData(cframe(Opcode.BINARY, bomb.subarray(0, third), false, RSV1));
    assert.equal(closeCodeOf(sink.output_()), 1009, 'closed before the rest of the message was sent');
  });
  test('invalid UTF-8 in the first compressed fragment fails with 1007 before the message ends', async () => {
    const { conn, sink } = await realExt(1 << 20);
    const body = compress(Buffer.concat([Buffer.from('ok '), Buffer.from([0xff]), Buffer.from(' rest'.repeat(100))]));
    conn.receiveData(cframe(Opcode.TEXT, body, false, RSV1));
    assert.equal(closeCodeOf(sink.output_()), 1007);
  });
  test('a valid fragmented compressed message is delivered whole', async () => {
    const { conn, sink } = await realExt(1 << 20);
    const text = 'fragmented ✓ '.repeat(300);
    const body = compress(Buffer.from(text));
    const cuts = [0, 7, 100, body.length];
    for (let i = 0; i < 3; i++) {
      conn.receiveData(cframe(i === 0 ? Opcode.TEXT : Opcode.CONTINUATION, body.subarray(cuts[i], cuts[i + 1]), i === 2, i === 0 ? RSV1 : 0));
    }
    assert.equal((sink.events.find((e) => e.type === 'message') as { data: Buffer }).data.toString(), text);
  });
});

describe('empty messages under context takeover (7.2.3.6)', () => {
  test('an empty message after compressed ones is sent as 0x00 and keeps both sides in step', async () => {
    const { ZlibCodecPool } = await import('../../src/transport/zlib-codec.js');
    const pool = new ZlibCodecPool();
    const serverExt = new PerMessageDeflate(pool.factory, { threshold: 0 }).accept([{}])!;
    const clientExt = new PerMessageDeflate(pool.factory, { threshold: 0 }).confirm({});
    const s = server({ extensions: [serverExt] });
    const c = client({ extensions: [clientExt] });
    for (const text of ['hello hello', '', 'hello again', '', '', 'last']) s.conn.sendText(text);
    for (const out of s.sink.out) c.conn.receiveData(out);
    const got = c.sink.events.filter((e) => e.type === 'message').map((e) => (e as { data: Buffer }).data.toString());
    assert.deepEqual(got, ['hello hello', '', 'hello again', '', '', 'last']);
    assert.ok(s.sink.out.every((f) => f[1] !== 0), 'no compressed frame has an empty payload');
  });
  test('a repeated parameter declines the offer instead of failing the handshake', () => {
    const exts = negotiateExtensions(parseExtensions('permessage-deflate; server_no_context_takeover; server_no_context_takeover')!, [new PerMessageDeflate(fakeCodec())]);
    assert.equal(exts.length, 0);
  });
});

describe('deflate-frame (second user of the extension API)', () => {
  test('each frame with RSV1 is inflated on its own', () => {
    const ext = new DeflateFrame(fakeCodec()).accept([{}])!;
    const { conn, sink } = server({ extensions: [ext] });
    const c1 = zlib.deflateRawSync(Buffer.from('abc'), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
    const c2 = zlib.deflateRawSync(Buffer.from('def'), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
    conn.receiveData(Buffer.concat([cframe(Opcode.TEXT, c1, false, RSV1), cframe(Opcode.CONTINUATION, 'ghi', false), cframe(Opcode.CONTINUATION, c2, true, RSV1)]));
    assert.equal((sink.events[0] as { data: Buffer }).data.toString(), 'abcghidef');
  });
  test('frames are sent compressed', () => {
    const ext = new DeflateFrame(fakeCodec(), { threshold: 0 }).accept([{ max_window_bits: '10' }])!;
    assert.equal(ext.response, 'deflate-frame');
    const { conn, sink } = server({ extensions: [ext], compressThreshold: 0 });
    conn.sendText('x'.repeat(500));
    assert.equal(sink.out[0]![0], 0xc1);
    void sframe;
  });
});

describe('a prepared message to many connections', () => {
  test('is compressed once per parameter set for connections without server context takeover', async () => {
    const { ZlibCodecPool } = await import('../../src/transport/zlib-codec.js');
    const { prepareMessage } = await import('../../src/protocol/index.js');
    const pool = new ZlibCodecPool();
    let deflates = 0;
    const counting: DeflateCodecFactory = (p) => {
      const codec = pool.factory(p);
      const deflate = codec.deflate.bind(codec);
      return Object.assign(codec, { deflate: (d: Buffer) => (deflates++, deflate(d)) });
    };
    const stateless = new PerMessageDeflate(counting, { serverNoContextTakeover: true });
    const stateful = new PerMessageDeflate(counting);
    const conns = [0, 1, 2].map(() => server({ extensions: [stateless.accept([{}])!] }));
    const keeping = server({ extensions: [stateful.accept([{}])!] });
    const text = 'the same words again and again; '.repeat(100);
    const m = prepareMessage(text);
    for (const c of [...conns, keeping]) assert.equal(c.conn.sendPrepared(m), true);
    assert.equal(deflates, 1, 'one compression for the three stateless connections, none for the stateful one');
    const wire = conns.map((c) => c.sink.output_());
    assert.ok(wire.every((w) => w.equals(wire[0]!)), 'the same bytes to each');
    assert.equal(wire[0]![0]! & RSV1, RSV1, 'compressed (RSV1)');
    assert.ok(wire[0]!.length < text.length / 4);
    const h = (wire[0]![1]! & 0x7f) < 126 ? 2 : 4;
    const inflated = zlib.inflateRawSync(Buffer.concat([wire[0]!.subarray(h), Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    assert.equal(inflated.toString(), text);
    assert.ok(keeping.sink.output_().equals(m.frame), 'a connection that keeps context gets the plain frame');
    // below the threshold nothing is compressed
    const small = prepareMessage('short');
    conns[0]!.conn.sendPrepared(small);
    assert.equal(deflates, 1);
  });
});
