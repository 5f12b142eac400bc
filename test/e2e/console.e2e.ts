// The console page in Debian's Chromium (playwright-core): open it, connect to /echo, send a
// message, see the echo; then a command to /chat. Saves a screenshot under test/e2e/artifacts/.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { createServer as createNetServer, connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { AppServer } from '../../src/server/app-server.js';
import { DEFINE, REPO, serviceDir } from '../app/helpers.js';

const server = new AppServer({ dir: join(REPO, 'examples/services'), port: 0 });
const { port } = await server.listen();
// a service that fails on request, for the console's highlighting
const failing = new AppServer({
  dir: serviceDir({
    'fail.ts': `
import { defineService } from '${DEFINE}';
export default defineService({
  commands: {
    fine: { handler: () => 'fine' },
    fail: { handler: (_d, { connection }) => { setTimeout(() => connection.close(1011, 'service failed'), 0); return 'closing'; } },
  },
});`,
  }),
  port: 0,
});
const upstreamPort = (await failing.listen()).port;
// The browser reaches the failing server through a TCP relay, so the test can cut the
// connection the way a network does: no Close frame, just gone.
const relayed = new Set<Socket>();
const relay = createNetServer((downstream) => {
  const upstream = netConnect(upstreamPort, '127.0.0.1');
  for (const s of [downstream, upstream]) {
    relayed.add(s);
    s.on('error', () => undefined);
    s.on('close', () => relayed.delete(s));
  }
  downstream.pipe(upstream).pipe(downstream);
});
await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
const failingPort = (relay.address() as AddressInfo).port;
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
after(async () => {
  await browser.close();
  await server.close();
  relay.close();
  await failing.close();
});

test('console: connect to /echo, send a message, see the echo', async () => {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.getByTestId('path').fill('/echo');
  await page.getByTestId('connect').click();
  await page.getByTestId('status').filter({ hasText: 'connected' }).waitFor();
  await page.getByTestId('text').fill('hello from chromium');
  await page.getByTestId('send').click();
  const echoed = page.locator('#log li.in', { hasText: 'hello from chromium' });
  await echoed.waitFor();
  assert.equal(await echoed.count(), 1);
  assert.equal(await page.locator('#log li.out', { hasText: 'hello from chromium' }).count(), 1);

  // command mode against the chat service
  await page.locator('#disconnect').click();
  await page.locator('#log li.info', { hasText: 'closed: code 1000' }).waitFor();
  await page.getByTestId('path').fill('/chat');
  await page.getByTestId('connect').click();
  await page.getByTestId('status').filter({ hasText: 'connected' }).waitFor();
  await page.getByTestId('mode-command').check();
  await page.getByTestId('cmd').fill('login');
  await page.getByTestId('data').fill('{"name":"chromium"}');
  await page.getByTestId('send').click();
  await page.locator('#log li.in', { hasText: '"ok":true' }).waitFor();
  await page.getByTestId('cmd').fill('room.join');
  await page.getByTestId('data').fill('{"room":"lobby"}');
  await page.getByTestId('send').click();
  await page.locator('#log li.in', { hasText: '"pos"' }).waitFor();

  const dir = join(REPO, 'test/e2e/artifacts');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, 'console.png'), fullPage: true });
  await page.close();
});

test('the command client works in the browser: /client.js with the global WebSocket', async () => {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${port}/`);
  const result = await page.evaluate(async () => {
    const { createClient } = await import('/client.js' as string);
    const client = createClient(`ws://${(globalThis as unknown as { location: { host: string } }).location.host}/chat`, { reconnect: false });
    await client.ready;
    const login = await client.call('login', { name: 'browser' });
    const messages: unknown[] = [];
    const join = await client.join('lobby', (data: unknown) => messages.push(data));
    await client.call('say', { room: 'lobby', text: 'from the page' });
    // the page's evaluate deadline bounds this wait
    await new Promise<void>((resolve) => { const t = setInterval(() => { if (messages.length > 0) { clearInterval(t); resolve(); } }, 10); });
    let error = '';
    try {
      await client.call('say', { room: 'lobby', text: '' });
    } catch (err) {
      error = (err as { code: string }).code;
    }
    client.close();
    return { login, joined: typeof join.pos.o === 'number', messages, error };
  });
  assert.deepEqual(result.login, { user: { id: 'guest:browser', name: 'browser' } });
  assert.equal(result.joined, true);
  assert.deepEqual(result.messages, [{ from: 'browser', text: 'from the page' }]);
  assert.equal(result.error, 'invalid_input');
  await page.close();
});

