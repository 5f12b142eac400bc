/**
 * Services import `switchboard` wherever they live: a directory served with `switchboard
 * serve /some/app/services` needs no `npm install switchboard` of its own. ES modules get a
 * resolution hook; CommonJS (a service in a package without "type": "module") falls back
 * to the server's copy in Module._resolveFilename, the same seam tsx and other loaders use.
 */
import { existsSync, readFileSync } from 'node:fs';
import Module, { createRequire, register } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

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

export function resolveSwitchboardForServices(): void {
  if (installed) return;
  installed = true;
  const manifest = join(packageRoot(), 'package.json');
  register(new URL('./service-resolve-hook.js', import.meta.url), { data: { parentURL: pathToFileURL(manifest).href } });
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
