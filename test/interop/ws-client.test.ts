// Interop: Switchboard's server with the `ws` client (an independent implementation).
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { WebSocketServer, type WebSocket as SbWebSocket } from '../../src/index.js';
import { compressibleText, pseudoRandomBytes } from '../helpers/frames.js';
import { collect, next } from '../helpers/wait.js';

const MiB = 1024 * 1024;

interface Started {
  server: WebSocketServer;
  url: string;
  closes: Array<{ code: number; reason: string }>;
  last: () => SbWebSocket | undefined;
}

async function start(options: Partial<ConstructorParameters<typeof WebSocketServer>[0]> = {}): Promise<Started> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', limits: { maxMessageBytes: 32 * MiB, maxFrameBytes: 32 * MiB }, ...options });
  const closes: Started['closes'] = [];
  let last: SbWebSocket | undefined;
  server.on('connection', (ws) => {
    last = ws;
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => {
      ws.send(data, { binary: isBinary });
    });
    ws.on('close', (code, reason) => closes.push({ code, reason }));
  });
  const addr = await server.listen();
  return { server, url: `ws://127.0.0.1:${addr.port}/`, closes, last: () => last };
}

async function open(url: string, protocols: string[] = [], options: WebSocket.ClientOptions = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, protocols, { maxPayload: 64 * MiB, ...options });
  ws.on('error', () => {});
  await next(ws, 'open');
  return ws;
}

async function echo(ws: WebSocket, data: Buffer | string, binary: boolean, ms = data.length > 4 * MiB ? 60_000 : 20_000): Promise<{ data: Buffer; isBinary: boolean }> {
  const p = next<[Buffer, boolean]>(ws, 'message', ms);
  ws.send(data, { binary });
  const [got, isBinary] = await p;
  return { data: got, isBinary };
}

async function closeClient(ws: WebSocket, code = 1000, reason = ''): Promise<[number, Buffer]> {
  const p = next<[number, Buffer]>(ws, 'close');
  ws.close(code, reason);
  return p;
}

describe('our server with the ws client', () => {
  let s: Started;
  before(async () => {
    s = await start({ protocols: ['chat.v2', 'chat.v1'] });
  });
  after(async () => {
    await s.server.close({ timeoutMs: 2000 });
  });

  test('text and binary of sizes around the length encodings', async () => {
    const ws = await open(s.url);
    for (const n of [0, 1, 125, 126, 127, 65535, 65536, 100_000]) {
      const t = compressibleText(n, n);
      const r1 = await echo(ws, t, false);
      assert.equal(r1.isBinary, false);
      assert.equal(r1.data.toString(), t);
      const b = pseudoRandomBytes(n, n + 1);
      const r2 = await echo(ws, b, true);
      assert.equal(r2.isBinary, true);
      assert.ok(r2.data.equals(b), `binary ${n}`);
    }
    await closeClient(ws);
  });

  test('large messages: 8 MiB text and 12 MiB binary', async () => {
    const ws = await open(s.url);
    const t = compressibleText(8 * MiB, 5);
    assert.equal((await echo(ws, t, false)).data.toString(), t);
    const b = pseudoRandomBytes(12 * MiB, 6);
    assert.ok((await echo(ws, b, true)).data.equals(b));
    await closeClient(ws);
  });

  test('fragmented messages from the client arrive whole', async () => {
    const ws = await open(s.url);
    const p = next<[Buffer, boolean]>(ws, 'message');
    ws.send('κό', { fin: false });
    ws.send(Buffer.from([0xcf]), { fin: false }); // σ split across fragments
    ws.send(Buffer.from([0x83]), { fin: false });
    ws.send('με', { fin: true });
    const [data, isBinary] = await p;
    assert.equal(isBinary, false);
    assert.equal(data.toString(), 'κόσμε');
    const big = pseudoRandomBytes(3 * MiB, 9);
    const p2 = next<[Buffer, boolean]>(ws, 'message');
    for (let i = 0; i < big.length; i += MiB / 2) ws.send(big.subarray(i, i + MiB / 2), { binary: true, fin: i + MiB / 2 >= big.length });
    const [d2, b2] = await p2;
    assert.equal(b2, true);
    assert.ok(d2.equals(big));
    await closeClient(ws);
  });

  test('many messages in a burst keep their order', async () => {
    const ws = await open(s.url);
    const got = collect<[Buffer, boolean]>(ws, 'message', 2000);
    for (let i = 0; i < 2000; i++) ws.send(`m${i}`);
    const all = await got;
    assert.deepEqual(
      all.map(([d]) => d.toString()),
      Array.from({ length: 2000 }, (_, i) => `m${i}`),
    );
    await closeClient(ws);
  });

  test('subprotocol: the server picks the first one the client offers that it speaks', async () => {
    const ws = await open(s.url, ['x-unknown', 'chat.v1', 'chat.v2']);
    assert.equal(ws.protocol, 'chat.v1');
    assert.equal(s.last()?.protocol, 'chat.v1');
    await closeClient(ws);
    const ws2 = await open(s.url, ['chat.v2']);
    assert.equal(ws2.protocol, 'chat.v2');
    await closeClient(ws2);
    const ws3 = await open(s.url);
    assert.equal(ws3.protocol, '');
    await closeClient(ws3);
  });

  test('ping/pong both ways', async () => {
    const ws = await open(s.url);
    const pong = next<[Buffer]>(ws, 'pong');
    ws.ping('client ping');
    assert.equal((await pong)[0].toString(), 'client ping');
    const srv = s.last()!;
    const clientSawPing = next<[Buffer]>(ws, 'ping');
    const serverSawPong = next<[Buffer]>(srv, 'pong');
    srv.ping('server ping');
    assert.equal((await clientSawPing)[0].toString(), 'server ping');
    assert.equal((await serverSawPong)[0].toString(), 'server ping');
    await closeClient(ws);
  });

  for (const [code, reason] of [
    [1000, ''],
    [1001, 'going away'],
    [3000, 'app'],
    [4999, 'r'.repeat(123)],
  ] as const) {
    test(`client closes with ${code}: both sides see it`, async () => {
      const ws = await open(s.url);
      const srv = s.last()!;
      const srvClose = next<[number, string]>(srv, 'close');
      const [c] = await closeClient(ws, code, reason);
      assert.equal(c, code); // the reply echoes the code (RFC 6455 5.5.1; the reason need not be echoed)
      const [sc, sr] = await srvClose;
      assert.equal(sc, code);
      assert.equal(String(sr), reason);
    });
  }

  test('server closes with 4000 and a reason', async () => {
    const ws = await open(s.url);
    const p = next<[number, Buffer]>(ws, 'close');
    s.last()!.close(4000, 'server says bye');
    const [c, r] = await p;
    assert.equal(c, 4000);
    assert.equal(r.toString(), 'server says bye');
  });

  test('server.close() closes open clients with 1001', async () => {
    const s2 = await start();
    const ws = await open(s2.url);
    const p = next<[number, Buffer]>(ws, 'close');
    await s2.server.close({ timeoutMs: 5000 });
    assert.equal((await p)[0], 1001);
  });
});

