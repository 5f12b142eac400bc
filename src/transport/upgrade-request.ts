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

/**
 * `headers` come either from node:http (values may be arrays) or from our own head parser
 * (`flat`: already one lower-case string per name, used as is).
 */
export function buildUpgradeRequest(
  method: string,
  url: string,
  headers: Record<string, string | string[] | undefined>,
  socket: Socket,
  protocols: string[],
  extensions: string[],
  flat = false,
): UpgradeRequest {
  let h: Record<string, string>;
  if (flat) {
    h = headers as Record<string, string>;
  } else {
    h = {};
    for (const k of Object.keys(headers)) {
      const v = headers[k];
      if (v !== undefined) h[k] = Array.isArray(v) ? v.join(k === 'cookie' ? '; ' : ', ') : v;
    }
  }
  const q = url.indexOf('?');
  let path = q === -1 ? url : url.slice(0, q);
  if (path.includes('%')) {
    try {
      path = decodeURIComponent(path);
    } catch {
      // keep the raw path: a malformed escape is the router's problem, not a crash
    }
  }
  const query: Record<string, string> = {};
  if (q !== -1) for (const [k, v] of new URLSearchParams(url.slice(q + 1))) if (!(k in query)) query[k] = v;
  const cookie = h.cookie;
  const req: UpgradeRequest = {
    method,
    url,
    path,
    query,
    headers: h,
    cookies: cookie ? parseCookies(cookie) : {},
    protocols,
    extensions,
    // The peer address costs a getpeername() syscall: read only if someone asks. Node caches
    // it on the socket once read, and these accessors are enumerable own properties, so
    // structuredClone copies their values like any other field.
    get remoteAddress() {
      return socket.remoteAddress ?? '';
    },
    get remotePort() {
      return socket.remotePort ?? 0;
    },
    secure: (socket as Socket & { encrypted?: boolean }).encrypted === true,
  };
  if (h.origin !== undefined) req.origin = h.origin;
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
