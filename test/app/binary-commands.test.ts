// Binary payloads end to end over real sockets: `switchboard serve` with the same service
// inline, in a worker and in a process; the command client sends Uint8Arrays in command
// data, handlers get Uint8Arrays (validated by the schema), replies and pushes carry bytes
// back; a binary message that is not a frame still goes to the message hook.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createClient, type CommandClient } from '../../src/client/index.js';
import { connect } from '../../src/transport/index.js';
import { startNode, type Node } from '../cluster/harness.js';
import { DEADLINE_MS, until } from '../helpers/wait.js';
import { DEFINE, ZOD, serviceDir } from './helpers.js';

const service = (isolation: string): string => `import { z } from '${ZOD}';
import { defineService } from '${DEFINE}';
export default defineService({
  isolation: '${isolation}',
  commands: {
    upload: {
      input: z.object({ name: z.string(), bytes: z.instanceof(Uint8Array) }),
      handler: ({ name, bytes }) => ({ name, size: bytes.byteLength, sum: bytes.reduce((a, b) => a + b, 0) }),
    },
    reverse: { input: z.instanceof(Uint8Array), handler: (bytes) => ({ reversed: Uint8Array.from(bytes).reverse(), buffer: Buffer.from('buf') }) },
    pushBytes: {
      handler: (_d, { connection, service }) => {
        connection.push('blob', { part: 1, bytes: new Uint8Array([1, 2, 3]) });
        service.sendTo([connection.id], 'blob', { part: 2, bytes: new Uint8Array([4]) });
        return null;
      },
    },
    publishBytes: { handler: (_d, { service }) => service.publish('r', { bytes: new Uint8Array(1) }) },
  },
  message(connection, data) { connection.send(data); },
});
`;

// the first handshake of a service loads (compiles) it: on a loaded machine that outlasts the default timeout
const open = (url: string) => connect(url, { handshakeTimeoutMs: DEADLINE_MS });

const dir = serviceDir({ 'inline.ts': service('inline'), 'worker.ts': service('worker'), 'process.ts': service('process') });
let node: Node;
const clients: CommandClient[] = [];
after(async () => {
  for (const c of clients) c.close();
  await node?.process.kill();
});

test('bytes in commands, replies and pushes, for every isolation', async (t) => {
  node = await startNode(dir);
  // a failure says what the server logged (a service that failed to load says why)
  let passed = false;
  t.after(() => {
    if (!passed) for (const l of node.process.lines) if (!['info', 'debug', 'trace', '30', '20', '10'].includes(String(l.level))) t.diagnostic(JSON.stringify(l));
  });
  for (const route of ['/inline', '/worker', '/process']) {
    const client = createClient(`${node.url}${route}`, { connect: open, reconnect: false });
    clients.push(client);
    const big = new Uint8Array(300_000).map((_, i) => i % 251);
    const sum = big.reduce((a, b) => a + b, 0);
    assert.deepEqual(await client.call('upload', { name: 'big', bytes: big }), { name: 'big', size: big.byteLength, sum }, route);

    const reply = (await client.call('reverse', new Uint8Array([1, 2, 3]))) as { reversed: Uint8Array; buffer: Uint8Array };
    assert.ok(reply.reversed instanceof Uint8Array, route);
    assert.deepEqual([...reply.reversed], [3, 2, 1], route);
    assert.equal(Buffer.from(reply.buffer).toString(), 'buf', `${route}: a Buffer travels as bytes, not as its toJSON`);

    await assert.rejects(client.call('upload', { name: 'x', bytes: 'not bytes' }), { code: 'invalid_input' }, route);
    await assert.rejects(client.call('publishBytes'), { code: 'handler_error' }, `${route}: room messages stay JSON`);

    const blobs: Array<{ part: number; bytes: Uint8Array }> = [];
    client.on('blob', (data) => blobs.push(data as { part: number; bytes: Uint8Array }));
    await client.call('pushBytes');
    await until(() => blobs.length === 2, `${route}: two binary pushes`);
    assert.deepEqual(blobs.map((b) => [b.part, [...b.bytes]]), [[1, [1, 2, 3]], [2, [4]]], route);

    const raw: Uint8Array[] = [];
    client.on('binary', (data) => raw.push(data as Uint8Array));
    const ws = await open(`${node.url}${route}`);
    const echoed = new Promise<Buffer>((resolve) => ws.once('message', (data) => resolve(data as Buffer)));
    ws.send(new Uint8Array([0xde, 0xad]));
    assert.deepEqual([...(await echoed)], [0xde, 0xad], `${route}: a binary message that is not a frame reaches the message hook`);
    ws.close();
  }
  passed = true;
});
