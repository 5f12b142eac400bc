#!/usr/bin/env node
// Runs the compiled tests with node's built-in runner, source maps on (stack traces point
// into src/ and test/, not dist/).
//   node scripts/test.js                    suites that need no external service (*.test.js)
//   node scripts/test.js --e2e-only         suites that need system peers (*.e2e.js: browser, python, brokers)
//   node scripts/test.js rooms app/hooks    only files whose path (below test/) contains one of the patterns
//   --retry-once                            when the run fails, run it again once, saying so (test:all's
//                                           e2e suites: see the README's Tests section for why)
// Other arguments starting with -- (e.g. --test-name-pattern=resume) go to node --test.
// `npm run build` empties dist/ first, so a deleted test cannot keep running from it.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const e2eOnly = args.includes('--e2e-only');
const retryOnce = args.includes('--retry-once');
const passThrough = args.filter((a) => a.startsWith('--') && a !== '--e2e-only' && a !== '--retry-once');
const patterns = args.filter((a) => !a.startsWith('--'));
const root = new URL('../dist/test/', import.meta.url).pathname;
const files = [];
(function walk(dir) {
  let names;
  try {
    names = readdirSync(dir).sort();
  } catch {
    return;
  }
  for (const name of names) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (e2eOnly ? name.endsWith('.e2e.js') : name.endsWith('.test.js')) files.push(path);
  }
})(root);
const chosen = patterns.length === 0 ? files : files.filter((f) => patterns.some((p) => relative(root, f).includes(p.replace(/\.ts$/, ''))));
if (chosen.length === 0) {
  console.error(files.length === 0 ? `no test files under ${root}: did the build run?` : `no test file matches ${patterns.join(', ')}`);
  process.exit(1);
}
const run = () => spawnSync(process.execPath, ['--enable-source-maps', '--test', '--test-concurrency=2', ...passThrough, ...chosen], { stdio: 'inherit' }).status ?? 1;
let status = run();
if (status !== 0 && retryOnce) {
  console.error('\ntest.js: the run above FAILED (its failures are listed there); running it once more (--retry-once)\n');
  status = run();
  console.error(status === 0 ? '\ntest.js: passed on the second run: the failure above is intermittent (see the README, Tests)\n' : '\ntest.js: failed twice\n');
}
process.exit(status);
