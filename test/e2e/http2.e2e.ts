// WebSocket over HTTP/2 (RFC 8441) in Debian's Chromium: the app server serves TLS with
// HTTP/2 beside HTTP/1.1 on one port; the console page, loaded over h2, opens its WebSocket
// on that connection as an extended CONNECT stream. The server's own record of what carried
// each connection is the evidence. The same page in a Chromium without HTTP/2 travels over
// an HTTP/1.1 Upgrade, and both work. Screenshots in test/e2e/artifacts/ (gitignored).
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { AppServer } from '../../src/server/app-server.js';
import { REPO } from '../app/helpers.js';
import { makeCerts, type CertFiles } from '../helpers/tls-certs.js';
import { until } from '../helpers/wait.js';

let certs: CertFiles;
let server: AppServer;
let origin = '';
const opened: Array<{ id: string; route: string; via: string }> = [];
const browsers: Browser[] = [];

function launch(extra: string[] = []): Promise<Browser> {
  // the test CA is not in the browser's store: certificate errors are ignored for 127.0.0.1
  return chromium
    .launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--ignore-certificate-errors', ...extra],
    })
    .then((b) => {
      browsers.push(b);
      return b;
    });
}

before(async () => {
  certs = makeCerts();
  server = new AppServer({ dir: join(REPO, 'examples/services'), port: 0, tls: { cert: certs.serverCert, key: certs.serverKey } });
  server.on('connection', (c) => opened.push(c));
  const { port } = await server.listen();
  origin = `https://127.0.0.1:${port}`;
});

after(async () => {
  for (const b of browsers) await b.close();
  await server.close();
  certs.remove();
});

/** The console: connect to /echo, send a line, see it echoed; the server's record of the connection. */
async function consoleSession(browser: Browser, shot: string): Promise<{ via: string; pageProtocol: string }> {
  const page = await browser.newPage();
  try {
    const response = await page.goto(`${origin}/`);
    assert.equal(response?.status(), 200);
    // what the browser says carried the page: 'h2' or 'http/1.1'
    const pageProtocol = await page.evaluate(() => (performance.getEntriesByType('navigation' as never)[0] as unknown as { nextHopProtocol: string }).nextHopProtocol);
    const before = opened.length;
    await page.getByTestId('path').fill('/echo');
    await page.getByTestId('connect').click();
    // 'connected wss://…' (not 'disconnected'): the first connection may wait for the service to compile
    await page.locator('[data-testid=status].open').waitFor({ timeout: 60_000 });
    await page.getByTestId('text').fill(`hello over ${pageProtocol}`);
    await page.getByTestId('send').click();
    await page.locator('#log li.in', { hasText: `hello over ${pageProtocol}` }).waitFor();
    await until(() => opened.length > before, 'the server recording the connection');
    const dir = join(REPO, 'test/e2e/artifacts');
    mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: join(dir, shot), fullPage: true });
    const mine = opened.slice(before).find((c) => c.route === '/echo');
    assert.ok(mine, 'the server opened /echo');
    return { via: mine.via, pageProtocol };
  } finally {
    await page.close();
  }
}

test("chromium opens the console's WebSocket as an HTTP/2 stream when the page came over h2", { timeout: 120_000 }, async () => {
  const s = await consoleSession(await launch(), 'console-h2.png');
  assert.equal(s.pageProtocol, 'h2', 'the page itself came over HTTP/2');
  assert.equal(s.via, 'h2', 'the WebSocket travelled as an extended CONNECT stream');
});

test('the same console works over HTTP/1.1 in a chromium without HTTP/2', { timeout: 120_000 }, async () => {
  const s = await consoleSession(await launch(['--disable-http2']), 'console-http1.png');
  assert.equal(s.pageProtocol, 'http/1.1');
  assert.equal(s.via, 'http/1.1');
});
