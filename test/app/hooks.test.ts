// Service loading (500 with the reason logged), the handshake hook, open/message/close hooks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AUTH, DEFINE, harness, serviceDir } from './helpers.js';

const root = serviceDir({
  'nodefault.ts': `export const x = 1;`,
  'plain.ts': `export default { message() {} };`,
  'syntax.ts': `export default defineService({ oops`,
  'throws.ts': `throw new Error('top-level failure');`,
  'worker.ts': `import { defineService } from '${DEFINE}'; export default defineService({ isolation: 'worker' });`,
  'badcmd.ts': `import { defineService } from '${DEFINE}'; export default defineService({ commands: { x: {} as any } });`,
  'js.mjs': `import { defineService } from '${DEFINE}'; export default defineService({ open(c) { c.push('hello', { from: 'js' }); } });`,
  'hooks.ts': `
import { defineService } from '${DEFINE}';
const closes: unknown[] = [];
export default defineService({
  handshake(req) {
    if (req.query.deny) return { reject: { status: 403, reason: 'denied: ' + req.query.deny } };
    if (req.query.weird) return { protocol: 'not-offered' };
    if (req.query.crash) throw new Error('handshake crash');
    if (req.protocols.includes('v2')) return { protocol: 'v2', headers: { 'x-service': 'hooks' } };
  },
  open(c) {
    if (c.request.query.openfail) throw new Error('open failed');
    c.push('opened', { id: c.id, path: c.request.path, protocol: c.protocol, cookie: c.request.cookies.k ?? null, closes });
  },
  message(c, data) {
    if (data === 'throw') throw new Error('message failed');
    c.send(typeof data === 'string' ? 'got:' + data : data);
  },
  close(c, code, reason) {
    closes.push([code, reason]);
    if (code === 4001) return { code: 4002, reason: 'as you wish' };
    if (code === 4003) return Promise.resolve({ code: 4004, reason: 'too late' });
  },
});`,
  'slowopen.ts': `
import { defineService } from '${DEFINE}';
export default defineService({
  async open(c) { await new Promise((r) => setTimeout(r, 20)); c.state.ready = true; },
  commands: { ready: { handler: (_d, { connection }) => connection.state.ready === true } },
});`,
  'private.ts': `
import { defineService } from '${DEFINE}';
import { httpBasic } from '${AUTH}';
export default defineService({
  auth: httpBasic({ realm: 'members', verify: (u, p) => u === 'ann' && p === 'pw' }),
  requireAuth: true,
  open(c) { c.push('me', c.user); },
});`,
});

async function rejected(h: ReturnType<typeof harness>, path: string, extra = {}) {
  const r = await h.connect(path, extra);
  assert.ok(r.rejected, `${path} should be rejected`);
  return r.rejected;
}

test('a file that does not export a service: 500, and a log line naming the file and the reason', async () => {
  const h = harness(root);
  const cases: Array<[string, RegExp]> = [
    ['/nodefault', /no default export/],
    ['/plain', /not made by defineService/],
    ['/syntax', /syntax error: line 1:\d+: /],
    ['/throws', /top-level failure/],
    ['/worker', /isolation 'worker'/],
    ['/badcmd', /command "x" needs a handler/],
  ];
  for (const [path, reason] of cases) {
    const r = await rejected(h, path);
    assert.equal(r.status, 500, path);
    const line = h.log.lines.find((l) => l.level === 'error' && String((l.obj as { file?: string }).file).endsWith(path.slice(1) + '.ts'));
    assert.ok(line, `log line for ${path}`);
    assert.match(line.msg ?? '', reason, path);
    assert.match(line.msg ?? '', new RegExp(path.slice(1) + '\\.ts'), 'the message names the file');
  }
});

test('no service: 404; a fixed file loads on the next request (failures are not cached)', async () => {
  const dir = serviceDir({ 'later.ts': 'export default 1;' });
  const h = harness(dir);
  assert.equal((await rejected(h, '/missing')).status, 404);
  assert.equal((await rejected(h, '/../etc/passwd')).status, 404);
  assert.equal((await rejected(h, '/later')).status, 500);
  writeFileSync(join(dir, 'later.ts'), `import { defineService } from '${DEFINE}'; export default defineService({});`);
  const c = await h.connect('/later');
  assert.ok(!c.rejected);
});

test('JavaScript service files load too', async () => {
  const h = harness(root);
  const c = await h.connect('/js');
  assert.ok(!c.rejected);
  assert.deepEqual((await c.socket.next((m) => m.event === 'hello')).data, { from: 'js' });
});

