import { Buffer } from 'node:buffer';
import net, { type AddressInfo, type Socket } from 'node:net';
import tls from 'node:tls';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import http2, { type Http2SecureServer, type ServerHttp2Session, type Settings } from 'node:http2';
import { buildRejectResponse, parseHead, type HttpHead } from '../protocol/index.js';
import { hasToken } from '../protocol/header-tokens.js';
import type { DeadlineSweep } from './deadline-sweep.js';
import { readDirect, type DirectReader } from './direct-reads.js';
import { onSocketError } from './websocket.js';
import type { ReadMemory } from './read-memory.js';
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
  /** Read requests straight into this memory where the socket allows (see direct-reads.ts). */
  reads?: ReadMemory | null;
  /** With tls: offer h2 by ALPN; its extended CONNECTs go to `onConnect` (RFC 8441). */
  http2?: { settings: Settings; onConnect: ConnectHandler };
}

/** A request head read and waiting for its upgrade to be decided. */
export interface PendingUpgrade {
  /** Bytes the client sent after its request head, before the upgrade completed. */
  readonly buf: Buffer;
  /** The socket's reads stop being the listener's (call once the upgrade is accepted). */
  release(): void;
}

export interface StandaloneHandlers {
  /** A request asking for a WebSocket upgrade. */
  upgrade(socket: Socket, head: HttpHead, pending: PendingUpgrade): void;
  /** A head we cannot parse (too large, malformed). */
  badRequest(socket: Socket, status: number, reason: string): void;
  accepting(): boolean;
}

const EMPTY = Buffer.alloc(0);

/**
 * The standalone listener: a node:net (or node:tls) server whose sockets are read by our
 * own linear-time head parser, which is cheaper than node:http for upgrade-only traffic.
 * Plain TCP sockets read their request straight into the server's shared read buffer, and
 * keep reading that way once they are WebSockets. A request that is not an upgrade gets
 * 426, or, when the application serves plain HTTP (`onHttpRequest`), is handed to an
 * internal http.Server; such a listener reads its requests through Node's own buffers,
 * since a socket that reads into ours cannot be given back to node:http.
 */
export class StandaloneListener {
  readonly #o: StandaloneOptions;
  readonly #handlers: StandaloneHandlers;
  readonly #deadlines: DeadlineSweep;
  readonly #reads: ReadMemory | null;
  #server: net.Server | null = null;
  #fallback: http.Server | null = null;
  /** Never listens: it runs the HTTP/2 sessions of the TLS sockets that chose h2. */
  #h2: Http2SecureServer | null = null;
  readonly #sessions = new Set<ServerHttp2Session>();

