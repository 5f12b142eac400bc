// The server's socket paths end to end over real sockets, with a hand-written peer:
// reads straight into the server's memory (and Node's own 'data' reads) deliver every
// message intact for as long as the application holds it; small frames built in place and
// large payloads written beside their header (writev) reach the peer byte for byte.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import net, { type Socket } from 'node:net';
import tls from 'node:tls';
import { WebSocketServer, prepareMessage, type WebSocket } from '../../src/index.js';
import { encodeFrame } from '../../src/protocol/index.js';
import { readDirect } from '../../src/transport/direct-reads.js';
import { selfSigned } from './util.js';
import { next, until } from '../helpers/wait.js';

const servers: WebSocketServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close({ timeoutMs: 500 })));
});

const MASK = Uint8Array.of(0x11, 0x22, 0x33, 0x44);

interface Peer {
  socket: Socket;
  /** Everything received after the 101 so far. */
  received: Buffer[];
}

/** A hand-made client: upgrade, then keep every byte that arrives. */
async function upgraded(port: number): Promise<Peer> {
  const socket = net.connect(port, '127.0.0.1');
  await next(socket, 'connect');
  const peer: Peer = { socket, received: [] };
  let head: Buffer | null = Buffer.alloc(0);
  const opened = new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      if (head === null) return void peer.received.push(chunk);
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      assert.match(head.subarray(0, end).toString('latin1'), /^HTTP\/1\.1 101 /);
      peer.received.push(head.subarray(end + 4));
      head = null;
      resolve();
    });
  });
  socket.write(
    'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  await opened;
  return peer;
}

/** Wait until `n` bytes have come after the 101 (bounded), and return them. */
async function readBytes(peer: Peer, n: number): Promise<Buffer> {
  await until(() => peer.received.reduce((a, b) => a + b.length, 0) >= n, `${n} bytes after the 101`);
  return Buffer.concat(peer.received).subarray(0, n);
}

function payload(seed: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = seed + 1;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = 0x61 + ((x >>> 16) % 26);
  }
  return b;
}

for (const directReads of [true, false]) {
  describe(`reads (${directReads ? 'straight into server memory' : "Node's 'data' events"})`, () => {
    test('every message stays intact while the application holds it, whatever the chunking and fragmentation', async () => {
      const server = new WebSocketServer({ port: 0, host: '127.0.0.1', directReads, limits: { maxMessageBytes: 1 << 20, maxFrameBytes: 1 << 20 } });
      servers.push(server);
      const held: Buffer[] = [];
      const sizes = [0, 5, 125, 126, 4000, 4096, 15_000, 16_384, 20_000, 65_536, 70_000, 200_000, 3, 64];
      const all = new Promise<void>((resolve) => {
        server.on('connection', (ws: WebSocket) =>
          ws.on('message', (data) => {
            held.push(data); // kept as delivered, no copy
            if (held.length === sizes.length * 2) resolve();
          }),
        );
      });
      await server.listen();
      const { socket } = await upgraded(server.address()!.port);
      const expected: Buffer[] = [];
      const frames: Buffer[] = [];
      sizes.forEach((size, i) => {
        const whole = payload(i, size);
        expected.push(whole);
        frames.push(encodeFrame(0x2, whole, true, 0, MASK));
        // the same size again, in three fragments
        const frag = payload(100 + i, size);
        expected.push(frag);
        const a = Math.floor(size / 3);
        const b = Math.floor((2 * size) / 3);
        frames.push(encodeFrame(0x1, frag.subarray(0, a), false, 0, MASK));
        frames.push(encodeFrame(0x0, frag.subarray(a, b), false, 0, MASK));
        frames.push(encodeFrame(0x0, frag.subarray(b), true, 0, MASK));
      });
      const stream = Buffer.concat(frames);
      // odd-sized writes, some of them apart, so reads end anywhere in headers and payloads
      const cuts = [1, 7, 13, 1000, 4099, 17_000, 65_537, 3, 99_999];
      for (let at = 0, i = 0; at < stream.length; i++) {
        const n = Math.min(cuts[i % cuts.length]!, stream.length - at);
        socket.write(stream.subarray(at, at + n));
        at += n;
        if (i % 5 === 0) await new Promise((r) => setImmediate(r));
      }
      await all;
      assert.equal(held.length, expected.length);
      held.forEach((m, i) => assert.ok(m.equals(expected[i]!), `message ${i} (${expected[i]!.length} bytes) differs`));
      socket.destroy();
    });
  });
}

