import type { Http2SecureServer, Http2Server, Http2ServerRequest, Http2Session, IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { SendBudget } from './websocket.js';

/** HTTP/2 settings of a server that takes WebSockets over extended CONNECT (RFC 8441). */
export interface Http2Options {
  /** Concurrent streams (WebSockets and requests) per HTTP/2 connection (default 100). */
  maxConcurrentStreams?: number;
  /** Bytes queued for one HTTP/2 connection, all its WebSockets together, above which each applies its slow-consumer policy (default 16 MiB). */
  maxSessionBufferBytes?: number;
  /** Per-stream flow-control window: how much a peer may send to one WebSocket before it reads (default 64 KiB - 1). */
  initialWindowSize?: number;
}

export const DEFAULT_SESSION_BUFFER_BYTES = 16 * 1024 * 1024;

export type ConnectHandler = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void;

/** The SETTINGS a server sends so that clients may open WebSockets on it. */
export function connectSettings(o: Http2Options): { enableConnectProtocol: true; maxConcurrentStreams?: number; initialWindowSize?: number } {
  return {
    enableConnectProtocol: true,
    ...(o.maxConcurrentStreams !== undefined ? { maxConcurrentStreams: o.maxConcurrentStreams } : {}),
    ...(o.initialWindowSize !== undefined ? { initialWindowSize: o.initialWindowSize } : {}),
  };
}

/**
 * Send every extended CONNECT with `:protocol websocket` on `server` to `handle`. Without a
 * 'request' listener they come as 'stream' events; once the server has one, node's
 * compatibility layer takes every stream and reports a CONNECT as a 'connect' event
 * instead (nodejs/node#36977), so both are watched and exactly one of them handles each.
 * Browsers do not fall back to HTTP/1.1 after a refused CONNECT: only a server that handles
 * them should advertise SETTINGS_ENABLE_CONNECT_PROTOCOL. Returns the detach function.
 */
export function routeExtendedConnect(server: Http2SecureServer | Http2Server, handle: ConnectHandler): () => void {
  const onStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void => {
    if (headers[':method'] !== 'CONNECT' || headers[':protocol'] !== 'websocket') return;
    if (server.listenerCount('request') > 0) return; // the 'connect' event below gets it
    handle(stream, headers);
  };
  const onConnect = (req: Http2ServerRequest): void => {
    if (req.headers[':protocol'] === 'websocket') return handle(req.stream, req.headers);
    if (server.listenerCount('connect') > 1) return; // someone else handles plain CONNECT
    req.stream.respond({ ':status': 501 });
    req.stream.end();
  };
  server.on('stream', onStream);
  server.on('connect', onConnect);
  return () => {
    server.off('stream', onStream);
    server.off('connect', onConnect);
  };
}

/** The streams of one HTTP/2 connection that carry WebSockets, and what is queued in them. */
class SessionBudget implements SendBudget {
  readonly streams = new Set<ServerHttp2Stream>();
  constructor(readonly limit: number) {}
  exceeded(): boolean {
    let bytes = 0;
    for (const s of this.streams) bytes += s.writableLength;
    return bytes > this.limit;
  }
}

/** One send budget per HTTP/2 connection, shared by the WebSockets on its streams. */
export class SessionBudgets {
  readonly #bySession = new WeakMap<Http2Session, SessionBudget>();
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** The budget `stream` joins; it leaves when the stream closes. */
  join(stream: ServerHttp2Stream): SendBudget {
    const session = stream.session!;
    let budget = this.#bySession.get(session);
    if (!budget) {
      budget = new SessionBudget(this.#limit);
      this.#bySession.set(session, budget);
    }
    const b = budget;
    b.streams.add(stream);
    stream.once('close', () => b.streams.delete(stream));
    return b;
  }
}