test('console: failed replies and abnormal closes (1011, 1006) stand out', async () => {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${failingPort}/?path=/fail`);
  const icon = await page.evaluate(async () => {
    const res = await fetch('/favicon.svg');
    return { status: res.status, type: res.headers.get('content-type') };
  });
  assert.deepEqual(icon, { status: 200, type: 'image/svg+xml' });
  await page.getByTestId('connect').click();
  await page.getByTestId('status').filter({ hasText: 'connected' }).waitFor();
  await page.getByTestId('mode-command').check();
  const send = async (cmd: string) => {
    await page.getByTestId('cmd').fill(cmd);
    await page.getByTestId('send').click();
  };

  await send('nope');
  const failed = page.locator('#log li.in.failed', { hasText: '"ok":false' });
  await failed.waitFor();
  assert.equal(await failed.locator('.badge').textContent(), 'unknown_command');
  await send('fine');
  await page.locator('#log li.in', { hasText: '"data":"fine"' }).waitFor();
  assert.equal(await page.locator('#log li.in.failed').count(), 1, 'a successful reply is not highlighted');
  // evaluated in the page, where getComputedStyle exists (this file is type-checked for Node)
  const background = (selector: string) =>
    page.locator(selector).first().evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(el).backgroundColor);
  assert.notEqual(await background('#log li.in.failed'), await background('#log li.in:not(.failed)'), 'the failed reply looks different');

  await send('fail'); // the service closes with 1011
  const closed1011 = page.locator('#log li.abnormal', { hasText: 'code 1011' });
  await closed1011.waitFor();
  assert.equal(await closed1011.locator('.badge').textContent(), 'close 1011');
  assert.match((await closed1011.textContent()) ?? '', /server error: the service failed/);

  await page.getByTestId('connect').click();
  await page.getByTestId('status').filter({ hasText: 'connected' }).waitFor();
  for (const socket of relayed) socket.destroy(); // the connection is lost: no Close frame
  const closed1006 = page.locator('#log li.abnormal', { hasText: 'code 1006' });
  await closed1006.waitFor();
  assert.equal(await closed1006.locator('.badge').textContent(), 'close 1006');
  assert.equal(await page.locator('#log li.abnormal').count(), 2);

  const dir = join(REPO, 'test/e2e/artifacts');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, 'console-failures.png'), fullPage: true });
  await page.close();
});

test('console: watch a live value (the poll example) change as votes come in; the browser client follows it too', async () => {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${port}/?path=/poll`);
  await page.getByTestId('connect').click();
  await page.getByTestId('status').filter({ hasText: 'connected' }).waitFor();
  await page.getByTestId('mode-live').check();
  await page.getByTestId('live-name').fill('board/console');
  await page.getByTestId('send').click();
  const card = page.locator('#live article[data-name="board/console"]');
  await card.locator('.v', { hasText: 'v0' }).waitFor();

  // votes from another client (in the page, through /client.js: it also proves the browser client's live values)
  const followed = await page.evaluate(async () => {
    const { createClient } = await import('/client.js' as string);
    const client = createClient(`ws://${(globalThis as unknown as { location: { host: string } }).location.host}/poll`, { reconnect: false });
    const board = client.live('board/console');
    await board.ready;
    for (let i = 0; i < 3; i++) await client.call('bump', { board: 'console', key: 'x' });
    // the page's evaluate deadline bounds this wait
    await new Promise<void>((resolve) => { const t = setInterval(() => { if (board.version === 3) { clearInterval(t); resolve(); } }, 10); });
    const value = board.get();
    client.close();
    return value;
  });
  assert.deepEqual(followed, { id: 'console', counts: { x: 3 } });
  await card.locator('.v', { hasText: 'v3' }).waitFor();
  assert.deepEqual(JSON.parse((await card.locator('pre').textContent()) ?? ''), { id: 'console', counts: { x: 3 } });
  assert.ok((await page.locator('#log li.in', { hasText: '"event":"live.patch"' }).count()) >= 3, 'the patches are in the log too');
  const dir = join(REPO, 'test/e2e/artifacts');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, 'console-live.png'), fullPage: true });
  await page.close();
});
