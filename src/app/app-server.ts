/**
 * The application server: an http.Server that serves the console page and routes every
 * WebSocket upgrade to the service file for its path (404/500 before upgrading), on top of
 * the transport's WebSocketServer in noServer mode. Optional --watch reloading.
 */
import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { resolve as resolvePath } from 'node:path';
import { WebSocketServer, type ServerOptions } from '../transport/server.js';
import { prepareMessage, type WebSocket } from '../transport/websocket.js';
import { AppCore, type Admission, type ServiceSummary } from './app-core.js';
import { inlineHostFactory } from './inline-host.js';
import { silentLogger, type Logger } from './logger.js';
import type { RoomIndexOptions } from './room-index.js';
import type { ServiceHostFactory } from './service-host.js';
import { createHttpHandler } from './static-files.js';

/** Where the server listens (the app layer speaks of addresses, not sockets). */
export interface ListenAddress {
  address: string;
  family: string;
  port: number;
}

export interface AppServerOptions {
  /** The services directory. */
  dir: string;
  host?: string;
  /** 0 = ephemeral. Default 8080. */
  port?: number;
  /** Reload changed service files for new connections. */
  watch?: boolean;
  log?: Logger;
  rooms?: RoomIndexOptions;
  /** Transport options passed through (limits, perMessageDeflate, origins ...). */
  transport?: Pick<ServerOptions, 'limits' | 'perMessageDeflate' | 'origins' | 'basicAuth'>;
  /** How services are hosted (default: inline, in this thread). The runtime passes worker/process hosts. */
  hostFactory?: ServiceHostFactory;
  /** Grace for in-flight commands when stopping, ms (default 5000). */
  stopDeadlineMs?: number;
}

export interface AppServerEvents {
  reload: [{ file: string; route: string; ok: boolean; error?: string }];
  'load-error': [{ file: string; route: string; reason: string }];
  connection: [{ id: string; route: string }];
}

export class AppServer extends EventEmitter<AppServerEvents> {
  readonly core: AppCore;
  readonly http: Server;
  readonly wss: WebSocketServer;
  readonly #o: AppServerOptions;
  readonly #log: Logger;
  #watcher: FSWatcher | null = null;
  readonly #reloading = new Map<string, boolean>();

