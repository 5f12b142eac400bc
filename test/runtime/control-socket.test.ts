import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlServer } from '../../src/runtime/control-server.js';
import { controlRequest, ControlClientError } from '../../src/runtime/control-client.js';
import { ControlError, type ServerStatus } from '../../src/runtime/control-protocol.js';

function rawLine(path: string, line: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    let buf = '';
    s.setEncoding('utf8');
    s.on('connect', () => s.write(line + '\n'));
    s.on('data', (d: string) => {
      buf += d;
      if (buf.includes('\n')) {
        s.destroy();
        resolve(JSON.parse(buf.slice(0, buf.indexOf('\n'))));
      }
    });
    s.on('error', reject);
  });
}

test('control socket: typed requests, 0600 socket, errors as responses', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-ctl-'));
  let stops = 0;
  const drains: unknown[] = [];
  const status: ServerStatus = {
    pid: process.pid, node: 'n1', broker: { kind: 'memory', state: 'up', since: new Date(0).toISOString() }, nodes: [], version: 't', startedAt: new Date().toISOString(), uptimeSeconds: 1, listening: [],
    connections: 0, memory: { rss: 1, heapUsed: 1, heapTotal: 1, external: 1 }, services: [],
  };
  const server = new ControlServer(dir, {
    status: () => status,
    stop: () => void stops++,
    drain: (window) => void drains.push(window),
    reload: () => ({ added: ['a'], removed: [], restarted: [], unchanged: [] }),
    restart: (name) => {
      if (name !== 'chat') throw new ControlError('NOT_FOUND', `no service "${name}"`);
    },
    figures: () => ({ nodes: [], cluster: [{ id: 'n1', since: 0 }] }),
  });
  try {
    await server.listen();
    assert.equal(statSync(server.path).mode & 0o777, 0o600);
    assert.deepEqual(await controlRequest(dir, { type: 'status' }), status);
    assert.deepEqual(await controlRequest(dir, { type: 'stop' }), { stopping: true });
    assert.equal(stops, 1);
    assert.deepEqual(await controlRequest(dir, { type: 'drain', windowMs: 60_000, batches: 12 }), { draining: true, windowMs: 60_000, batches: 12 });
    assert.deepEqual(drains, [{ windowMs: 60_000, batches: 12 }]);
    await assert.rejects(controlRequest(dir, { type: 'drain', windowMs: 0 } as never), /windowMs/);
    assert.deepEqual(await controlRequest(dir, { type: 'reload' }), { added: ['a'], removed: [], restarted: [], unchanged: [] });
    assert.deepEqual(await controlRequest(dir, { type: 'restart', service: 'chat' }), { restarted: 'chat' });
    assert.deepEqual(await controlRequest(dir, { type: 'figures' }), { nodes: [], cluster: [{ id: 'n1', since: 0 }] });
    await assert.rejects(
      controlRequest(dir, { type: 'restart', service: 'nope' }),
      (e: unknown) => e instanceof ControlClientError && e.code === 'NOT_FOUND' && /no service "nope"/.test(e.message),
    );
    assert.deepEqual(await rawLine(server.path, '{nope'), { v: 1, id: 0, ok: false, error: { code: 'BAD_JSON', message: 'request is not valid JSON' } });
    const bad = (await rawLine(server.path, JSON.stringify({ v: 1, id: 5, type: 'restart' }))) as { id: number; error: { code: string; message: string } };
    assert.equal(bad.id, 5);
    assert.equal(bad.error.code, 'BAD_REQUEST');
    assert.match(bad.error.message, /^service: /);
    const wrongVersion = (await rawLine(server.path, JSON.stringify({ v: 2, id: 6, type: 'status' }))) as { error: { code: string } };
    assert.equal(wrongVersion.error.code, 'BAD_REQUEST');
  } finally {
    await server.close();
  }
  await assert.rejects(controlRequest(dir, { type: 'status' }), (e: unknown) => e instanceof ControlClientError && e.code === 'NOT_RUNNING');
  rmSync(dir, { recursive: true, force: true });
});