  constructor(options: StandaloneOptions, handlers: StandaloneHandlers, deadlines: DeadlineSweep) {
    this.#o = options;
    this.#handlers = handlers;
    this.#deadlines = deadlines;
    this.#reads = options.reads && !options.tls && !options.onHttpRequest ? options.reads : null;
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
    if (this.#o.http2 && (socket as tls.TLSSocket).alpnProtocol === 'h2') return this.#toHttp2(socket);
    this.#deadlines.arm(socket, this.#o.handshakeTimeoutMs);
    // Drops the socket until it is a WebSocket, then reports through it (never removed).
    socket.on('error', onSocketError);
    const request = new RequestReader(this, socket);
    if (!(this.#reads && readDirect(socket, request))) {
      request.onData = (chunk: Buffer) => request.take(chunk, true);
      socket.on('data', request.onData);
    }
  }

  /** @internal */
  get readBuffer(): Buffer {
    return this.#reads!.buffer;
  }

  /** @internal the request head is complete */
  headRead(socket: Socket, head: HttpHead, request: RequestReader): void {
    if (hasToken(head.headers.upgrade, 'websocket')) return this.#handlers.upgrade(socket, head, request);
    request.release();
    if (this.#o.onHttpRequest) return this.#toHttp(socket, request.read);
    // An upgrade-only port: the refusal node:http would have written, without node:http.
    socket.once('finish', () => socket.destroy());
    socket.end(
      buildRejectResponse(426, 'Upgrade Required: this is a WebSocket endpoint\n', { Upgrade: 'websocket' }),
    );
  }

  /** @internal */
  badRequest(socket: Socket, status: number, reason: string): void {
    this.#handlers.badRequest(socket, status, reason);
  }

  /** @internal */
  get maxHeaderBytes(): number {
    return this.#o.maxHeaderBytes;
  }

  /** @internal */
  release(socket: Socket, onData: ((chunk: Buffer) => void) | null): void {
    if (onData) socket.off('data', onData);
    this.#deadlines.disarm(socket);
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
    socket.setNoDelay(true);
    // what node's own HTTP/2 TLS server does with each socket once TLS is up
    this.#h2.emit('secureConnection', socket);
  }

  /** A plain HTTP request on the standalone port: hand the socket to an internal http.Server. */
  #toHttp(socket: Socket, read: Buffer): void {
    socket.off('error', onSocketError);
    socket.pause();
    socket.unshift(read);
    const onRequest = this.#o.onHttpRequest!;
    this.#fallback ??= http.createServer({ maxHeaderSize: this.#o.maxHeaderBytes }, onRequest);
    this.#fallback.emit('connection', socket);
    socket.resume();
  }
}

/**
 * One connection's request until its head is complete, then its early bytes until the
 * upgrade is decided: a small object instead of closures. Fed from the shared read buffer
 * (whose bytes must be copied to be kept) or from Node's chunks.
 */
class RequestReader implements DirectReader, PendingUpgrade {
  readonly #listener: StandaloneListener;
  readonly #socket: Socket;
  /** The head so far; once parsed, everything read (for a request handed to node:http). */
  #head: Buffer = EMPTY;
  #searchFrom = 0;
  #parsed = false;
  buf: Buffer = EMPTY;
  onData: ((chunk: Buffer) => void) | null = null;

  constructor(listener: StandaloneListener, socket: Socket) {
    this.#listener = listener;
    this.#socket = socket;
  }

  /** All that was read, head included. */
  get read(): Buffer {
    return this.#head;
  }

  readTarget(): Buffer {
    return this.#listener.readBuffer;
  }

  onRead(n: number, buf: Buffer): void {
    this.take(buf.subarray(0, n), false);
  }

  /** `stable`: the chunk outlives this call (a Node chunk), else it is the shared read buffer. */
  take(chunk: Buffer, stable: boolean): void {
    if (this.#parsed) {
      // Sent before the 101, while an asynchronous hook decides: kept for the WebSocket.
      this.buf = this.buf.length === 0 ? (stable ? chunk : Buffer.from(chunk)) : Buffer.concat([this.buf, chunk]);
      return;
    }
    const joined = this.#head.length !== 0;
    const data = joined ? Buffer.concat([this.#head, chunk]) : chunk;
    const kept = stable || joined;
    const r = parseHead(data, this.#listener.maxHeaderBytes, this.#searchFrom);
    if (r.kind === 'incomplete') {
      this.#searchFrom = r.searchFrom;
      this.#head = kept ? data : Buffer.from(data);
      return;
    }
    if (r.kind === 'error') {
      this.release();
      this.#listener.badRequest(this.#socket, r.status, r.reason);
      return;
    }
    this.#parsed = true;
    if (data.length > r.length) this.buf = kept ? data.subarray(r.length) : Buffer.from(data.subarray(r.length));
    // Kept only for a request that turns out to be plain HTTP (rare): copied lazily there.
    this.#head = kept ? data : EMPTY;
    if (!kept && !hasToken(r.head.headers.upgrade, 'websocket')) this.#head = Buffer.from(data);
    this.#listener.headRead(this.#socket, r.head, this);
  }

  /** The socket's reads are not ours any more (upgraded, refused or handed over). */
  release(): void {
    this.#listener.release(this.#socket, this.onData);
    this.onData = null;
  }
}

export function destroyOnError(this: Socket): void {
  this.destroy();
}
