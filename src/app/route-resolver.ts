/**
 * Maps a request path to a service file below a root directory:
 * `/chat` -> `chat.ts|.mts|.js|.mjs`, `/foo/bar` -> `foo/bar.*` or `foo/bar/index.*`, `/` -> `index.*`.
 * The path is decoded and normalised; `..` segments, encoded separators, NUL bytes, hidden
 * (`.x`) and private (`_x`) segments are refused, and a file whose real path (symlinks
 * resolved) is outside the root is never returned.
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import { join, resolve as resolvePath, sep } from 'node:path';
import { ResolutionCache } from './resolution-cache.js';

export const SERVICE_EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'] as const;

export type Resolution =
  | { found: true; file: string; route: string }
  | { found: false; reason: 'bad_path' | 'not_found' | 'outside_root' };

/** A resolution with the candidate name that matched (below the root). */
type Resolved = Exclude<Resolution, { found: true }> | { found: true; file: string; route: string; relative: string };

function publicResolution(r: Resolved): Resolution {
  return r.found ? { found: true, file: r.file, route: r.route } : r;
}

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._@~-]*$/;

/** Splits a URL path into safe segments, or null when it must not reach the file system. */
export function routeSegments(urlPath: string): string[] | null {
  const q = urlPath.search(/[?#]/);
  const raw = q >= 0 ? urlPath.slice(0, q) : urlPath;
  if (!raw.startsWith('/')) return null;
  const segments: string[] = [];
  for (const part of raw.split('/')) {
    if (part === '') continue;
    let seg: string;
    try {
      seg = decodeURIComponent(part);
    } catch {
      return null;
    }
    if (seg === '.' || seg === '..' || !SEGMENT.test(seg)) return null;
    segments.push(seg);
  }
  return segments;
}

export class RouteResolver {
  readonly root: string;
  #realRoot: Promise<string> | undefined;
  readonly #cache: ResolutionCache<Resolved>;

  constructor(root: string) {
    this.root = root;
    this.#cache = new ResolutionCache(resolvePath(root));
  }

  async resolve(urlPath: string): Promise<Resolution> {
    const segments = routeSegments(urlPath);
    if (segments === null) return { found: false, reason: 'bad_path' };
    const route = '/' + segments.join('/');
    const realRoot = await (this.#realRoot ??= realpath(this.root));
    // the candidates live in the route's parent directory (`foo/bar.ts`) and its own (`foo/bar/index.ts`)
    const dirs = segments.length === 0 ? [resolvePath(this.root)] : [resolvePath(this.root, ...segments.slice(0, -1)), resolvePath(this.root, ...segments)];
    return this.#cache.get(
      route,
      dirs,
      () => this.#resolve(segments, route, realRoot),
      // a file reached through a symlink may change where no watch looks; a path outside is logged each time
      (r) => (r.found ? r.file === join(realRoot, r.relative) : r.reason === 'not_found'),
    ).then(publicResolution);
  }

  /** Drops cached resolutions (a rescan: whatever changed is seen by the next request). */
  forget(): void {
    this.#cache.invalidate();
  }

  /** Stops watching the directory for changes; resolutions are no longer cached. */
  close(): void {
    this.#cache.close();
  }

  async #resolve(segments: string[], route: string, realRoot: string): Promise<Resolved> {
    const base = join(...segments);
    const names = segments.length === 0 ? SERVICE_EXTENSIONS.map((ext) => 'index' + ext) : [...SERVICE_EXTENSIONS.map((ext) => base + ext), ...SERVICE_EXTENSIONS.map((ext) => join(base, 'index' + ext))];
    let outside = false;
    for (const name of names) {
      let real: string;
      try {
        real = await realpath(join(this.root, name));
        if (!(await stat(real)).isFile()) continue;
      } catch {
        continue;
      }
      if (!real.startsWith(realRoot + sep)) {
        outside = true;
        continue;
      }
      return { found: true, file: real, route, relative: name };
    }
    return { found: false, reason: outside ? 'outside_root' : 'not_found' };
  }

  /** Every route the directory serves (candidate files; whether each loads is not checked). */
  async listRoutes(): Promise<string[]> {
    const routes = new Set<string>();
    const walk = async (dir: string, prefix: string[], depth: number): Promise<void> => {
      if (depth > 16) return;
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        if (!SEGMENT.test(e.name) || e.name === 'node_modules') continue;
        if (e.isDirectory()) {
          await walk(join(dir, e.name), [...prefix, e.name], depth + 1);
          continue;
        }
        const ext = SERVICE_EXTENSIONS.find((x) => e.name.endsWith(x));
        if (ext === undefined || e.name.endsWith('.d.ts')) continue;
        const base = e.name.slice(0, -ext.length);
        const segments = base === 'index' ? prefix : [...prefix, base];
        const route = '/' + segments.join('/');
        if ((await this.resolve(route)).found) routes.add(route);
      }
    };
    await walk(this.root, [], 0);
    return [...routes].sort();
  }
}