describe('permessage-deflate between our server and the ws client', () => {
  type C = [string, boolean | Record<string, unknown>, Record<string, unknown>, RegExp];
  const combos: C[] = [
    ['defaults', true, {}, /^permessage-deflate/],
    ['client asks server_no_context_takeover', true, { serverNoContextTakeover: true }, /server_no_context_takeover/],
    ['client offers client_no_context_takeover', true, { clientNoContextTakeover: true }, /client_no_context_takeover/],
    ['client asks server_max_window_bits=10', true, { serverMaxWindowBits: 10 }, /server_max_window_bits=(9|10)/],
    ['client offers client_max_window_bits=11', true, { clientMaxWindowBits: 11 }, /^permessage-deflate/],
    ['server forces server_no_context_takeover', { serverNoContextTakeover: true }, {}, /server_no_context_takeover/],
    ['server forces client_no_context_takeover', { clientNoContextTakeover: true }, {}, /client_no_context_takeover/],
    ['server caps client window to 9', { clientMaxWindowBits: 9 }, { clientMaxWindowBits: true }, /client_max_window_bits=9/],
    ['server caps its window to 9', { serverMaxWindowBits: 9 }, {}, /server_max_window_bits=9/],
    ['all four', { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 12, clientMaxWindowBits: 12 }, { clientMaxWindowBits: true, serverMaxWindowBits: 12 }, /server_no_context_takeover/],
  ];
  for (const [name, serverPmd, clientPmd, expectParams] of combos) {
    test(name, async () => {
      const s = await start({ perMessageDeflate: typeof serverPmd === 'object' ? { threshold: 0, ...serverPmd } : { threshold: 0 } });
      try {
        const ws = await open(s.url, [], { perMessageDeflate: { threshold: 0, ...clientPmd } });
        assert.match(s.last()!.extensions, expectParams);
        assert.match(ws.extensions, /permessage-deflate/);
        for (const n of [0, 10, 1000, 64 * 1024, MiB]) {
          for (let k = 0; k < 3; k++) {
            const t = compressibleText(n, n + k);
            assert.equal((await echo(ws, t, false)).data.toString(), t, `text ${n} #${k}`);
          }
          const b = pseudoRandomBytes(n, n);
          assert.ok((await echo(ws, b, true)).data.equals(b), `binary ${n}`);
        }
        await closeClient(ws);
      } finally {
        await s.server.close({ timeoutMs: 2000 });
      }
    });
  }
});
