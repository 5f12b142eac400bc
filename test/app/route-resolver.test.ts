import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { RouteResolver, routeSegments } from '../../src/app/route-resolver.js';
import { serviceDir } from './helpers.js';
import { until } from '../helpers/wait.js';

const root = serviceDir({
  'chat.ts': '',
  'plain.js': '',
  'mod.mjs': '',
  'typed.mts': '',
  'index.ts': '',
  'foo/bar.ts': '',
  'foo/baz/index.js': '',
  'both.ts': '',
  'both/index.ts': '',
  '.hidden.ts': '',
  '_private.ts': '',
  'notes.txt': '',
});
const resolver = new RouteResolver(root);

async function file(path: string): Promise<string | null> {
  const r = await resolver.resolve(path);
  return r.found ? relative(realpathSync(root), r.file) : null;
}

test('maps paths to service files with every extension', async () => {
  assert.equal(await file('/chat'), 'chat.ts');
  assert.equal(await file('/plain'), 'plain.js');
  assert.equal(await file('/mod'), 'mod.mjs');
  assert.equal(await file('/typed'), 'typed.mts');
  assert.equal(await file('/chat?x=1'), 'chat.ts');
  assert.equal(await file('/chat/'), 'chat.ts');
});

test('nested paths and index files; a file wins over a directory index', async () => {
  assert.equal(await file('/foo/bar'), 'foo/bar.ts');
  assert.equal(await file('/foo/baz'), 'foo/baz/index.js');
  assert.equal(await file('/'), 'index.ts');
  assert.equal(await file('/both'), 'both.ts');
  const r = await resolver.resolve('/foo//bar');
  assert.ok(r.found && r.route === '/foo/bar');
});

test('unknown paths and non-service files are not found', async () => {
  for (const p of ['/nope', '/foo', '/notes', '/notes.txt', '/chat.ts', '/foo/bar/x']) assert.equal(await file(p), null, p);
});

test('traversal attempts never reach the file system', async () => {
  const outside = mkdtempSync(join(tmpdir(), 'sb-outside-'));
  writeFileSync(join(outside, 'secret.ts'), '');
  const rel = '/' + join('..', outside.split('/').pop()!, 'secret');
  for (const p of [rel, '/../secret', '/foo/../../secret', '/%2e%2e/secret', '/%2E%2E%2Fsecret', '/foo%2f..%2f..%2fsecret', '/..%5csecret', '/chat%00', '/%', '/.hidden', '/_private', 'chat', '/./chat']) {
    const r = await resolver.resolve(p);
    assert.equal(r.found, false, p);
  }
  assert.equal(routeSegments('/a/%2e%2e/b'), null);
  assert.equal(routeSegments('/a/b%2fc'), null);
  assert.deepEqual(routeSegments('/a/b'), ['a', 'b']);
});

test('a symlink that leads outside the root is refused; one inside is followed', async () => {
  const dir = serviceDir({ 'real.ts': '', 'sub/x.ts': '' });
  const outside = mkdtempSync(join(tmpdir(), 'sb-outside-'));
  writeFileSync(join(outside, 'evil.ts'), '');
  mkdirSync(join(outside, 'dir'));
  writeFileSync(join(outside, 'dir', 'index.ts'), '');
  symlinkSync(join(outside, 'evil.ts'), join(dir, 'evil.ts'));
  symlinkSync(join(outside, 'dir'), join(dir, 'linked'));
  symlinkSync(join(dir, 'real.ts'), join(dir, 'alias.ts'));
  const r = new RouteResolver(dir);
  assert.deepEqual(await r.resolve('/evil'), { found: false, reason: 'outside_root' });
  assert.deepEqual(await r.resolve('/linked'), { found: false, reason: 'outside_root' });
  const alias = await r.resolve('/alias');
  assert.ok(alias.found && alias.file.endsWith('real.ts'));
});

test('listRoutes lists every service route', async () => {
  assert.deepEqual(await resolver.listRoutes(), ['/', '/both', '/chat', '/foo/bar', '/foo/baz', '/mod', '/plain', '/typed']);
});

// resolutions are cached; the directory's changes reach the cache by its watches (so the
// next request after the event sees them) and by a rescan (forget(): at once)
test('a service file added, removed or renamed after a cached resolution is seen', async () => {
  const dir = serviceDir({ 'kept.ts': '', 'old.ts': '', 'nested/a.ts': '' });
  const r = new RouteResolver(dir);
  try {
    const found = async (p: string): Promise<boolean> => (await r.resolve(p)).found;
    for (const p of ['/kept', '/old', '/nested/a']) assert.equal(await found(p), true, p);
    for (const p of ['/added', '/deep/er/x', '/nested/b', '/nested/c', '/renamed']) assert.equal(await found(p), false, p);

    writeFileSync(join(dir, 'added.ts'), '');
    await until(() => found('/added'), '/added seen');
    unlinkSync(join(dir, 'kept.ts'));
    await until(async () => !(await found('/kept')), '/kept gone');
    renameSync(join(dir, 'old.ts'), join(dir, 'renamed.ts'));
    await until(async () => (await found('/renamed')) && !(await found('/old')), '/old renamed to /renamed');
    // in a directory that did not exist when the path was first asked for
    mkdirSync(join(dir, 'deep', 'er'), { recursive: true });
    writeFileSync(join(dir, 'deep', 'er', 'x.ts'), '');
    await until(() => found('/deep/er/x'), '/deep/er/x seen');
    writeFileSync(join(dir, 'nested', 'b.ts'), '');
    await until(() => found('/nested/b'), '/nested/b seen');
    // a directory removed and made again is watched afresh
    rmSync(join(dir, 'nested'), { recursive: true });
    await until(async () => !(await found('/nested/a')), '/nested/a gone');
    mkdirSync(join(dir, 'nested'));
    writeFileSync(join(dir, 'nested', 'c.ts'), '');
    await until(() => found('/nested/c'), '/nested/c seen');

    // forget() (what a rescan calls) needs no event: the next resolution looks again
    assert.equal(await found('/later'), false);
    writeFileSync(join(dir, 'later.ts'), '');
    r.forget();
    assert.equal(await found('/later'), true);
    unlinkSync(join(dir, 'later.ts'));
    r.forget();
    assert.equal(await found('/later'), false);
  } finally {
    r.close();
  }
});

test('a closed resolver still resolves (uncached), and sees changes at once', async () => {
  const dir = serviceDir({ 'a.ts': '' });
  const r = new RouteResolver(dir);
  assert.equal((await r.resolve('/a')).found, true);
  r.close();
  unlinkSync(join(dir, 'a.ts'));
  assert.equal((await r.resolve('/a')).found, false);
  writeFileSync(join(dir, 'b.ts'), '');
  assert.equal((await r.resolve('/b')).found, true);
});
