import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ShutdownCoordinator } from '../../src/runtime/shutdown.js';

test('runs steps in phase order, once; the deadline aborts after the grace period', async () => {
  const order: string[] = [];
  const exits: number[] = [];
  const sd = new ShutdownCoordinator({ graceMs: 50, exit: (c) => void exits.push(c) });
  sd.add('cleanup', 'lock', () => void order.push('cleanup'));
  sd.add('close-connections', 'close', () => void order.push('close'));
  sd.add('stop-accepting', 'listen', () => void order.push('accept'));
  sd.add('stop-services', 'bg', async () => void order.push('services'));
  sd.add('drain', 'inflight', ({ deadline }) => new Promise<void>((resolve) => {
    // in-flight work that never finishes by itself: aborted by the deadline
    deadline.addEventListener('abort', () => {
      order.push('drain-aborted');
      resolve();
    });
  }));
  const a = sd.shutdown('test');
  const b = sd.shutdown('again');
  assert.equal(a, b);
  assert.equal(await a, 0);
  assert.deepEqual(order, ['accept', 'drain-aborted', 'close', 'services', 'cleanup']);
  await sd.shutdownAndExit('x');
  assert.deepEqual(exits, [0]);
});

test('a failing step is reported and makes the exit code 1', async () => {
  const logs: string[] = [];
  const sd = new ShutdownCoordinator({ graceMs: 10, log: (_l, m) => void logs.push(m) });
  const ran: string[] = [];
  sd.add('drain', 'bad', () => {
    throw new Error('boom');
  });
  sd.add('cleanup', 'still runs', () => void ran.push('cleanup'));
  assert.equal(await sd.shutdown('t'), 1);
  assert.deepEqual(ran, ['cleanup']);
  assert.ok(logs.some((l) => l.includes('"bad" failed')));
});

test('a step that hangs past grace + hard timeout ends the shutdown with code 1', async () => {
  const sd = new ShutdownCoordinator({ graceMs: 10, hardTimeoutMs: 50 });
  sd.add('drain', 'forever', () => new Promise(() => undefined));
  assert.equal(await sd.shutdown('t'), 1);
});
