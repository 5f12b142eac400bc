/**
 * The one way Switchboard imports user code. ES modules, TypeScript included, are imported
 * natively through the service module hooks (service-module-hooks.ts: TypeScript compiled
 * once and cached on disk by content hash), fresh instances by a `?sb-fresh=N` query; what
 * those hooks leave alone (CommonJS, TypeScript in a CommonJS scope, tsconfig paths,
 * extensionless imports) goes through tsx's ESM API as before, and so does everything with
 * SWITCHBOARD_TS_LOADER=tsx (the way back, should the native path ever misbehave).
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isEsmFile } from './service-module-hooks.js';
import { resolveSwitchboardForServices } from './service-resolution.js';

const TYPESCRIPT = /\.(c|m)?tsx?$/;

/** Errors of resolving and linking (nothing has run yet): tsx may still load the file. */
const NOT_LOADABLE_NATIVELY = new Set(['ERR_MODULE_NOT_FOUND', 'ERR_UNKNOWN_FILE_EXTENSION', 'ERR_UNSUPPORTED_DIR_IMPORT', 'ERR_IMPORT_ATTRIBUTE_MISSING', 'ERR_IMPORT_ASSERTION_TYPE_MISSING']);

let freshness = 0;

/**
 * Imports a file path or file: URL. `fresh`: a new module instance even if it was imported
 * before (reloads), with new instances of its relative imports too.
 */
export async function importModule(specifier: string, options: { fresh?: boolean } = {}): Promise<Record<string, unknown>> {
  const url = specifier.startsWith('file:') ? specifier : pathToFileURL(specifier).href;
  resolveSwitchboardForServices();
  const typescript = TYPESCRIPT.test(new URL(url).pathname);
  if (options.fresh !== true && !typescript) return (await import(url)) as Record<string, unknown>;
  if (process.env['SWITCHBOARD_TS_LOADER'] !== 'tsx' && isEsmFile(fileURLToPath(new URL(new URL(url).pathname, 'file:')))) {
    try {
      return (await import(options.fresh === true ? `${url}${url.includes('?') ? '&' : '?'}sb-fresh=${++freshness}` : url)) as Record<string, unknown>;
    } catch (err) {
      if (!NOT_LOADABLE_NATIVELY.has((err as { code?: string }).code ?? '')) throw err;
    }
  }
  // tsx is loaded on first use: a program that only uses the WebSocket library never pays for it.
  const { tsImport } = await import('tsx/esm/api');
  return (await tsImport(url, import.meta.url)) as Record<string, unknown>;
}

/**
 * The default export, seen through CommonJS interop: a CommonJS-shaped module nests it once
 * more (`mod.default.default`), and one without a default export shows its named exports
 * as `default` (then there is none: undefined).
 */
export function defaultExport(mod: Record<string, unknown>, accept: (value: unknown) => boolean): unknown {
  const value = mod['default'];
  if (accept(value)) return value;
  if (typeof value === 'object' && value !== null) {
    const nested = (value as { default?: unknown }).default;
    if (accept(nested)) return nested;
    const namedOnly = !Object.hasOwn(value, 'default') && Object.keys(mod).some((k) => k !== 'default' && (value as Record<string, unknown>)[k] === mod[k]);
    if (namedOnly) return undefined;
  }
  return value;
}
