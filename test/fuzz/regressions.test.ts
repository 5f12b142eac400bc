// Inputs the fuzz targets found that once failed, each named for what went wrong; each is
// replayed through its target (all of that target's properties) and the specific rule is
// asserted directly.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import zlib from 'node:zlib';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, PerMessageDeflate, ProtocolConnection, ZlibCodecPool, confirmExtensions, decodeEnvelope, loadConfig, parseHead, type Frame, type ProtocolSink } from './subjects.js';
import { configTarget } from './targets/config.js';
import { envelopeTarget } from './targets/envelope.js';
import { extensionParamsTarget } from './targets/extension-params.js';
import { framesTarget } from './targets/frames.js';
import { handshakeTarget } from './targets/handshake.js';
import { inflateTarget } from './targets/inflate.js';

function frameObserver() {
  const frames: Frame[] = [];
  let closeCode = 0;
  const sink: ProtocolSink = {
    output: (d) => {
      if ((d[0]! & 0x0f) === 0x8) closeCode = d.readUInt16BE(2);
    },
    onMessage: () => {},
    onFrame: (f) => frames.push(f),
    onPing: () => {},
    onPong: () => {},
    onError: () => {},
    endTransport: () => {},
  };
  const conn = new ProtocolConnection(sink, { role: 'server', maxMessageBytes: 1 << 20, maxFrameBytes: 1 << 20, observeFrames: true });
  return { conn, frames, closeCode: () => closeCode };
}

describe('fuzz regressions: frames', () => {
  test('a text frame with invalid UTF-8 is not reported to onFrame, whatever the chunking', async () => {
    // setup 0x10 (server, observeFrames), then a masked text frame whose payload is 80 20.
    const input = Buffer.from([0x10, 0x00, 0x81, 0x82, 0x51, 0xe0, 0x7b, 0x01, 0xd1, 0xc0]);
    await framesTarget.run(input);
    const frame = input.subarray(2);
    for (const chunks of [[frame], [frame.subarray(0, 7), frame.subarray(7)]]) {
      const o = frameObserver();
      for (const c of chunks) o.conn.receiveData(Buffer.from(c));
      assert.equal(o.frames.length, 0);
      assert.equal(o.closeCode(), 1007);
    }
  });
});

/** A server's permessage-deflate with context takeover, and a zlib compressor like a peer's. */
function deflatePair() {
  const pool = new ZlibCodecPool();
  const ext = new PerMessageDeflate(pool.factory).accept([{}])!;
  const peer = pool.factory({ deflateWindowBits: 15, deflateNoContextTakeover: false, inflateWindowBits: 15, inflateNoContextTakeover: false });
  const compress = (text: string) => {
    const out = peer.deflate(Buffer.from(text));
    return out.subarray(0, Math.max(0, out.length - 4)); // section 7.2.1: without 00 00 ff ff
  };
  const close = () => {
    ext.dispose();
    peer.dispose();
    pool.close();
  };
  return { ext, compress, close };
}