test('handshake hook: reject with status and reason, choose a subprotocol, bad choice and crash are 500', async () => {
  const h = harness(root);
  assert.deepEqual(await rejected(h, '/hooks?deny=nope', { query: { deny: 'nope' } }), { accept: false, status: 403, reason: 'denied: nope' });
  assert.equal((await rejected(h, '/hooks?weird=1', { query: { weird: '1' } })).status, 500);
  assert.equal((await rejected(h, '/hooks?crash=1', { query: { crash: '1' } })).status, 500);
  assert.ok(h.log.lines.some((l) => String((l.obj as { err?: Error }).err?.message) === 'handshake crash'));
  const d = await h.app.admit({ ...(await import('./helpers.js')).request('/hooks'), protocols: ['v1', 'v2'] });
  assert.ok(d.accept);
  assert.equal(d.admission.protocol, 'v2');
  assert.deepEqual(d.admission.headers, { 'x-service': 'hooks' });
});

test('open sees the request as plain data; message hook; hook errors close with 1011 and are logged', async () => {
  const h = harness(root);
  const c = await h.connect('/hooks', { cookies: { k: 'v' } });
  assert.ok(!c.rejected);
  const opened = await c.socket.next((m) => m.event === 'opened');
  assert.equal(opened.data.path, '/hooks');
  assert.equal(opened.data.cookie, 'v');
  assert.equal(opened.data.id, c.id);
  c.send('x');
  for (let i = 0; i < 50 && !c.socket.sent.includes('got:x'); i++) await new Promise((r) => setImmediate(r));
  assert.ok(c.socket.sent.includes('got:x'));
  h.app.message(c.id, new Uint8Array([9]), true);
  c.send('throw');
  for (let i = 0; i < 50 && c.socket.closedWith === null; i++) await new Promise((r) => setImmediate(r));
  assert.deepEqual(c.socket.closedWith, { code: 1011, reason: 'internal error' });
  assert.ok(c.socket.sent.some((m) => m instanceof Uint8Array && m[0] === 9), 'binary echoed as binary');
  assert.ok(h.log.lines.some((l) => l.level === 'error' && /message hook threw/.test(l.msg ?? '')));
  const f = await h.connect('/hooks?openfail=1', { query: { openfail: '1' } });
  assert.ok(!f.rejected);
  for (let i = 0; i < 50 && f.socket.closedWith === null; i++) await new Promise((r) => setImmediate(r));
  assert.equal(f.socket.closedWith?.code, 1011);
});

test('close hook gets the code and reason; a synchronous answer chooses the close reply', async () => {
  const h = harness(root);
  const a = await h.connect('/hooks');
  assert.ok(!a.rejected);
  assert.deepEqual(h.app.peerClose(a.id, 4001, 'please'), { code: 4002, reason: 'as you wish' });
  await a.close(4001, 'please');
  const b = await h.connect('/hooks');
  assert.ok(!b.rejected);
  assert.equal(h.app.peerClose(b.id, 4003, 'async'), undefined, 'an async answer cannot choose the reply');
  assert.deepEqual(await b.close(4003, 'async'), { code: 4004, reason: 'too late' });
  const c = await h.connect('/hooks');
  assert.ok(!c.rejected);
  const opened = await c.socket.next((m) => m.event === 'opened');
  assert.deepEqual(opened.data.closes, [[4001, 'please'], [4003, 'async']], 'the hook ran once per connection');
});

test('requireAuth: 401 with a Basic challenge; valid credentials open with the user', async () => {
  const h = harness(root);
  const r = await rejected(h, '/private');
  assert.equal(r.status, 401);
  assert.match(r.headers?.['www-authenticate'] ?? '', /Basic realm="members"/);
  assert.equal((await rejected(h, '/private', { headers: { authorization: 'Basic ' + Buffer.from('ann:bad').toString('base64') } })).status, 401);
  const c = await h.connect('/private', { headers: { authorization: 'Basic ' + Buffer.from('ann:pw').toString('base64') } });
  assert.ok(!c.rejected);
  assert.deepEqual((await c.socket.next((m) => m.event === 'me')).data, { id: 'ann' });
});

test('messages wait for an async open hook', async () => {
  const h = harness(root);
  const c = await h.connect('/slowopen');
  assert.ok(!c.rejected);
  assert.equal((await c.call('ready')).data, true);
});
