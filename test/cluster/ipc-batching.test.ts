// A turn's messages cross the channel as one, in order, and come out one by one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageChannel } from 'node:worker_threads';
import { batchingEndpoint } from '../../src/cluster/ipc-batching.js';
import type { IpcEndpoint } from '../../src/cluster/ipc-messages.js';
import { until } from '../helpers/wait.js';

test('messages sent in one turn cross as one batch, in order; a lone one crosses as itself; off stops them', async () => {
  const { port1, port2 } = new MessageChannel();
  const raw: unknown[] = [];
  port2.on('message', (m) => raw.push(m));
  const plain = (port: typeof port1): IpcEndpoint => ({ send: (m) => port.postMessage(m), on: (_e, l) => void port.on('message', l), off: (_e, l) => void port.off('message', l) });
  const sender = batchingEndpoint(plain(port1));
  const receiver = batchingEndpoint(plain(port2));
  const got: unknown[] = [];
  const listener = (m: unknown): void => void got.push(m);
  receiver.on('message', listener);
  for (let i = 0; i < 10; i++) sender.send({ n: i });
  await until(() => got.length === 10, 'ten messages');
  assert.deepEqual(got, Array.from({ length: 10 }, (_, n) => ({ n })));
  assert.equal(raw.length, 1, 'one message on the channel');
  sender.send({ n: 10 });
  await until(() => got.length === 11, 'the lone one');
  assert.deepEqual(raw[1], { n: 10 }, 'not wrapped');
  receiver.off('message', listener);
  sender.send({ n: 11 });
  sender.send({ n: 12 });
  await until(() => raw.length === 3, 'the batch on the channel');
  assert.equal(got.length, 11, 'nothing reached a listener that was taken off');
  port1.close();
});
