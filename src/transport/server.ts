import { Buffer } from 'node:buffer';
import { EventEmitter } from 'node:events';
import crypto, { createHash } from 'node:crypto';
import net, { type AddressInfo, type Socket } from 'node:net';
import tls from 'node:tls';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type https from 'node:https';
import type { Duplex } from 'node:stream';
import {
  acceptKey,
  buildAcceptResponse,
  buildRejectResponse,
  DeflateFrame,
  isRejection,
  negotiateExtensions,
  parseHead,
  PerMessageDeflate,
  statusText,
  validateUpgradeRequest,
  type DeflateFrameOptions,
  type ExtensionFactory,
  type PerMessageDeflateOptions,
  type UpgradeOffer,
} from '../protocol/index.js';
import { hasToken } from '../protocol/header-tokens.js';
import { resolveLimits, type Limits } from './limits.js';
import { FlushQueue } from './flush-queue.js';
import { PreparedMessage, WebSocket, sharedConfig, type WebSocketShared } from './websocket.js';
import { buildUpgradeRequest, type UpgradeRequest } from './upgrade-request.js';
import { ZlibCodecPool, type ZlibPoolOptions } from './zlib-codec.js';
import { DeadlineSweep } from './deadline-sweep.js';

export type HandshakeResult =
  | void
  | undefined
  | true
  | { protocol?: string; headers?: Record<string, string>; context?: unknown }
  | { reject: { status: number; reason?: string; headers?: Record<string, string> } };

export interface ServerOptions {
  /** Standalone: the server owns its listener (0 = ephemeral port). */
  port?: number;
  host?: string;
  /** Attach to an existing HTTP(S) server's 'upgrade' event. */
  server?: http.Server | https.Server;
  /** Route upgrades yourself with handleUpgrade(). */
  noServer?: boolean;
  /** Standalone wss://: key, cert and the rest of node:tls server options. */
  tls?: tls.TlsOptions;
  /** Accept only this path; others are answered 404. */
  path?: string;
  /** Decide on each handshake after the built-in checks: accept (optionally with a subprotocol, headers, context) or reject. */
  handshake?: (request: UpgradeRequest) => HandshakeResult | Promise<HandshakeResult>;
  /** Subprotocols we speak (the first the client offers is chosen), or a function that picks. */
  protocols?: string[] | ((offered: string[], request: UpgradeRequest) => string | undefined);
  /** Origin allowlist; other origins (and requests without one) get 403. */
  origins?: string[];
  /** HTTP Basic authentication with a 401 challenge. */
  basicAuth?: { realm: string; verify(user: string, password: string, request: UpgradeRequest): boolean | Promise<boolean> };
  /** permessage-deflate (RFC 7692); off by default. */
  perMessageDeflate?: boolean | (PerMessageDeflateOptions & ZlibPoolOptions);
  /** The older deflate-frame extension (and its x-webkit- name); off by default. */
  deflateFrame?: boolean | DeflateFrameOptions;
  /** More extensions, negotiated after the built-in ones. */
  extensions?: ExtensionFactory[];
  /** Standalone: plain HTTP requests (default: 426 Upgrade Required). */
  onHttpRequest?: (req: IncomingMessage, res: ServerResponse) => void;
  /** Choose the reply to a client's Close frame (default: echo its code). */
  onCloseFrame?: (ws: WebSocket, code: number, reason: string) => { code: number; reason: string } | void;
  /** Deliver message pieces as 'fragment' events instead of whole messages. */
  streamMessages?: boolean;
  /** Emit a 'frame' event for every frame received. */
  observeFrames?: boolean;
  limits?: Partial<Limits>;
}

export interface ServerEvents {
  connection: [ws: WebSocket, request: UpgradeRequest];
  listening: [address: AddressInfo];
  error: [error: Error];
  rejected: [request: UpgradeRequest | null, status: number, reason: string];
}

