// Interop: Switchboard's client (connect()) with a `ws` server (an independent implementation).
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { WebSocketServer as WsServer, type WebSocket as WsSocket } from 'ws';
import { connect, HandshakeError, type WebSocket } from '../../src/index.js';
import { compressibleText, pseudoRandomBytes } from '../helpers/frames.js';
import { collect, next } from '../helpers/wait.js';

const MiB = 1024 * 1024;

interface Started {
  wss: WsServer;
  url: string;
  closes: Array<{ code: number; reason: string }>;
  last: () => WsSocket | undefined;
}

async function start(options: ConstructorParameters<typeof WsServer>[0] = {}): Promise<Started> {
  const wss = new WsServer({ port: 0, host: '127.0.0.1', maxPayload: 64 * MiB, ...options });
  await next(wss, 'listening');
  const closes: Started['closes'] = [];
  let last: WsSocket | undefined;
  wss.on('connection', (ws) => {
    last = ws;
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
    ws.on('close', (code, reason) => closes.push({ code, reason: reason.toString() }));
  });
  return { wss, url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`, closes, last: () => last };
}

function stop(s: Started): Promise<void> {
  for (const c of s.wss.clients) c.terminate();
  return new Promise((resolve) => s.wss.close(() => resolve()));
}

async function open(url: string, options: Parameters<typeof connect>[1] = {}): Promise<WebSocket> {
  const ws = await connect(url, { limits: { maxMessageBytes: 64 * MiB, maxFrameBytes: 64 * MiB }, ...options });
  ws.on('error', () => {});
  return ws;
}

async function echo(ws: WebSocket, data: Buffer | string, binary: boolean, ms = data.length > 4 * MiB ? 60_000 : 20_000): Promise<{ data: Buffer; isBinary: boolean }> {
  const p = next<[Buffer, boolean]>(ws, 'message', ms);
  ws.send(data, { binary });
  const [got, isBinary] = await p;
  return { data: got, isBinary };
}

async function closeClient(ws: WebSocket, code = 1000, reason = ''): Promise<[number, string]> {
  const p = next<[number, string]>(ws, 'close');
  ws.close(code, reason);
  return p;
}

describe('our client with a ws server', () => {
  let s: Started;
  before(async () => {
    s = await start({ handleProtocols: (set) => (set.has('chat.v1') ? 'chat.v1' : false) });
  });
  after(() => stop(s));

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

  test('fragmented messages from the server arrive whole', async () => {
    const ws = await open(s.url);
    const srv = s.last()!;
    const p = next<[Buffer, boolean]>(ws, 'message');
    srv.send('κό', { fin: false });
    srv.send(Buffer.from([0xcf]), { fin: false });
    srv.send(Buffer.from([0x83]), { fin: false });
    srv.send('με', { fin: true });
    const [data, isBinary] = await p;
    assert.equal(isBinary, false);
    assert.equal(data.toString(), 'κόσμε');
    const big = pseudoRandomBytes(3 * MiB, 9);
    const p2 = next<[Buffer, boolean]>(ws, 'message');
    for (let i = 0; i < big.length; i += MiB / 2) srv.send(big.subarray(i, i + MiB / 2), { binary: true, fin: i + MiB / 2 >= big.length });
    const [d2, b2] = await p2;
    assert.equal(b2, true);
    assert.ok(d2.equals(big));
    await closeClient(ws);
  });

  test('many messages in a burst keep their order', async () => {
    const ws = await open(s.url);
    const got = collect<[Buffer, boolean]>(ws, 'message', 2000);
    for (let i = 0; i < 2000; i++) ws.send(`m${i}`);
    assert.deepEqual(
      (await got).map(([d]) => d.toString()),
      Array.from({ length: 2000 }, (_, i) => `m${i}`),
    );
    await closeClient(ws);
  });

  test('subprotocol chosen by the server is reported', async () => {
    const ws = await open(s.url, { protocols: ['chat.v0', 'chat.v1'] });
    assert.equal(ws.protocol, 'chat.v1');
    assert.equal(s.last()?.protocol, 'chat.v1');
    await closeClient(ws);
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
      const srvClose = next<[number, Buffer]>(srv, 'close');
      const [c] = await closeClient(ws, code, reason);
      assert.equal(c, code);
      const [sc, sr] = await srvClose;
      assert.equal(sc, code);
      assert.equal(sr.toString(), reason);
    });
  }

  test('server closes with 4000 and a reason', async () => {
    const ws = await open(s.url);
    const p = next<[number, string]>(ws, 'close');
    s.last()!.close(4000, 'server says bye');
    const [c, r] = await p;
    assert.equal(c, 4000);
    assert.equal(String(r), 'server says bye');
  });

  test('a rejected upgrade rejects connect() with HandshakeError and its status', async () => {
    const wss = await start({ verifyClient: (_info: unknown, cb: (ok: boolean, code?: number) => void) => cb(false, 403) } as never);
    try {
      await assert.rejects(open(wss.url), (err: unknown) => err instanceof HandshakeError && err.status === 403);
    } finally {
      await stop(wss);
    }
  });
});

describe('permessage-deflate between our client and a ws server', () => {
  type C = [string, Record<string, unknown>, boolean | Record<string, unknown>, RegExp];
  const combos: C[] = [
    ['defaults', {}, true, /permessage-deflate/],
    ['we ask server_no_context_takeover', { serverNoContextTakeover: true }, true, /server_no_context_takeover/],
    ['we offer client_no_context_takeover', { clientNoContextTakeover: true }, true, /client_no_context_takeover/],
    ['we ask server_max_window_bits=10', { serverMaxWindowBits: 10 }, true, /server_max_window_bits=10/],
    ['we offer client_max_window_bits', { clientMaxWindowBits: true }, { clientMaxWindowBits: 9 }, /client_max_window_bits=9/],
    ['server forces server_no_context_takeover', {}, { serverNoContextTakeover: true }, /server_no_context_takeover/],
    ['server forces client_no_context_takeover', {}, { clientNoContextTakeover: true }, /client_no_context_takeover/],
    ['server caps its window to 9', {}, { serverMaxWindowBits: 9 }, /server_max_window_bits=9/],
  ];
  for (const [name, clientPmd, serverPmd, expectParams] of combos) {
    test(name, async () => {
      const s = await start({ perMessageDeflate: typeof serverPmd === 'object' ? { threshold: 0, ...serverPmd } : { threshold: 0 } });
      try {
        const ws = await open(s.url, { perMessageDeflate: { threshold: 0, ...clientPmd } });
        assert.match(ws.extensions, expectParams);
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
        await stop(s);
      }
    });
  }
});
