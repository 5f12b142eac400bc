// Switchboard's own version, read from its package.json. Not npm_package_version: under
// `npm run`/`npx` that is the version of the project that runs the command.
import { readFileSync } from 'node:fs';

let cached: string | undefined;

export function switchboardVersion(): string {
  if (cached !== undefined) return cached;
  // dist/src/cli/ (built) or src/cli/ (from source): the package root is a few levels up
  for (let dir = new URL('./', import.meta.url); ; dir = new URL('../', dir)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'switchboard' && typeof pkg.version === 'string') return (cached = pkg.version);
    } catch {
      /* no package.json here */
    }
    if (new URL('../', dir).href === dir.href) return (cached = 'unknown');
  }
}