describe('fuzz regressions: inflate', () => {
  test('a message ending with BFINAL no longer makes every later message inflate to nothing', async () => {
    // RFC 7692 section 7.2.3.4's "Hello" with BFINAL set, then a mutated "Hello", window 11.
    await inflateTarget.run(Buffer.from('c30b0007f348cdc9c90700' + '0007f248cdc9ca0700', 'hex'));
    const { ext, close } = deflatePair();
    try {
      assert.equal(ext.decode(Buffer.from('f348cdc9c90700', 'hex'), 0x40, 1000).toString(), 'Hello');
      assert.equal(ext.decode(Buffer.from('f248cdc9c90700', 'hex'), 0x40, 1000).toString(), 'Hello');
      // A new deflate stream after BFINAL still sees the window: "Hello" again as a back-reference.
      assert.equal(ext.decode(Buffer.from('f200110000', 'hex'), 0x40, 1000).toString(), 'Hello');
    } finally {
      close();
    }
  });

  test('a BFINAL block that the tail itself completes also ends the stream cleanly', () => {
    // "Hello" in a stored block, then the header of a final stored block that 00 00 ff ff
    // completes: the stream ends exactly at the end of the input, with nothing left over.
    const { ext, close } = deflatePair();
    try {
      assert.equal(ext.decode(Buffer.from('000500faff48656c6c6f01', 'hex'), 0x40, 1000).toString(), 'Hello');
      assert.equal(ext.decode(Buffer.from('f248cdc9c90700', 'hex'), 0x40, 1000).toString(), 'Hello');
      assert.equal(ext.decode(Buffer.from('f200110000', 'hex'), 0x40, 1000).toString(), 'Hello');
    } finally {
      close();
    }
  });

  test('with an 8-bit window, a context rebuilt after eviction accepts what a live one does', async () => {
    // A peer's far echo: 40 bytes repeated from 300 bytes back, past 256 but within the
    // 512 bytes zlib's smallest inflater keeps; the target evicts the context before it.
    const data = Buffer.from(new Uint8Array(400).map((_, i) => (i * 7919 + (i >> 3)) & 0xff));
    const first = zlib.deflateRawSync(data, { windowBits: 9, finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
    const echo = zlib.deflateRawSync(data.subarray(100, 140), { windowBits: 11, dictionary: data, finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
    const framed = [first, echo].map((m) => Buffer.concat([Buffer.from([m.length >> 8, m.length & 0xff]), m]));
    await inflateTarget.run(Buffer.concat([Buffer.from([0xc0, 0x00]), ...framed]));
  });

  test('an empty compressed payload (a compressor with nothing to flush) keeps the inflater in step', async () => {
    // Window 8, takeover: an empty payload, then 00 (which, after the tail alone, was read as a stored block).
    await inflateTarget.run(Buffer.from([0xc0, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00]));
    const { ext, compress, close } = deflatePair();
    try {
      for (const text of ['Hello', '', 'Hello', '', '', 'World']) {
        const payload = compress(text);
        if (!text) assert.equal(payload.length, 0, 'zlib emits nothing for an empty message after a flush');
        assert.equal(ext.decode(payload, 0x40, 1000).toString(), text);
      }
    } finally {
      close();
    }
  });

  test('an empty last frame of a fragmented compressed message still completes it', () => {
    const { ext, compress, close } = deflatePair();
    try {
      const z = compress('fragmented');
      const parts = [ext.decodeFragment!(z.subarray(0, 3), false, 1000), ext.decodeFragment!(z.subarray(3), false, 1000), ext.decodeFragment!(Buffer.alloc(0), true, 1000)];
      assert.equal(Buffer.concat(parts).toString(), 'fragmented');
      assert.equal(ext.decode(compress('next'), 0x40, 1000).toString(), 'next');
    } finally {
      close();
    }
  });
});

describe('fuzz regressions: handshake', () => {
  test('CR, LF or NUL inside a header line is refused with 400, not kept in the value (RFC 9110 section 5.5)', async () => {
    const heads = [
      'GET / HTTP/1.1\r\nHost: \n\r\n\r\n',
      'GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\r\nConnection: Upgrade\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n',
      'GET /a\nb HTTP/1.1\r\nHost: x\r\n\r\n',
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\rX: y\r\n\r\n',
    ];
    for (const h of heads) {
      const input = Buffer.from(h, 'latin1');
      await handshakeTarget.run(input);
      const r = parseHead(input, 16_384);
      assert.equal(r.kind, 'error', JSON.stringify(h));
      assert.equal(r.kind === 'error' && r.status, 400);
    }
  });
});

describe('fuzz regressions: extension parameters', () => {
  test('a client that offered client_max_window_bits=9 refuses an answer of 12 (RFC 7692 section 7.1.2.2)', async () => {
    const answer = 'permessage-deflate; server_max_window_bits=11; client_max_window_bits=12';
    await extensionParamsTarget.run(Buffer.from(answer, 'latin1'));
    const noop = () => ({ deflate: (d: Buffer) => d, inflate: (d: Buffer) => d, dispose: () => {} });
    const result = confirmExtensions(answer, [new PerMessageDeflate(noop, { clientMaxWindowBits: 9 })]);
    assert.equal(typeof result, 'string');
    assert.match(result as string, /client_max_window_bits above our offer/);
  });
});

describe('fuzz regressions: command envelope', () => {
  test('deeply nested but valid JSON decodes as a command, not as malformed JSON', async () => {
    for (const open of ['[', '{"a":', '{"__proto__":']) {
      const close = open === '[' ? ']' : '}';
      const text = `{"id":1,"cmd":"deep","data":${open.repeat(20_000)}0${close.repeat(20_000)}}`;
      await envelopeTarget.run(Buffer.from(text));
      const r = decodeEnvelope(text, false);
      assert.equal(r.kind, 'command', r.kind === 'invalid' ? r.error.message : '');
    }
  });
});

describe('fuzz regressions: config', () => {
  after(() => configTarget.close?.());

  async function loadFile(content: string) {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-fuzz-regression-'));
    try {
      writeFileSync(join(dir, 'switchboard.config.json'), content);
      return await loadConfig({ cwd: dir, env: {} }).then((r) => r.config, (e: unknown) => e);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  test('a "__proto__" key in the config file is an unknown key, not a way to set values', async () => {
    await configTarget.run(Buffer.from('{"__proto__":{"port":1234}}\0\0'));
    const r = await loadFile('{"__proto__":{"port":1234,"isolation":"process"}}');
    assert.ok(r instanceof ConfigError);
    assert.match(r.message, /__proto__ in config file .*: unknown key/);
  });

  test('a deeply nested config file gives a ConfigError, not a stack overflow', async () => {
    const deep = '{"a":'.repeat(20_000) + '1' + '}'.repeat(20_000);
    await configTarget.run(Buffer.from(deep + '\0\0'));
    const r = await loadFile(deep);
    assert.ok(r instanceof ConfigError, String(r));
    assert.match(r.message, /^invalid configuration:\n {2}a in config file .*: unknown key/);
  });
});
