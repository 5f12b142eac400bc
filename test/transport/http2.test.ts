// WebSocket over HTTP/2 (RFC 8441) in the transport: our client and server end to end, the
// handshake rules, the close mapping (END_STREAM = FIN, RST_STREAM = 1006), connection
// sharing, and flow control per stream and per connection.
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import http2 from 'node:http2';
import { after, before, describe, test } from 'node:test';
import { ClientGroup, HandshakeError, WebSocketServer, connect, type ServerOptions, type WebSocket } from '../../src/index.js';
import type { UpgradeRequest } from '../../src/transport/index.js';
import { makeCerts, type CertFiles } from '../helpers/tls-certs.js';
import { next, until } from '../helpers/wait.js';
import { messages } from './util.js';

let certs: CertFiles;
let ca = '';
const servers: WebSocketServer[] = [];
const sessions: http2.ClientHttp2Session[] = [];

before(() => {
  certs = makeCerts();
  ca = certs.read(certs.caCert);
});
after(async () => {
  for (const s of sessions) s.destroy();
  await Promise.all(servers.map((s) => s.close({ timeoutMs: 500 })));
  certs.remove();
});

async function h2Server(options: Partial<ServerOptions> = {}): Promise<{ server: WebSocketServer; url: string; port: number }> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', tls: { key: certs.read(certs.serverKey), cert: certs.read(certs.serverCert) }, http2: true, ...options });
  servers.push(server);
  server.on('error', () => {});
  server.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  const a = await server.listen();
  return { server, url: server.url, port: a.port };
}

/** A raw extended CONNECT with node's own HTTP/2 client: the stream, its response status. */
async function rawStream(port: number, path = '/', extra: http2.OutgoingHttpHeaders = {}): Promise<{ stream: http2.ClientHttp2Stream; status: number; session: http2.ClientHttp2Session }> {
  const session = http2.connect(`https://127.0.0.1:${port}`, { ca });
  sessions.push(session);
  session.on('error', () => {});
  await next(session, 'remoteSettings');
  const stream = session.request({ ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'https', ':authority': `127.0.0.1:${port}`, ':path': path, 'sec-websocket-version': '13', ...extra }, { endStream: false });
  stream.on('error', () => {});
  const [h] = await next<[http2.IncomingHttpHeaders]>(stream, 'response');
  return { stream, status: Number(h[':status']), session };
}

/** An echo server and one raw stream to it, with the server's end of it. */
async function rawPair(): Promise<{ stream: http2.ClientHttp2Stream; peer: WebSocket }> {
  const { server, port } = await h2Server();
  const seen = next<[WebSocket]>(server, 'connection');
  const { stream } = await rawStream(port);
  const [peer] = await seen;
  return { stream, peer };
}

/** A masked client frame (RFC 6455 5.3), written by hand. */
function clientFrame(opcode: number, payload: Buffer): Buffer {
  const mask = Buffer.from([1, 2, 3, 4]);
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length]), mask, masked]);
}

