/**
 * HTTP Basic authentication at the handshake (`Authorization: Basic base64(user:password)`),
 * or `{"cmd":"auth","data":{"username","password"}}`. With `requireAuth`, a failed handshake is
 * answered 401 with a `WWW-Authenticate: Basic realm="..."` challenge.
 */
import { stringField, type AuthResolver, type User } from './user.js';

export interface HttpBasicOptions {
  realm?: string;
  /** Returns the user for valid credentials (true means `{id: username}`), or null/false. */
  verify: (username: string, password: string) => User | boolean | null | Promise<User | boolean | null>;
}

export function httpBasic(options: HttpBasicOptions): AuthResolver {
  const realm = options.realm ?? 'switchboard';
  const check = async (username: string, password: string): Promise<User | null> => {
    const result = await options.verify(username, password);
    if (result === true) return { id: username };
    return result === false || result === null ? null : result;
  };
  return {
    name: 'http-basic',
    async fromRequest(request) {
      const header = Object.hasOwn(request.headers, 'authorization') ? request.headers['authorization'] : undefined;
      const parsed = header === undefined ? null : parseBasic(header);
      return parsed === null ? null : check(parsed.username, parsed.password);
    },
    async fromCommand(data) {
      const username = stringField(data, 'username');
      const password = stringField(data, 'password');
      return username === undefined || password === undefined ? null : check(username, password);
    },
    challenge() {
      return { 'www-authenticate': `Basic realm="${realm.replace(/["\\]/g, '')}", charset="UTF-8"` };
    },
  };
}

export function parseBasic(header: string): { username: string; password: string } | null {
  const m = /^basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (m === null) return null;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
