// Room and broker figures on /metrics: publish latency (numbered or not), resumes by outcome,
// memberships, and the broker's state.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createClient } from '../../src/client/index.js';
import { connect } from '../../src/transport/index.js';
import { startNode, type Node } from '../cluster/harness.js';

const SERVICE = pathToFileURL(fileURLToPath(new URL('../../src/app/service.js', import.meta.url))).href;
const root = mkdtempSync(join(tmpdir(), 'sb-room-metrics-'));
const services = join(root, 'services');
mkdirSync(services);
writeFileSync(join(services, 'room.ts'), `import { defineService } from '${SERVICE}';\nexport default defineService({ rooms: { clientPublish: true, volatile: (room) => room === 'fleeting' } });\n`);
let node: Node;
after(async () => {
  await node?.process.kill();
  rmSync(root, { recursive: true, force: true });
});

async function metrics(): Promise<string> {
  const res = await fetch(`${node.url.replace('ws:', 'http:')}/metrics`);
  return res.text();
}

test('publishes, resumes by outcome, memberships and the broker state are counted', async () => {
  node = await startNode(services, ['--metrics', '--history-size', '2']);
  const a = createClient(`${node.url}/room`, { connect, reconnect: false });
  const b = createClient(`${node.url}/room`, { connect, reconnect: false });
  const { pos } = await a.call('room.join', { room: 'lobby' });
  for (let i = 0; i < 3; i++) await a.call('room.publish', { room: 'lobby', data: i });
  await a.call('room.join', { room: 'fleeting' });
  await a.call('room.publish', { room: 'fleeting', data: 'x' });
  const top = (await b.call('room.join', { room: 'lobby' })).pos;
  await b.call('room.join', { room: 'lobby', since: top });
  await b.call('room.join', { room: 'lobby', since: pos });
  const text = await metrics();
  assert.match(text, /switchboard_room_publish_seconds_count\{service="\/room",numbered="true"\} 3/);
  assert.match(text, /switchboard_room_publish_seconds_count\{service="\/room",numbered="false"\} 1/);
  assert.match(text, /switchboard_room_resumes_total\{service="\/room",outcome="recovered"\} 1/);
  assert.match(text, /switchboard_room_resumes_total\{service="\/room",outcome="expired"\} 1/);
  assert.match(text, /switchboard_room_memberships 3/);
  assert.match(text, /switchboard_broker_state\{kind="memory",state="up"\} 1/);
  a.close();
  b.close();
});
