// Commands in flight must not pile listeners onto a shared signal: many connections each
// running a command at once stay free of MaxListenersExceededWarning, a handler's signal
// carries one listener of the server's, and stopping still cancels every one of them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFINE, harness, serviceDir } from './helpers.js';

const root = serviceDir({
  'slow.ts': `
import { getEventListeners } from 'node:events';
import { defineService } from '${DEFINE}';
export default defineService({
  commands: {
    listeners: { handler: (_d, { signal }) => getEventListeners(signal, 'abort').length },
    wait: {
      timeoutMs: 600_000,
      handler: (_d, { connection, signal }) => {
        connection.push('started', null);
        return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
      },
    },
  },
});`,
});

test('200 commands in flight at once: no listener warning; stopping cancels each', async () => {
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => void warnings.push(w);
  process.on('warning', onWarning);
  try {
    const h = harness(root);
    const probe = await h.connect('/slow');
    if (probe.rejected) assert.fail('rejected');
    assert.deepEqual((await probe.call('listeners')).data, 1, "a handler's signal has one listener of the server's");

    const conns = [];
    for (let i = 0; i < 200; i++) {
      const c = await h.connect('/slow');
      if (c.rejected) assert.fail('rejected');
      conns.push(c);
    }
    const replies = conns.map((c) => c.call('wait'));
    await Promise.all(conns.map((c) => c.socket.next((m) => m.event === 'started')));
    await h.app.drain(AbortSignal.abort());
    for (const r of await Promise.all(replies)) assert.deepEqual(r.error, { code: 'cancelled', message: 'server is stopping' });
    await new Promise((r) => setImmediate(r)); // warnings are emitted on a later tick
    assert.deepEqual(warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message), []);
  } finally {
    process.off('warning', onWarning);
  }
});
