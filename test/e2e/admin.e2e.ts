// The admin page in Debian's Chromium (playwright-core) against `switchboard serve --workers 2`:
// both workers appear as nodes (each publishes its figures as a live value), with the rooms,
// members and connections of both; sending to a room and disconnecting a connection from the
// page reach the clients (on either worker); a wrong token is refused. Screenshot: test/e2e/artifacts/admin.png.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { createClient, type CommandClient } from '../../src/client/index.js';
import { connect } from '../../src/transport/index.js';
import { startNode, type Node } from '../cluster/harness.js';
import { REPO } from '../app/helpers.js';
import { until } from '../helpers/wait.js';

const SERVICE = pathToFileURL(fileURLToPath(new URL('../../src/app/service.js', import.meta.url))).href;
const TOKEN = 'admin-token-for-the-e2e-test';
const root = mkdtempSync(join(tmpdir(), 'sb-admin-'));
const services = join(root, 'services');
mkdirSync(services);
writeFileSync(join(services, 'chat.ts'), `import { defineService } from '${SERVICE}';
export default defineService({ rooms: { clientPublish: true }, commands: { where: { handler: (_d, { connection }) => ({ pid: process.pid, id: connection.id }) } } });
`);

let node: Node;
let browser: Browser;
const clients: CommandClient[] = [];
before(async () => {
  node = await startNode(services, ['--workers', '2', '--admin-token', TOKEN]);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
});
after(async () => {
  for (const c of clients) c.close();
  await browser?.close();
  await node?.process.kill();
  rmSync(root, { recursive: true, force: true });
});

test('the admin page shows every worker, its rooms and connections, and acts on them', async () => {
  // clients until both workers hold some
  const pids = new Set<number>();
  const ids: string[] = [];
  for (let i = 0; i < 40 && (pids.size < 2 || clients.length < 3); i++) {
    const c = createClient(`${node.url}/chat`, { connect });
    clients.push(c);
    const where = (await c.call('where')) as { pid: number; id: string };
    pids.add(where.pid);
    ids.push(where.id);
  }
  assert.equal(pids.size, 2, 'clients on both workers');
  const lobby: unknown[] = [];
  for (const c of clients) await c.join('lobby', (data) => lobby.push(data));

  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(`${node.url.replace('ws:', 'http:')}/_admin/#token=${TOKEN}`);
  await page.locator('#state', { hasText: 'live' }).waitFor();
  await until(async () => (await page.locator('#nodes tbody tr').count()) === 2, 'both workers listed as nodes');
  await page.locator('#rooms tbody tr', { hasText: 'lobby' }).filter({ hasText: `${clients.length}:` }).waitFor();
  const chatRows = page.locator('#connections tbody tr', { hasText: '/chat' });
  await until(async () => (await chatRows.count()) === clients.length, 'every chat connection listed');
  await page.locator('#charts figure').first().waitFor();
  assert.equal(await page.locator('#charts figure').count(), 4);
  assert.ok((await page.locator('#services tbody tr', { hasText: '/chat' }).count()) >= 1);

  // send to the room from the page: every member gets it
  const room = page.locator('#rooms tbody tr', { hasText: 'lobby' });
  await room.locator('input').fill('{"from":"admin"}');
  await room.getByRole('button', { name: 'Send' }).click();
  await until(() => lobby.filter((m) => JSON.stringify(m) === '{"from":"admin"}').length === clients.length, 'the message reached every member');

  mkdirSync(join(REPO, 'test/e2e/artifacts'), { recursive: true });
  await page.screenshot({ path: join(REPO, 'test/e2e/artifacts/admin.png'), fullPage: true });

  // disconnect the newest connection from the page
  const closed: number[] = [];
  const victim = clients[0]!;
  victim.on('close', (e: { code: number }) => closed.push(e.code));
  await page.locator('#connections tbody tr', { hasText: ids[0]! }).getByRole('button', { name: 'Disconnect' }).click();
  await until(() => closed.length > 0, `connection ${ids[0]} closed`);
  assert.equal(closed[0], 1000);
  await page.close();
});

test('a wrong token is refused in the handshake', async () => {
  const page = await browser.newPage();
  await page.goto(`${node.url.replace('ws:', 'http:')}/_admin/#token=wrong`);
  await page.locator('#state', { hasText: /refused|disconnected|reconnecting/ }).waitFor();
  assert.equal(await page.locator('#nodes tbody tr').count(), 0);
  await page.close();
  const res = await fetch(`${node.url.replace('ws:', 'http:')}/_admin`, { redirect: 'manual' });
  assert.equal(res.status, 308);
});
