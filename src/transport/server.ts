import { Buffer } from 'node:buffer';
import { EventEmitter } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import type tls from 'node:tls';
import type http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type https from 'node:https';
import type { Http2SecureServer, IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import {
  DeflateFrame,
  PerMessageDeflate,
  type DeflateFrameOptions,
  type ExtensionFactory,
  type PerMessageDeflateOptions,
} from '../protocol/index.js';
import { CONNECTION_LIMIT_KEYS, resolveLimits, type ConnectionLimitOverrides, type Limits } from './limits.js';
import { FlushQueue } from './flush-queue.js';
import { PreparedMessage, WebSocket, sharedConfig, type WebSocketShared } from './websocket.js';
import type { UpgradeRequest } from './upgrade-request.js';
import { ZlibCodecPool, type ZlibPoolOptions } from './zlib-codec.js';
import { ReadMemory } from './read-memory.js';
import { DeadlineSweep } from './deadline-sweep.js';
import { Heartbeat } from './heartbeat.js';
import { StandaloneListener, destroyOnError, type PendingUpgrade } from './standalone-listener.js';
import { UpgradePipeline, type Accepted, type UpgradeAttempt, type UpgradePolicy } from './upgrade-pipeline.js';
import { DEFAULT_SESSION_BUFFER_BYTES, SessionBudgets, connectSettings, routeExtendedConnect, type Http2Options } from './extended-connect.js';

export type { HandshakeResult } from './upgrade-pipeline.js';

export interface ServerOptions extends UpgradePolicy {
  /** Standalone: the server owns its listener (0 = ephemeral port). */
  port?: number;
  host?: string;
  /**
   * Attach to an existing server: an HTTP(S) server's 'upgrade' event, or an HTTP/2 server
   * (`http2.createSecureServer({ allowHTTP1: true })`) for both its HTTP/1.1 upgrades and its
   * extended CONNECTs (RFC 8441; the setting that allows them is sent for you).
   */
  server?: http.Server | https.Server | Http2SecureServer;
  /** Route upgrades yourself with handleUpgrade(). */
  noServer?: boolean;
  /** Standalone wss://: key, cert and the rest of node:tls server options. */
  tls?: tls.TlsOptions;
  /**
   * WebSocket over HTTP/2 (RFC 8441) beside HTTP/1.1: standalone with `tls`, clients that
   * negotiate h2 (ALPN) open WebSockets as extended CONNECT streams; connection-level limits here.
   */
  http2?: boolean | Http2Options;
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
  /**
   * Read plain TCP sockets straight into the server's memory instead of through Node's
   * 'data' events (default true; see direct-reads.ts). False is for diagnosis.
   */
  directReads?: boolean;
  /**
   * Let the C allocator keep the memory large messages leave behind (default true): the
   * first message over 16 KiB raises glibc's trim and mmap thresholds once per process, so
   * memory the garbage collector frees is reused warm instead of going back to the kernel
   * and being faulted in again (64 KiB echo: about 40% less server CPU). Up to 64 MiB of
   * freed memory may then stay with the process. See allocator-thresholds.ts.
   */
  keepFreedMemory?: boolean;
  limits?: Partial<Limits>;
}

export interface ServerEvents {
  connection: [ws: WebSocket, request: UpgradeRequest];
  listening: [address: AddressInfo];
  error: [error: Error];
  rejected: [request: UpgradeRequest | null, status: number, reason: string];
}

type Done = (ws: WebSocket, request: UpgradeRequest) => void;

/** Bytes sent early on an HTTP/2 stream stay in the stream until the WebSocket reads it. */
const NOTHING_EARLY = Buffer.alloc(0);

/** A handshake in progress and what to do once it is accepted. */
interface ServerAttempt extends UpgradeAttempt {
  pending: PendingUpgrade;
  done: Done;
}

/**
 * A WebSocket server: standalone (its own node:net/tls listener and head parser, the fast
 * path), attached to an http(s).Server, or noServer. It owns the live connections, their
 * shared configuration and deadlines, fan-out and shutdown; the handshake itself is the
 * UpgradePipeline's.
 */
export class WebSocketServer extends EventEmitter<ServerEvents> {
  readonly clients = new Set<WebSocket>();
  readonly limits: Limits;
  readonly #opts: ServerOptions;
  readonly #zlib: ZlibCodecPool | null = null;
  readonly #pipeline: UpgradePipeline;
  /** Handshake and close-handshake deadlines of this server's sockets. */
  readonly #deadlines: DeadlineSweep;
  readonly #listener: StandaloneListener | null = null;
  /** One heartbeat per idle timeout in use: the server's, and any a handshake set for its connection. */
  readonly #heartbeats = new Map<number, Heartbeat>();
  #shared: WebSocketShared | null = null;
  /** Shared configurations of connections whose handshake set limits of their own, by those limits. */
  readonly #sharedBy = new Map<string, WebSocketShared>();
  /** One queue for every shared configuration: a turn's output leaves in one pass whatever the limits. */
  readonly #flushQueue = new FlushQueue();
  /** Read buffer and message memory of this server's sockets, from the request on. */
  readonly #reads: ReadMemory;
  readonly #budgets: SessionBudgets;
  #detachHttp2: (() => void) | null = null;
  #closing = false;
  #emitConnection: Done = (ws, request) => {
    this.emit('connection', ws, request);
  };
  #completeAttempt = (a: ServerAttempt, accepted: Accepted): void => this.#complete(a, accepted);
  #onUpgradeEvent = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    this.handleUpgrade(req, socket, head, this.#emitConnection);
  };
  #untrack = (ws: WebSocket): void => {
    this.clients.delete(ws);
  };

  constructor(options: ServerOptions) {
    super();
    const modes = Number(options.port !== undefined) + Number(options.server !== undefined) + Number(options.noServer === true);
    if (modes !== 1) throw new TypeError('give exactly one of `port`, `server` or `noServer: true`');
    this.#opts = options;
    this.limits = resolveLimits(options.limits);
    this.#reads = new ReadMemory({ keepFreedMemory: options.keepFreedMemory });
    const shortest = Math.min(this.limits.handshakeTimeoutMs || Infinity, this.limits.closeTimeoutMs || Infinity);
    this.#deadlines = new DeadlineSweep(Number.isFinite(shortest) ? Math.min(250, shortest / 4) : 250);
    const factories: ExtensionFactory[] = [];
    const pmd = options.perMessageDeflate;
    const df = options.deflateFrame;
    if (pmd || df) this.#zlib = new ZlibCodecPool(typeof pmd === 'object' ? pmd : {});
    if (pmd) factories.push(new PerMessageDeflate(this.#zlib!.factory, typeof pmd === 'object' ? pmd : {}));
    if (df) {
      const o = typeof df === 'object' ? df : {};
      factories.push(new DeflateFrame(this.#zlib!.factory, o, 'deflate-frame'));
      factories.push(new DeflateFrame(this.#zlib!.factory, o, 'x-webkit-deflate-frame'));
    }
    if (options.extensions) factories.push(...options.extensions);
    this.#pipeline = new UpgradePipeline(options, factories, {
      rejected: (request, status, reason) => this.emit('rejected', request, status, reason),
      error: (err) => this.emit('error', err),
    });
    const h2 = options.http2 === true ? {} : options.http2 || undefined;
    this.#budgets = new SessionBudgets(h2?.maxSessionBufferBytes ?? DEFAULT_SESSION_BUFFER_BYTES);
    const onConnect = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void =>
      this.handleConnect(stream, headers, this.#emitConnection);
    if (options.port !== undefined) {
      if (h2 && !options.tls) throw new TypeError('http2 needs tls: browsers speak HTTP/2 over TLS only');
      this.#listener = new StandaloneListener(
        {
          port: options.port,
          maxHeaderBytes: this.limits.maxHeaderBytes,
          handshakeTimeoutMs: this.limits.handshakeTimeoutMs,
          ...(options.host !== undefined ? { host: options.host } : {}),
          ...(options.tls ? { tls: options.tls } : {}),
          ...(h2 ? { http2: { settings: connectSettings(h2), onConnect } } : {}),
          ...(options.onHttpRequest ? { onHttpRequest: options.onHttpRequest } : {}),
          reads: options.directReads === false ? null : this.#reads,
        },
        {
          accepting: () => !this.#closing,
          badRequest: (socket, status, reason) => this.#pipeline.reject(socket, null, status, reason),
          upgrade: (socket, head, pending) => {
            const start = head.start;
            this.#upgrade({
              socket,
              method: start[0],
              url: start[1],
              version: start[2],
              headers: head.headers,
              rawHead: true,
              pending,
              done: this.#emitConnection,
            });
          },
        },
        this.#deadlines,
      );
    }
    if (options.server) {
      options.server.on('upgrade', this.#onUpgradeEvent);
      if ('updateSettings' in options.server) {
        options.server.updateSettings(connectSettings(h2 ?? {}));
        this.#detachHttp2 = routeExtendedConnect(options.server, onConnect);
      }
    }
    this.#heartbeatFor(this.limits.idleTimeoutMs);
  }

  /** Standalone mode: start listening. */
  async listen(): Promise<AddressInfo> {
    if (!this.#listener) throw new TypeError('listen() is for standalone servers (options.port)');
    const address = await this.#listener.listen((err) => this.emit('error', err));
    this.emit('listening', address);
    return address;
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
    return this.#listener?.address() ?? null;
  }

  get url(): string {
    const a = this.address();
    if (!a) return '';
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return `${this.#listener!.secure ? 'wss' : 'ws'}://${host}:${a.port}`;
  }

  /** Complete (or refuse) the upgrade of a request from an http.Server 'upgrade' event. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, cb: Done): void {
    const s = socket as Socket;
    s.on('error', destroyOnError);
    // node:http hands the socket over here: from now to the 101 (an async hook, a service
    // loading) the handshake deadline is ours to keep
    if (this.limits.handshakeTimeoutMs > 0) this.#deadlines.arm(s, this.limits.handshakeTimeoutMs);
    this.#upgrade({
      socket: s,
      method: req.method ?? 'GET',
      version: req.httpVersion,
      url: req.url ?? '/',
      headers: req.headers,
      rawHead: false,
      pending: {
        buf: head,
        release: () => {
          s.off('error', destroyOnError);
          this.#deadlines.disarm(s);
        },
      },
      done: cb,
    });
  }

  /**
   * Complete (or refuse) a WebSocket over HTTP/2: an extended CONNECT stream (RFC 8441), for
   * servers that route HTTP/2 themselves. The stream then carries RFC 6455 frames unchanged;
   * the handshake runs the same pipeline, limits and deadline as an HTTP/1.1 Upgrade.
   */
  handleConnect(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, cb: Done): void {
    stream.on('error', destroyOnError);
    // hooks see the same request over both paths: no pseudo-headers, :authority as Host
    const plain: Record<string, string | string[] | undefined> = {};
    for (const name of Object.keys(headers)) if (name[0] !== ':') plain[name] = headers[name];
    if (plain.host === undefined && headers[':authority'] !== undefined) plain.host = headers[':authority'];
    if (this.limits.handshakeTimeoutMs > 0) this.#deadlines.arm(stream, this.limits.handshakeTimeoutMs);
    this.#upgrade({
      socket: stream.session!.socket as Socket,
      stream,
      pseudo: { ':method': headers[':method'], ':protocol': headers[':protocol'], ':path': headers[':path'], ':scheme': headers[':scheme'] },
      method: headers[':method'] ?? 'CONNECT',
      version: '2.0',
      url: headers[':path'] ?? '/',
      headers: plain,
      rawHead: false,
      pending: {
        buf: NOTHING_EARLY,
        release: () => {
          stream.off('error', destroyOnError);
          this.#deadlines.disarm(stream);
        },
      },
      done: cb,
    });
  }

  #upgrade(a: ServerAttempt): void {
    if (this.#closing) return this.#pipeline.reject(a.stream ?? a.socket, null, 503, 'Service Unavailable: server is shutting down');
    this.#pipeline.run(a, this.#completeAttempt);
  }

  /**
   * Turn the socket into a WebSocket whose first output is the 101 (what the application
   * sends on 'connection' leaves in the same write); bytes that came early are fed to it.
   * An HTTP/2 stream is answered with its 200 first and carries the WebSocket after it.
   */
  #complete(a: ServerAttempt, accepted: Accepted): void {
    a.pending.release();
    const shared = accepted.limits ? this.#sharedFor(accepted.limits) : (this.#shared ??= this.#makeShared(this.limits));
    const stream = a.stream;
    let ws: WebSocket;
    if (stream === undefined) {
      ws = new WebSocket(a.socket, shared, accepted.protocol, accepted.extensions, accepted.response as string);
    } else {
      try {
        stream.respond(accepted.response as OutgoingHttpHeaders);
      } catch (err) {
        for (const e of accepted.extensions) e.dispose();
        this.emit('error', err as Error);
        stream.destroy();
        return;
      }
      ws = new WebSocket(stream, shared, accepted.protocol, accepted.extensions, undefined, this.#budgets.join(stream));
    }
    if (accepted.context !== undefined) ws.context = accepted.context;
    this.clients.add(ws);
    a.done(ws, accepted.request);
    const early = a.pending.buf;
    if (early.length > 0) ws.receive(early);
  }

  /** One shared configuration per distinct set of overrides (a handful: one per service that sets any). */
  #sharedFor(overrides: ConnectionLimitOverrides): WebSocketShared {
    const key = CONNECTION_LIMIT_KEYS.map((k) => overrides[k] ?? '').join('|');
    let shared = this.#sharedBy.get(key);
    if (shared === undefined) {
      const limits = { ...this.limits };
      for (const k of CONNECTION_LIMIT_KEYS) if (overrides[k] !== undefined) (limits as Record<string, unknown>)[k] = overrides[k];
      this.#sharedBy.set(key, (shared = this.#makeShared(resolveLimits(limits))));
      this.#heartbeatFor(shared.limits.idleTimeoutMs);
    }
    return shared;
  }

  #heartbeatFor(idleTimeoutMs: number): void {
    if (this.#closing) return;
    if (idleTimeoutMs > 0 && !this.#heartbeats.has(idleTimeoutMs)) this.#heartbeats.set(idleTimeoutMs, new Heartbeat(this.clients, idleTimeoutMs));
  }

  #makeShared(limits: Limits): WebSocketShared {
    const o = this.#opts;
    return sharedConfig({
      role: 'server',
      limits,
      flushQueue: this.#flushQueue,
      reads: this.#reads,
      directReads: o.directReads !== false,
      streamMessages: o.streamMessages === true,
      observeFrames: o.observeFrames === true,
      onClosed: this.#untrack,
      deadlines: this.#deadlines,
      ...(o.onCloseFrame ? { onCloseFrame: o.onCloseFrame } : {}),
    });
  }

  /** Frame once, write the same bytes to every target (default: all clients). Returns recipients. */
  broadcast(
    data: string | Uint8Array | PreparedMessage,
    options?: { binary?: boolean; except?: WebSocket },
    targets: Iterable<WebSocket> = this.clients,
  ): number {
    const message = data instanceof PreparedMessage ? data : new PreparedMessage(data, options?.binary ?? typeof data !== 'string');
    const except = options?.except;
    let n = 0;
    for (const ws of targets) {
      if (ws === except) continue;
      if (ws.deliver(message)) n++;
    }
    return n;
  }

  /** Stop accepting, close every connection (1001 by default) and wait for them, at most timeoutMs. */
  async close(options: { code?: number; reason?: string; timeoutMs?: number } = {}): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      for (const heartbeat of this.#heartbeats.values()) heartbeat.stop();
      this.#opts.server?.off('upgrade', this.#onUpgradeEvent);
      this.#detachHttp2?.();
      void this.#listener?.close();
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
    await this.#listener?.close();
  }
}
