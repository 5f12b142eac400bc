import { Buffer } from 'node:buffer';
import net, { type AddressInfo, type Socket } from 'node:net';
import tls from 'node:tls';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import http2, { type Http2SecureServer, type ServerHttp2Session, type Settings } from 'node:http2';
import { parseHead, type HttpHead } from '../protocol/index.js';
import { hasToken } from '../protocol/header-tokens.js';
import type { DeadlineSweep } from './deadline-sweep.js';
import { routeExtendedConnect, type ConnectHandler } from './extended-connect.js';

export interface StandaloneOptions {
  port: number;
  host?: string;
  /** wss://: key, cert and the rest of node:tls server options. */
  tls?: tls.TlsOptions;
  maxHeaderBytes: number;
  handshakeTimeoutMs: number;
  /** Plain HTTP requests (default: 426 Upgrade Required). */
  onHttpRequest?: (req: IncomingMessage, res: ServerResponse) => void;
  /** With tls: offer h2 by ALPN; its extended CONNECTs go to `onConnect` (RFC 8441). */
  http2?: { settings: Settings; onConnect: ConnectHandler };
}

/** Bytes read from a socket before its upgrade completes. */
export interface PendingBytes {
  buf: Buffer;
  /** Length of the request head within `buf`; what follows arrived early for the WebSocket. */
  headLength: number;
}

export interface StandaloneHandlers {
  /** A request asking for a WebSocket upgrade; the socket's reads stop being ours. */
  upgrade(socket: Socket, head: HttpHead, pending: PendingBytes, release: () => void): void;
  /** A head we cannot parse (too large, malformed). */
  badRequest(socket: Socket, status: number, reason: string): void;
  accepting(): boolean;
}

/**
 * The standalone listener: a node:net (or node:tls) server whose sockets are read by our
 * own linear-time head parser, which is cheaper than node:http for upgrade-only traffic.
 * A request that is not an upgrade is handed to an internal http.Server.
 */
export class StandaloneListener {
  readonly #o: StandaloneOptions;
  readonly #handlers: StandaloneHandlers;
  readonly #deadlines: DeadlineSweep;
  #server: net.Server | null = null;
  #fallback: http.Server | null = null;
  /** Never listens: it runs the HTTP/2 sessions of the TLS sockets that chose h2. */
  #h2: Http2SecureServer | null = null;
  readonly #sessions = new Set<ServerHttp2Session>();

  constructor(options: StandaloneOptions, handlers: StandaloneHandlers, deadlines: DeadlineSweep) {
    this.#o = options;
    this.#handlers = handlers;
    this.#deadlines = deadlines;
  }

  get secure(): boolean {
    return this.#o.tls !== undefined;
  }

  listen(onError: (err: Error) => void): Promise<AddressInfo> {
    if (this.#server) return Promise.resolve(this.#server.address() as AddressInfo);
    const onConnection = (socket: Socket): void => this.#onConnection(socket);
    const h2 = this.#o.http2;
    // ALPN: h2 first, as browsers expect; HTTP/1.1 clients keep our own head parser
    const tlsOptions = h2 ? { ALPNProtocols: ['h2', 'http/1.1'], ...this.#o.tls } : this.#o.tls;
    const server = tlsOptions ? tls.createServer(tlsOptions, onConnection) : net.createServer({ noDelay: true }, onConnection);
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#o.port, this.#o.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        server.on('error', onError);
        resolve(server.address() as AddressInfo);
      });
    });
  }

  address(): AddressInfo | null {
    const a = this.#server?.address();
    return a && typeof a === 'object' ? a : null;
  }

  /** Stop accepting (HTTP/2 connections are told so by a GOAWAY); resolves when the listening socket is closed. */
  close(): Promise<void> {
    for (const session of this.#sessions) if (!session.closed) session.close();
    const server = this.#server;
    if (!server?.listening) return Promise.resolve();
    return new Promise<void>((r) => server.close(() => r()));
  }

  #onConnection(socket: Socket): void {
    if (!this.#handlers.accepting()) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    if ((socket as tls.TLSSocket).alpnProtocol === 'h2' && this.#o.http2) return this.#toHttp2(socket);
    this.#deadlines.arm(socket, this.#o.handshakeTimeoutMs);
    socket.on('error', destroyOnError);
    const pending: PendingBytes = { buf: EMPTY, headLength: 0 };
    let searchFrom = 0;
    let parsed = false;
    const release = (): void => {
      socket.off('data', onData);
      socket.off('error', destroyOnError);
      this.#deadlines.disarm(socket);
    };
    const onData = (chunk: Buffer): void => {
      pending.buf = pending.buf.length === 0 ? chunk : Buffer.concat([pending.buf, chunk]);
      if (parsed) return; // bytes sent early by the client, kept for after the 101
      const r = parseHead(pending.buf, this.#o.maxHeaderBytes, searchFrom);
      if (r.kind === 'incomplete') {
        searchFrom = r.searchFrom;
        return;
      }
      if (r.kind === 'error') {
        socket.off('data', onData);
        this.#handlers.badRequest(socket, r.status, r.reason);
        return;
      }
      parsed = true;
      pending.headLength = r.length;
      if (hasToken(r.head.headers.upgrade, 'websocket')) this.#handlers.upgrade(socket, r.head, pending, release);
      else {
        release();
        this.#toHttp(socket, pending.buf);
      }
    };
    socket.on('data', onData);
  }

  /** A TLS socket that negotiated h2: an internal HTTP/2 server runs its session. */
  #toHttp2(socket: Socket): void {
    if (!this.#h2) {
      const h2 = this.#o.http2!;
      this.#h2 = http2.createSecureServer({ settings: h2.settings });
      routeExtendedConnect(this.#h2, h2.onConnect);
      // other streams (plain requests) get a 404; the standalone server serves WebSockets only
      this.#h2.on('stream', (stream, headers) => {
        if (headers[':protocol'] === 'websocket' || stream.headersSent || stream.destroyed) return;
        stream.respond({ ':status': headers[':method'] === 'CONNECT' ? 501 : 404, 'content-type': 'text/plain' });
        stream.end('this is a WebSocket endpoint\n');
      });
      this.#h2.on('session', (session) => {
        this.#sessions.add(session);
        session.once('close', () => this.#sessions.delete(session));
      });
    }
    // what node's own HTTP/2 TLS server does with each socket once TLS is up
    this.#h2.emit('secureConnection', socket);
  }

  /** A plain HTTP request on the standalone port: hand the socket to an internal http.Server. */
  #toHttp(socket: Socket, read: Buffer): void {
    socket.pause();
    socket.unshift(read);
    const onRequest =
      this.#o.onHttpRequest ??
      ((_req: IncomingMessage, res: ServerResponse) => {
        res.writeHead(426, { 'Content-Type': 'text/plain', Upgrade: 'websocket', Connection: 'Upgrade' });
        res.end('Upgrade Required: this is a WebSocket endpoint\n');
      });
    this.#fallback ??= http.createServer({ maxHeaderSize: this.#o.maxHeaderBytes }, onRequest);
    this.#fallback.emit('connection', socket);
    socket.resume();
  }
}

const EMPTY = Buffer.alloc(0);

export function destroyOnError(this: Socket): void {
  this.destroy();
}
