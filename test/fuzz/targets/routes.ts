import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, sep } from 'node:path';
import fc from 'fast-check';
import { RouteResolver, routeSegments } from '../subjects.js';
import type { FuzzTarget } from '../target.js';

/**
 * The service path router on a real directory tree that tries to lure it out of its root:
 * symlinks to files and directories outside, a sibling directory whose name starts with the
 * root's, hidden and private files. Input: the request path (latin1, as the head parser
 * hands it over).
 */

const FILES = [
  'root/index.ts', 'root/chat.ts', 'root/chat.js', 'root/foo/bar.ts', 'root/foo/index.mjs', 'root/foo/baz/index.js',
  'root/_private.ts', 'root/.hidden.ts', 'root/node_modules/x.ts', 'root/a@b~c.js', 'root/x..y.ts', 'root/deep/a/b/c/d.ts',
  'root/dir.ts/index.ts', 'outside/secret.ts', 'outside/index.ts', 'root-evil/x.ts', 'root-evil/index.ts',
];
const LINKS: Array<[string, string]> = [
  ['root/link-out.ts', '../outside/secret.ts'],
  ['root/dirlink', '../outside'],
  ['root/inlink.ts', 'chat.ts'],
  ['root/loop.ts', 'loop.ts'],
  ['root/evil', '../root-evil'],
  ['root/foo/up.ts', '../../outside/index.ts'],
  ['root/abs.ts', '/etc/hostname'],
];
const EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'];

interface Tree {
  base: string;
  realRoot: string;
  resolver: RouteResolver;
}

let tree: Tree | null = null;

function makeTree(): Tree {
  const base = mkdtempSync(join(tmpdir(), 'switchboard-fuzz-routes-'));
  for (const f of FILES) {
    mkdirSync(dirname(join(base, f)), { recursive: true });
    writeFileSync(join(base, f), 'export default {};\n');
  }
  for (const [link, target] of LINKS) symlinkSync(target, join(base, link));
  const root = join(base, 'root');
  return { base, realRoot: realpathSync(root), resolver: new RouteResolver(root) };
}

/** The documented rule, on the synchronous file system API: the first candidate that is a file inside the root. */
function expectedFile(t: Tree, segments: readonly string[]): string | null {
  const baseName = join(t.realRoot, ...segments);
  const candidates = segments.length === 0 ? EXTENSIONS.map((e) => join(t.realRoot, 'index' + e)) : [...EXTENSIONS.map((e) => baseName + e), ...EXTENSIONS.map((e) => join(baseName, 'index' + e))];
  for (const c of candidates) {
    let real: string;
    try {
      real = realpathSync(c);
      if (!statSync(real).isFile()) continue;
    } catch {
      continue;
    }
    if (real.startsWith(t.realRoot + sep)) return real;
  }
  return null;
}

/** Would any raw segment, once decoded, name a parent, a separator or a NUL? */
function escapes(path: string): boolean {
  const raw = path.split(/[?#]/)[0]!;
  return raw.split('/').some((part) => {
    let seg: string;
    try {
      seg = decodeURIComponent(part);
    } catch {
      return false;
    }
    return seg === '..' || seg === '.' || /[/\\\0]/.test(seg);
  });
}

async function run(input: Buffer): Promise<void> {
  const t = (tree ??= makeTree());
  const path = input.toString('latin1');
  const r = await t.resolver.resolve(path);
  const segments = routeSegments(path);
  if (escapes(path)) assert.equal(segments, null, `${JSON.stringify(path)} reaches the file system`);
  if (segments === null) {
    assert.deepEqual(r, { found: false, reason: 'bad_path' });
    return;
  }
  for (const s of segments) assert.ok(s !== '..' && s !== '.' && !/[/\\\0]/.test(s) && !s.startsWith('.') && !s.startsWith('_'), `segment ${JSON.stringify(s)}`);
  const want = expectedFile(t, segments);
  if (r.found) {
    assert.ok(r.file.startsWith(t.realRoot + sep), `${JSON.stringify(path)} resolved outside the root: ${r.file}`);
    assert.equal(realpathSync(r.file), r.file);
    assert.equal(r.route, '/' + segments.join('/'));
    assert.equal(r.file, want, `${JSON.stringify(path)} resolved to ${r.file}, the first candidate inside the root is ${want}`);
    const again = await t.resolver.resolve(r.route);
    assert.ok(again.found && again.file === r.file, 'resolving the route again gives another file');
  } else {
    assert.ok(r.reason === 'not_found' || r.reason === 'outside_root', r.reason);
    assert.equal(want, null, `${JSON.stringify(path)} not found, but ${want} is inside the root`);
  }
}

// ---------------------------------------------------------------- generation

const SEGMENTS = [
  'chat', 'foo', 'bar', 'baz', 'index', 'link-out', 'dirlink', 'inlink', 'loop', 'dir', 'dir.ts', 'deep', 'a', 'b', 'c', 'd', 'up', 'abs', 'evil', 'x',
  '_private', '.hidden', 'node_modules', 'a@b~c', 'x..y', 'secret', 'root', 'root-evil', 'outside', 'chat.ts', 'chat%2Ets', 'Chat', 'CHAT',
  '..', '.', '...', '%2e%2e', '%2E%2e', '%2e', '%2f', '%2F', '%5c', '%00', '..%2f', '%2e%2e%2f', '%252e%252e', '..\\..', '\\', 'é', '%C3%A9', '%', '%zz', '%e', '~', ' ', '%20', '',
];
const path = fc
  .record({
    lead: fc.constantFrom('/', '/', '/', '', '//', '\\', './'),
    segments: fc.array(fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...SEGMENTS) }, { weight: 1, arbitrary: fc.string({ maxLength: 6 }) }), { maxLength: 6 }),
    separator: fc.constantFrom('/', '/', '/', '//', '\\', '/./', '/../'),
    trail: fc.constantFrom('', '', '/', '?', '?x=1', '#frag', '?a=/../b', '%3F'),
  })
  .map(({ lead, segments, separator, trail }) => Buffer.from(lead + segments.join(separator) + trail, 'latin1'));

export const routesTarget: FuzzTarget = {
  name: 'routes',
  maxLength: 512,
  dictionary: ['/', '..', '.', '%2e', '%2f', '%5c', '%00', '%25', '?', '#', '\\', 'chat', 'foo', 'link-out', 'dirlink', 'evil', 'index', '.ts', '_'].map((s) => Buffer.from(s, 'latin1')),
  seeds() {
    return ['/', '/chat', '/foo', '/foo/bar', '/foo/baz', '/link-out', '/dirlink/secret', '/evil/x', '/inlink', '/loop', '/dir', '/deep/a/b/c/d', '/foo/up', '/abs', '/../outside/secret', '/%2e%2e/outside/secret', '/foo/..%2f..%2foutside', '/_private', '/.hidden', '/node_modules/x', '/a@b~c', '/x..y', '/chat?x=/../y', '/%C3%A9'].map((s) => Buffer.from(s, 'latin1'));
  },
  generate: path,
  run,
  close() {
    if (tree) rmSync(tree.base, { recursive: true, force: true });
    tree = null;
  },
};
