import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import http from 'node:http';
import net from 'node:net';
import { WebSocketServer, connect, HandshakeError, SendStatus, type WebSocket, type ServerOptions } from '../../src/index.js';
import { messages, rawExchange, UPGRADE, selfSigned } from './util.js';
import { next } from '../helpers/wait.js';

const servers: WebSocketServer[] = [];

async function refusal(p: Promise<WebSocket>): Promise<HandshakeError> {
  const r = await p.then((ws) => { ws.terminate(); return null; }, (e: unknown) => e);
  assert.ok(r instanceof HandshakeError, `expected a refused handshake, got ${String(r)}`);
  return r;
}
after(async () => {
  await Promise.all(servers.map((s) => s.close({ timeoutMs: 500 })));
});

async function echoServer(options: Partial<ServerOptions> = {}): Promise<{ server: WebSocketServer; url: string }> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  servers.push(server);
  server.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  await server.listen();
  return { server, url: server.url };
}

describe('server modes', () => {
  test('standalone: echo of text and binary with our client', async () => {
    const { server, url } = await echoServer();
    const serverSide = next<[WebSocket]>(server, 'connection');
    const ws = await connect(url + '/x');
    const [peer] = await serverSide;
    const peerClosed = next<[number, string]>(peer, 'close');
    const got = messages(ws, 2);
    ws.send('héllo');
    ws.send(Uint8Array.of(1, 2, 3));
    const [a, b] = await got;
    assert.equal(a!.data.toString(), 'héllo');
    assert.equal(a!.isBinary, false);
    assert.deepEqual([...b!.data], [1, 2, 3]);
    assert.equal(b!.isBinary, true);
    ws.close(1000, 'done');
    const [code, reason] = await next<[number, string]>(ws, 'close');
    assert.equal(code, 1000);
    assert.equal(reason, '', 'the server echoes the code only');
    assert.deepEqual(await peerClosed, [1000, 'done']);
  });

  test('attached to an http.Server, which keeps serving plain requests', async () => {
    const httpServer = http.createServer((_req, res) => res.end('plain http'));
    const wss = new WebSocketServer({ server: httpServer, path: '/ws' });
    wss.on('connection', (ws) => ws.send('welcome'));
    await new Promise<void>((r) => httpServer.listen(0, '127.0.0.1', r));
    const port = (httpServer.address() as net.AddressInfo).port;
    const ws = await connect(`ws://127.0.0.1:${port}/ws`);
    const [data] = await next<[Buffer]>(ws, 'message');
    assert.equal(data.toString(), 'welcome');
    const body = await (await fetch(`http://127.0.0.1:${port}/`)).text();
    assert.equal(body, 'plain http');
    await assert.rejects(connect(`ws://127.0.0.1:${port}/other`), (e: HandshakeError) => e.status === 404);
    ws.close();
    await next(ws, 'close');
    await wss.close();
    httpServer.close();
  });

  test('attached: a peer that drops TCP without a Close is noticed (1006) and untracked', async () => {
    const httpServer = http.createServer();
    const wss = new WebSocketServer({ server: httpServer });
    await new Promise<void>((r) => httpServer.listen(0, '127.0.0.1', r));
    const port = (httpServer.address() as net.AddressInfo).port;
    const serverSide = next<[WebSocket]>(wss, 'connection');
    const ws = await connect(`ws://127.0.0.1:${port}/`);
    const [peer] = await serverSide;
    const closed = next<[number]>(peer, 'close');
    ws.terminate();
    assert.equal((await closed)[0], 1006);
    assert.equal(wss.clients.size, 0);
    await wss.close();
    httpServer.close();
  });

  test('noServer: the application routes upgrades itself', async () => {
    const wss = new WebSocketServer({ noServer: true });
    const httpServer = http.createServer();
    httpServer.on('upgrade', (req, socket, head) => {
      if (req.url === '/mine') wss.handleUpgrade(req, socket, head, (ws, request) => ws.send(`hi ${request.path}`));
      else socket.end('HTTP/1.1 418 I\'m a teapot\r\nContent-Length: 0\r\n\r\n');
    });
    await new Promise<void>((r) => httpServer.listen(0, '127.0.0.1', r));
    const port = (httpServer.address() as net.AddressInfo).port;
    const ws = await connect(`ws://127.0.0.1:${port}/mine`);
    assert.equal((await next<[Buffer]>(ws, 'message'))[0].toString(), 'hi /mine');
    await assert.rejects(connect(`ws://127.0.0.1:${port}/else`), (e: HandshakeError) => e.status === 418);
    ws.close();
    await next(ws, 'close');
    await wss.close();
    httpServer.close();
  });

  test('standalone answers plain HTTP with 426, or with onHttpRequest', async () => {
    const { server } = await echoServer();
    const port = server.address()!.port;
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(res.status, 426);
    const s2 = await echoServer({ onHttpRequest: (_req, res) => res.end('console page') });
    assert.equal(await (await fetch(`http://127.0.0.1:${s2.server.address()!.port}/`)).text(), 'console page');
  });

  test('TLS (wss://) with a self-signed certificate made by the test', async () => {
    const { key, cert } = selfSigned();
    const { url } = await echoServer({ tls: { key, cert } });
    assert.ok(url.startsWith('wss://'));
    await assert.rejects(connect(url), /self[- ]signed|certificate/i);
    const ws = await connect(url, { tls: { ca: cert } });
    const got = messages(ws, 1);
    ws.send('secure');
    assert.equal((await got)[0]!.data.toString(), 'secure');
    ws.close();
    await next(ws, 'close');
  });
});

