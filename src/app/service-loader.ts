/**
 * Loads a service file (a fresh instance each time, so --watch and reload see changes) and
 * checks its default export.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { defaultExport, importModule } from './module-import.js';
import { isServiceDefinition, type Isolation, type ServiceDefinition } from './service.js';

/** A file that could not be imported or does not export a service: answered with HTTP 500. */
export class ServiceLoadError extends Error {
  readonly file: string;
  readonly reason: string;
  constructor(file: string, reason: string, options?: { cause?: unknown }) {
    super(`cannot load service ${file}: ${reason}`, options);
    this.name = 'ServiceLoadError';
    this.file = file;
    this.reason = reason;
  }
}

/**
 * Imports a service file and checks its default export. `isolation` is where it is being
 * loaded: a definition that declares another one fails (its declaration was not readable
 * before the import; see service-declaration.ts).
 */
export async function loadServiceDefinition(file: string, isolation: Isolation = 'inline'): Promise<ServiceDefinition> {
  let mod: Record<string, unknown>;
  try {
    mod = await importModule(file, { fresh: true });
  } catch (err) {
    throw new ServiceLoadError(file, missingPackage(file, err) ?? `import failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const def = defaultExport(mod, isServiceDefinition);
  if (def === undefined) throw new ServiceLoadError(file, 'no default export (expected `export default defineService({...})`)');
  if (!isServiceDefinition(def)) throw new ServiceLoadError(file, 'the default export was not made by defineService()');
  checkDefinition(file, def, isolation);
  return def;
}

/** A bare import the service's folder cannot resolve: say what to install, and where. */
function missingPackage(file: string, err: unknown): string | undefined {
  const code = (err as { code?: string }).code;
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return undefined;
  const message = err instanceof Error ? err.message : '';
  const name = /Cannot find (?:package|module) '([^'./][^']*)'/.exec(message)?.[1];
  if (name === undefined) return undefined;
  const pkg = name.startsWith('@') ? name.split('/').slice(0, 2).join('/') : name.split('/')[0]!;
  return `cannot find package '${pkg}' imported by ${file}: install it where the service lives (npm install ${pkg} in ${projectDir(file)})`;
}

/** The folder of the nearest package.json above a file (or the file's own folder). */
function projectDir(file: string): string {
  let dir = dirname(file);
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) return dirname(file);
    dir = up;
  }
}

const HOOKS = ['handshake', 'open', 'message', 'close'] as const;

function checkDefinition(file: string, def: ServiceDefinition, isolation: Isolation): void {
  for (const hook of HOOKS) {
    if (def[hook] !== undefined && typeof def[hook] !== 'function') throw new ServiceLoadError(file, `${hook} must be a function`);
  }
  if (def.commands !== undefined) {
    if (typeof def.commands !== 'object' || def.commands === null) throw new ServiceLoadError(file, 'commands must be an object');
    for (const [name, command] of Object.entries(def.commands)) {
      if (typeof command !== 'object' || command === null || typeof command.handler !== 'function') {
        throw new ServiceLoadError(file, `command "${name}" needs a handler function`);
      }
    }
  }
  if (def.isolation !== undefined && def.isolation !== isolation) {
    throw new ServiceLoadError(file, `defines isolation '${def.isolation}' but was loaded as '${isolation}': write it as a string literal in defineService({ isolation: '...' }) or \`export const isolation = '...'\` so the server can read it before running the file`);
  }
}
