/**
 * The edge between the transport and the app: the only module that sees both. It turns a
 * WebSocket upgrade into admit -> open(port), each message into app.message, the peer's
 * Close frame into app.peerClose and the end of the connection into app.closed; the port
 * it hands the app writes through the WebSocket. The app never sees a socket or a frame.
 */
import type { IncomingMessage } from 'node:http';
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { Admission, App } from '../app/app.js';
import type { ConnectionPort, Framer } from '../app/connection-port.js';
import type { Logger } from '../app/logger.js';
import type { AppObserver } from '../app/observer.js';
import { WebSocketServer, type ServerOptions } from '../transport/server.js';
import type { UpgradeRequest } from '../transport/upgrade-request.js';
import { prepareMessage, type PreparedMessage, type WebSocket } from '../transport/websocket.js';

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
}

/** What carried a connection's handshake: an HTTP/1.1 Upgrade or an HTTP/2 extended CONNECT. Known here and below, never to the app. */
export type Carriage = 'http/1.1' | 'h2';

export function websocketEdge(
  app: App<PreparedMessage>,
  o: { transport?: EdgeTransportOptions; log: Logger; observer?: AppObserver; onOpen?: (id: string, route: string, via: Carriage) => void },
): WebSocketEdge {
  const admissions = new WeakMap<UpgradeRequest, Admission>();
  const ids = new WeakMap<WebSocket, string>();
  const wss = new WebSocketServer({
    ...o.transport,
    noServer: true,
    handshake: async (request) => {
      const d = await app.admit(request);
      if (!d.accept) return { reject: { status: d.status, reason: d.reason, ...(d.headers ? { headers: d.headers } : {}) } };
      admissions.set(request, d.admission);
      const a = d.admission;
      return { ...(a.protocol ? { protocol: a.protocol } : {}), ...(a.headers ? { headers: a.headers } : {}) };
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
    ws.on('message', (data, isBinary) =>
      app.message(id, isBinary ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : data.toString('utf8'), isBinary, data.length),
    );
    ws.on('close', (code, reason) => void app.closed(id, code, reason));
    ws.on('error', (err) => o.log.debug({ connection: id, err }, 'connection error'));
    o.onOpen?.(id, admission.route, via);
  };
  return {
    wss,
    upgrade: (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws, request) => opened(ws, request, 'http/1.1')),
    connect: (stream, headers) => wss.handleConnect(stream, headers, (ws, request) => opened(ws, request, 'h2')),
  };
}
