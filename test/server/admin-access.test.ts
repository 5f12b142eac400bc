// The console page and admin routes: open on loopback, off beyond it without a token, and
// guarded by the token (Bearer, or the Basic password a browser sends) when there is one.
// The "beyond loopback" servers are told they listen on 0.0.0.0 but bind 127.0.0.1 only.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { adminAccess, isLoopbackHost, type AdminAccessOptions } from '../../src/server/admin-access.js';
import { createHttpHandler } from '../../src/server/http-routes.js';
import { configSchema } from '../../src/runtime/config-schema.js';
import { ServerRuntime } from '../../src/runtime/server-runtime.js';

const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<number> {
  const s = createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as AddressInfo).port;
}

async function consolePort(o: AdminAccessOptions): Promise<number> {
  return listen(createHttpHandler({ listRoutes: async () => ['/echo'], isService: async () => false, admin: adminAccess(o) }));
}

function get(port: number, path: string, authorization?: string): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, headers: authorization ? { authorization } : {} }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    })
      .on('error', reject)
      .end();
  });
}

const basic = (password: string): string => `Basic ${Buffer.from(`anyone:${password}`).toString('base64')}`;

test('loopback hosts', () => {
  for (const h of ['127.0.0.1', '127.3.2.1', '::1', '[::1]', 'localhost']) assert.equal(isLoopbackHost(h), true, h);
  for (const h of ['0.0.0.0', '::', '192.0.2.7', 'example.com']) assert.equal(isLoopbackHost(h), false, h);
});

test('on loopback the console is open; beyond it, without a token, it is off (404)', async () => {
  const local = await consolePort({ console: 'auto', host: '127.0.0.1' });
  assert.equal((await get(local, '/')).status, 200);
  assert.equal((await get(local, '/services.json')).status, 200);
  const wide = await consolePort({ console: 'auto', host: '0.0.0.0' });
  for (const path of ['/', '/console.js', '/console.css', '/services.json']) assert.equal((await get(wide, path)).status, 404, path);
  // the command client is the application's library, not an admin surface
  for (const path of ['/client.js', '/live-value.js', '/json-patch.js', '/app/binary-frame.js']) assert.equal((await get(wide, path)).status, 200, path);
  const off = await consolePort({ console: 'off', host: '127.0.0.1' });
  assert.equal((await get(off, '/')).status, 404);
  const forced = await consolePort({ console: 'on', host: '0.0.0.0' });
  assert.equal((await get(forced, '/')).status, 200, "'on' is the operator's explicit choice");
});

test('with a token the console asks for it (Basic challenge for browsers) and takes it as Bearer or as the Basic password', async () => {
  const port = await consolePort({ console: 'auto', host: '0.0.0.0', token: 'T0ken' });
  const bare = await get(port, '/');
  assert.equal(bare.status, 401);
  assert.match(String(bare.headers['www-authenticate']), /^Basic realm="switchboard admin"/);
  assert.equal((await get(port, '/', 'Bearer wrong')).status, 401);
  assert.equal((await get(port, '/', basic('wrong'))).status, 401);
  assert.equal((await get(port, '/', 'Bearer T0ken')).status, 200);
  assert.equal((await get(port, '/services.json', basic('T0ken'))).status, 200);
});

test('metrics beyond loopback: off without a token, guarded by the metrics or the admin token', async () => {
  const runtime = (raw: Record<string, unknown>): ServerRuntime =>
    ServerRuntime.create({ config: configSchema.parse({ runDir: '/nonexistent', ...raw }), role: 'worker', signals: false, logger: { logger: silentPino(), flush() {}, drain: async () => {} } });
  const route = async (r: ServerRuntime): Promise<number> => listen((req, res) => void r.handleMetricsRequest(req, res));
  const open = await route(runtime({ host: '0.0.0.0', metrics: { enabled: true } }));
  assert.equal((await get(open, '/metrics')).status, 404);
  const viaAdmin = await route(runtime({ host: '0.0.0.0', metrics: { enabled: true }, admin: { token: 'A' } }));
  assert.equal((await get(viaAdmin, '/metrics')).status, 401);
  assert.equal((await get(viaAdmin, '/metrics', 'Bearer A')).status, 200);
  const own = await route(runtime({ host: '0.0.0.0', metrics: { enabled: true, token: 'M' }, admin: { token: 'A' } }));
  assert.equal((await get(own, '/metrics', 'Bearer A')).status, 401, 'the metrics token, when set, is the one');
  assert.equal((await get(own, '/metrics', 'Bearer M')).status, 200);
  const local = await route(runtime({ metrics: { enabled: true } }));
  assert.equal((await get(local, '/metrics')).status, 200);
});

function silentPino(): import('pino').Logger {
  return { info() {}, warn() {}, error() {}, debug() {}, fatal() {}, trace() {}, child() { return this; } } as never;
}