describe('our client and server over HTTP/2', () => {
  test('echo of text and binary, subprotocol and permessage-deflate negotiated as over HTTP/1.1', async () => {
    const { server, url } = await h2Server({ protocols: ['chat.v2'], perMessageDeflate: true });
    const seen = next<[WebSocket, UpgradeRequest]>(server, 'connection');
    const ws = await connect(`${url}/room?x=1`, { http2: true, tls: { ca }, protocols: ['chat.v1', 'chat.v2'], perMessageDeflate: true, headers: { 'X-Test': 'yes' } });
    const [, request] = await seen;
    assert.equal(ws.protocol, 'chat.v2');
    assert.match(ws.extensions, /^permessage-deflate/);
    assert.equal(request.path, '/room');
    assert.deepEqual(request.query, { x: '1' });
    assert.equal(request.headers['x-test'], 'yes');
    assert.equal(request.headers.host, new URL(url).host, ':authority is the Host');
    assert.equal(request.secure, true);
    assert.ok(!Object.keys(request.headers).some((k) => k.startsWith(':')), 'hooks see no pseudo-headers');
    const got = messages(ws, 2);
    ws.send('héllo');
    ws.send(Buffer.alloc(200_000, 7));
    const [a, b] = await got;
    assert.equal(a!.data.toString(), 'héllo');
    assert.equal(b!.isBinary, true);
    assert.equal(b!.data.length, 200_000);
    ws.close(1000, 'done');
    assert.equal((await next<[number, string]>(ws, 'close'))[0], 1000, "the server's reply echoes the code");
  });

  test('the handshake hook refuses with a status; the client gets a HandshakeError with it and the body', async () => {
    const { url } = await h2Server({ handshake: (r) => (r.path === '/no' ? { reject: { status: 403, reason: 'not you' } } : undefined) });
    const err = await connect(`${url}/no`, { http2: true, tls: { ca } }).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(err instanceof HandshakeError);
    assert.equal(err.status, 403);
    assert.equal(err.body, 'not you');
  });

  test('a CONNECT without version 13 is refused with 400 and Sec-WebSocket-Version', async () => {
    const { port } = await h2Server();
    const session = http2.connect(`https://127.0.0.1:${port}`, { ca });
    sessions.push(session);
    await next(session, 'remoteSettings');
    const stream = session.request({ ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'https', ':authority': 'x', ':path': '/', 'sec-websocket-version': '8' }, { endStream: false });
    const [h] = await next<[http2.IncomingHttpHeaders]>(stream, 'response');
    assert.equal(h[':status'], 400);
    assert.equal(h['sec-websocket-version'], '13');
  });

  test('one group shares one HTTP/2 connection for its WebSockets to an origin', async () => {
    const { server, url } = await h2Server();
    const group = new ClientGroup();
    const ports: number[] = [];
    server.on('connection', (_ws, r) => ports.push(r.remotePort));
    const a = await connect(url, { http2: true, tls: { ca }, group });
    const b = await connect(url, { http2: true, tls: { ca }, group });
    await until(() => ports.length === 2, 'both connections on the server');
    assert.equal(ports[0], ports[1], 'the same TCP connection');
    const got = messages(b, 1);
    b.send('b');
    assert.equal((await got)[0]!.data.toString(), 'b');
    a.close();
    b.close();
    await Promise.all([next(a, 'close'), next(b, 'close')]);
  });
});

describe('the same handshake rules as HTTP/1.1', () => {
  test("a handshake's own limits apply to its stream: over its maxMessageBytes is 1009, the server's limit stays for others", async () => {
    const { url } = await h2Server({ handshake: (r) => (r.path === '/small' ? { limits: { maxMessageBytes: 100 } } : undefined) });
    const small = await connect(`${url}/small`, { http2: true, tls: { ca } });
    const closed = next<[number, string]>(small, 'close');
    small.send('x'.repeat(200));
    assert.equal((await closed)[0], 1009);
    const other = await connect(`${url}/other`, { http2: true, tls: { ca } });
    const got = messages(other, 1);
    other.send('x'.repeat(200));
    assert.equal((await got)[0]!.data.length, 200);
    other.close();
  });

  test('the handshake deadline resets a stream whose hook never answers, and is released once a stream is accepted', async () => {
    const { port, url } = await h2Server({ limits: { handshakeTimeoutMs: 150 }, handshake: (r) => (r.path === '/hang' ? new Promise(() => {}) : undefined) });
    const accepted = await connect(url, { http2: true, tls: { ca } });
    const session = http2.connect(`https://127.0.0.1:${port}`, { ca });
    sessions.push(session);
    session.on('error', () => {});
    const hung = session.request({ ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'https', ':authority': `127.0.0.1:${port}`, ':path': '/hang', 'sec-websocket-version': '13' }, { endStream: false });
    hung.on('error', () => {});
    let answered = false;
    hung.on('response', () => (answered = true));
    await until(() => hung.closed, 'the hung stream to be reset');
    assert.equal(answered, false, 'reset without a response');
    // the accepted WebSocket outlived the same deadline: its stream was released from it
    assert.equal(accepted.readyState, 1);
    const got = messages(accepted, 1);
    accepted.send('still here');
    assert.equal((await got)[0]!.data.toString(), 'still here');
    accepted.close();
  });
});

