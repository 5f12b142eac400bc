// Every command error code, validation, guards, timeouts, cancellation, state, key-value form.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFINE, ZOD, harness, serviceDir } from './helpers.js';

const SERVICE = `
import { z } from '${ZOD}';
import { defineService, CommandError } from '${DEFINE}';
function gate(state: { gate?: { promise: Promise<void>; open: () => void } }) {
  if (state.gate === undefined) {
    let open!: () => void;
    const promise = new Promise<void>((resolve) => (open = resolve));
    state.gate = { promise, open };
  }
  return state.gate;
}
export default defineService({
  state: () => ({ total: 0, aborted: [] as string[] }),
  connectionState: () => ({ n: 0, started: [] as number[], gate: undefined as undefined | { promise: Promise<void>; open: () => void } }),
  commands: {
    echo: { input: z.object({ text: z.string().max(5) }), handler: (d) => ({ text: d.text }) },
    secret: { auth: true, handler: (_d, { connection }) => connection.user },
    login: { input: z.object({ id: z.string() }), handler: (d, { connection }) => (connection.setUser({ id: d.id }), { ok: true }) },
    guarded: { guard: (_c, d: any) => d?.ok === true, handler: () => 'in' },
    guardThrows: { guard: () => { throw new Error('guard boom'); }, handler: () => 'never' },
    slow: { timeoutMs: 30, handler: (_d, { signal, service }) => new Promise((resolve) => signal.addEventListener('abort', () => { service.state.aborted.push('slow:' + signal.reason.code); resolve('late'); })) },
    wait: { timeoutMs: 60000, handler: (_d, { signal, service }) => new Promise((_resolve, reject) => signal.addEventListener('abort', () => { service.state.aborted.push('wait'); reject(new Error('aborted')); })) },
    boom: { handler: () => { throw new Error('kaboom'); } },
    custom: { handler: () => { throw new CommandError('out_of_stock', 'no more', { left: 0 }); } },
    bigint: { handler: () => 1n },
    count: { handler: (_d, { connection, service }) => ({ mine: ++connection.state.n, total: ++service.state.total }) },
    aborted: { handler: (_d, { service }) => service.state.aborted },
    nothing: { handler: () => undefined },
    hold: { pipelined: true, input: z.object({ n: z.number() }), handler: async (d, { connection }) => { connection.state.started.push(d.n); await gate(connection.state).promise; return d.n; } },
    release: { handler: (_d, { connection }) => { gate(connection.state).open(); return connection.state.started; } },
    seq: { input: z.object({ n: z.number() }), handler: async (d) => { await new Promise((r) => setTimeout(r, (3 - d.n) * 5)); return d.n; } },
  },
});
`;

const root = serviceDir({ 'svc.ts': SERVICE, 'kv.ts': SERVICE.replace('commands: {', 'keyValueCommands: true,\n  commands: {') });

async function setup() {
  const h = harness(root);
  const c = await h.connect('/svc');
  assert.ok(!c.rejected);
  return { h, c };
}

test('ok replies carry the id and data; undefined becomes null', async () => {
  const { c } = await setup();
  assert.deepEqual(await c.call('echo', { text: 'hi' }), { id: c.socket.json.at(-1).id, ok: true, data: { text: 'hi' } });
  assert.equal((await c.call('nothing')).data, null);
});

test('bad_json, bad_request and unknown_command', async () => {
  const { h, c } = await setup();
  c.send('{oops');
  assert.equal((await c.socket.next((m) => m.error?.code === 'bad_json')).id, null);
  c.send('[1]');
  await c.socket.next((m) => m.error?.code === 'bad_request');
  c.send('{"id":5}');
  assert.equal((await c.socket.reply(5)).error.code, 'bad_request');
  for (const cmd of ['nope', '__proto__', 'toString', 'constructor', 'hasOwnProperty']) {
    const r = await c.call(cmd);
    assert.equal(r.error.code, 'unknown_command', cmd);
  }
  h.app.message(c.id, new Uint8Array([1, 2]), true);
  await c.socket.next((m) => m.error?.code === 'bad_request' && /binary/.test(m.error.message));
  assert.ok(h.log.lines.some((l) => l.level === 'warn' && (l.obj as { code?: string }).code === 'unknown_command'), 'failures are logged');
});

test('invalid_input lists the schema issues', async () => {
  const { c } = await setup();
  const r = await c.call('echo', { text: 'too long' });
  assert.equal(r.ok, false);
  assert.equal(r.error.code, 'invalid_input');
  assert.deepEqual(r.error.details.issues[0].path, ['text']);
  assert.equal((await c.call('echo', 'str')).error.code, 'invalid_input');
  assert.equal((await c.call('echo')).error.code, 'invalid_input');
});

test('unauthorized until a user is set; forbidden by a guard (false or throwing)', async () => {
  const { c } = await setup();
  assert.equal((await c.call('secret')).error.code, 'unauthorized');
  assert.equal((await c.call('login', { id: 'u9' })).ok, true);
  assert.deepEqual((await c.call('secret')).data, { id: 'u9' });
  assert.equal((await c.call('guarded', { ok: false })).error.code, 'forbidden');
  assert.equal((await c.call('guarded', { ok: true })).data, 'in');
  assert.equal((await c.call('guardThrows')).error.code, 'forbidden');
});