describe('handshake hooks', () => {
  test('the hook sees path, query, headers, cookies, origin and offered subprotocols; picks one; rejects others', async () => {
    let seen: unknown;
    const { url } = await echoServer({
      async handshake(req) {
        seen = req;
        if (req.query.token !== 'ok') return { reject: { status: 403, reason: 'bad token' } };
        return { protocol: 'b', headers: { 'X-Extra': '1' }, context: { user: 'ann' } };
      },
    });
    const ws = await connect(url + '/room/1?token=ok', { protocols: ['a', 'b'], headers: { Cookie: 'sid=abc%20d; x=1' }, origin: 'http://example.test' });
    assert.equal(ws.protocol, 'b');
    const r = seen as { path: string; query: Record<string, string>; cookies: Record<string, string>; origin: string; protocols: string[]; headers: Record<string, string> };
    assert.equal(r.path, '/room/1');
    assert.deepEqual(r.cookies, { sid: 'abc d', x: '1' });
    assert.equal(r.origin, 'http://example.test');
    assert.deepEqual(r.protocols, ['a', 'b']);
    assert.equal(r.headers['sec-websocket-version'], '13');
    assert.deepEqual(structuredClone(seen), seen, 'the request is plain data');
    ws.close();
    const err = await connect(url + '/?token=no').catch((e: HandshakeError) => e);
    assert.ok(err instanceof HandshakeError);
    assert.equal(err.status, 403);
    assert.equal(err.body, 'bad token');
  });

  test('subprotocol from the server list, in the client order; none when nothing matches', async () => {
    const { url } = await echoServer({ protocols: ['v2', 'v1'] });
    assert.equal((await connect(url, { protocols: ['v1', 'v2'] })).protocol, 'v1');
    assert.equal((await connect(url, { protocols: ['v9'] })).protocol, '');
  });

  test('a throwing hook answers 500 and reports the error', async () => {
    const { server, url } = await echoServer({ handshake: () => { throw new Error('boom'); } });
    const errored = next<[Error]>(server, 'error');
    await assert.rejects(connect(url), (e: HandshakeError) => e.status === 500);
    assert.equal((await errored)[0].message, 'boom');
  });

  test('HTTP Basic authentication with a 401 challenge', async () => {
    let user: string | undefined;
    const { server, url } = await echoServer({ basicAuth: { realm: 'sb', verify: (u, p) => u === 'ann' && p === 's3cret' } });
    server.on('connection', (_ws, req) => (user = req.user));
    const e = await refusal(connect(url));
    assert.equal(e.status, 401);
    assert.equal(e.headers['www-authenticate'], 'Basic realm="sb", charset="UTF-8"');
    const wrong = 'Basic ' + Buffer.from('ann:nope').toString('base64');
    assert.equal((await refusal(connect(url, { headers: { Authorization: wrong } }))).status, 401);
    const ws = await connect(url, { headers: { Authorization: 'Basic ' + Buffer.from('ann:s3cret').toString('base64') } });
    assert.equal(user, 'ann');
    ws.close();
  });

  test('Origin allowlist', async () => {
    const { url } = await echoServer({ origins: ['https://good.test'] });
    assert.equal((await refusal(connect(url, { origin: 'https://evil.test' }))).status, 403);
    assert.equal((await refusal(connect(url))).status, 403);
    (await connect(url, { origin: 'https://good.test' })).close();
  });

  test('path option answers 404 elsewhere', async () => {
    const { url } = await echoServer({ path: '/only' });
    assert.equal((await refusal(connect(url + '/other'))).status, 404);
    (await connect(url + '/only')).close();
  });

  test('malformed handshakes get the right status over the wire', async () => {
    const { server } = await echoServer({ limits: { maxHeaderBytes: 2048 } });
    const port = server.address()!.port;
    assert.match(await rawExchange(port, UPGRADE('/', 'X-Big: ' + 'a'.repeat(4000) + '\r\n')), /^HTTP\/1\.1 431/);
    assert.match(await rawExchange(port, UPGRADE().replace('Version: 13', 'Version: 8')), /^HTTP\/1\.1 426[^]*Sec-WebSocket-Version: 13/);
    assert.match(await rawExchange(port, UPGRADE().replace('dGhlIHNhbXBsZSBub25jZQ==', 'nope')), /^HTTP\/1\.1 400/);
    assert.match(await rawExchange(port, 'garbage\r\n\r\n'), /^HTTP\/1\.1 400/);
  });

  test('a client that never finishes its handshake is dropped after handshakeTimeoutMs', async () => {
    const { server } = await echoServer({ limits: { handshakeTimeoutMs: 200 } });
    const s = net.connect(server.address()!.port, '127.0.0.1');
    s.on('error', () => {});
    s.write('GET / HTTP/1.1\r\n');
    await next(s, 'close');
  });
});

