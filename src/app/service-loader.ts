/**
 * Imports a service file (TypeScript through tsx's ESM API, without a build step; JavaScript
 * too, so that every load is fresh and --watch can reload) and checks its default export.
 */
import { pathToFileURL } from 'node:url';
import { isServiceDefinition, type ServiceDefinition } from './service.js';

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

export async function loadServiceDefinition(file: string): Promise<ServiceDefinition> {
  let mod: Record<string, unknown>;
  try {
    // tsx is loaded on first use: a program that only uses the WebSocket library never pays for it.
    const { tsImport } = await import('tsx/esm/api');
    mod = (await tsImport(pathToFileURL(file).href, import.meta.url)) as Record<string, unknown>;
  } catch (err) {
    throw new ServiceLoadError(file, `import failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  let def: unknown = mod['default'];
  // a CommonJS-shaped module seen through ESM interop nests the default export once more
  if (!isServiceDefinition(def) && typeof def === 'object' && def !== null && isServiceDefinition((def as { default?: unknown }).default)) {
    def = (def as { default?: unknown }).default;
  }
  // a CommonJS-shaped module without a default export shows its named exports as `default`
  const cjsNamedOnly = typeof def === 'object' && def !== null && !isServiceDefinition(def) && !Object.hasOwn(def, 'default') && Object.keys(mod).some((k) => k !== 'default' && (def as Record<string, unknown>)[k] === mod[k]);
  if (def === undefined || cjsNamedOnly) throw new ServiceLoadError(file, 'no default export (expected `export default defineService({...})`)');
  if (!isServiceDefinition(def)) throw new ServiceLoadError(file, 'the default export was not made by defineService()');
  checkDefinition(file, def);
  return def;
}

const HOOKS = ['handshake', 'open', 'message', 'close'] as const;

function checkDefinition(file: string, def: ServiceDefinition): void {
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
  if (def.isolation !== undefined && def.isolation !== 'inline') {
    throw new ServiceLoadError(file, `isolation '${def.isolation}' needs the runtime (only 'inline' is available here)`);
  }
}
