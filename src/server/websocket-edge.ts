/**
 * The edge between the transport and the app: the only module that sees both. It turns a
 * WebSocket upgrade into admit -> open(port), each message into app.message, the peer's
 * Close frame into app.peerClose and the end of the connection into app.closed; the port
 * it hands the app writes through the WebSocket. The app never sees a socket or a frame.
 *
 * It is also where the abuse limits that need a socket bite: per client address (connections,
 * handshake rate: HTTP 429 before the request reaches the app) and per connection (message and
 * byte rates, as each message arrives).
 */
import type { IncomingMessage } from 'node:http';
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import { buildRejectResponse } from '../protocol/index.js';
import type { Admission, App } from '../app/app.js';
import type { ConnectionPort, Framer } from '../app/connection-port.js';
import type { Logger } from '../app/logger.js';
import type { AppObserver } from '../app/observer.js';
import { WebSocketServer, type ServerOptions } from '../transport/server.js';
import type { UpgradeRequest } from '../transport/upgrade-request.js';
import { CONNECTION_LIMIT_KEYS, type ConnectionLimitOverrides } from '../transport/limits.js';
import { prepareMessage, type PreparedMessage, type WebSocket } from '../transport/websocket.js';
import type { ServiceLimits } from '../app/service.js';
import { AddressGuard, type AddressVerdict } from './address-guard.js';
import { clientAddress, trustedProxies, unmapped, type TrustedProxies } from './client-address.js';
import { resolveEdgeLimits, type EdgeLimits } from './edge-limits.js';
import { MessageRate } from './message-rate.js';

export type EdgeTransportOptions = Pick<ServerOptions, 'limits' | 'perMessageDeflate' | 'origins' | 'basicAuth' | 'http2'>;

/** Frames a fan-out once, as the transport writes it. */
export const preparedFramer: Framer<PreparedMessage> = { frame: (data, binary) => prepareMessage(data, binary) };

class WebSocketPort implements ConnectionPort<PreparedMessage> {
  constructor(readonly ws: WebSocket) {}
  send(data: string | Uint8Array, binary: boolean): void {
    this.ws.send(data, { binary });
  }
  sendFramed(message: PreparedMessage): void {
    this.ws.sendPrepared(message);
  }
  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }
}

