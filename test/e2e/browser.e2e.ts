// A real browser against our server: Debian's Chromium (playwright-core) loads a page from
// a small in-test HTTP server; the page's script connects to our WebSocketServer (Chromium
// offers permessage-deflate, so it is negotiated), sends text and binary, collects the
// echoes and closes with a code. Results come back through page.evaluate. Screenshot in
// test/e2e/artifacts/ (gitignored).
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { WebSocketServer } from '../../src/index.js';
import { next } from '../helpers/wait.js';

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>switchboard browser interop</title>
<style>body{font:14px monospace;margin:1em} li.ok{color:#070} li.bad{color:#b00}</style></head>
<body><h1>switchboard ⇄ chromium</h1><ul id="log"></ul>
<script>
function log(text, ok) { const li = document.createElement('li'); li.textContent = text; li.className = ok ? 'ok' : 'bad'; document.getElementById('log').appendChild(li); }
window.runSession = async function (url) {
  const ws = new WebSocket(url, ['chat.v1']);
  ws.binaryType = 'arraybuffer';
  const inbox = [];
  let wake = null;
  ws.onmessage = (e) => { inbox.push(e.data); if (wake) wake(); };
  let isClosed = false;
  const closed = new Promise((resolve) => { ws.onclose = (e) => { isClosed = true; if (wake) wake(); resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean }); }; });
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error('websocket error before open')); });
  // the next message, or undefined once closed or after a generous 15 s deadline (bounded loop)
  const recv = async () => {
    for (let i = 0; i < 150 && inbox.length === 0 && !isClosed; i++) await new Promise((r) => { wake = r; setTimeout(r, 100); });
    return inbox.shift();
  };
  const results = { protocol: ws.protocol, extensions: ws.extensions, checks: [] };
  const check = (name, ok) => { results.checks.push({ name, ok }); log(name + ': ' + (ok ? 'ok' : 'FAILED'), ok); };
  const big = 'κόσμε '.repeat(200000);
  const texts = ['hello from chromium', '', 'after an empty message', '', '', 'after two empty messages', big, 'x'.repeat(125), 'y'.repeat(126), 'z'.repeat(70000)];
  for (const t of texts) { if (isClosed) break; ws.send(t); const got = await recv(); check('text ' + t.length, got === t); }
  for (const n of [0, 1, 126, 65536, 1 << 20]) {
    if (isClosed) break;
    const b = new Uint8Array(n); for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 255;
    ws.send(b);
    const got = await recv();
    const ok = got instanceof ArrayBuffer && got.byteLength === n && new Uint8Array(got).every((v, i) => v === b[i]);
    check('binary ' + n, ok);
  }
  if (!isClosed) ws.close(4000, 'bye from chromium');
  results.close = await closed;
  log('closed ' + results.close.code + ' clean=' + results.close.wasClean, results.close.code === 4000);
  return results;
};
</script></body></html>`;

let browser: Browser;
let http: Server;
let wss: WebSocketServer;
let wsPort = 0;
let httpPort = 0;
const serverCloses: Array<{ code: number; reason: string; extensions: string }> = [];

before(async () => {
  wss = new WebSocketServer({ port: 0, host: '127.0.0.1', protocols: ['chat.v1'], perMessageDeflate: { threshold: 0 }, limits: { maxMessageBytes: 16 * 1024 * 1024, maxFrameBytes: 16 * 1024 * 1024 } });
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('message', (d, isBinary) => ws.send(d, { binary: isBinary }));
    ws.on('close', (code, reason) => serverCloses.push({ code, reason, extensions: ws.extensions }));
  });
  wsPort = (await wss.listen()).port;
  http = createServer((req, res) => {
    if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(PAGE);
    } else {
      res.writeHead(404).end();
    }
  });
  http.listen(0, '127.0.0.1');
  await next(http, 'listening');
  httpPort = (http.address() as AddressInfo).port;
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

after(async () => {
  await browser?.close();
  await wss?.close({ timeoutMs: 2000 });
  http?.close();
});

test('chromium: text, binary, permessage-deflate and a close code against our server', { timeout: 120_000 }, async () => {
  const page = await browser.newPage();
  try {
    await page.goto(`http://127.0.0.1:${httpPort}/`);
    const results = (await page.evaluate((url) => (globalThis as unknown as { runSession(u: string): Promise<unknown> }).runSession(url), `ws://127.0.0.1:${wsPort}/`)) as {
      protocol: string;
      extensions: string;
      checks: Array<{ name: string; ok: boolean }>;
      close: { code: number; reason: string; wasClean: boolean };
    };
    mkdirSync(new URL('./artifacts/', import.meta.url.replace('/dist/test/', '/test/')), { recursive: true });
    await page.screenshot({ path: new URL('./artifacts/browser.png', import.meta.url.replace('/dist/test/', '/test/')).pathname, fullPage: true });
    console.log('browser session:', JSON.stringify({ ...results, checks: results.checks.filter((c) => !c.ok) }));
    assert.equal(results.protocol, 'chat.v1');
    assert.match(results.extensions, /permessage-deflate/);
    assert.deepEqual(
      results.checks.filter((c) => !c.ok).map((c) => c.name),
      [],
      'every echo arrives intact',
    );
    assert.equal(results.checks.length, 15);
    assert.equal(results.close.code, 4000);
    assert.equal(results.close.wasClean, true);
    // the server saw the same close and had negotiated permessage-deflate
    for (let i = 0; i < 100 && serverCloses.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(serverCloses.length, 1);
    assert.equal(serverCloses[0]!.code, 4000);
    assert.equal(serverCloses[0]!.reason, 'bye from chromium');
    assert.match(serverCloses[0]!.extensions, /permessage-deflate/);
  } finally {
    await page.close();
  }
});
