// The console page in Debian's Chromium (playwright-core): open it, connect to /echo, send a
// message, see the echo; then a command to /chat. Saves a screenshot under test/e2e/artifacts/.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { AppServer } from '../../src/server/app-server.js';
import { REPO } from '../app/helpers.js';

const server = new AppServer({ dir: join(REPO, 'examples/services'), port: 0 });
const { port } = await server.listen();
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
after(async () => {
  await browser.close();
  await server.close();
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
