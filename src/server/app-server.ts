/**
 * The application server as a library: an http.Server serving the console page and routing
 * every WebSocket upgrade, through the edge, to the app (the service file for its path;
 * 404/500 before upgrading). Optional --watch reloading. `switchboard serve` wraps it in the
 * runtime (start-server.ts).
 */
import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { App, type AppOptions } from '../app/app.js';
import { DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from '../app/connection-limits.js';
import { silentLogger, type Logger } from '../app/logger.js';
import { observeAll, type AppObserver } from '../app/observer.js';
import type { RescanResult, ServiceSummary } from '../app/service-catalog.js';
import { DEFAULT_LIMITS, type Limits } from '../transport/limits.js';
import type { StaggerOptions } from '../app/staggered-close.js';
import type { PreparedMessage } from '../transport/websocket.js';
import { adminAccess, type ConsoleMode } from './admin-access.js';
import { DEFAULT_EDGE_LIMITS, type EdgeLimits } from './edge-limits.js';
import { createHttpHandler, type HttpRoute } from './http-routes.js';
import { healthRoute } from './health-route.js';
import { serverApiRoute, type ServerApiOptions } from './server-api.js';
import { HttpListener, type ListenAddress } from './http-listener.js';
import type { TlsFiles } from './tls-files.js';
import { preparedFramer, websocketEdge, type Carriage, type EdgeTransportOptions } from './websocket-edge.js';

export type { ListenAddress } from './http-listener.js';

/** Every limit of the app server in one place: the transport's, the edge's (per address, per connection rates) and the app's (per connection holdings). */
export type AppServerLimits = Limits & Omit<EdgeLimits, 'trustProxy'> & ConnectionLimits;

/** Splits one limits object into the part each layer applies. */
function splitLimits(l: Partial<AppServerLimits>): { transport: Partial<Limits>; edge: Partial<EdgeLimits>; app: Partial<ConnectionLimits> } {
  const out = { transport: {} as Record<string, unknown>, edge: {} as Record<string, unknown>, app: {} as Record<string, unknown> };
  for (const [key, value] of Object.entries(l)) {
    if (value === undefined) continue;
    if (Object.hasOwn(DEFAULT_LIMITS, key)) out.transport[key] = value;
    else if (Object.hasOwn(DEFAULT_EDGE_LIMITS, key)) out.edge[key] = value;
    else if (Object.hasOwn(DEFAULT_CONNECTION_LIMITS, key)) out.app[key] = value;
    else throw new TypeError(`unknown limit ${JSON.stringify(key)}`);
  }
  return out;
}

export interface AppServerOptions extends Pick<AppOptions<PreparedMessage>, 'rooms' | 'cluster' | 'hosts' | 'defaultIsolation' | 'nodeId'> {
  /** The services directory. */
  dir: string;
  host?: string;
  /** 0 = ephemeral. Default 8080. */
  port?: number;
  /** Serve TLS (wss://, https://) from these PEM files; `reloadTls()` reads them again. */
  tls?: TlsFiles;
  /** With tls: HTTP/2 beside HTTP/1.1, WebSockets over extended CONNECT (default on); streams per connection. */
  http2?: { enabled?: boolean; maxStreams?: number };
  /** Reload changed service files for new connections. */
  watch?: boolean;
  log?: Logger;
  /** Transport options passed through (limits, perMessageDeflate, origins ...). */
  transport?: EdgeTransportOptions;
  /** Grace for in-flight commands when closing, ms (default 5000). */
  stopDeadlineMs?: number;
  /** Reports connections, messages, commands, handshake refusals, loads (metrics and logs). */
  observer?: AppObserver;
  /** Extra HTTP routes, tried before the console's (metrics, health ...). */
  routes?: HttpRoute[];
  /** Limits (transport, abuse, per connection); each has a safe default. Over `transport.limits`. */
  limits?: Partial<AppServerLimits>;
  /** Proxies whose Forwarded / X-Forwarded-For headers name the client: addresses, CIDR ranges, 'loopback', 'private'. */
  trustProxy?: string[];
  /** The console page and /services.json: 'auto' (default: served on loopback, or with a token), 'on', 'off'; `token` guards them. */
  admin?: { console?: ConsoleMode; token?: string };
  /** Serve the server API (publish, send, disconnect, presence, history over HTTP); it refuses every call without a token. */
  api?: ServerApiOptions;
}

export interface AppServerEvents {
  reload: [{ file: string; route: string; ok: boolean; error?: string }];
  'load-error': [{ file: string; route: string; reason: string }];
  /** `via`: the HTTP/1.1 Upgrade or an HTTP/2 stream (RFC 8441) carried it. */
  connection: [{ id: string; route: string; via: Carriage }];
}

export class AppServer extends EventEmitter<AppServerEvents> {
  /** The application layer (services, connections, rooms): its public API steers the server. */
  readonly app: App<PreparedMessage>;
  readonly #http: HttpListener;
  readonly #closeConnections: (code: number, reason: string, timeoutMs?: number) => Promise<void>;
  readonly #stopEdge: () => void;
  readonly #o: AppServerOptions;
  readonly #log: Logger;
  #watcher: FSWatcher | null = null;
  readonly #reloading = new Map<string, boolean>();

  constructor(options: AppServerOptions) {
    super();
    this.#o = options;
    const log = (this.#log = options.log ?? silentLogger);
    const events: AppObserver = {
      serviceLoaded: (e) => {
        if (!e.reload) return;
        log.info({ file: e.file, route: e.route }, 'service reloaded');
        this.emit('reload', { file: e.file, route: e.route, ok: true });
      },
      serviceLoadFailed: (e) => {
        this.emit('load-error', { file: e.file, route: e.route, reason: e.reason });
        if (e.reload) this.emit('reload', { file: e.file, route: e.route, ok: false, error: e.reason });
      },
    };
    const observer = observeAll(events, options.observer);
    const limits = splitLimits(options.limits ?? {});
    this.app = new App({
      limits: limits.app,
      root: resolvePath(options.dir),
      framer: preparedFramer,
      log,
      observer,
      ...(options.hosts ? { hosts: options.hosts } : {}),
      ...(options.defaultIsolation ? { defaultIsolation: options.defaultIsolation } : {}),
      ...(options.rooms ? { rooms: options.rooms } : {}),
      ...(options.cluster ? { cluster: options.cluster } : {}),
      ...(options.nodeId ? { nodeId: options.nodeId } : {}),
    });
    const transportLimits = { ...options.transport?.limits, ...limits.transport };
    const edge = websocketEdge(this.app, {
      log,
      observer,
      transport: { ...options.transport, limits: transportLimits },
      limits: { ...limits.edge, ...(options.trustProxy ? { trustProxy: options.trustProxy } : {}) },
      onOpen: (id, route, via) => this.emit('connection', { id, route, via }),
    });
    this.#stopEdge = edge.stop;
    const handshakeMs = edge.wss.limits.handshakeTimeoutMs;
    this.#http = new HttpListener({
      ...(options.tls ? { tls: options.tls } : {}),
      ...(options.http2 ? { http2: options.http2 } : {}),
      http1: {
        maxHeaderSize: edge.wss.limits.maxHeaderBytes,
        // a client slower than the handshake timeout to send its request head is dropped as one
        // that stalls after it is (node checks every connectionsCheckingInterval)
        ...(handshakeMs > 0 ? { headersTimeout: handshakeMs, requestTimeout: Math.max(handshakeMs, 300_000), connectionsCheckingInterval: Math.max(100, Math.min(1_000, handshakeMs / 4)) } : {}),
      },
      onRequest: createHttpHandler({
        routes: [healthRoute(this.app), ...(options.api ? [serverApiRoute(this.app, options.api)] : []), ...(options.routes ?? [])],
        listRoutes: () => this.app.listRoutes(),
        isService: (path) => this.app.isService(path),
        admin: adminAccess({ console: options.admin?.console ?? 'auto', token: options.admin?.token, host: options.host ?? '127.0.0.1' }),
      }),
      onUpgrade: edge.upgrade,
      onConnect: edge.connect,
    });
    this.#closeConnections = async (code, reason, timeoutMs) => {
      await edge.wss.close({ code, reason, ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
      this.#http.closeAll();
    };
  }

  async listen(): Promise<ListenAddress> {
    const { host = '127.0.0.1', port = 8080 } = this.#o;
    await this.app.start();
    const address = await this.#http.listen(port, host);
    if (this.#o.watch === true) await this.#startWatching();
    return address;
  }

  address(): ListenAddress | null {
    return this.#http.address();
  }

  /** wss:// and https:// (TLS), or ws:// and http://. */
  get secure(): boolean {
    return this.#http.secure;
  }

  /** Whether HTTP/2 (and WebSockets over it) is served beside HTTP/1.1. */
  get http2(): boolean {
    return this.#http.http2;
  }

  /** The certificate in use (subject, fingerprint, validity), when serving TLS. */
  get certificate(): string | undefined {
    return this.#http.certificate;
  }

  /**
   * Read the TLS files again: new connections get the new certificate, open ones keep
   * theirs. Throws (and keeps the old certificate) when the files cannot be used.
   */
  reloadTls(): string | undefined {
    return this.#http.reloadTls();
  }

  /** No new TCP connections; handshakes already under way are answered 503. */
  stopAccepting(): void {
    this.app.stopAccepting();
    this.#http.stopAccepting();
  }

  /** Waits for in-flight commands; cancels them when `deadline` aborts. */
  drain(deadline: AbortSignal): Promise<void> {
    return this.app.drain(deadline);
  }

  /**
   * Staggered drain: stops accepting and closes the connections in batches over
   * `o.windowMs` (1012 by default), each once its in-flight commands are done or cancelled
   * (`o.graceMs` after its batch began). Resolves with the batch sizes.
   */
  closeStaggered(o: StaggerOptions): Promise<number[]> {
    this.stopAccepting();
    return this.app.closeStaggered(o);
  }

  /** Closes every connection with `code` and waits for the closing handshakes, up to timeoutMs. */
  closeConnections(code = 1001, reason = 'server shutting down', timeoutMs?: number): Promise<void> {
    return this.#closeConnections(code, reason, timeoutMs);
  }

  connectionCount(): number {
    return this.app.connectionCount;
  }

  /** Every endpoint service of the directory, loaded or not. */
  services(): Promise<ServiceSummary[]> {
    return this.app.services();
  }

  /** Re-scans the services directory. */
  rescan(): Promise<RescanResult> {
    return this.app.rescan();
  }

  restartService(route: string): Promise<boolean> {
    return this.app.restartService(route);
  }

  /** Stop accepting, let in-flight commands finish (up to stopDeadlineMs), close every connection with 1001, stop the services, leave the cluster. */
  async close(): Promise<void> {
    this.#watcher?.close();
    this.#watcher = null;
    this.stopAccepting();
    const deadline = AbortSignal.timeout(this.#o.stopDeadlineMs ?? 5000);
    await this.app.drain(deadline);
    await this.closeConnections(1001, 'server shutting down');
    this.#stopEdge();
    await this.app.dispose();
  }

  async #startWatching(): Promise<void> {
    const root = await realpath(resolvePath(this.#o.dir));
    this.#watcher = watch(root, { recursive: true }, (_event, filename) => {
      if (filename === null) return;
      const changed = resolvePath(root, filename.toString());
      for (const file of this.app.loadedFiles()) if (file === changed) this.#reload(file);
    });
    this.#watcher.on('error', (err) => this.#log.warn({ err }, 'watcher failed'));
  }

  /** Coalesces bursts of change events: one reload at a time per file, plus one more if it changed meanwhile. */
  #reload(file: string): void {
    if (this.#reloading.has(file)) {
      this.#reloading.set(file, true);
      return;
    }
    this.#reloading.set(file, false);
    void this.app.reloadFile(file).finally(() => {
      const again = this.#reloading.get(file) === true;
      this.#reloading.delete(file);
      if (again) this.#reload(file);
    });
  }
}
