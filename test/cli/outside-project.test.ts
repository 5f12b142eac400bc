// A services directory outside this project, in a project of its own (ES module or
// CommonJS), imports `switchboard` without installing it; a package it really lacks gets a
// 500 whose log line says what to install and where.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, HandshakeError } from '../../src/transport/index.js';
import { startNode, type Node } from '../cluster/harness.js';
import { next } from '../helpers/wait.js';

const root = mkdtempSync(join(tmpdir(), 'sb-outside-'));
const nodes: Node[] = [];
after(async () => {
  for (const n of nodes) await n.process.kill();
  rmSync(root, { recursive: true, force: true });
});

function project(name: string, type: 'module' | 'commonjs'): string {
  const dir = join(root, name);
  mkdirSync(join(dir, 'services'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', type }));
  writeFileSync(join(dir, 'services', 'echo.ts'), `import { defineService } from 'switchboard';\nexport default defineService({ message(c, d) { c.send(d); } });\n`);
  writeFileSync(join(dir, 'services', 'needs.ts'), `import { defineService } from 'switchboard';\nimport pad from 'no-such-package-here';\nexport default defineService({ open(c) { c.send(String(pad)); } });\n`);
  return join(dir, 'services');
}

for (const type of ['module', 'commonjs'] as const) {
  test(`a ${type} project outside the repository imports switchboard; a missing package is named`, async () => {
    const services = project(`app-${type}`, type);
    const node = await startNode(services);
    nodes.push(node);
    const ws = await connect(`${node.url}/echo`);
    const reply = next<[Buffer]>(ws, 'message');
    ws.send('hi');
    assert.equal((await reply)[0].toString(), 'hi');
    ws.close();
    await assert.rejects(connect(`${node.url}/needs`), (e: unknown) => e instanceof HandshakeError && e.status === 500);
    const line = await node.process.waitForLog((l) => typeof l.reason === 'string' && l.reason.includes('no-such-package-here'));
    assert.match(String(line.reason), /cannot find package 'no-such-package-here' imported by .*needs\.ts: install it where the service lives \(npm install no-such-package-here in .*app-/);
  });
}