export interface WebSocketEdge {
  readonly wss: WebSocketServer;
  /** An http.Server 'upgrade' event. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** An HTTP/2 extended CONNECT (RFC 8441): the same services, limits and hooks over a stream. */
  connect(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void;
  /** Stops the per-address bookkeeping's sweep. */
  stop(): void;
}

/** What carried a connection's handshake: an HTTP/1.1 Upgrade or an HTTP/2 extended CONNECT. Known here and below, never to the app. */
export type Carriage = 'http/1.1' | 'h2';

export interface EdgeOptions {
  transport?: EdgeTransportOptions;
  /** Abuse limits (defaults: DEFAULT_EDGE_LIMITS). */
  limits?: Partial<EdgeLimits>;
  log: Logger;
  observer?: AppObserver;
  onOpen?: (id: string, route: string, via: Carriage) => void;
}

/** The transport limits a service set for its own connections. */
function transportOverrides(l: ServiceLimits | undefined): ConnectionLimitOverrides | undefined {
  if (l === undefined || !CONNECTION_LIMIT_KEYS.some((k) => l[k] !== undefined)) return undefined;
  const out: Record<string, unknown> = {};
  for (const k of CONNECTION_LIMIT_KEYS) if (l[k] !== undefined) out[k] = l[k];
  return out as ConnectionLimitOverrides;
}

/**
 * Behind a trusted proxy, services see the client's address in `request.remoteAddress` (the
 * one the per-address limits count), not the proxy's.
 */
function showClientAddress(request: UpgradeRequest, trusted: TrustedProxies): void {
  const peer = request.remoteAddress;
  const client = clientAddress(peer, request.headers, trusted);
  if (client !== unmapped(peer)) Object.defineProperty(request, 'remoteAddress', { value: client, enumerable: true, writable: true, configurable: true });
}

export function websocketEdge(app: App<PreparedMessage>, o: EdgeOptions): WebSocketEdge {
  const limits = resolveEdgeLimits(o.limits);
  const trusted = trustedProxies(limits.trustProxy);
  const behindProxies = limits.trustProxy.length > 0;
  const guard = new AddressGuard(limits);
  const admissions = new WeakMap<UpgradeRequest, Admission>();
  const ids = new WeakMap<WebSocket, string>();
  const wss = new WebSocketServer({
    ...o.transport,
    noServer: true,
    handshake: async (request) => {
      if (behindProxies) showClientAddress(request, trusted);
      const d = await app.admit(request);
      if (!d.accept) return { reject: { status: d.status, reason: d.reason, ...(d.headers ? { headers: d.headers } : {}) } };
      admissions.set(request, d.admission);
      const a = d.admission;
      const own = transportOverrides(a.limits);
      return { ...(a.protocol ? { protocol: a.protocol } : {}), ...(a.headers ? { headers: a.headers } : {}), ...(own ? { limits: own } : {}) };
    },
    onCloseFrame: (ws, code, reason) => {
      // the service's close hook may choose the reply; otherwise echo the peer's code and reason
      const id = ids.get(ws);
      const chosen = id === undefined ? undefined : app.peerClose(id, code, reason);
      return chosen ?? (code === 1005 || code === 1006 ? undefined : { code, reason });
    },
  });
  wss.on('rejected', (request, status, reason) => o.observer?.handshakeRejected?.({ path: request?.path ?? '', status, reason }));
  wss.on('error', (err) => o.log.warn({ err }, 'handshake error'));
  const opened = (ws: WebSocket, request: UpgradeRequest, via: Carriage): void => {
    const admission = admissions.get(request);
    admissions.delete(request);
    if (admission === undefined) {
      ws.close(1011, 'internal error');
      return;
    }
    let id: string;
    try {
      id = app.open(new WebSocketPort(ws), request, admission);
    } catch (err) {
      o.log.error({ err }, 'opening the connection failed');
      ws.close(1011, 'internal error');
      return;
    }
    ids.set(ws, id);
    const own = admission.limits;
    const rate = MessageRate.for({
      messagesPerSecond: own?.messagesPerSecond ?? limits.messagesPerSecond,
      messageBurst: own?.messageBurst ?? limits.messageBurst,
      bytesPerSecond: own?.bytesPerSecond ?? limits.bytesPerSecond,
      byteBurst: own?.byteBurst ?? limits.byteBurst,
    });
    const overRate = own?.overRate ?? limits.overRate;
    let refusing = false;
    ws.on('message', (data, isBinary) => {
      if (refusing) return;
      const over = rate?.take(data.length);
      if (over !== undefined) {
        o.observer?.limitExceeded?.({ limit: over, action: overRate === 'close' ? 'closed' : 'dropped', route: admission.route, connection: id });
        if (overRate === 'drop') return;
        // nothing more from this client reaches the service, even what is already on its way
        refusing = true;
        ws.close(1008, over === 'message_rate' ? 'message rate exceeded' : 'byte rate exceeded');
        return;
      }
      // text goes as its bytes (validated UTF-8): the app makes the string only if its service host wants one
      app.message(id, isBinary ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : data, isBinary, data.length);
    });
    ws.on('close', (code, reason) => void app.closed(id, code, reason));
    ws.on('error', (err) => o.log.debug({ connection: id, err }, 'connection error'));
    o.onOpen?.(id, admission.route, via);
  };
  const openedOverHttp1 = (ws: WebSocket, request: UpgradeRequest): void => opened(ws, request, 'http/1.1');
  const openedOverHttp2 = (ws: WebSocket, request: UpgradeRequest): void => opened(ws, request, 'h2');
  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const address = clientAddress(req.socket.remoteAddress ?? '', req.headers, trusted);
    const verdict = guard.admit(address, socket);
    if (verdict.ok) return wss.handleUpgrade(req, socket, head, openedOverHttp1);
    refused(verdict, (req.url ?? '/').split('?')[0]!, address);
    socket.on('error', () => socket.destroy());
    socket.once('finish', () => socket.destroy());
    socket.end(buildRejectResponse(verdict.status, verdict.reason, verdict.retryAfterS !== undefined ? { 'Retry-After': String(verdict.retryAfterS) } : undefined));
  };
  const connect = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void => {
    const address = clientAddress(stream.session?.socket?.remoteAddress ?? '', headers, trusted);
    const verdict = guard.admit(address, stream);
    if (verdict.ok) return wss.handleConnect(stream, headers, openedOverHttp2);
    refused(verdict, (headers[':path'] ?? '/').split('?')[0]!, address);
    stream.on('error', () => stream.destroy());
    if (stream.destroyed || stream.headersSent) return;
    stream.respond({
      ':status': verdict.status,
      'content-type': 'text/plain; charset=utf-8',
      ...(verdict.retryAfterS !== undefined ? { 'retry-after': String(verdict.retryAfterS) } : {}),
    });
    stream.end(verdict.reason);
  };
  const refused = (verdict: Exclude<AddressVerdict, { ok: true }>, path: string, address: string): void => {
    o.observer?.limitExceeded?.({ limit: verdict.limit, action: 'refused', route: '', address });
    o.observer?.handshakeRejected?.({ path, status: verdict.status, reason: verdict.reason });
  };
  return { wss, upgrade, connect, stop: () => guard.stop() };
}
