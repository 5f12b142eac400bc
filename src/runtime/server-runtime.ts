// The runtime around a running server: lock/pid file, logs, supervisor and background
// services, control socket, metrics endpoint, signals and graceful shutdown. The app layer
// plugs in through RuntimeApp; this is the only place that touches process state.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { isLoopbackHost, presentsToken } from '../server/admin-access.js';
import { addBackgroundService, serveBridge, type ServerBridge } from './background-service.js';
import type { SwitchboardConfig } from './config.js';
import { ControlError, crashStatus, type ReloadResult, type ServerStatus, type ServiceStatus } from './control-protocol.js';
import { processResources } from './process-resources.js';
import { ControlServer } from './control-server.js';
import { acquireLock, type AcquiredLock } from './lock-file.js';
import { createLogger, type RuntimeLogger } from './logger.js';
import type { ConnectionSummary, RoomSummary } from '../app/app.js';
import { MAX_LISTED_CONNECTIONS, RateSampler, type ClusterFigures, type NodeFigures } from './live-figures.js';
import { PROMETHEUS_CONTENT_TYPE, ServerMetrics, type MetricsSnapshot } from './server-metrics.js';
import { ShutdownCoordinator, type DrainWindow } from './shutdown.js';
import { Supervisor, type UnitStatus } from './supervisor.js';

export const GOING_AWAY = 1001;

const NO_LOCK: AcquiredLock = { path: '', tookOverFrom: undefined, release() {} };
/** How long the last log lines may take to leave at exit (a stalled reader of stdout). */
const LOG_DRAIN_MS = 2_000;

/** What the runtime needs from the application server. */
export interface RuntimeApp {
  /** Addresses served, e.g. ['ws://127.0.0.1:8080']. */
  listening(): string[];
  connectionCount(): number;
  /** Endpoint services (background services are added by the runtime). */
  services(): Promise<ServiceStatus[]>;
  /** Re-scan the services directory. */
  reload(): Promise<ReloadResult>;
  /** Restart an endpoint service by route; false when there is no such service. */
  restartService(route: string): Promise<boolean>;
  /** Stop accepting connections (new handshakes get 503); `window` is the stop's drain window (workers pass it on). */
  stopAccepting(window?: DrainWindow): void | Promise<void>;
  /**
   * Staggered drain: close the connections in batches over `window.windowMs` with 1012, each
   * after its in-flight commands finished (or were cancelled `graceMs` after its batch began).
   * Absent where the process serves no connection itself (the primary of `--workers N`).
   */
  closeStaggered?(window: DrainWindow, graceMs: number): Promise<void>;
  /** Wait for in-flight commands; abort them (their AbortSignal fires) when `deadline` aborts. */
  drain(deadline: AbortSignal): Promise<void>;
  /** Close every connection with `code` and wait for the closing handshakes, up to timeoutMs. */
  closeConnections(code: number, reason: string, timeoutMs: number): Promise<void>;
  /** This node's id. */
  node(): string;
  /** The broker's kind and state. */
  broker(): { kind: string; state: string; since: number; lastError?: string };
  /** Nodes of the cluster with a live lease. */
  nodes(): Promise<Array<{ id: string; since: number }>>;
  /** Room memberships of this process's connections (metrics); absent where the process serves none. */
  memberships?(): number;
  /** Server operations offered to background services (rooms, connections). */
  bridge?: ServerBridge;
  /** This process's open connections and rooms (live figures); absent where the process serves none. */
  connections?(): ConnectionSummary[];
  rooms?(): RoomSummary[];
  /** The live figures of the nodes behind this app (the primary of --workers N: its workers'). */
  figures?(): Promise<NodeFigures[]>;
}

export interface ServerRuntimeOptions {
  config: SwitchboardConfig;
  version?: string;
  /** Defaults to process.exit after flushing logs. */
  exit?: (code: number) => void;
  /** Install SIGTERM/SIGINT handlers (default true). */
  signals?: boolean;
  /** This node's id, on every log line. */
  node?: string;
  /**
   * 'server' (default): the whole runtime. 'worker': one of `--workers N` processes; the
   * primary holds the run directory's lock and the control socket, so a worker takes neither.
   */
  role?: 'server' | 'worker';
  /** Use this logger instead of creating one from config.log. */
  logger?: RuntimeLogger;
}