  constructor(options: AppServerOptions) {
    super();
    this.#o = options;
    this.#log = options.log ?? silentLogger;
    const dir = resolvePath(options.dir);
    this.core = new AppCore({
      root: dir,
      log: this.#log,
      framer: { prepare: (data, binary) => prepareMessage(data, binary) },
      hostFactory: options.hostFactory ?? inlineHostFactory(this.#log),
      ...(options.rooms ? { rooms: options.rooms } : {}),
    });
    this.core.on('reload', (e) => this.emit('reload', e));
    this.core.on('load-error', (e) => this.emit('load-error', e));
    this.wss = new WebSocketServer({
      ...options.transport,
      noServer: true,
      handshake: async (request) => {
        const d = await this.core.decide(request);
        if (!d.accept) {
          this.#log.info({ url: request.url, status: d.status, reason: d.reason }, 'handshake rejected');
          return { reject: { status: d.status, reason: d.reason, ...(d.headers ? { headers: d.headers } : {}) } };
        }
        const a = d.admission;
        return { context: a, ...(a.protocol ? { protocol: a.protocol } : {}), ...(a.headers ? { headers: a.headers } : {}) };
      },
      onCloseFrame: (ws, code, reason) => {
        // the service's close hook may choose the reply; otherwise echo the peer's code and reason
        const id = ids.get(ws);
        const chosen = id === undefined ? undefined : this.core.peerClose(id, code, reason);
        return chosen ?? (code === 1005 || code === 1006 ? undefined : { code, reason });
      },
    });
    const ids = new WeakMap<WebSocket, string>();
    this.http = createServer(
      createHttpHandler({
        listRoutes: () => this.core.resolver.listRoutes(),
        isService: async (path) => (await this.core.resolver.resolve(path)).found,
      }),
    );
    this.http.on('upgrade', (req, socket, head) => {
      this.wss.handleUpgrade(req, socket, head, (ws, request) => {
        const admission = ws.context as Admission;
        let id: string;
        try {
          id = this.core.attach(ws, request, admission, ws.protocol);
        } catch (err) {
          this.#log.error({ err }, 'attach failed');
          ws.close(1011, 'internal error');
          return;
        }
        ids.set(ws, id);
        ws.on('message', (data, isBinary) => this.core.message(id, isBinary ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : data.toString('utf8'), isBinary));
        ws.on('close', (code, reason) => void this.core.closed(id, code, reason));
        ws.on('error', (err) => this.#log.debug({ connection: id, err }, 'connection error'));
        this.emit('connection', { id, route: admission.route });
      });
    });
  }

  async listen(): Promise<ListenAddress> {
    const { host = '127.0.0.1', port = 8080 } = this.#o;
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    if (this.#o.watch === true) await this.#startWatching();
    return this.http.address() as ListenAddress;
  }

  address(): ListenAddress | null {
    return this.http.address() as ListenAddress | null;
  }

  /** New handshakes are answered 503 from now on. */
  stopAccepting(): void {
    this.core.stopAccepting();
  }

  /** Waits for in-flight commands; cancels them when `deadline` aborts. */
  drain(deadline: AbortSignal): Promise<void> {
    return this.core.drain(deadline);
  }

  /** Closes every connection with `code` and waits for the closing handshakes, up to timeoutMs. */
  closeConnections(code = 1001, reason = 'server shutting down', timeoutMs?: number): Promise<void> {
    return this.wss.close({ code, reason, ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
  }

  connectionCount(): number {
    return this.core.connectionCount;
  }

  /** The services loaded so far (services load on their first connection). */
  services(): ServiceSummary[] {
    return this.core.services();
  }

  /**
   * Re-scans the services directory: reloads the loaded files that changed on disk, forgets
   * deleted ones, and lists the routes found that are not loaded yet (they load on first use).
   */
  async rescan(): Promise<{ added: string[]; removed: string[]; restarted: string[]; unchanged: string[] }> {
    const routes = await this.core.resolver.listRoutes();
    const result = { added: [] as string[], removed: [] as string[], restarted: [] as string[], unchanged: [] as string[] };
    const loaded = new Map(this.core.services().map((s) => [s.route, s]));
    for (const route of routes) if (!loaded.has(route)) result.added.push(route);
    for (const s of loaded.values()) {
      const now = await this.core.resolver.resolve(s.route);
      if (!now.found || now.file !== s.file) {
        this.core.forget(s.file);
        result.removed.push(s.route);
      } else if (this.core.changedOnDisk(s.file)) {
        await this.core.reload(s.file);
        result.restarted.push(s.route);
      } else result.unchanged.push(s.route);
    }
    return result;
  }

  /** Loads a service's file again for new connections; false when no service serves the route. */
  async restartService(route: string): Promise<boolean> {
    const r = await this.core.resolver.resolve(route);
    if (!r.found) return false;
    if (this.core.services().some((s) => s.file === r.file)) return this.core.reload(r.file);
    return (await this.core.decide({ method: 'GET', url: route, path: route, query: {}, headers: {}, cookies: {}, protocols: [], extensions: [], remoteAddress: '', remotePort: 0, secure: false })).accept;
  }

  /** Stop accepting, let in-flight commands finish (up to stopDeadlineMs), close every connection with 1001. */
  async close(): Promise<void> {
    this.#watcher?.close();
    this.#watcher = null;
    this.http.close();
    await this.core.stop(this.#o.stopDeadlineMs ?? 5000);
    await this.closeConnections(1001, 'server shutting down');
    this.http.closeAllConnections();
  }

  async #startWatching(): Promise<void> {
    const root = await realpath(resolvePath(this.#o.dir));
    this.#watcher = watch(root, { recursive: true }, (_event, filename) => {
      if (filename === null) return;
      const changed = resolvePath(root, filename.toString());
      for (const file of this.core.loadedFiles()) if (file === changed) this.#reload(file);
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
    void this.core.reload(file).finally(() => {
      const again = this.#reloading.get(file) === true;
      this.#reloading.delete(file);
      if (again) this.#reload(file);
    });
  }
}
