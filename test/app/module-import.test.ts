// How service code is imported: TypeScript in an ES module project is compiled once and its
// output cached by content hash (the cache is read: a tampered entry shows; a changed source
// is compiled again), a fresh import loads changed relative helpers too, `./x.js` finds
// `./x.ts`, and TypeScript in a CommonJS project still loads (through tsx).
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';

const cache = mkdtempSync(join(tmpdir(), 'sb-compile-cache-'));
// read when the hooks are registered, on the first import below
process.env['SWITCHBOARD_COMPILE_CACHE'] = cache;
const { importModule, defaultExport } = await import('../../src/app/module-import.js');
const isString = (v: unknown): boolean => typeof v === 'string';

function project(type: 'module' | 'commonjs', files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), `sb-import-${type}-`));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type }));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

const greet = (word: string): string => `export function greet(name: string): string { return \`${word} \${name}\`; }\n`;
const service = `import { greet } from './lib/greet.js';\nenum Mode { A = 'a' }\nconst who: string = 'x';\nexport default greet(who) + Mode.A;\n`;

test('an ES module project: compiled once, cached by content, fresh imports see changed helpers', async () => {
  const dir = project('module', { 'svc.ts': service, 'lib/greet.ts': greet('hello') });
  const svc = join(dir, 'svc.ts');
  assert.equal((await importModule(svc, { fresh: true }))['default'], 'hello xa');
  const entries = readdirSync(cache).filter((f) => f.endsWith('.mjs'));
  assert.equal(entries.length, 2, 'the service and its helper, compiled');

  // the cache is what is loaded: tamper with the helper's entry
  const helper = entries.map((f) => join(cache, f)).find((f) => readFileSync(f, 'utf8').includes('hello'))!;
  writeFileSync(helper, readFileSync(helper, 'utf8').replace('hello', 'cached'));
  assert.equal((await importModule(svc, { fresh: true }))['default'], 'cached xa');

  // a changed source is another key: compiled again, and the fresh import loads it
  writeFileSync(join(dir, 'lib/greet.ts'), greet('hi'));
  assert.equal((await importModule(svc, { fresh: true }))['default'], 'hi xa');
  assert.equal(readdirSync(cache).filter((f) => f.endsWith('.mjs')).length, 3);
  assert.deepEqual(readdirSync(cache).filter((f) => !f.endsWith('.mjs')), [], 'no partial files left');
});

test('a CommonJS project: TypeScript still loads (through tsx)', async () => {
  const dir = project('commonjs', { 'svc.ts': service, 'lib/greet.ts': greet('hey') });
  const compiledBefore = readdirSync(cache).length;
  // CommonJS interop nests the default export once more: the loader's defaultExport() unwraps it
  assert.equal(defaultExport(await importModule(join(dir, 'svc.ts'), { fresh: true }), isString), 'hey xa');
  assert.equal(readdirSync(cache).length, compiledBefore, 'left to tsx: nothing compiled into the cache');
});

test('a syntax error names the file; a missing import is reported as missing', async () => {
  const dir = project('module', { 'bad.ts': 'export default {;\n', 'missing.ts': "import { x } from './nope.js';\nexport default x;\n" });
  await assert.rejects(importModule(join(dir, 'bad.ts'), { fresh: true }), (err: Error) => err.message.includes('bad.ts'));
  await assert.rejects(importModule(join(dir, 'missing.ts'), { fresh: true }), (err: Error & { code?: string }) => /nope/.test(err.message));
});
