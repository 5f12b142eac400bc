// The app server over real sockets on 127.0.0.1: HTTP side, handshake answers, examples, --watch.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { AppServer } from '../../src/server/app-server.js';
import { connect, HandshakeError } from '../../src/transport/client.js';
import type { WebSocket } from '../../src/transport/websocket.js';
import { DEFINE, REPO, captureLogger, serviceDir } from './helpers.js';

const dir = serviceDir({
  'echo.ts': `import { defineService } from '${DEFINE}'; export default defineService({ message(c, d) { c.send(d); } });`,
  'nested/index.ts': `import { defineService } from '${DEFINE}'; export default defineService({ open(c) { c.send('nested index'); } });`,
  'broken.ts': `export default 42;`,
  'closer.ts': `import { defineService } from '${DEFINE}'; export default defineService({ close(c, code, reason) { if (code === 4100) return { code: 4101, reason: 'chosen:' + reason }; } });`,
  'reload.ts': `import { defineService } from '${DEFINE}'; export default defineService({ open(c) { c.send('v1'); } });`,
});
const log = captureLogger();
const server = new AppServer({ dir, port: 0, watch: true, log });
const { port } = await server.listen();
const base = `127.0.0.1:${port}`;
after(() => server.close());

function get(path: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    httpRequest({ host: '127.0.0.1', port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    })
      .on('error', reject)
      .end();
  });
}

