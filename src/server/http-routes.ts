/**
 * The HTTP side of the app server: routes added by the composition (metrics, health, ...)
 * first, then the console page and its assets from src/web, the browser build of the
 * command client, and a JSON list of the services. Fixed file table: no path from the
 * request ever reaches the file system.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { AdminAccess } from './admin-access.js';

function firstExisting(candidates: URL[]): string | null {
  for (const url of candidates) {
    const path = fileURLToPath(url);
    if (existsSync(path)) return path;
  }
  return null;
}

/** src/web, from dist/src/server (built) or src/server (run from source). */
export const WEB_DIR = firstExisting([new URL('../../../src/web/', import.meta.url), new URL('../web/', import.meta.url)]);
/** The compiled command client: index.js and the modules it imports (served beside it). */
const CLIENT_DIR = firstExisting([new URL('../client/', import.meta.url), new URL('../../dist/src/client/', import.meta.url)].filter((u) => existsSync(new URL('index.js', u))));
const clientFile = (name: string) => () => (CLIENT_DIR ? CLIENT_DIR + name : null);
/** The client's binary frame codec (`../app/binary-frame.js` from /client.js), at the URL a browser resolves it to. */
const FRAME_CODEC_FILE = firstExisting([new URL('../app/binary-frame.js', import.meta.url), new URL('../../dist/src/app/binary-frame.js', import.meta.url)]);

const FILES: Record<string, { file: () => string | null; type: string }> = {
  '/': { file: () => (WEB_DIR ? WEB_DIR + 'index.html' : null), type: 'text/html; charset=utf-8' },
  '/console.js': { file: () => (WEB_DIR ? WEB_DIR + 'console.js' : null), type: 'text/javascript; charset=utf-8' },
  '/console.css': { file: () => (WEB_DIR ? WEB_DIR + 'console.css' : null), type: 'text/css; charset=utf-8' },
  '/client.js': { file: clientFile('index.js'), type: 'text/javascript; charset=utf-8' },
  '/live-value.js': { file: clientFile('live-value.js'), type: 'text/javascript; charset=utf-8' },
  '/json-patch.js': { file: clientFile('json-patch.js'), type: 'text/javascript; charset=utf-8' },
  '/app/binary-frame.js': { file: () => FRAME_CODEC_FILE, type: 'text/javascript; charset=utf-8' },
  '/favicon.svg': { file: () => (WEB_DIR ? WEB_DIR + 'favicon.svg' : null), type: 'image/svg+xml' },
  // what browsers and tools ask for when a page names no icon: the same SVG, not a 404
  '/favicon.ico': { file: () => (WEB_DIR ? WEB_DIR + 'favicon.svg' : null), type: 'image/svg+xml' },
};

/**
 * The console's own files: guarded like the console. The command client (/client.js and the
 * modules it imports) and the icon are a public library any page of the application loads.
 */
const CONSOLE_FILES = new Set(['/', '/console.js', '/console.css']);

/** An extra route: answers the request and returns true, or returns false to pass it on. */
export type HttpRoute = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

export interface HttpHandlerOptions {
  /** Tried in order before the built-in pages. */
  routes?: HttpRoute[];
  /** Lists the routes of the services directory (for the console's picker). */
  listRoutes: () => Promise<string[]>;
  /** True when a service answers at this path (a plain GET there gets 426). */
  isService: (path: string) => Promise<boolean>;
  /** Guards the console page, its assets and /services.json (default: open). */
  admin?: AdminAccess;
}

export function createHttpHandler(options: HttpHandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    void handle(options, req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('internal error\n');
    });
  };
}

async function handle(options: HttpHandlerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  for (const route of options.routes ?? []) if (await route(req, res)) return;
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q >= 0 ? url.slice(0, q) : url;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' });
    res.end('method not allowed\n');
    return;
  }
  const common = { 'x-content-type-options': 'nosniff', 'cache-control': 'no-cache' };
  const adminRoute = path === '/services.json' || CONSOLE_FILES.has(path);
  if (adminRoute && options.admin && !options.admin.allow(req, res)) return;
  if (path === '/services.json') {
    const body = JSON.stringify({ services: await options.listRoutes() });
    res.writeHead(200, { ...common, 'content-type': 'application/json' });
    res.end(req.method === 'HEAD' ? undefined : body);
    return;
  }
  const entry = Object.hasOwn(FILES, path) ? FILES[path]! : undefined;
  const file = entry?.file();
  if (entry !== undefined && file) {
    const body = await readFile(file);
    res.writeHead(200, { ...common, 'content-type': entry.type, 'content-length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
    return;
  }
  if (await options.isService(url)) {
    // HTTP/2 has no Upgrade (its WebSockets are extended CONNECTs) and forbids the headers
    const upgrade = req.httpVersionMajor >= 2 ? {} : { upgrade: 'websocket', connection: 'Upgrade' };
    res.writeHead(426, { ...common, 'content-type': 'text/plain', ...upgrade });
    res.end(`this path is a WebSocket service: connect with ${(req.socket as { encrypted?: boolean }).encrypted ? 'wss' : 'ws'}://\n`);
    return;
  }
  res.writeHead(404, { ...common, 'content-type': 'text/plain' });
  res.end('not found\n');
}
