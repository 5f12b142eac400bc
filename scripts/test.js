#!/usr/bin/env node
// Runs the compiled test files with node's built-in runner.
// `node scripts/test.js` runs the unit/integration suites (no external services);
// `node scripts/test.js --all` adds the suites that need system peers (browser, python, redis, nats).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const all = process.argv.includes('--all');
const root = new URL('../dist/test/', import.meta.url).pathname;
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.test.js') || (all && name.endsWith('.e2e.js'))) files.push(path);
  }
})(root);
if (files.length === 0) {
  console.error('no test files found under', root, '- did the build run?');
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
