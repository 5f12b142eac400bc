// Switchboard's own package.json: its version, and the versions of what a scaffolded project
// needs beside it. Not npm_package_version: under `npm run`/`npx` that is the version of the
// project that runs the command.
import { readFileSync } from 'node:fs';

export interface OwnPackage {
  name: string;
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

let cached: OwnPackage | undefined;

export function switchboardPackage(): OwnPackage {
  if (cached !== undefined) return cached;
  // dist/src/cli/ (built) or src/cli/ (from source): the package root is a few levels up
  for (let dir = new URL('./', import.meta.url); ; dir = new URL('../', dir)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as Partial<OwnPackage>;
      if (pkg.name === 'switchboard' && typeof pkg.version === 'string') {
        return (cached = { name: pkg.name, version: pkg.version, dependencies: pkg.dependencies ?? {}, devDependencies: pkg.devDependencies ?? {} });
      }
    } catch {
      /* no package.json here */
    }
    if (new URL('../', dir).href === dir.href) return (cached = { name: 'switchboard', version: 'unknown', dependencies: {}, devDependencies: {} });
  }
}

export const switchboardVersion = (): string => switchboardPackage().version;
