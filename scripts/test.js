#!/usr/bin/env node
// Runs the compiled test files with node's built-in runner.
// `node scripts/test.js` runs the suites that need no external service (*.test.js);
// `node scripts/test.js --e2e-only` runs those that need system peers (*.e2e.js: browser, python).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const e2eOnly = process.argv.includes('--e2e-only');
const root = new URL('../dist/test/', import.meta.url).pathname;
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (e2eOnly ? name.endsWith('.e2e.js') : name.endsWith('.test.js')) files.push(path);
  }
})(root);
if (files.length === 0) {
  console.error('no test files found under', root, '- did the build run?');
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
