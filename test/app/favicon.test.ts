// The console's icon over HTTP: /favicon.svg (named by the page) and /favicon.ico (what
// browsers and tools ask for by default) answer with the SVG instead of a 404.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppServer } from '../../src/server/app-server.js';
import { REPO, serviceDir } from './helpers.js';

const server = new AppServer({ dir: serviceDir({}), port: 0 });
const { port } = await server.listen();
const base = `http://127.0.0.1:${port}`;
after(() => server.close());
const svg = readFileSync(join(REPO, 'src/web/favicon.svg'), 'utf8');

for (const path of ['/favicon.svg', '/favicon.ico']) {
  test(`GET ${path}: 200, image/svg+xml, the console's icon; HEAD: no body`, async () => {
    const res = await fetch(base + path);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/svg+xml');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    const body = await res.text();
    assert.equal(body, svg);
    assert.match(body, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    const head = await fetch(base + path, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(Buffer.byteLength(svg)));
    assert.equal(await head.text(), '');
  });
}

test('the console page names its icon', async () => {
  const page = await (await fetch(base + '/')).text();
  assert.match(page, /<link rel="icon" href="\/favicon\.svg" type="image\/svg\+xml">/);
});
