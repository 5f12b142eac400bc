import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Supervisor, type CrashInfo } from '../../src/runtime/supervisor.js';
import { addBackgroundService, getService, serveBridge } from '../../src/runtime/background-service.js';
import { next, until } from '../helpers/wait.js';

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url).href;

test('background services: start(ctx, signal), rooms via the bridge, getService, restart on crash', async () => {
  const supervisor = new Supervisor();
  after(() => supervisor.stopAll());
  const roomSends: Array<[string, unknown]> = [];
  supervisor.setFallbackRouter(
    serveBridge({
      publish: () => undefined,
      sendToRoom: (_service, room, data) => void roomSends.push([room, data]),
      sendToConnection: () => undefined,
      broadcast: () => undefined,
    }),
  );
  const logs: string[] = [];
  supervisor.on('log', (e) => logs.push(`${e.name}:${e.msg}`));

  const ticker = addBackgroundService(supervisor, {
    name: 'ticker',
    module: fixture('ticker-service.js'),
    isolation: 'worker',
    options: { intervalMs: 10 },
    restart: { initialDelayMs: 20 },
  });
  const caller = addBackgroundService(supervisor, {
    name: 'caller',
    module: fixture('caller-service.js'),
    isolation: 'process',
  });
  await Promise.all([ticker.start(), caller.start()]);

  await until(() => roomSends.length >= 3, 'ticks sent to the room');
  assert.equal(roomSends[0]![0], 'ticks');
  assert.match(String(roomSends[0]![1]), /^tick \d+$/);
  await until(() => logs.includes('ticker:ticker started'), 'log line forwarded');

  const handle = getService(supervisor, 'ticker');
  assert.equal(handle.state, 'running');
  assert.ok(((await handle.call('count')) as number) > 0);
  // one background service calling another, across a process and a worker
  assert.ok(((await getService(supervisor, 'caller').call('askTicker')) as number) > 0);
  await assert.rejects(handle.call('start'), /no method "start"/);
  await assert.rejects(getService(supervisor, 'nobody').call('x'), /no service named "nobody"/);

  const crashed = next<[CrashInfo]>(ticker, 'crash');
  await handle.call('crash');
  assert.equal((await crashed)[0].reason, 'uncaught-exception');
  await ticker.whenState('running');
  const before = roomSends.length;
  await until(() => roomSends.length > before, 'ticks after the restart');

  await supervisor.stopAll();
  assert.equal(ticker.state, 'stopped');
  assert.equal(caller.state, 'stopped');
});

test('a module without start(ctx, signal) fails with a clear error', async () => {
  const supervisor = new Supervisor();
  const bad = addBackgroundService(supervisor, {
    name: 'bad',
    module: new URL('./ws-client.js', import.meta.url).href, // a module with no start export
    restart: { maxRestarts: 0 },
  });
  const crashed = next<[CrashInfo]>(bad, 'crash');
  await assert.rejects(bad.start(), /failed/);
  assert.match((await crashed)[0].error?.message ?? '', /must export start\(ctx, signal\)/);
  await supervisor.stopAll();
});
