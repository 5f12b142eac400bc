/**
 * The admin page's static files at /_admin/ (src/web/admin.*). The page holds no data: what
 * it shows comes over its WebSocket (/_admin, token checked in the handshake).
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { WEB_DIR, type HttpRoute } from './http-routes.js';

const PAGES: Record<string, { file: string; type: string }> = {
  '/_admin/': { file: 'admin.html', type: 'text/html; charset=utf-8' },
  '/_admin/admin.js': { file: 'admin.js', type: 'text/javascript; charset=utf-8' },
  '/_admin/admin.css': { file: 'admin.css', type: 'text/css; charset=utf-8' },
};

export function adminPageRoute(): HttpRoute {
  return async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    if (path === '/_admin') {
      res.writeHead(308, { location: '/_admin/' }).end();
      return true;
    }
    const page = Object.hasOwn(PAGES, path) ? PAGES[path]! : undefined;
    if (page === undefined || WEB_DIR === null) return false;
    const body = await readFile(WEB_DIR + page.file);
    res.writeHead(200, {
      'content-type': page.type,
      'content-length': body.length,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
      'content-security-policy': "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self'; img-src 'self' data:",
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}
