// The service boundary carries plain data only: run services through a host whose every
// call, result, action and query is passed through structuredClone (as a worker's
// postMessage would), and check that commands, rooms, auth and hooks still work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { realpathSync } from 'node:fs';
import { sep } from 'node:path';
import { App } from '../../src/app/app.js';
import { inlineHostFactory } from '../../src/app/inline-host.js';
import { RouteResolver, routeSegments } from '../../src/app/route-resolver.js';
import type { HostSink, ServiceHost, ServiceHostFactory } from '../../src/app/service-host.js';
import { AUTH, CountingFramer, DEFINE, FakeSocket, ZOD, captureLogger, request, serviceDir } from './helpers.js';

function clonedHostFactory(inner: ServiceHostFactory, crossings: string[]): ServiceHostFactory {
  return async (file, route, sink) => {
    const clonedSink: HostSink = {
      act: (action) => (crossings.push('act:' + action.type), sink.act(structuredClone(action))),
      ask: async (query) => (crossings.push('ask:' + query.type), structuredClone(await sink.ask(structuredClone(query)))),
    };
    const host = await inner(file, route, clonedSink);
    const c = structuredClone;
    const wrapped: ServiceHost = {
      file: host.file,
      info: c(host.info),
      handshake: async (r) => c(await host.handshake(c(r))),
      open: async (i) => c(await host.open(c(i))),
      message: (id, data, binary) => host.message(c(id), c(data), binary),
      close: async (id, code, reason) => c(await host.close(id, code, reason)),
      idle: () => host.idle(),
      cancel: () => host.cancel(),
    };
    return wrapped;
  };
}

test('commands, rooms, presence, auth and hooks work across a structured-clone boundary', async () => {
  const root = serviceDir({
    'svc.ts': `
import { z } from '${ZOD}';
import { defineService } from '${DEFINE}';
import { httpBasic } from '${AUTH}';
export default defineService({
  auth: httpBasic({ verify: (u, p) => (u === 'a' && p === 'b' ? { id: 'a', roles: ['x'] } : null) }),
  rooms: true,
  open(c) { c.push('hi', { user: c.user, query: c.request.query }); },
  message(c, d) { c.send(d); },
  commands: {
    add: { input: z.object({ a: z.number(), b: z.number() }), handler: (d) => ({ sum: d.a + d.b, when: new Date(0), bytes: new Uint8Array([1]) }) },
    pub: { handler: async (d: any, { service }) => ({ pos: await service.publish(d.room, { nested: { deep: [1, 2] } }), who: await service.presence(d.room) }) },
  },
});`,
  });
  const log = captureLogger();
  const crossings: string[] = [];
  const core = new App({ root, log, framer: new CountingFramer(), hosts: { inline: clonedHostFactory(inlineHostFactory(log), crossings) } });
  const req = request('/svc?x=1', { query: { x: '1' }, headers: { authorization: 'Basic ' + Buffer.from('a:b').toString('base64') } });
  const d = await core.admit(req);
  assert.ok(d.accept);
  assert.deepEqual(d.admission.user, { id: 'a', roles: ['x'] });
  const socket = new FakeSocket();
  const id = core.open(socket, req, d.admission);
  assert.deepEqual((await socket.next((m) => m.event === 'hi')).data, { user: { id: 'a', roles: ['x'] }, query: { x: '1' } });
  core.message(id, JSON.stringify({ id: 1, cmd: 'add', data: { a: 1, b: 2 } }), false);
  const added = await socket.reply(1);
  assert.equal(added.data.sum, 3);
  assert.deepEqual([...added.data.bytes], [1], 'bytes in a reply cross as bytes (a binary command frame)');
  core.message(id, JSON.stringify({ id: 2, cmd: 'room.join', data: { room: 'r' } }), false);
  assert.equal((await socket.reply(2)).data.pos.o, 0);
  core.message(id, JSON.stringify({ id: 3, cmd: 'pub', data: { room: 'r' } }), false);
  const r = await socket.reply(3);
  assert.equal(r.data.pos.o, 1);
  assert.deepEqual(r.data.who, [{ id, user: { id: 'a', roles: ['x'] } }]);
  core.message(id, new Uint8Array([7, 8]), true);
  const echoed = (): boolean => socket.sent.some((m) => m instanceof Uint8Array && m[0] === 7);
  for (let i = 0; i < 50 && !echoed(); i++) await new Promise((res) => setImmediate(res));
  assert.ok(echoed(), 'a binary message that is not a command frame reaches the message hook');
  await core.closed(id, 1000, 'done');
  for (const kind of ['act:send', 'ask:join', 'ask:publish', 'ask:presence']) assert.ok(crossings.includes(kind), kind);
});

test('property: routeSegments never yields a traversal, and resolve never leaves the root', async () => {
  const root = serviceDir({ 'a.ts': '', 'b/index.ts': '' });
  const real = realpathSync(root);
  const resolver = new RouteResolver(root);
  const piece = fc.constantFrom('..', '.', '%2e%2e', '%2E.', '%2f', '%5c', '\\', '%00', 'a', 'b', '', '/', '//', '~', 'a.ts', '%', '%zz', '..%2f', 'index');
  await fc.assert(
    fc.asyncProperty(fc.array(piece, { maxLength: 8 }), async (parts) => {
      const path = '/' + parts.join('/');
      const segments = routeSegments(path);
      if (segments !== null) for (const s of segments) assert.ok(s !== '..' && s !== '.' && !s.includes('/') && !s.includes('\\') && !s.includes('\0'), path);
      const r = await resolver.resolve(path);
      if (r.found) assert.ok(r.file.startsWith(real + sep), path);
    }),
    { numRuns: 300 },
  );
});
