import type { Socket } from 'node:net';

/** What a handshake hook sees: plain, structured-clone-able data (it may cross to a worker). */
export interface UpgradeRequest {
  method: string;
  /** Request target as sent, e.g. "/chat?room=1". */
  url: string;
  /** Decoded path without the query. */
  path: string;
  query: Record<string, string>;
  /** Lower-case header names; repeated headers joined with ", " (cookies with "; "). */
  headers: Record<string, string>;
  cookies: Record<string, string>;
  origin?: string;
  /** Subprotocols offered by the client, in its order of preference. */
  protocols: string[];
  /** Extension names offered by the client. */
  extensions: string[];
  remoteAddress: string;
  remotePort: number;
  secure: boolean;
  /** Set by HTTP Basic authentication when it succeeded. */
  user?: string;
}

export function buildUpgradeRequest(
  method: string,
  url: string,
  headers: Record<string, string | string[] | undefined>,
  socket: Socket,
  protocols: string[],
  extensions: string[],
): UpgradeRequest {
  const flat: Record<string, string> = {};
  for (const k of Object.keys(headers)) {
    const v = headers[k];
    if (v !== undefined) flat[k] = Array.isArray(v) ? v.join(k === 'cookie' ? '; ' : ', ') : v;
  }
  const q = url.indexOf('?');
  const rawPath = q === -1 ? url : url.slice(0, q);
  let path = rawPath;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    // keep the raw path: a malformed escape is the router's problem, not a crash
  }
  const query: Record<string, string> = {};
  if (q !== -1) for (const [k, v] of new URLSearchParams(url.slice(q + 1))) if (!(k in query)) query[k] = v;
  const req: UpgradeRequest = {
    method,
    url,
    path,
    query,
    headers: flat,
    cookies: flat.cookie ? parseCookies(flat.cookie) : {},
    protocols,
    extensions,
    remoteAddress: '',
    remotePort: 0,
    secure: (socket as Socket & { encrypted?: boolean }).encrypted === true,
  };
  // The peer address costs a getpeername() syscall: read it only if someone asks. The
  // accessors are enumerable, so structuredClone still copies the values.
  // Node caches the peer address on the socket once read, so the first access (usually in a
  // handshake hook or 'connection' listener, while the socket is open) fixes it.
  Object.defineProperty(req, 'remoteAddress', { enumerable: true, configurable: true, get: () => socket.remoteAddress ?? '' });
  Object.defineProperty(req, 'remotePort', { enumerable: true, configurable: true, get: () => socket.remotePort ?? 0 });
  if (flat.origin !== undefined) req.origin = flat.origin;
  return req;
}

/** RFC 6265 cookie header: "a=1; b=2". Values are URI-decoded when they can be. */
export function parseCookies(header: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value[0] === '"' && value[value.length - 1] === '"') value = value.slice(1, -1);
    if (!name || name in out) continue;
    try {
      out[name] = decodeURIComponent(value);
    } catch {
      out[name] = value;
    }
  }
  return { ...out };
}
