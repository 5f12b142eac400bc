import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import net, { type Socket } from 'node:net';
import tls from 'node:tls';
import {
  acceptKey,
  buildClientRequest,
  confirmExtensions,
  DeflateFrame,
  parseHead,
  PerMessageDeflate,
  validateServerResponse,
  type DeflateFrameOptions,
  type ExtensionFactory,
  type HttpHead,
  type PerMessageDeflateOptions,
} from '../protocol/index.js';
import { resolveLimits, type Limits } from './limits.js';
import { ClientGroup } from './client-group.js';
import { WebSocket, sharedConfig } from './websocket.js';
import { connectOverHttp2 } from './client-http2.js';

export interface ClientOptions {
  /** Subprotocols to offer, in order of preference. */
  protocols?: string[];
  /** Extra request headers (e.g. Authorization, Cookie). */
  headers?: Record<string, string>;
  origin?: string;
  /** Offer permessage-deflate (RFC 7692). */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** Offer the older deflate-frame extension. */
  deflateFrame?: boolean | DeflateFrameOptions;
  /** More extensions to offer. */
  extensions?: ExtensionFactory[];
  /**
   * WebSocket over HTTP/2 (RFC 8441; wss:// only): an extended CONNECT stream on an HTTP/2
   * connection, shared with the other connections of the same `group` to the same origin.
   */
  http2?: boolean;
  /** node:tls options for wss:// (ca, rejectUnauthorized, servername, ...). */
  tls?: tls.ConnectionOptions;
  /** Follow 3xx redirects: false (default), true (up to 5) or a maximum count. */
  followRedirects?: boolean | number;
  /** Time allowed for the TCP/TLS connection and the opening handshake (ms, default 10 s). */
  handshakeTimeoutMs?: number;
  limits?: Partial<Limits>;
  streamMessages?: boolean;
  observeFrames?: boolean;
  /** Share flushing, mask randomness and zlib contexts with other connections (default: a group of its own). */
  group?: ClientGroup;
  /** Read straight into the group's memory where Node allows it (default true; see direct-reads.ts). */
  directReads?: boolean;
}

/** The server refused the upgrade, or answered something that is not a valid 101. */
export class HandshakeError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
  constructor(message: string, status = 0, headers: Record<string, string> = {}, body = '') {
    super(message);
    this.name = 'HandshakeError';
    this.status = status;
    this.headers = headers;
    this.body = body;
  }

  /**
   * Whether another attempt may succeed: no HTTP answer (network, timeout), 408, 429 or a
   * 5xx. A 4xx otherwise (no such path, not authorized), a redirect that was not followed
   * or an invalid 101 will be the same next time.
   */
  get retryable(): boolean {
    const s = this.status;
    return s === 0 || s === 408 || s === 429 || (s >= 500 && s < 600);
  }

  /** The server's Retry-After (delay-seconds or an HTTP date), in ms; undefined when absent or invalid. */
  get retryAfterMs(): number | undefined {
    const value = this.headers['retry-after']?.trim();
    if (!value) return undefined;
    const seconds = Number(value);
    if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
    const at = Date.parse(value);
    return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
  }
}

/** Open a WebSocket connection (ws:// or wss://). Resolves once the connection is open. */
export function connect(url: string | URL, options: ClientOptions = {}): Promise<WebSocket> {
  const redirects = options.followRedirects === true ? 5 : typeof options.followRedirects === 'number' ? options.followRedirects : 0;
  return attempt(new URL(url), options, redirects);
}