describe('writes', () => {
  test('in one turn, every socket gets its own frame and a shared one intact, however many write before it', async () => {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    servers.push(server);
    const open: WebSocket[] = [];
    const prepared = prepareMessage('to everyone: ' + 'y'.repeat(3000));
    server.on('connection', (ws: WebSocket) => {
      open.push(ws);
      ws.on('message', () => {
        // each socket's own frame is built in the shared arena now, and written at the end of
        // the turn joined with the shared frame; the sockets written first must not reuse its bytes
        open.forEach((c, i) => {
          c.send(`own ${i} ` + String(i).repeat(300));
          c.sendPrepared(prepared);
        });
      });
    });
    await server.listen();
    const port = server.address()!.port;
    const peers: Peer[] = [];
    for (let i = 0; i < 40; i++) peers.push(await upgraded(port));
    await until(() => open.length === 40, '40 connections');
    peers[0]!.socket.write(encodeFrame(0x1, Buffer.from('go'), true, 0, MASK));
    const shared = encodeFrame(0x1, Buffer.from('to everyone: ' + 'y'.repeat(3000)), true, 0);
    // the peers connected one after another, so connection i is peer i
    for (let i = 0; i < 40; i++) {
      const own = encodeFrame(0x1, Buffer.from(`own ${i} ` + String(i).repeat(300)), true, 0);
      const got = await readBytes(peers[i]!, own.length + shared.length);
      assert.ok(got.equals(Buffer.concat([own, shared])), `socket ${i}: its bytes were written over`);
    }
    for (const p of peers) p.socket.destroy();
  });

  test('small frames, large payloads and a prepared message queued in one turn reach the peer byte for byte', async () => {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    servers.push(server);
    const small = 'hi there';
    const mid = payload(1, 20_000); // by reference, beside its header
    const big = payload(2, 100_000);
    const prepared = prepareMessage('to everyone');
    server.on('connection', (ws: WebSocket) =>
      ws.on('message', () => {
        ws.send(small);
        ws.send(mid);
        ws.send('x'.repeat(17_000));
        ws.send(big);
        ws.sendPrepared(prepared);
        ws.send(Buffer.from([1, 2, 3]));
      }),
    );
    await server.listen();
    const peer = await upgraded(server.address()!.port);
    const expected = Buffer.concat([
      encodeFrame(0x1, Buffer.from(small)),
      encodeFrame(0x2, mid),
      encodeFrame(0x1, Buffer.from('x'.repeat(17_000))),
      encodeFrame(0x2, big),
      prepared.frame,
      encodeFrame(0x2, Buffer.from([1, 2, 3])),
    ]);
    peer.socket.write(encodeFrame(0x1, Buffer.from('go'), true, 0, MASK));
    assert.ok((await readBytes(peer, expected.length)).equals(expected));
    peer.socket.destroy();
  });

  test('frames sent over many turns and connections, some while the peer is not reading, arrive intact', async () => {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1', limits: { highWaterMark: 256 << 20 } });
    servers.push(server);
    const conns: WebSocket[] = [];
    server.on('connection', (ws: WebSocket) => conns.push(ws));
    await server.listen();
    const port = server.address()!.port;
    const peers = [await upgraded(port), await upgraded(port)];
    await until(() => conns.length >= 2, 'both connections on the server');
    peers[0]!.socket.pause(); // its writes go async: the arena must move on, not rewind
    const expected: Buffer[][] = [[], []];
    let queued = false;
    for (let turn = 0; turn < 40; turn++) {
      for (let c = 0; c < 2; c++) {
        const m = payload(turn * 2 + c, turn % 3 === 0 ? 400_000 : 40 + turn);
        conns[c]!.send(m);
        expected[c]!.push(encodeFrame(0x2, m));
      }
      await new Promise((r) => setImmediate(r));
      if (conns[0]!.bufferedAmount > 0) queued = true;
    }
    assert.ok(queued, 'the paused peer made the server keep some writes queued');
    peers[0]!.socket.resume();
    for (let c = 0; c < 2; c++) {
      const want = Buffer.concat(expected[c]!);
      assert.ok((await readBytes(peers[c]!, want.length)).equals(want), `connection ${c}`);
      peers[c]!.socket.destroy();
    }
  });
});

describe('direct reads', () => {
  test('engage on a plain TCP socket and deliver its bytes to the reader', async () => {
    const target = Buffer.alloc(8);
    const got: string[] = [];
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const srv = net.createServer((s) => {
      const ok = readDirect(s, {
        readTarget: () => target,
        onRead: (n, buf) => {
          assert.equal(buf, target);
          got.push(buf.toString('latin1', 0, n));
          if (got.join('') === 'hello, direct reads') done();
        },
      });
      assert.equal(ok, true);
      assert.equal(s.listenerCount('data'), 0);
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const c = net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1');
    c.end('hello, direct reads');
    await finished;
    assert.ok(got.every((s) => s.length <= 8), 'reads never exceed the target');
    srv.close();
  });

  test('decline TLS sockets (they keep Node reads)', async () => {
    const { key, cert } = selfSigned();
    let declined: boolean | undefined;
    const srv = tls.createServer({ key, cert }, (s) => {
      declined = !readDirect(s, { readTarget: () => Buffer.alloc(8), onRead: () => {} });
      s.end();
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const c = tls.connect({ port: (srv.address() as net.AddressInfo).port, host: '127.0.0.1', rejectUnauthorized: false });
    await next(c, 'secureConnect');
    await next(c, 'close');
    assert.equal(declined, true);
    srv.close();
  });
});

describe('compressed fan-out', () => {
  test('a broadcast reaches compressing clients compressed once, intact, and plain clients plain', async () => {
    const { connect } = await import('../../src/index.js');
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: { serverNoContextTakeover: true } });
    servers.push(server);
    await server.listen();
    const compressing = await Promise.all([0, 1, 2].map(() => connect(server.url, { perMessageDeflate: true, observeFrames: true })));
    const plain = await connect(server.url, { observeFrames: true });
    await until(() => server.clients.size >= 4, 'four connections on the server');
    const text = JSON.stringify(Array.from({ length: 200 }, (_, i) => ({ id: i, kind: 'message', room: 'lobby' })));
    const got = [...compressing, plain].map((ws) =>
      Promise.all([next<[{ rsv: number }]>(ws, 'frame'), next<[Buffer, boolean]>(ws, 'message')]),
    );
    assert.equal(server.broadcast(prepareMessage(text)), 4);
    const results = await Promise.all(got);
    results.forEach(([[frame], [data]], i) => {
      assert.equal(data.toString(), text, `client ${i}`);
      assert.equal(frame.rsv, i < 3 ? 0x40 : 0, `client ${i} ${i < 3 ? 'compressed' : 'plain'}`);
    });
    for (const ws of [...compressing, plain]) ws.close();
  });
});
