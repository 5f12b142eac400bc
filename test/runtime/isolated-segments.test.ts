// The memory of the segments an isolated service's messages cross in is written in again
// once read (worker): a reply the transport still holds by reference, waiting for a client
// that does not read, must never be written over by the replies that follow it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { ServerProcess } from './server-process.js';
import { TestClient } from './ws-client.js';
import { until } from '../helpers/wait.js';

const SERVE = fileURLToPath(new URL('./fixtures/serve-server.js', import.meta.url));
const SERVICES = fileURLToPath(new URL('./fixtures/services', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'sb-segments-'));
const server = new ServerProcess(SERVE, [
  '--port', '0', '--host', '127.0.0.1', '--services', SERVICES, '--run-dir', join(root, 'run'),
  // the replies pile up for a client that does not read: none may be dropped or closed for it
  '--high-water-mark', String(256 * 1024 * 1024),
]);
const sockets: WebSocket[] = [];
const clients: TestClient[] = [];
after(async () => {
  for (const s of sockets) s.terminate();
  for (const c of clients) c.close();
  await server.kill();
  rmSync(root, { recursive: true, force: true });
});

/** Message `i`: random bytes (nothing to compress away), long ones sent from the memory they were handed in. */
function message(i: number, long: boolean): Buffer {
  const b = randomBytes(long ? 64 * 1024 : 30);
  b.writeUInt32LE(i, 0);
  return b;
}

for (const kind of ['worker', 'process'] as const) {
  test(`${kind}: long replies held for a client that does not read arrive whole after many more replies crossed`, async () => {
    const started = await server.waitForLog((l) => l.msg === 'switchboard started');
    const url = `${(started.listening as string[])[0]!}/${kind}-echo`;
    // uncompressed: the replies must be as long as the messages to pile up
    const slow = new WebSocket(url, { perMessageDeflate: false });
    sockets.push(slow);
    await new Promise((resolve, reject) => slow.once('open', resolve).once('error', reject));
    const got: Buffer[] = [];
    slow.on('message', (data: Buffer) => got.push(data));
    slow.pause();
    // another client's round trip on the same channel: everything sent before it has been handed on
    const other = await TestClient.openWhenAvailable(url);
    clients.push(other);
    const sent: Buffer[] = [];
    const send = (long: boolean): void => {
      const m = message(sent.length, long);
      sent.push(m);
      slow.send(m);
    };
    // far more than the kernel's socket buffers take: the rest waits in the server, by reference
    for (let i = 0; i < 256; i++) {
      send(true);
      for (let j = 0; j < 3; j++) send(false);
    }
    for (let round = 0; round < 8; round++) {
      for (let j = 0; j < 50; j++) send(false);
      assert.equal(await other.call('echo', round), round);
    }
    slow.resume();
    await until(() => got.length === sent.length, `all ${sent.length} echoes`);
    for (let i = 0; i < sent.length; i++) assert.ok(got[i]!.equals(sent[i]!), `echo ${i} (${sent[i]!.length} bytes) came back as sent`);
    slow.close();
    other.close();
  });
}
