/**
 * Maps a request path to a service file below a root directory:
 * `/chat` -> `chat.ts|.mts|.js|.mjs`, `/foo/bar` -> `foo/bar.*` or `foo/bar/index.*`, `/` -> `index.*`.
 * The path is decoded and normalised; `..` segments, encoded separators, NUL bytes, hidden
 * (`.x`) and private (`_x`) segments are refused, and a file whose real path (symlinks
 * resolved) is outside the root is never returned.
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';

export const SERVICE_EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'] as const;

export type Resolution =
  | { found: true; file: string; route: string }
  | { found: false; reason: 'bad_path' | 'not_found' | 'outside_root' };

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

  constructor(root: string) {
    this.root = root;
  }

  async resolve(urlPath: string): Promise<Resolution> {
    const segments = routeSegments(urlPath);
    if (segments === null) return { found: false, reason: 'bad_path' };
    const route = '/' + segments.join('/');
    const base = join(this.root, ...segments);
    const candidates = segments.length === 0 ? SERVICE_EXTENSIONS.map((ext) => join(this.root, 'index' + ext)) : [...SERVICE_EXTENSIONS.map((ext) => base + ext), ...SERVICE_EXTENSIONS.map((ext) => join(base, 'index' + ext))];
    const realRoot = await (this.#realRoot ??= realpath(this.root));
    let outside = false;
    for (const candidate of candidates) {
      let real: string;
      try {
        real = await realpath(candidate);
        if (!(await stat(real)).isFile()) continue;
      } catch {
        continue;
      }
      if (!real.startsWith(realRoot + sep)) {
        outside = true;
        continue;
      }
      return { found: true, file: real, route };
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