test('timeout aborts the handler signal and answers timeout', async () => {
  const { c } = await setup();
  const r = await c.call('slow');
  assert.equal(r.error.code, 'timeout');
  assert.deepEqual((await c.call('aborted')).data, ['slow:timeout']);
});

test('handler_error hides the message and logs it; CommandError passes its code; unserialisable result', async () => {
  const { h, c } = await setup();
  const r = await c.call('boom');
  assert.equal(r.error.code, 'handler_error');
  assert.doesNotMatch(r.error.message, /kaboom/);
  assert.ok(h.log.lines.some((l) => l.level === 'error' && String(((l.obj as { err?: Error }).err)?.message) === 'kaboom'));
  assert.deepEqual((await c.call('custom')).error, { code: 'out_of_stock', message: 'no more', details: { left: 0 } });
  assert.equal((await c.call('bigint')).error.code, 'handler_error');
});

test('closing the connection aborts its in-flight commands', async () => {
  const { h, c } = await setup();
  c.send(JSON.stringify({ id: 1, cmd: 'wait' }));
  const other = await h.connect('/svc');
  assert.ok(!other.rejected);
  // the wait command is in flight once a later command on another connection sees the state
  await c.close(1001, 'bye');
  let aborted: string[] = [];
  for (let i = 0; i < 100 && !aborted.includes('wait'); i++) aborted = (await other.call('aborted')).data;
  assert.ok(aborted.includes('wait'));
  assert.equal(c.socket.json.find((m) => m.id === 1), undefined, 'no reply to a closed connection');
});

test('stopping the server cancels in-flight commands with cancelled', async () => {
  const { h, c } = await setup();
  c.send(JSON.stringify({ id: 77, cmd: 'wait' }));
  await new Promise((r) => setImmediate(r));
  await h.app.drain(AbortSignal.abort());
  const r = await c.socket.reply(77);
  assert.equal(r.error.code, 'cancelled');
  assert.equal((await c.call('echo', { text: 'x' })).error.code, 'cancelled');
});

test('per-connection and service-wide state', async () => {
  const { h, c } = await setup();
  const d = await h.connect('/svc');
  assert.ok(!d.rejected);
  assert.deepEqual((await c.call('count')).data, { mine: 1, total: 1 });
  assert.deepEqual((await c.call('count')).data, { mine: 2, total: 2 });
  assert.deepEqual((await d.call('count')).data, { mine: 1, total: 3 });
});

test("one connection's commands are answered in order", async () => {
  const { c } = await setup();
  for (let n = 0; n < 3; n++) c.send(JSON.stringify({ id: 100 + n, cmd: 'seq', data: { n } }));
  await c.socket.reply(102);
  assert.deepEqual(c.socket.json.filter((m) => m.id >= 100).map((m) => m.data), [0, 1, 2]);
});

test("a pipelined command lets the connection's next message start before it settled, in order", async () => {
  const { c } = await setup();
  for (let n = 1; n <= 3; n++) c.send(JSON.stringify({ id: 200 + n, cmd: 'hold', data: { n } }));
  // without pipelining, release would wait behind the first hold forever
  const r = await c.call('release');
  assert.deepEqual(r.data, [1, 2, 3], 'each hold started, in the order sent, before release ran');
  await c.socket.reply(203);
  const order = c.socket.json.filter((m) => m.id === r.id || (m.id > 200 && m.id < 204)).map((m) => m.id);
  assert.equal(order[0], r.id, 'release answered first');
  assert.deepEqual(order.slice(1).sort(), [201, 202, 203]);
});

test('key-value form: several commands in one message, one reply object', async () => {
  const h = harness(root);
  const c = await h.connect('/kv');
  assert.ok(!c.rejected);
  c.send(JSON.stringify({ echo: { text: 'a' }, count: null, nope: 1, secret: null }));
  const reply = await c.socket.next((m) => 'echo' in m);
  assert.deepEqual(reply.echo, { ok: true, data: { text: 'a' } });
  assert.deepEqual(reply.count, { ok: true, data: { mine: 1, total: 1 } });
  assert.equal(reply.nope.error.code, 'unknown_command');
  assert.equal(reply.secret.error.code, 'unauthorized');
  assert.equal((await c.call('echo', { text: 'b' })).data.text, 'b', 'the envelope form still works');
  const plain = await h.connect('/svc');
  assert.ok(!plain.rejected);
  plain.send(JSON.stringify({ echo: { text: 'a' } }));
  await plain.socket.next((m) => m.error?.code === 'bad_request');
});

test("prototype keys in input reach neither the handler's prototype nor Object.prototype", async () => {
  const { c } = await setup();
  const r = await c.call('echo', JSON.parse('{"text":"ok","__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}'));
  assert.equal(r.ok, true);
  c.send('{"id":9,"cmd":"guarded","data":{"__proto__":{"ok":true}}}');
  assert.equal((await c.socket.reply(9)).error.code, 'forbidden');
  assert.equal(({} as { polluted?: boolean }).polluted, undefined);
});