function attempt(target: URL, options: ClientOptions, redirectsLeft: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    let secure: boolean;
    if (target.protocol === 'ws:' || target.protocol === 'http:') secure = false;
    else if (target.protocol === 'wss:' || target.protocol === 'https:') secure = true;
    else return reject(new TypeError(`unsupported URL scheme ${target.protocol}`));
    if (target.hash) return reject(new TypeError('a WebSocket URL must not have a fragment'));
    const limits = resolveLimits(options.limits);
    const host = target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname;
    const port = target.port ? Number(target.port) : secure ? 443 : 80;
    const factories: ExtensionFactory[] = [];
    const group = options.group ?? new ClientGroup({ maskPoolBytes: 256 });
    if (options.perMessageDeflate) {
      factories.push(new PerMessageDeflate(group.zlib.factory, typeof options.perMessageDeflate === 'object' ? options.perMessageDeflate : {}));
    }
    if (options.deflateFrame) {
      factories.push(new DeflateFrame(group.zlib.factory, typeof options.deflateFrame === 'object' ? options.deflateFrame : {}));
    }
    if (options.extensions) factories.push(...options.extensions);
    const shared = () =>
      sharedConfig({
        role: 'client',
        limits,
        flushQueue: group.flushQueue,
        reads: group.reads,
        directReads: options.directReads !== false,
        maskKey: group.maskKey,
        streamMessages: options.streamMessages === true,
        observeFrames: options.observeFrames === true,
      });
    if (options.http2) {
      connectOverHttp2({
        target,
        factories,
        group,
        shared: shared(),
        handshakeTimeoutMs: options.handshakeTimeoutMs ?? 10_000,
        refused: (message, status, headers, body) => new HandshakeError(message, status, headers, body),
        ...(options.protocols ? { protocols: options.protocols } : {}),
        ...(options.headers ? { headers: options.headers } : {}),
        ...(options.origin ? { origin: options.origin } : {}),
        ...(options.tls ? { tls: options.tls } : {}),
      }).then(resolve, reject);
      return;
    }
    const key = randomBytes(16).toString('base64');
    let request: string;
    try {
      request = buildClientRequest({
        host: target.host,
        path: (target.pathname || '/') + target.search,
        key,
        ...(options.protocols ? { protocols: options.protocols } : {}),
        extensions: factories.map((f) => f.offer()).join(', '),
        ...(options.origin ? { origin: options.origin } : {}),
        ...(options.headers ? { headers: options.headers } : {}),
      });
    } catch (err) {
      return reject(err);
    }
    const socket: Socket = secure
      ? tls.connect({
          host,
          port,
          ALPNProtocols: ['http/1.1'],
          ...(net.isIP(host) ? {} : { servername: host }),
          ...options.tls,
        })
      : net.connect({ host, port });
    let settled = false;
    const timer = setTimeout(() => fail(new HandshakeError('opening handshake timed out')), options.handshakeTimeoutMs ?? 10_000);
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.once('error', fail);
    socket.once('close', () => fail(new HandshakeError('connection closed during the opening handshake')));
    socket.once(secure ? 'secureConnect' : 'connect', () => socket.write(request));
    let buf: Buffer = Buffer.alloc(0);
    let searchFrom = 0;
    let head: HttpHead | null = null;
    let headLength = 0;
    const onData = (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      if (head) return collectBody();
      const r = parseHead(buf, limits.maxHeaderBytes, searchFrom);
      if (r.kind === 'incomplete') {
        searchFrom = r.searchFrom;
        return;
      }
      if (r.kind === 'error') return fail(new HandshakeError(`invalid handshake response: ${r.reason}`));
      head = r.head;
      headLength = r.length;
      if (head.start[1] === '101') return upgraded();
      collectBody();
    };
    // A refusal: read its body (bounded) so the error can say what the server said.
    const collectBody = () => {
      const h = head!;
      const status = Number(h.start[1]);
      const location = h.headers.location;
      if (status >= 300 && status < 400 && location && redirectsLeft > 0) {
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        let next: URL;
        try {
          next = new URL(location, target);
        } catch {
          return reject(new HandshakeError(`invalid redirect location ${location}`, status, h.headers));
        }
        attempt(next, options, redirectsLeft - 1).then(resolve, reject);
        return;
      }
      const len = Number(h.headers['content-length'] ?? NaN);
      const body = buf.subarray(headLength);
      if (Number.isFinite(len) ? body.length < len && body.length < 65536 : false) return;
      fail(new HandshakeError(`server refused the upgrade: ${status} ${h.start[2]}`, status, h.headers, body.subarray(0, 65536).toString('utf8')));
    };
    const upgraded = () => {
      const h = head!;
      const accept = acceptKey(key);
      const check = validateServerResponse(h, accept, options.protocols ?? []);
      if (typeof check === 'string') return fail(new HandshakeError(`invalid handshake response: ${check}`, 101, h.headers));
      const extensions = confirmExtensions(h.headers['sec-websocket-extensions'], factories);
      if (typeof extensions === 'string') return fail(new HandshakeError(`invalid handshake response: ${extensions}`, 101, h.headers));
      settled = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.removeAllListeners('error');
      socket.removeAllListeners('close');
      const ws = new WebSocket(socket, shared(), check.protocol, extensions);
      const early = buf.subarray(headLength);
      if (early.length) {
        // Frames that came with the 101 wait until the caller's `await connect()` has resumed
        // and attached its listeners; reading pauses so later frames cannot overtake them.
        socket.pause();
        setImmediate(() => {
          ws.receive(early);
          socket.resume();
        });
      }
      resolve(ws);
    };
    socket.on('data', onData);
  });
}