export class ServerRuntime {
  readonly config: SwitchboardConfig;
  readonly log: Logger;
  readonly metrics = new ServerMetrics();
  /** Message and command rates, sampled once a second (live figures). */
  readonly rates = new RateSampler(this.metrics);
  readonly supervisor = new Supervisor();
  readonly shutdown: ShutdownCoordinator;
  readonly startedAt = new Date();
  #runtimeLogger: RuntimeLogger;
  #lock: AcquiredLock;
  #control: ControlServer | undefined;
  #metricsServer: Server | undefined;
  #app: RuntimeApp | undefined;
  #version: string;
  #options: ServerRuntimeOptions;
  #metricsSource: (() => Promise<string>) | undefined;

  /** Takes the run directory's lock (throws LockHeldError) and sets up logs. Call before listening. */
  static create(options: ServerRuntimeOptions): ServerRuntime {
    const logger = options.logger ?? createLogger({ level: options.config.log.level, destination: options.config.log.destination, base: { pid: process.pid, ...(options.node ? { node: options.node } : {}) } });
    const lock = options.role === 'worker' ? NO_LOCK : acquireLock(options.config.runDir);
    return new ServerRuntime(options, logger, lock);
  }

  private constructor(options: ServerRuntimeOptions, logger: RuntimeLogger, lock: AcquiredLock) {
    this.#options = options;
    this.config = options.config;
    this.#version = options.version ?? '0.0.0';
    this.#runtimeLogger = logger;
    this.log = logger.logger;
    this.#lock = lock;
    if (lock.tookOverFrom) {
      this.log.warn(
        { lock: lock.path, stalePid: lock.tookOverFrom.pid, staleSince: lock.tookOverFrom.startedAt },
        `took over a stale lock left by pid ${lock.tookOverFrom.pid} (no such process)`,
      );
    }
    // the first exit gives the logs a bounded time to leave; a second one (a second signal) does not wait
    let exiting = false;
    const exit = options.exit ?? ((code: number) => {
      if (exiting) process.exit(code);
      exiting = true;
      void this.#runtimeLogger.drain(LOG_DRAIN_MS).then(() => process.exit(code));
    });
    this.shutdown = new ShutdownCoordinator({
      graceMs: this.config.shutdown.graceMs,
      window: configuredWindow(this.config),
      hardTimeoutMs: this.config.shutdown.closeTimeoutMs + 5_000,
      exit,
      log: (level, msg, fields) => this.log[level](fields ?? {}, msg),
    });
    this.#watchSupervisor();
  }

  /** Runs background services, the control socket and the metrics endpoint; installs signal handlers. */
  async start(app: RuntimeApp): Promise<void> {
    this.#app = app;
    if (app.bridge) this.supervisor.setFallbackRouter(serveBridge(app.bridge));
    const sv = this.config.supervisor;
    for (const [name, b] of Object.entries(this.config.background)) {
      addBackgroundService(this.supervisor, {
        name,
        module: b.module,
        isolation: b.isolation,
        options: b.options,
        restart: { maxRestarts: sv.maxRestarts, windowMs: sv.windowMs, initialDelayMs: sv.initialDelayMs, maxDelayMs: sv.maxDelayMs },
        heartbeat: { intervalMs: sv.heartbeatIntervalMs, timeoutMs: sv.heartbeatTimeoutMs },
        stopGraceMs: this.config.shutdown.graceMs,
        ...(sv.maxHeapMb !== undefined ? { maxHeapMb: sv.maxHeapMb } : {}),
      });
    }
    // background services (endpoint units start on their first handshake)
    const units = this.supervisor.names().map((n) => this.supervisor.get(n)!).filter((u) => u.state === 'idle');
    await Promise.all(
      units.map((u) =>
        u.start().catch((err: unknown) => this.log.error({ service: u.name, err: String(err) }, `background service ${u.name} failed to start`)),
      ),
    );

    const worker = this.#options.role === 'worker';
    if (!worker) this.#control = new ControlServer(
      this.config.runDir,
      {
        status: () => this.status(),
        stop: () => {
          this.log.info('stop requested on the control socket');
          // answer first, then stop
          setImmediate(() => void this.shutdown.shutdownAndExit('control: stop'));
        },
        drain: (window) => {
          this.log.info({ windowMs: window.windowMs, batches: window.batches }, 'drain requested on the control socket');
          setImmediate(() => void this.shutdown.shutdownAndExit('control: drain', window));
        },
        reload: () => this.#requireApp().reload(),
        restart: (name) => this.restart(name),
        figures: () => this.figures(),
      },
      (err) => this.log.error({ err: String(err) }, 'control socket error'),
    );
    await this.#control?.listen();

