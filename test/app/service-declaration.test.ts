// The server reads a service's isolation (and whether it is a background service) from
// its source, before running any of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DeclarationError, readServiceDeclaration } from '../../src/app/service-declaration.js';
import { serviceDir } from './helpers.js';

const dir = serviceDir({
  'in-options.ts': `import { defineService } from 'x';\nexport default defineService({ isolation: 'worker' satisfies string, commands: {} });`,
  'as-const.ts': `export const isolation = 'process' as const;\nexport default defineService({});`,
  'through-const.js': `const svc = defineService({ isolation: 'process' });\nexport default svc;`,
  'member-call.ts': `import * as sb from 'x';\nexport default sb.defineService({ isolation: 'inline' });`,
  'none.ts': `export default defineService({ open() {} });`,
  'not-literal.ts': `const where = process.env.X ? 'worker' : 'process';\nexport default defineService({ isolation: where });`,
  'both-disagree.ts': `export const isolation = 'worker';\nexport default defineService({ isolation: 'process' });`,
  'both-agree.ts': `export const isolation = 'worker';\nexport default defineService({ isolation: 'worker' });`,
  'bad-value.ts': `export const isolation = 'thread';`,
  'bg-function.ts': `export const isolation = 'process';\nexport async function start(ctx: unknown, signal: AbortSignal) {}`,
  'bg-const.js': `export const start = () => {};`,
  'bg-specifier.ts': `function start() {}\nexport { start };`,
  'bg-default-object.js': `export default { start() {} };`,
  'imported-default.ts': `import svc from './impl.js';\nexport default svc;`,
  'syntax.ts': `export default defineService({ oops`,
});
const read = (name: string) => readServiceDeclaration(join(dir, name));

test('isolation as a literal in defineService or as `export const isolation`, through TypeScript', async () => {
  assert.deepEqual(await read('in-options.ts'), { isolation: 'worker', definesService: true, exportsStart: false });
  assert.deepEqual(await read('as-const.ts'), { isolation: 'process', definesService: true, exportsStart: false });
  assert.deepEqual(await read('through-const.js'), { isolation: 'process', definesService: true, exportsStart: false });
  assert.deepEqual(await read('member-call.ts'), { isolation: 'inline', definesService: true, exportsStart: false });
  assert.deepEqual(await read('none.ts'), { isolation: undefined, definesService: true, exportsStart: false });
  assert.deepEqual(await read('both-agree.ts'), { isolation: 'worker', definesService: true, exportsStart: false });
});

test('an isolation the server cannot read before running the file is an error that says why', async () => {
  await assert.rejects(read('not-literal.ts'), (e: unknown) => e instanceof DeclarationError && /must be the string literal 'inline', 'worker' or 'process'/.test(e.message));
  await assert.rejects(read('bad-value.ts'), DeclarationError);
  await assert.rejects(read('both-disagree.ts'), /declares isolation 'worker' and 'process'/);
  await assert.rejects(read('syntax.ts'), /syntax error: line 1:\d+: /);
});

test('a module exporting start is a background service; a default it imports is left to the runtime check', async () => {
  for (const f of ['bg-function.ts', 'bg-const.js', 'bg-specifier.ts', 'bg-default-object.js']) {
    const d = await read(f);
    assert.equal(d.exportsStart, true, f);
    assert.equal(d.definesService, false, f);
  }
  assert.equal((await read('bg-function.ts')).isolation, 'process');
  assert.deepEqual(await read('imported-default.ts'), { isolation: undefined, definesService: false, exportsStart: false });
});
