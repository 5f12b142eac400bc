/**
 * Module hooks (node:module register) for service code, run on Node's loader thread:
 *
 * - `switchboard` (and its subpaths) resolves from any folder, the server's own copy
 *   answering when the service's folder has none; other imports resolve as usual.
 * - TypeScript in an ES module scope (`.mts`, or `.ts`/`.tsx` under a package.json with
 *   "type": "module") is compiled with esbuild and the output cached on disk by the hash of
 *   the source and its tsconfig, so a restart, a reload or a new worker imports it without
 *   compiling and without tsx (whose loader start-up is most of an isolated service's start).
 *   `./x.js` finds `./x.ts`, as TypeScript's NodeNext resolution writes it.
 * - A fresh import (`?sb-fresh=N`, a reload) passes its query on to the file's relative
 *   imports, so changed helper files are loaded again too; packages are shared.
 *
 * Everything else (CommonJS-scope TypeScript, tsconfig paths) is left to tsx, which
 * module-import.ts falls back to.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface ResolveContext {
  parentURL?: string;
  conditions: string[];
  importAttributes?: Record<string, string>;
}
interface Resolved {
  url: string;
  format?: string | null;
  shortCircuit?: boolean;
}
type NextResolve = (specifier: string, context?: ResolveContext) => Promise<Resolved>;
interface Loaded {
  format: string;
  source?: string | ArrayBuffer | Uint8Array;
  shortCircuit?: boolean;
}
type NextLoad = (url: string, context?: unknown) => Promise<Loaded>;

export interface HookData {
  /** The switchboard package's package.json, as a file URL: the parent its own copy resolves from. */
  parentURL: string;
  /** Where compiled TypeScript is kept; '' keeps nothing on disk. */
  cacheDir: string;
}

/** Part of every cache key: a new compiler or new options never reuse old output. */
const COMPILER = 'esbuild-0.28/esm/node20/inline-map/1';
const FRESH = 'sb-fresh';

let data: HookData = { parentURL: '', cacheDir: '' };
const packageTypes = new Map<string, string>();

export function initialize(d: HookData): void {
  data = d;
  if (d.cacheDir !== '') mkdirSync(d.cacheDir, { recursive: true, mode: 0o700 });
}

export async function resolve(specifier: string, context: ResolveContext, nextResolve: NextResolve): Promise<Resolved> {
  const resolved = await resolveSpecifier(specifier, context, nextResolve);
  return { ...resolved, url: withFreshness(resolved.url, specifier, context.parentURL) };
}

async function resolveSpecifier(specifier: string, context: ResolveContext, nextResolve: NextResolve): Promise<Resolved> {
  try {
    return await nextResolve(specifier, context);
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    if ((specifier === 'switchboard' || specifier.startsWith('switchboard/')) && data.parentURL !== '') return nextResolve(specifier, { ...context, parentURL: data.parentURL });
    const ts = typeScriptTwin(specifier);
    if (ts === undefined || !isTypeScriptParent(context.parentURL)) throw err;
    try {
      return await nextResolve(ts, context);
    } catch {
      throw err; // the error names what the file asked for
    }
  }
}

/** `./x.js` -> `./x.ts` (and .mjs -> .mts, .jsx -> .tsx) for a relative import. */
function typeScriptTwin(specifier: string): string | undefined {
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) return undefined;
  const m = /\.(m?)js(x?)$/.exec(specifier);
  return m ? `${specifier.slice(0, -m[0].length)}.${m[1]}ts${m[2]}` : undefined;
}

function isTypeScriptParent(parentURL: string | undefined): boolean {
  return parentURL !== undefined && /\.(m|c)?tsx?$/.test(new URL(parentURL).pathname);
}

function withFreshness(url: string, specifier: string, parentURL: string | undefined): string {
  if (parentURL === undefined || !url.startsWith('file:') || (!specifier.startsWith('./') && !specifier.startsWith('../'))) return url;
  const fresh = new URL(parentURL).searchParams.get(FRESH);
  if (fresh === null) return url;
  const u = new URL(url);
  if (u.search !== '' || u.pathname.includes('/node_modules/')) return url;
  u.searchParams.set(FRESH, fresh);
  return u.href;
}

export async function load(url: string, context: unknown, nextLoad: NextLoad): Promise<Loaded> {
  const source = url.startsWith('file:') ? await compiled(fileURLToPath(new URL(new URL(url).pathname, 'file:'))) : undefined;
  return source !== undefined ? { format: 'module', source, shortCircuit: true } : nextLoad(url, context);
}

/** True when the file is an ES module for Node or for these hooks (so a `?sb-fresh` import of it is a new instance). */
export function isEsmFile(path: string): boolean {
  const ext = extname(path);
  if (ext === '.mjs' || ext === '.mts') return true;
  return (ext === '.js' || ext === '.ts' || ext === '.tsx') && packageType(dirname(path)) === 'module';
}

/** The file compiled to an ES module, from the cache when its source and tsconfig were seen before; undefined when it is not ours to compile. */
async function compiled(path: string): Promise<string | undefined> {
  const ext = extname(path);
  if (!/^\.(m?ts|tsx)$/.test(ext) || !isEsmFile(path)) return undefined;
  const source = readFileSync(path, 'utf8');
  const tsconfig = nearestTsconfig(dirname(path));
  const key = createHash('sha256').update(`${COMPILER}\0${ext}\0${path}\0${tsconfig}\0${source}`).digest('hex');
  const cached = data.cacheDir === '' ? null : join(data.cacheDir, `${key}.mjs`);
  if (cached !== null) {
    try {
      return readFileSync(cached, 'utf8');
    } catch {
      // not compiled yet
    }
  }
  const { transform } = await import('esbuild');
  const out = await transform(source, {
    loader: ext === '.tsx' ? 'tsx' : 'ts',
    format: 'esm',
    target: 'node20',
    sourcemap: 'inline',
    sourcefile: path,
    ...(tsconfig !== '' ? { tsconfigRaw: tsconfig } : {}),
  });
  if (cached !== null) {
    // written whole under another name first: a reader in another process never sees half a file
    const partial = `${cached}.${process.pid}.${Date.now()}.tmp`;
    try {
      writeFileSync(partial, out.code, { mode: 0o600 });
      renameSync(partial, cached);
    } catch {
      // a cache that cannot be written only costs the next start a compile
    }
  }
  return out.code;
}

/** "module" or "commonjs", from the nearest package.json (Node's own rule for .js files). */
function packageType(dir: string): string {
  const known = packageTypes.get(dir);
  if (known !== undefined) return known;
  let type = 'commonjs';
  try {
    type = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { type?: string }).type === 'module' ? 'module' : 'commonjs';
  } catch (err) {
    const up = dirname(dir);
    if ((err as { code?: string }).code === 'ENOENT' && up !== dir) type = packageType(up);
  }
  packageTypes.set(dir, type);
  return type;
}

/** The text of the nearest tsconfig.json ('' when there is none): esbuild reads the options that change its output. */
function nearestTsconfig(dir: string): string {
  try {
    return readFileSync(join(dir, 'tsconfig.json'), 'utf8');
  } catch {
    const up = dirname(dir);
    // a tsconfig above the project's own package.json is not the project's
    return up === dir || existsSync(join(dir, 'package.json')) ? '' : nearestTsconfig(up);
  }
}