    if (this.config.metrics.enabled && this.config.metrics.port !== undefined && !worker) {
      const server = createServer((req, res) => {
        void this.handleMetricsRequest(req, res).then((handled) => {
          if (!handled) res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        });
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.config.metrics.port, this.config.metrics.host, () => resolve());
      });
      this.#metricsServer = server;
    }

    this.rates.start();
    this.#addShutdownSteps(app);
    if (this.#options.signals !== false) {
      this.shutdown.installSignalHandlers();
      process.on('SIGHUP', this.#onHangup);
      this.shutdown.once('start', () => process.off('SIGHUP', this.#onHangup));
    }
    this.log.info(
      { runDir: this.config.runDir, listening: app.listening(), broker: app.broker().kind, metrics: this.metricsAddress() },
      worker ? 'worker started' : 'switchboard started',
    );
  }

  /** SIGHUP: re-scan the services directory, like `switchboard reload`. */
  #onHangup = (): void => {
    const app = this.#app;
    if (!app || this.shutdown.stopping) return;
    app.reload().then(
      (result) => this.log.info({ ...result }, 'SIGHUP: services re-scanned'),
      (err: unknown) => this.log.error({ err: String(err) }, 'SIGHUP: reload failed'),
    );
  };

  /** The admin metrics address, when metrics are on their own port. */
  metricsAddress(): string | undefined {
    const a = this.#metricsServer?.address() as AddressInfo | null | undefined;
    return a ? `http://${a.address}:${a.port}${this.config.metrics.path}` : undefined;
  }

  /**
   * Serves GET <metrics.path> (for the main HTTP server when metrics have no port of their
   * own). Returns false when the request is not for the metrics.
   */
  async handleMetricsRequest(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const m = this.config.metrics;
    if (!m.enabled) return false;
    const path = (req.url ?? '/').split('?')[0];
    if (path !== m.path) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return true;
    }
    const token = m.token ?? this.config.admin.token;
    if (token === undefined && !isLoopbackHost(m.port !== undefined ? m.host : this.config.host)) {
      // beyond loopback without a token the metrics are not served (README: Security)
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return true;
    }
    if (token !== undefined && !presentsToken(req.headers.authorization, token)) {
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="switchboard metrics"', 'content-type': 'text/plain' }).end('unauthorized\n');
      return true;
    }
    const body = await this.metricsText();
    res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  }

  /**
   * Where the exposition comes from when this process's metrics are not the whole story: the
   * primary of `--workers N` merges its workers', and a worker asks the primary for that.
   */
  setMetricsSource(source: () => Promise<string>): void {
    this.#metricsSource = source;
  }

  /** The Prometheus exposition served at metrics.path. */
  async metricsText(): Promise<string> {
    if (this.#metricsSource) return this.#metricsSource();
    await this.#refreshServiceGauges();
    return this.metrics.render();
  }

  /** This process's own metrics, as JSON (for merging). */
  async metricsSnapshot(): Promise<MetricsSnapshot> {
    await this.#refreshServiceGauges();
    return this.metrics.snapshot();
  }

  async status(): Promise<ServerStatus> {
    const app = this.#app;
    const mem = process.memoryUsage();
    const background: ServiceStatus[] = this.#backgroundUnits().map((u) => backgroundStatus(u));
    // services first: with workers, asking them for their services also refreshes the connection count
    const services = (await app?.services()) ?? [];
    return {
      pid: process.pid,
      node: app?.node() ?? '',
      broker: brokerStatus(app),
      nodes: ((await app?.nodes().catch(() => [])) ?? []).map((n) => ({ id: n.id, since: new Date(n.since).toISOString() })),
      version: this.#version,
      startedAt: this.startedAt.toISOString(),
      uptimeSeconds: Math.round((Date.now() - this.startedAt.getTime()) / 1000),
      listening: app?.listening() ?? [],
      connections: app?.connectionCount() ?? 0,
      memory: { rss: mem.rss, heapUsed: mem.heapUsed, heapTotal: mem.heapTotal, external: mem.external },
      resources: processResources(),
      services: [...services, ...background],
    };
  }

  /** This node's live figures: rates, services, rooms, connections. */
  async nodeFigures(): Promise<NodeFigures> {
    const app = this.#requireApp();
    const status = await this.status();
    const connections = app.connections?.() ?? [];
    return {
      node: status.node,
      pid: status.pid,
      startedAt: this.startedAt.getTime(),
      at: Date.now(),
      connections: status.connections,
      rates: this.rates.rates(),
      series: this.rates.series(),
      services: status.services.map((s) => ({ name: s.path ?? s.name, kind: s.kind, isolation: s.isolation, state: s.state, restarts: s.restarts, connections: s.connections })),
      rooms: app.rooms?.() ?? [],
      connectionList: connections.slice(0, MAX_LISTED_CONNECTIONS),
    };
  }

  /** The live figures of every node this server can see, and the cluster's nodes with a live lease. */
  async figures(): Promise<ClusterFigures> {
    const app = this.#requireApp();
    const nodes = app.figures ? await app.figures() : [await this.nodeFigures()];
    const cluster = await app.nodes().catch(() => [] as Array<{ id: string; since: number }>);
    return { nodes, cluster };
  }

  /** Restart a background service by name or an endpoint service by route. */
  async restart(name: string): Promise<void> {
    const unit = this.supervisor.get(name);
    if (unit && !name.startsWith('/')) {
      this.log.info({ service: name }, `restarting background service ${name} (requested)`);
      await unit.restart();
      return;
    }
    const app = this.#requireApp();
    const route = name.startsWith('/') ? name : `/${name}`;
    if (!(await app.restartService(route))) throw new ControlError('NOT_FOUND', `no service "${name}"`);
    this.log.info({ service: route }, `restarted service ${route} (requested)`);
  }

  /** Background units (endpoint services' units are named by their route, "/..."). */
  #backgroundUnits(): UnitStatus[] {
    return this.supervisor.status().filter((u) => !u.name.startsWith('/'));
  }

  #requireApp(): RuntimeApp {
    if (!this.#app) throw new ControlError('NOT_READY', 'the server is still starting');
    return this.#app;
  }

  #watchSupervisor(): void {
    this.supervisor.on('crash', (c) => {
      const fields = { service: c.name, reason: c.reason, code: c.code, signal: c.signal, err: c.error?.message, stack: c.error?.stack, attempt: c.attempt };
      if (c.restartInMs !== undefined) {
        this.log.error({ ...fields, restartInMs: c.restartInMs }, `service ${c.name} crashed (${c.reason}); restarting in ${c.restartInMs} ms`);
        this.metrics.restarts.inc({ service: c.name, reason: c.reason });
      } else {
        this.log.error(fields, `service ${c.name} crashed (${c.reason}) and exhausted its restart budget: failed`);
      }
    });
    this.supervisor.on('state', (name, state, previous) => {
      if (state === 'running' && previous === 'starting' && this.supervisor.get(name)?.status().restarts) {
        this.log.info({ service: name, restarts: this.supervisor.get(name)?.status().restarts }, `service ${name} restarted`);
      }
    });
    this.supervisor.on('log', (e) => this.log[e.level === 'trace' ? 'debug' : e.level]({ service: e.name, ...e.fields }, e.msg));
  }

  async #refreshServiceGauges(): Promise<void> {
    const app = this.#app;
    if (app) {
      const b = app.broker();
      this.metrics.brokerState.reset();
      this.metrics.brokerState.set({ kind: b.kind, state: b.state }, 1);
      if (app.memberships) this.metrics.roomMembers.set(app.memberships());
    }
    this.metrics.serviceUp.reset();
    for (const u of this.#backgroundUnits()) this.metrics.serviceUp.set({ service: u.name, state: u.state }, u.state === 'running' ? 1 : 0);
    for (const s of (await this.#app?.services()) ?? []) {
      if (s.isolation !== 'inline') this.metrics.serviceUp.set({ service: s.path ?? s.name, state: s.state }, s.state === 'running' ? 1 : 0);
    }
  }

  #addShutdownSteps(app: RuntimeApp): void {
    const sd = this.shutdown;
    sd.add('stop-accepting', 'stop accepting', async ({ reason, window }) => {
      this.log.info({ reason, connections: app.connectionCount(), drainWindowMs: window.windowMs }, 'shutting down: no longer accepting connections');
      await app.stopAccepting(window);
    });
    sd.add('stagger', 'staggered drain (1012)', ({ window }) => (window.windowMs > 0 ? app.closeStaggered?.(window, this.config.shutdown.graceMs) : undefined));
    sd.add('drain', 'in-flight commands', ({ deadline }) => app.drain(deadline));
    sd.add('close-connections', 'close connections (1001)', () =>
      app.closeConnections(GOING_AWAY, 'server shutting down', this.config.shutdown.closeTimeoutMs),
    );
    sd.add('stop-services', 'background services', () => this.supervisor.stopAll('shutdown'));
    sd.add('cleanup', 'control socket', () => {
      this.rates.stop();
      return this.#control?.close();
    });
    sd.add('cleanup', 'metrics endpoint', () => {
      const s = this.#metricsServer;
      if (!s) return;
      s.closeAllConnections();
      return new Promise<void>((resolve) => s.close(() => resolve()));
    });
    sd.on('done', (code) => {
      this.#lock.release();
      this.log.info({ code }, 'switchboard stopped');
      this.#runtimeLogger.flush();
    });
  }

  /** Release the lock without a shutdown (startup failed after create()). */
  abort(): void {
    this.rates.stop();
    void this.#control?.close();
    this.#metricsServer?.close();
    this.shutdown.removeSignalHandlers();
    this.#lock.release();
    this.#runtimeLogger.flush();
  }
}

