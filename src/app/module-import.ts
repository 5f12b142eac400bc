/**
 * The one way Switchboard imports user code: TypeScript through tsx's ESM API (no build
 * step), and fresh module instances where a file may be loaded again after it changed.
 */
import { pathToFileURL } from 'node:url';
import { resolveSwitchboardForServices } from './service-resolution.js';

const TYPESCRIPT = /\.(c|m)?tsx?$/;

/**
 * Imports a file path or file: URL. `fresh`: a new module instance even if it was imported
 * before (reloads), which goes through tsx for JavaScript too.
 */
export async function importModule(specifier: string, options: { fresh?: boolean } = {}): Promise<Record<string, unknown>> {
  const url = specifier.startsWith('file:') ? specifier : pathToFileURL(specifier).href;
  resolveSwitchboardForServices();
  if (options.fresh === true || TYPESCRIPT.test(new URL(url).pathname)) {
    // tsx is loaded on first use: a program that only uses the WebSocket library never pays for it.
    const { tsImport } = await import('tsx/esm/api');
    return (await tsImport(url, import.meta.url)) as Record<string, unknown>;
  }
  return (await import(url)) as Record<string, unknown>;
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
