/**
 * Who may see the console page and the other admin routes of the main port. On loopback
 * they are open, as a developer expects; beyond it (host 0.0.0.0, a public address) they are
 * off unless a token is configured, and then every request must carry it — as
 * `Authorization: Bearer <token>`, or as the password of HTTP Basic so that a browser can
 * open the page (it prompts, then sends it with the page's own requests).
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** 'auto': on for loopback, or with a token; 'on': always (with the token if there is one); 'off': never. */
export type ConsoleMode = 'auto' | 'on' | 'off';

export interface AdminAccessOptions {
  console: ConsoleMode;
  token?: string | undefined;
  /** The interface the server listens on. */
  host: string;
}

export interface AdminAccess {
  /** The admin routes are served at all. */
  readonly served: boolean;
  /** True when the request may go on; otherwise the refusal (404 or 401) is written. */
  allow(req: IncomingMessage, res: ServerResponse): boolean;
}

/** True for an interface only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || /^::ffff:127\.\d+\.\d+\.\d+$/.test(h);
}

export function adminAccess(o: AdminAccessOptions): AdminAccess {
  const token = o.token;
  const served = o.console === 'on' || (o.console === 'auto' && (isLoopbackHost(o.host) || token !== undefined));
  return {
    served,
    allow(req, res) {
      if (!served) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        return false;
      }
      if (token === undefined || presentsToken(req.headers.authorization, token)) return true;
      res.writeHead(401, { 'www-authenticate': 'Basic realm="switchboard admin", charset="UTF-8"', 'content-type': 'text/plain' }).end('unauthorized\n');
      return false;
    },
  };
}

/** `Authorization: Bearer <token>` or Basic with `<token>` as the password (any user). */
export function presentsToken(header: string | undefined, token: string): boolean {
  if (header === undefined) return false;
  const sp = header.indexOf(' ');
  if (sp === -1) return false;
  const scheme = header.slice(0, sp).toLowerCase();
  const value = header.slice(sp + 1).trim();
  if (scheme === 'bearer') return sameSecret(value, token);
  if (scheme !== 'basic') return false;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon !== -1 && sameSecret(decoded.slice(colon + 1), token);
}

/** Compares digests in constant time: neither the token's length nor its prefix leaks through timing. */
function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
