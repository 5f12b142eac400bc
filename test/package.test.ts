// What `npm pack` would ship (npm's own file list, without running the build again): a
// license, no install scripts, source maps that carry their sources, and a README whose
// file references exist.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './app/helpers.js';

interface PackedFile {
  path: string;
}

const packed = ((): string[] => {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as Array<{ files: PackedFile[] }>)[0]!.files.map((f) => f.path);
})();
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { license: string; scripts: Record<string, string> };

test('the package ships the MIT license, the README, the CLI, the built code and types, the console files', () => {
  for (const f of ['LICENSE', 'README.md', 'package.json', 'bin/switchboard.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/main.js', 'src/web/index.html', 'src/web/favicon.svg']) {
    assert.ok(packed.includes(f), `${f} is in the package`);
  }
  assert.equal(pkg.license, 'MIT');
  const license = readFileSync(join(REPO, 'LICENSE'), 'utf8');
  assert.match(license, /^MIT License\n\nCopyright \(c\) 2026 The Switchboard authors\n/);
  assert.deepEqual(packed.filter((f) => f.startsWith('src/') && !f.startsWith('src/web/')), [], 'TypeScript sources travel inside the source maps');
  assert.deepEqual(packed.filter((f) => f.startsWith('dist/test/') || f.startsWith('dist/bench/')), []);
});

test('installing the package runs none of its scripts (the build happens in prepack)', () => {
  for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) assert.equal(pkg.scripts[hook], undefined, `no "${hook}" script`);
  assert.equal(pkg.scripts.prepack, 'npm run build');
});

test('every shipped source map carries the content of its sources', () => {
  const maps = packed.filter((f) => f.endsWith('.js.map'));
  assert.ok(maps.length > 50, `${maps.length} maps`);
  for (const f of maps) {
    const map = JSON.parse(readFileSync(join(REPO, f), 'utf8')) as { sources: string[]; sourcesContent?: Array<string | null> };
    assert.equal(map.sourcesContent?.length, map.sources.length, `${f}: sourcesContent`);
    assert.ok(map.sourcesContent!.every((c) => typeof c === 'string' && c.length > 0), `${f}: every source inlined`);
  }
});

test('documents and links the README names exist in the repository', () => {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const named = new Set<string>();
  for (const m of readme.matchAll(/`([\w./-]+\.md)`/g)) named.add(m[1]!);
  for (const m of readme.matchAll(/\]\(((?!https?:|#|\/)[^)\s]+)\)/g)) named.add(m[1]!); // relative links
  assert.ok(named.has('bench/README.md'));
  assert.deepEqual([...named].filter((f) => !existsSync(join(REPO, f))), []);
});