describe('client', () => {
  test('redirects are not followed unless asked', async () => {
    const { url } = await echoServer();
    const redirector = http.createServer();
    redirector.on('upgrade', (_req, socket) => socket.end(`HTTP/1.1 302 Found\r\nLocation: ${url}/target\r\nContent-Length: 0\r\n\r\n`));
    await new Promise<void>((r) => redirector.listen(0, '127.0.0.1', r));
    const from = `ws://127.0.0.1:${(redirector.address() as net.AddressInfo).port}/`;
    assert.equal((await refusal(connect(from))).status, 302);
    const ws = await connect(from, { followRedirects: true });
    ws.close();
    redirector.close();
  });
  test('connection refused and bad URLs reject', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as net.AddressInfo).port;
    probe.close();
    await assert.rejects(connect(`ws://127.0.0.1:${port}/`), /ECONNREFUSED/);
    await assert.rejects(connect('ftp://127.0.0.1/'), /unsupported URL scheme/);
  });
  test('frames sent right behind the 101 are delivered after connect() resolves', async () => {
    const { server, url } = await echoServer();
    server.on('connection', (ws) => { ws.send('first'); ws.send('second'); });
    const ws = await connect(url);
    const got = await messages(ws, 2);
    assert.deepEqual(got.map((m) => m.data.toString()), ['first', 'second']);
    ws.close();
  });
});

