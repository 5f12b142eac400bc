/**
 * HMAC-SHA256 signed session cookie: `base64url(JSON {u: user, exp}) + "." + base64url(mac)`.
 * `signSession` makes the value (set it from your login page); `sessionCookie` reads it from the
 * handshake's cookies, or from `{"cmd":"auth","data":{"session":"..."}}`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { stringField, type AuthResolver, type User } from './user.js';

export interface SessionCookieOptions {
  /** The HMAC key: at least 32 bytes of secret. */
  secret: string | Uint8Array;
  /** Cookie name. Default `sb_session`. */
  cookie?: string;
  /**
   * Origins allowed to authenticate with the cookie at the handshake. Browsers send cookies on
   * cross-site WebSocket handshakes, so without this any site a user visits could open an
   * authenticated connection (cross-site WebSocket hijacking). Give your site's origins, or
   * use the server's Origin allowlist (`--origin`).
   */
  origins?: string[];
  /** Clock override for tests (ms since epoch). */
  now?: () => number;
}

export interface SignOptions {
  secret: string | Uint8Array;
  /** Lifetime in seconds (default 86400). */
  expiresIn?: number;
  now?: () => number;
}

export function signSession(user: User, options: SignOptions): string {
  checkSecret(options.secret);
  const now = (options.now ?? Date.now)();
  const payload = Buffer.from(JSON.stringify({ u: user, exp: Math.floor(now / 1000) + (options.expiresIn ?? 86400) })).toString('base64url');
  return `${payload}.${mac(options.secret, payload)}`;
}

/** Returns the user of a valid, unexpired value, or null (forged, malformed, expired). */
export function verifySession(value: string, secret: string | Uint8Array, now: number = Date.now()): User | null {
  const dot = value.indexOf('.');
  if (dot <= 0 || dot !== value.lastIndexOf('.')) return null;
  const payload = value.slice(0, dot);
  const expected = Buffer.from(mac(secret, payload));
  const given = Buffer.from(value.slice(dot + 1));
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const { u, exp } = parsed as { u?: unknown; exp?: unknown };
  if (typeof exp !== 'number' || exp * 1000 <= now) return null;
  if (typeof u !== 'object' || u === null || typeof (u as User).id !== 'string') return null;
  return u as User;
}

export function sessionCookie(options: SessionCookieOptions): AuthResolver {
  checkSecret(options.secret);
  const name = options.cookie ?? 'sb_session';
  const now = options.now ?? Date.now;
  return {
    name: 'session-cookie',
    fromRequest(request) {
      if (options.origins !== undefined && (request.origin === undefined || !options.origins.includes(request.origin))) return null;
      const value = Object.hasOwn(request.cookies, name) ? request.cookies[name] : undefined;
      return value === undefined ? null : verifySession(decodeURIComponent(value), options.secret, now());
    },
    fromCommand(data) {
      const value = stringField(data, 'session');
      return value === undefined ? null : verifySession(value, options.secret, now());
    },
  };
}

function mac(secret: string | Uint8Array, payload: string): string {
  return createHmac('sha256', secret).update(payload).digest('base64url');
}

function checkSecret(secret: string | Uint8Array): void {
  if (secret.length < 32) throw new TypeError('session secret must be at least 32 bytes');
}