type MaybePromise<T> = T | Promise<T>;
function then<T>(v: MaybePromise<T>, ok: (v: T) => void, fail: (err: unknown) => void): void {
  if (v instanceof Promise) v.then(ok, fail);
  else ok(v);
}

// crypto.hash (Node >= 20.12) is a one-shot digest without a Hash object per handshake.
const oneShot = (crypto as { hash?: (alg: string, data: string, enc: 'base64') => string }).hash;
function sha1Base64(input: string): string {
  return oneShot ? oneShot('sha1', input, 'base64') : createHash('sha1').update(input, 'latin1').digest('base64');
}

/** Per-socket state while a raw (standalone) handshake is being read. */
interface PendingHandshake {
  buf: Buffer;
  searchFrom: number;
  onData: (chunk: Buffer) => void;
  /** Headers come from our own parser (flat strings), not node:http. */
  rawHead: boolean;
}

/**
 * A WebSocket server: standalone (its own node:net/tls listener and a linear-time HTTP head
 * parser, the fast path), attached to an http(s).Server, or noServer.
 */
export class WebSocketServer extends EventEmitter<ServerEvents> {
  readonly clients = new Set<WebSocket>();
  readonly limits: Limits;
  #opts: ServerOptions;
  #queue = new FlushQueue();
  #factories: ExtensionFactory[] = [];
  #zlib: ZlibCodecPool | null = null;
  #listener: net.Server | null = null;
  #fallback: http.Server | null = null;
  #heartbeat: NodeJS.Timeout | null = null;
  #closing = false;
  #onUpgradeEvent = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    this.handleUpgrade(req, socket, head, (ws, request) => this.emit('connection', ws, request));
  };
  #untrack = (ws: WebSocket) => {
    this.clients.delete(ws);
  };
  #shared: WebSocketShared | null = null;

  #makeShared(): WebSocketShared {
    const o = this.#opts;
    return sharedConfig({
      role: 'server',
      limits: this.limits,
      flushQueue: this.#queue,
      streamMessages: o.streamMessages === true,
      observeFrames: o.observeFrames === true,
      onClosed: this.#untrack,
      deadlines: this.#deadlines,
      ...(o.onCloseFrame ? { onCloseFrame: o.onCloseFrame } : {}),
    });
  }

  constructor(options: ServerOptions) {
    super();
    const modes = Number(options.port !== undefined) + Number(options.server !== undefined) + Number(options.noServer === true);
    if (modes !== 1) throw new TypeError('give exactly one of `port`, `server` or `noServer: true`');
    this.#opts = options;
    this.limits = resolveLimits(options.limits);
    const shortest = Math.min(this.limits.handshakeTimeoutMs || Infinity, this.limits.closeTimeoutMs || Infinity);
    this.#deadlines = new DeadlineSweep(Number.isFinite(shortest) ? Math.min(250, shortest / 4) : 250);
    const pmd = options.perMessageDeflate;
    const df = options.deflateFrame;
    if (pmd || df) this.#zlib = new ZlibCodecPool(typeof pmd === 'object' ? pmd : {});
    if (pmd) this.#factories.push(new PerMessageDeflate(this.#zlib!.factory, typeof pmd === 'object' ? pmd : {}));
    if (df) {
      const o = typeof df === 'object' ? df : {};
      this.#factories.push(new DeflateFrame(this.#zlib!.factory, o, 'deflate-frame'));
      this.#factories.push(new DeflateFrame(this.#zlib!.factory, o, 'x-webkit-deflate-frame'));
    }
    if (options.extensions) this.#factories.push(...options.extensions);
    if (options.server) options.server.on('upgrade', this.#onUpgradeEvent);
    const idle = this.limits.idleTimeoutMs;
    if (idle > 0) {
      this.#heartbeat = setInterval(() => this.#sweep(), Math.max(10, idle / 2));
      this.#heartbeat.unref();
    }
  }

  /** Standalone mode: start listening. */
  listen(): Promise<AddressInfo> {
    const o = this.#opts;
    if (o.port === undefined) return Promise.reject(new TypeError('listen() is for standalone servers (options.port)'));
    if (this.#listener) return Promise.resolve(this.#listener.address() as AddressInfo);
    const onConnection = (socket: Socket) => this.#onRawConnection(socket);
    const listener = o.tls
      ? tls.createServer(o.tls, onConnection)
      : net.createServer({ noDelay: true }, onConnection);
    this.#listener = listener;
    return new Promise((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(o.port, o.host ?? '127.0.0.1', () => {
        listener.off('error', reject);
        listener.on('error', (err) => this.emit('error', err));
        const address = listener.address() as AddressInfo;
        this.emit('listening', address);
        resolve(address);
      });
    });
  }

  /** Compressor contexts alive now (bounded by perMessageDeflate.maxDeflateContexts). */
  get deflateContexts(): number {
    return this.#zlib?.liveDeflateContexts ?? 0;
  }

  /** Decompressor contexts alive now (bounded by perMessageDeflate.maxInflateContexts). */
  get inflateContexts(): number {
    return this.#zlib?.liveInflateContexts ?? 0;
  }

  address(): AddressInfo | null {
    const a = this.#listener?.address();
    return a && typeof a === 'object' ? a : null;
  }

  get url(): string {
    const a = this.address();
    if (!a) return '';
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return `${this.#opts.tls ? 'wss' : 'ws'}://${host}:${a.port}`;
  }

  /** Complete (or refuse) the upgrade of a request from an http.Server 'upgrade' event. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, cb: (ws: WebSocket, request: UpgradeRequest) => void): void {
    const s = socket as Socket;
    s.on('error', destroyOnError);
    const state: PendingHandshake = { buf: head, searchFrom: 0, onData: noop, rawHead: false };
    this.#upgrade(s, req.method ?? 'GET', req.httpVersion, req.url ?? '/', req.headers, state, 0, cb);
  }

  // ------------------------------------------------------------------ standalone

  #onRawConnection(socket: Socket): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    this.#awaitHandshake(socket);
    socket.on('error', destroyOnError);
    const state: PendingHandshake = { buf: EMPTY, searchFrom: 0, onData: noop, rawHead: true };
    let parsed = false;
    state.onData = (chunk: Buffer) => {
      state.buf = state.buf.length === 0 ? chunk : Buffer.concat([state.buf, chunk]);
      if (parsed) return; // bytes sent early by the client, kept for after the 101
      const r = parseHead(state.buf, this.limits.maxHeaderBytes, state.searchFrom);
      if (r.kind === 'incomplete') {
        state.searchFrom = r.searchFrom;
        return;
      }
      if (r.kind === 'error') {
        socket.off('data', state.onData);
        this.#reject(socket, null, r.status, r.reason);
        return;
      }
      parsed = true;
      const [method, url, version] = r.head.start;
      if (!hasToken(r.head.headers.upgrade, 'websocket')) {
        this.#toHttp(socket, state);
        return;
      }
      this.#upgrade(socket, method, version, url, r.head.headers, state, r.length, (ws, request) =>
        this.emit('connection', ws, request),
      );
    };
    socket.on('data', state.onData);
  }

  /** Handshake and close-handshake deadlines of this server's sockets. */
  #deadlines: DeadlineSweep;

  #awaitHandshake(socket: Socket): void {
    this.#deadlines.arm(socket, this.limits.handshakeTimeoutMs);
  }

  /** A plain HTTP request on the standalone port: hand the socket to an internal http.Server. */
  #toHttp(socket: Socket, state: PendingHandshake): void {
    socket.off('data', state.onData);
    socket.off('error', destroyOnError);
    this.#deadlines.disarm(socket);
    socket.pause();
    socket.unshift(state.buf);
    const onRequest =
      this.#opts.onHttpRequest ??
      ((_req: IncomingMessage, res: ServerResponse) => {
        res.writeHead(426, { 'Content-Type': 'text/plain', Upgrade: 'websocket', Connection: 'Upgrade' });
        res.end('Upgrade Required: this is a WebSocket endpoint\n');
      });
    this.#fallback ??= http.createServer({ maxHeaderSize: this.limits.maxHeaderBytes }, onRequest);
    this.#fallback.emit('connection', socket);
    socket.resume();
  }

  // ------------------------------------------------------------------ handshake

  #upgrade(
    socket: Socket,
    method: string,
    version: string,
    url: string,
    headers: Record<string, string | string[] | undefined>,
    state: PendingHandshake,
    headLength: number,
    done: (ws: WebSocket, request: UpgradeRequest) => void,
  ): void {
    if (this.#closing) return this.#reject(socket, null, 503, 'Service Unavailable: server is shutting down');
    const flat = headers as Record<string, string | undefined>;
    const offer = validateUpgradeRequest(method, version, flat);
    if (isRejection(offer)) return this.#reject(socket, null, offer.status, offer.reason, offer.headers);
    const request = buildUpgradeRequest(
      method,
      url,
      headers,
      socket,
      offer.protocols,
      offer.extensions.length ? offer.extensions.map((e) => e.name) : [],
      state.rawHead,
    );
    const o = this.#opts;
    if (o.path !== undefined && request.path !== o.path) return this.#reject(socket, request, 404, 'Not Found');
    if (o.origins && !(request.origin !== undefined && o.origins.includes(request.origin))) {
      return this.#reject(socket, request, 403, 'Forbidden: origin not allowed');
    }
    if (!o.basicAuth && !o.handshake) return this.#accept(socket, request, offer, undefined, state, headLength, done);
    const fail = (err: unknown) => {
      this.emit('error', err instanceof Error ? err : new Error(String(err)));
      this.#reject(socket, request, 500, 'Internal Server Error');
    };
    const afterAuth = () => {
      if (!o.handshake) return this.#accept(socket, request, offer, undefined, state, headLength, done);
      let decision: MaybePromise<HandshakeResult>;
      try {
        decision = o.handshake(request);
      } catch (err) {
        return fail(err);
      }
      then(decision, (d) => this.#accept(socket, request, offer, d, state, headLength, done), fail);
    };
    if (!o.basicAuth) return afterAuth();
    const challenge = { 'WWW-Authenticate': `Basic realm="${o.basicAuth.realm.replace(/["\\]/g, '')}", charset="UTF-8"` };
    const creds = parseBasicAuth(request.headers.authorization);
    if (!creds) return this.#reject(socket, request, 401, 'Unauthorized', challenge);
    let verdict: MaybePromise<boolean>;
    try {
      verdict = o.basicAuth.verify(creds.user, creds.password, request);
    } catch (err) {
      return fail(err);
    }
    then(
      verdict,
      (ok) => {
        if (!ok) return this.#reject(socket, request, 401, 'Unauthorized', challenge);
        request.user = creds.user;
        afterAuth();
      },
      fail,
    );
  }

  #accept(
    socket: Socket,
    request: UpgradeRequest,
    offer: UpgradeOffer,
    decision: HandshakeResult,
    state: PendingHandshake,
    headLength: number,
    done: (ws: WebSocket, request: UpgradeRequest) => void,
  ): void {
    if (socket.destroyed) return;
    if (decision && typeof decision === 'object' && 'reject' in decision) {
      const r = decision.reject;
      return this.#reject(socket, request, r.status, r.reason, r.headers);
    }
    const d = decision && typeof decision === 'object' ? decision : undefined;
    let protocol = d?.protocol;
    if (protocol !== undefined) {
      if (!offer.protocols.includes(protocol)) {
        this.emit('error', new Error(`handshake chose subprotocol ${JSON.stringify(protocol)}, which the client did not offer`));
        return this.#reject(socket, request, 500, 'Internal Server Error');
      }
    } else if (offer.protocols.length > 0 && this.#opts.protocols) {
      const p = this.#opts.protocols;
      protocol = typeof p === 'function' ? p(offer.protocols, request) : offer.protocols.find((x) => p.includes(x));
      if (protocol !== undefined && !offer.protocols.includes(protocol)) protocol = undefined;
    }
    const extensions = this.#factories.length ? negotiateExtensions(offer.extensions, this.#factories) : [];
    let response: string;
    try {
      response = buildAcceptResponse(
        acceptKey(offer.key, sha1Base64),
        protocol,
        extensions.map((e) => e.response).join(', '),
        d?.headers,
      );
    } catch (err) {
      for (const e of extensions) e.dispose();
      this.emit('error', err as Error);
      return this.#reject(socket, request, 500, 'Internal Server Error');
    }
    socket.off('data', state.onData);
    socket.off('error', destroyOnError);
    this.#deadlines.disarm(socket);
    socket.write(response);
    const ws = new WebSocket(socket, (this.#shared ??= this.#makeShared()), protocol ?? '', extensions);
    if (d?.context !== undefined) ws.context = d.context;
    this.clients.add(ws);
    done(ws, request);
    const early = state.buf.length > headLength ? state.buf.subarray(headLength) : EMPTY;
    if (early.length) ws.receive(early);
  }

  #reject(socket: Socket, request: UpgradeRequest | null, status: number, reason?: string, headers?: Record<string, string>): void {
    this.emit('rejected', request, status, reason ?? statusText(status));
    if (socket.destroyed) return;
    // The deadline stays armed: a client that never reads the refusal is still dropped.
    socket.once('finish', () => socket.destroy());
    socket.end(buildRejectResponse(status, reason, headers));
  }

  // ------------------------------------------------------------------ fan-out, heartbeat, shutdown

  /** Frame once, write the same bytes to every target (default: all clients). Returns recipients. */
  broadcast(
    data: string | Uint8Array | PreparedMessage,
    options?: { binary?: boolean; except?: WebSocket },
    targets: Iterable<WebSocket> = this.clients,
  ): number {
    const message =
      data instanceof PreparedMessage ? data : new PreparedMessage(data, options?.binary ?? typeof data !== 'string');
    const except = options?.except;
    let n = 0;
    for (const ws of targets) {
      if (ws === except) continue;
      if (ws.sendPrepared(message) !== 2) n++;
    }
    return n;
  }

  #sweep(): void {
    for (const ws of this.clients) {
      if (ws.alive) {
        ws.alive = false;
      } else if (ws.awaitingPong) {
        ws.terminate();
      } else if (ws.readyState === 1) {
        ws.awaitingPong = true;
        ws.ping();
      }
    }
  }

  /** Stop accepting, close every connection (1001 by default) and wait for them, at most timeoutMs. */
  async close(options: { code?: number; reason?: string; timeoutMs?: number } = {}): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      if (this.#heartbeat) clearInterval(this.#heartbeat);

      this.#opts.server?.off('upgrade', this.#onUpgradeEvent);
      this.#listener?.close();
      for (const ws of this.clients) ws.close(options.code ?? 1001, options.reason ?? 'server shutting down');
    }
    const deadline = options.timeoutMs ?? this.limits.closeTimeoutMs;
    if (this.clients.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          for (const ws of this.clients) ws.terminate();
          resolve();
        }, deadline);
        let left = this.clients.size;
        for (const ws of this.clients) {
          ws.once('close', () => {
            if (--left === 0) {
              clearTimeout(timer);
              resolve();
            }
          });
        }
      });
    }
    this.#zlib?.close();
    this.#deadlines.clear(true);
    if (this.#listener?.listening) await new Promise<void>((r) => this.#listener!.close(() => r()));
  }
}

const EMPTY = Buffer.alloc(0);
function noop(): void {}
function destroyOnError(this: Socket): void {
  this.destroy();
}

function parseBasicAuth(header: string | undefined): { user: string; password: string } | null {
  if (!header) return null;
  const sp = header.indexOf(' ');
  if (sp === -1 || header.slice(0, sp).toLowerCase() !== 'basic') return null;
  const decoded = Buffer.from(header.slice(sp + 1).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return null;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