describe('messages and limits', () => {
  test('large and fragmented messages; streaming send', async () => {
    const { url } = await echoServer({ limits: { maxMessageBytes: 8 << 20, maxFrameBytes: 8 << 20 } });
    const ws = await connect(url, { limits: { maxMessageBytes: 8 << 20, maxFrameBytes: 8 << 20 } });
    const big = Buffer.alloc(5 << 20);
    for (let i = 0; i < big.length; i++) big[i] = i * 7;
    const got = messages(ws, 2);
    ws.send(big);
    ws.sendFragment('abc', { fin: false });
    ws.sendFragment('def', { fin: true });
    const [a, b] = await got;
    assert.ok(a!.data.equals(big));
    assert.equal(b!.data.toString(), 'abcdef');
    ws.close();
  });

  test('a message over maxMessageBytes closes with 1009', async () => {
    const { url } = await echoServer({ limits: { maxMessageBytes: 1000 } });
    const ws = await connect(url);
    ws.send(Buffer.alloc(1001));
    const [code] = await next<[number]>(ws, 'close');
    assert.equal(code, 1009);
  });

  test('slow consumer: a peer that stops reading is closed and server memory stays bounded', async () => {
    const hwm = 256 * 1024;
    const { server } = await echoServer({ limits: { highWaterMark: hwm, closeTimeoutMs: 200 } });
    const conn = next<[WebSocket]>(server, 'connection');
    const raw = net.connect(server.address()!.port, '127.0.0.1');
    raw.on('error', () => {});
    raw.write(UPGRADE());
    const [ws] = await conn;
    raw.pause(); // stop reading: the kernel buffers fill, then ours
    const chunk = Buffer.alloc(64 * 1024);
    let dropped = false;
    let maxBuffered = 0;
    for (let i = 0; i < 2000 && !dropped; i++) {
      const status = ws.send(chunk);
      maxBuffered = Math.max(maxBuffered, ws.bufferedAmount);
      if (status === SendStatus.DROPPED) dropped = true;
      await new Promise((r) => setImmediate(r));
    }
    assert.ok(dropped, 'the policy must refuse to buffer without bound');
    assert.ok(maxBuffered <= hwm + 2 * chunk.length + 64 * 1024, `buffered ${maxBuffered}`);
    await next(ws, 'close');
    raw.destroy();
  });

  test("slowConsumer 'drop' keeps the connection and drops messages", async () => {
    const { server } = await echoServer({ limits: { highWaterMark: 128 * 1024, slowConsumer: 'drop' } });
    const conn = next<[WebSocket]>(server, 'connection');
    const raw = net.connect(server.address()!.port, '127.0.0.1');
    raw.write(UPGRADE());
    const [ws] = await conn;
    raw.pause();
    let dropped = 0;
    for (let i = 0; i < 2000 && dropped < 5; i++) {
      if (ws.send(Buffer.alloc(32 * 1024)) === SendStatus.DROPPED) dropped++;
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(dropped, 5);
    assert.equal(ws.readyState, 1);
    raw.destroy();
  });

  test('heartbeat: a silent peer is dropped; a live one is pinged and stays', async () => {
    const { server, url } = await echoServer({ limits: { idleTimeoutMs: 100 } });
    const live = await connect(url);
    let pings = 0;
    const threePings = new Promise<void>((resolve) => live.on('ping', () => ++pings === 3 && resolve()));
    // a raw peer that completes the handshake and then never answers anything
    const conn = next<[WebSocket]>(server, 'connection');
    const raw = net.connect(server.address()!.port, '127.0.0.1');
    raw.on('data', () => {});
    raw.write(UPGRADE());
    const [silent] = await conn;
    await next(silent, 'close');
    await threePings;
    assert.equal(live.readyState, 1);
    live.close();
  });

  test('close timeout: a peer that never answers our Close is dropped', async () => {
    const { server } = await echoServer({ limits: { closeTimeoutMs: 100 } });
    const conn = next<[WebSocket]>(server, 'connection');
    const raw = net.connect(server.address()!.port, '127.0.0.1');
    raw.on('data', () => {});
    raw.write(UPGRADE());
    const [ws] = await conn;
    ws.close(1000);
    const [code] = await next<[number]>(ws, 'close');
    assert.equal(code, 1006);
    raw.destroy();
  });

  test('server.close() closes every client with 1001', async () => {
    const server = new WebSocketServer({ port: 0 });
    await server.listen();
    const clients = await Promise.all([connect(server.url), connect(server.url)]);
    const closes = clients.map((c) => next<[number]>(c, 'close'));
    await server.close();
    for (const c of await Promise.all(closes)) assert.equal(c[0], 1001);
  });

  test('broadcast frames once and reaches every target', async () => {
    const { server, url } = await echoServer();
    const clients = await Promise.all(Array.from({ length: 20 }, () => connect(url)));
    const got = Promise.all(clients.map((c) => messages(c, 1)));
    while (server.clients.size < 20) await new Promise((r) => setImmediate(r));
    assert.equal(server.broadcast('to all'), 20);
    for (const [m] of await got) assert.equal(m!.data.toString(), 'to all');
    for (const c of clients) c.close();
  });
});

describe('permessage-deflate end to end', () => {
  const combos = [
    {},
    { serverNoContextTakeover: true },
    { clientNoContextTakeover: true },
    { serverMaxWindowBits: 10 },
    { clientMaxWindowBits: 11 },
    { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 9, clientMaxWindowBits: 9 },
  ];
  for (const c of combos) {
    test(`our client and server agree with ${JSON.stringify(c)}`, async () => {
      const { url } = await echoServer({ perMessageDeflate: { threshold: 0 } });
      const ws = await connect(url, { perMessageDeflate: { ...c, threshold: 0 } });
      assert.match(ws.extensions, /^permessage-deflate/);
      const payloads = ['x'.repeat(5000), JSON.stringify({ a: [1, 2, 3], b: 'hello'.repeat(100) }), 'x'.repeat(5000), 'small', ''];
      const got = messages(ws, payloads.length);
      for (const p of payloads) ws.send(p);
      assert.deepEqual((await got).map((m) => m.data.toString()), payloads);
      ws.close();
    });
  }
  test('deflate-frame between our client and server', async () => {
    const { url } = await echoServer({ deflateFrame: { threshold: 0 } });
    const ws = await connect(url, { deflateFrame: { threshold: 0 } });
    assert.equal(ws.extensions, 'deflate-frame');
    const got = messages(ws, 2);
    ws.send('y'.repeat(3000));
    ws.send('z');
    assert.deepEqual((await got).map((m) => m.data.toString()), ['y'.repeat(3000), 'z']);
    ws.close();
  });
  test('zlib contexts stay bounded under many connections, and evicted ones resume from their history', async () => {
    const { server, url } = await echoServer({ perMessageDeflate: { threshold: 0, maxDeflateContexts: 4, maxInflateContexts: 3 } });
    const clients = await Promise.all(Array.from({ length: 12 }, () => connect(url, { perMessageDeflate: true })));
    // Each round's text repeats the previous round's, so both sides' compressors refer back
    // into history: a context rebuilt without the right dictionary would corrupt the stream.
    for (let round = 0; round < 4; round++) {
      const text = (i: number) => `client ${i} round ${round} `.repeat(40) + `client ${i} round ${round - 1} `.repeat(40);
      const got = Promise.all(clients.map((c) => messages(c, 1)));
      clients.forEach((c, i) => c.send(text(i)));
      (await got).forEach(([m], i) => assert.equal(m!.data.toString(), text(i)));
      assert.ok(server.deflateContexts > 0 && server.deflateContexts <= 4, `live compressors ${server.deflateContexts}`);
      assert.ok(server.inflateContexts > 0 && server.inflateContexts <= 3, `live decompressors ${server.inflateContexts}`);
    }
    for (const c of clients) c.close();
  });

});