describe('close mapping', () => {
  test('END_STREAM from the peer without a Close frame is 1006 on the server, and the stream ends', async () => {
    const { stream, peer } = await rawPair();
    const closed = next<[number, string]>(peer, 'close');
    stream.end();
    assert.deepEqual(await closed, [1006, '']);
    await next(stream, 'close');
    assert.equal(stream.rstCode, http2.constants.NGHTTP2_NO_ERROR);
  });

  test('RST_STREAM(CANCEL), as a page unload sends it, is 1006', async () => {
    const { stream, peer } = await rawPair();
    const closed = next<[number, string]>(peer, 'close');
    stream.close(http2.constants.NGHTTP2_CANCEL);
    assert.deepEqual(await closed, [1006, '']);
  });

  test('a clean close handshake ends the stream with END_STREAM (no reset)', async () => {
    const { stream, peer } = await rawPair();
    const closed = next<[number, string]>(peer, 'close');
    const reply: Buffer[] = [];
    stream.on('data', (d: Buffer) => reply.push(d));
    stream.write(clientFrame(0x8, Buffer.from([0x03, 0xe8])));
    await next(stream, 'end');
    assert.deepEqual(await closed, [1000, '']);
    assert.deepEqual([...Buffer.concat(reply)], [0x88, 0x02, 0x03, 0xe8], 'the server echoed the Close frame');
    stream.end();
    await next(stream, 'close');
    assert.equal(stream.rstCode, http2.constants.NGHTTP2_NO_ERROR);
  });
});

describe('flow control', () => {
  test('a stream whose reader stalls is failed by the slow-consumer policy; another stream on the same connection keeps going', async () => {
    const { server, port } = await h2Server({ limits: { highWaterMark: 256 * 1024 } });
    const peers: WebSocket[] = [];
    server.on('connection', (ws) => peers.push(ws));
    const { stream: stalled, session } = await rawStream(port);
    stalled.pause(); // never reads: the stream's window fills, then its buffer
    const other = session.request({ ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'https', ':authority': `127.0.0.1:${port}`, ':path': '/', 'sec-websocket-version': '13' }, { endStream: false });
    other.on('error', () => {});
    await next(other, 'response');
    await until(() => peers.length === 2, 'two WebSockets on one connection');
    const [slow, fast] = peers as [WebSocket, WebSocket];
    const failed = next<[Error]>(slow, 'error');
    const chunk = Buffer.alloc(16 * 1024, 1);
    for (let i = 0; i < 200 && slow.readyState === 1; i++) {
      slow.send(chunk);
      await new Promise((r) => setImmediate(r));
    }
    assert.match((await failed)[0].message, /slow consumer/);
    // the other stream still echoes: its window is its own
    const echoed: Buffer[] = [];
    other.on('data', (d: Buffer) => echoed.push(d));
    other.write(clientFrame(0x1, Buffer.from('still fine')));
    await until(() => Buffer.concat(echoed).includes('still fine'), 'the echo on the other stream');
    assert.equal(fast.readyState, 1);
  });

  test("the connection's buffer limit applies to its WebSockets together", async () => {
    // each stream is far below its own high-water mark; together they pass the connection's limit
    const { server, port } = await h2Server({ limits: { highWaterMark: 64 * 1024 * 1024 }, http2: { maxSessionBufferBytes: 256 * 1024 } });
    const peers: WebSocket[] = [];
    server.on('connection', (ws) => peers.push(ws));
    const { stream, session } = await rawStream(port);
    stream.pause();
    const second = session.request({ ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'https', ':authority': `127.0.0.1:${port}`, ':path': '/', 'sec-websocket-version': '13' }, { endStream: false });
    second.on('error', () => {});
    second.pause();
    await next(second, 'response');
    await until(() => peers.length === 2, 'two WebSockets on one connection');
    const errors: string[] = [];
    for (const p of peers) p.on('error', (e) => errors.push(e.message));
    const chunk = Buffer.alloc(16 * 1024, 2);
    for (let i = 0; i < 200 && peers.every((p) => p.readyState === 1); i++) {
      for (const p of peers) p.send(chunk);
      await new Promise((r) => setImmediate(r));
    }
    await until(() => errors.length > 0, 'the slow-consumer policy');
    assert.match(errors[0]!, /slow consumer/);
  });

  test('maxConcurrentStreams caps the WebSockets of one connection', async () => {
    const { port } = await h2Server({ http2: { maxConcurrentStreams: 1 } });
    const first = await rawStream(port);
    assert.equal(first.status, 200);
    assert.equal(first.session.remoteSettings.maxConcurrentStreams, 1);
  });
});