/** The drain window of a stop by signal, from config (windowMs 0: none). */
function configuredWindow(config: SwitchboardConfig): DrainWindow {
  const { drainWindowMs, drainBatches } = config.shutdown;
  return { windowMs: drainWindowMs, ...(drainBatches > 0 ? { batches: drainBatches } : {}) };
}

function backgroundStatus(u: UnitStatus): ServiceStatus {
  const s: ServiceStatus = {
    name: u.name,
    kind: 'background',
    isolation: u.isolation,
    state: u.state,
    restarts: u.restarts,
    connections: 0,
    messagesIn: 0,
    messagesOut: 0,
  };
  if (u.pid !== undefined && u.isolation === 'process') s.pid = u.pid;
  if (u.memory) s.memory = { rss: u.memory.rss, heapUsed: u.memory.heapUsed, heapTotal: u.memory.heapTotal, external: u.memory.external };
  if (u.lastCrash) s.lastCrash = crashStatus(u.lastCrash);
  return s;
}

function brokerStatus(app: RuntimeApp | undefined): ServerStatus['broker'] {
  const b = app?.broker() ?? { kind: 'memory', state: 'up', since: Date.now() };
  return { kind: b.kind, state: b.state, since: new Date(b.since).toISOString(), ...(b.lastError !== undefined ? { lastError: b.lastError } : {}) };
}