/** Sends a raw upgrade request (the path exactly as given) and returns the status line. */
function rawUpgrade(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = netConnect(port, '127.0.0.1', () => {
      s.write(`GET ${path} HTTP/1.1\r\nHost: ${base}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
    let data = '';
    s.setEncoding('latin1');
    s.on('data', (c: string) => {
      data += c;
      if (data.includes('\r\n')) {
        s.destroy();
        resolve(data.slice(0, data.indexOf('\r\n')));
      }
    });
    s.on('error', reject);
  });
}

function nextMessage(ws: WebSocket): Promise<{ data: string; binary: boolean }> {
  return new Promise((resolve) => ws.once('message', (d, binary) => resolve({ data: d.toString('utf8'), binary })));
}

async function status(path: string): Promise<number> {
  try {
    const ws = await connect(`ws://${base}${path}`);
    ws.close();
    return 101;
  } catch (err) {
    assert.ok(err instanceof HandshakeError, String(err));
    return err.status;
  }
}

test('a TypeScript service answers; nested index files route', async () => {
  const ws = await connect(`ws://${base}/echo`);
  const got = nextMessage(ws);
  ws.send('hello');
  assert.deepEqual(await got, { data: 'hello', binary: false });
  const bin = nextMessage(ws);
  ws.send(new Uint8Array([1, 2, 3]));
  assert.equal((await bin).binary, true);
  ws.close();
  const n = await connect(`ws://${base}/nested`);
  assert.equal((await nextMessage(n)).data, 'nested index');
  n.close();
});

test('404 without a service, 500 for a broken one (logged), before upgrading', async () => {
  assert.equal(await status('/nope'), 404);
  assert.equal(await status('/broken'), 500);
  assert.ok(log.lines.some((l) => l.level === 'error' && /broken\.ts failed to load/.test(l.msg ?? '')));
});

test('traversal over the wire: encoded and raw .. never reach a file', async () => {
  for (const p of ['/../echo', '/%2e%2e/echo', '/nested/..%2f..%2fecho', '/..%2f' + dir.split('/').pop() + '%2fecho', '/echo%00']) {
    assert.match(await rawUpgrade(p), /^HTTP\/1\.1 404/, p);
  }
});

test('HTTP side: console page, its assets, the client module, the service list, 426 and 404', async () => {
  const page = await get('/');
  assert.equal(page.status, 200);
  assert.match(String(page.headers['content-type']), /text\/html/);
  assert.match(page.body, /Switchboard console/);
  assert.equal((await get('/console.js')).status, 200);
  assert.equal((await get('/console.css')).status, 200);
  const client = await get('/client.js');
  assert.equal(client.status, 200);
  assert.match(client.body, /export function createClient/);
  assert.doesNotMatch(client.body, /^import /m, 'the browser client has no imports');
  assert.deepEqual(JSON.parse((await get('/services.json')).body).services, ['/broken', '/closer', '/echo', '/nested', '/reload']);
  assert.equal((await get('/echo')).status, 426);
  assert.equal((await get('/nothing-here')).status, 404);
  assert.equal((await get('/../../etc/passwd')).status, 404);
});

test('the close hook chooses the reply to a client close', async () => {
  const ws = await connect(`ws://${base}/closer`);
  const closed = new Promise<[number, string]>((resolve) => ws.once('close', (code, reason) => resolve([code, reason])));
  ws.close(4100, 'bye');
  assert.deepEqual(await closed, [4101, 'chosen:bye']);
  const ws2 = await connect(`ws://${base}/closer`);
  const closed2 = new Promise<[number, string]>((resolve) => ws2.once('close', (code, reason) => resolve([code, reason])));
  ws2.close(4200, 'echo me');
  assert.deepEqual(await closed2, [4200, 'echo me']);
});

test('--watch reloads a changed service for new connections; open ones keep the old version', async () => {
  const old = await connect(`ws://${base}/reload`);
  assert.equal((await nextMessage(old)).data, 'v1');
  const reloaded = new Promise<{ ok: boolean }>((resolve) => {
    const on = (e: { file: string; ok: boolean }) => {
      if (e.file.endsWith('reload.ts') && e.ok) {
        server.off('reload', on);
        resolve(e);
      }
    };
    server.on('reload', on);
  });
  writeFileSync(join(dir, 'reload.ts'), `import { defineService } from '${DEFINE}'; export default defineService({ open(c) { c.send('v2'); }, message(c) { c.send('v2 message'); } });`);
  await reloaded;
  let text = '';
  for (let i = 0; i < 20 && text !== 'v2'; i++) {
    const fresh = await connect(`ws://${base}/reload`);
    text = (await nextMessage(fresh)).data;
    fresh.close();
  }
  assert.equal(text, 'v2');
  assert.ok(log.lines.some((l) => l.msg === 'service reloaded'));
  old.send('still old?');
  old.close();
});

test('examples/services: echo (with echo.v1), broadcast to all, chat with Basic auth', async () => {
  const ex = new AppServer({ dir: join(REPO, 'examples/services'), port: 0 });
  const { port: p } = await ex.listen();
  try {
    const e = await connect(`ws://127.0.0.1:${p}/echo`, { protocols: ['echo.v1'] });
    assert.equal(e.protocol, 'echo.v1');
    const m = nextMessage(e);
    e.send('ping');
    assert.equal((await m).data, 'ping');
    const closed = new Promise<[number, string]>((resolve) => e.once('close', (code, reason) => resolve([code, reason])));
    e.close(4321, 'same back');
    assert.deepEqual(await closed, [4321, 'same back']);
    const b1 = await connect(`ws://127.0.0.1:${p}/broadcast`);
    const b2 = await connect(`ws://127.0.0.1:${p}/broadcast`);
    const got1 = nextMessage(b1);
    const got2 = nextMessage(b2);
    b1.send('to all');
    assert.equal((await got1).data, 'to all');
    assert.equal((await got2).data, 'to all');
    b1.close();
    b2.close();
    const c = await connect(`ws://127.0.0.1:${p}/chat`, { headers: { authorization: 'Basic ' + Buffer.from('alice:wonderland').toString('base64') } });
    const welcome = JSON.parse((await nextMessage(c)).data);
    assert.deepEqual(welcome.data.user, { id: 'alice', name: 'Alice' });
    c.close();
  } finally {
    await ex.close();
  }
});

test('close() ends every connection with 1001', async () => {
  const dir2 = serviceDir({ 'x.ts': `import { defineService } from '${DEFINE}'; export default defineService({});` });
  const s = new AppServer({ dir: dir2, port: 0 });
  const { port: p } = await s.listen();
  const ws = await connect(`ws://127.0.0.1:${p}/x`);
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  await s.close();
  assert.equal(await closed, 1001);
});
