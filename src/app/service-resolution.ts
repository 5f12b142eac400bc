/**
 * Services import `switchboard` wherever they live: a directory served with `switchboard
 * serve /some/app/services` needs no `npm install switchboard` of its own. ES modules get
 * module hooks (service-module-hooks.ts, which also compile and cache TypeScript); CommonJS (a service in a package without "type": "module") falls back
 * to the server's copy in Module._resolveFilename, the same seam tsx and other loaders use.
 */
import { existsSync, readFileSync } from 'node:fs';
import Module, { createRequire, register } from 'node:module';
import { dirname, join } from 'node:path';
import { tmpdir, userInfo } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { HookData } from './service-module-hooks.js';

let installed = false;

/** The root of the switchboard package this code belongs to. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'switchboard') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('switchboard: cannot find its own package.json');
    dir = up;
  }
}

/** SWITCHBOARD_COMPILE_CACHE (a directory, or `off`); by default one per user in the temp directory. */
function compileCacheDir(): string {
  const configured = process.env['SWITCHBOARD_COMPILE_CACHE'];
  if (configured === 'off') return '';
  if (configured !== undefined && configured !== '') return configured;
  let user: string;
  try {
    user = String(userInfo().uid >= 0 ? userInfo().uid : userInfo().username);
  } catch {
    user = 'user';
  }
  return join(tmpdir(), `switchboard-compile-${user}`);
}

export function resolveSwitchboardForServices(): void {
  if (installed) return;
  installed = true;
  const manifest = join(packageRoot(), 'package.json');
  const data: HookData = { parentURL: pathToFileURL(manifest).href, cacheDir: compileCacheDir() };
  register(new URL('./service-module-hooks.js', import.meta.url), { data });
  const ownRequire = createRequire(manifest);
  type ResolveFilename = (request: string, parent: unknown, isMain: boolean, options?: unknown) => string;
  const moduleWithResolver = Module as unknown as { _resolveFilename: ResolveFilename };
  const original = moduleWithResolver._resolveFilename;
  moduleWithResolver._resolveFilename = function (request, parent, isMain, options) {
    try {
      return original.call(this, request, parent, isMain, options);
    } catch (err) {
      if ((request !== 'switchboard' && !request.startsWith('switchboard/')) || (err as { code?: string }).code !== 'MODULE_NOT_FOUND') throw err;
      return ownRequire.resolve(request);
    }
  };
}
