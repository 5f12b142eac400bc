/**
 * The composition root of `switchboard serve`: the runtime's parts (lock, logs, metrics,
 * supervisor, control socket, shutdown), the service hosts per isolation, and the app
 * server, wired together through their public APIs. The `switchboard/runtime` entry.
 * @module
 */
import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import type { ClusterFactory } from '../app/cluster.js';
import type { Logger } from '../app/logger.js';
import type { ServiceSummary } from '../app/service-catalog.js';
import { brokerCluster, connectBroker } from '../cluster/index.js';
import { IpcBroker } from '../cluster/ipc-broker.js';
import { IpcHub } from '../cluster/ipc-hub.js';
import type { IpcEndpoint } from '../cluster/ipc-messages.js';
import { batchingEndpoint } from '../cluster/ipc-batching.js';
import { WorkerPool } from './worker-pool.js';
import { MemoryRelease } from '../runtime/memory-release.js';
import { WORKER_TAG, type PrimaryOp, type PrimaryToWorker, type WorkerToPrimary } from './worker-messages.js';
import { mergeMetrics } from '../runtime/server-metrics.js';
import { inlineHostFactory } from '../app/inline-host.js';
import { trace, type TracerProvider } from '@opentelemetry/api';
import { observeAll } from '../app/observer.js';
import { appTelemetry } from '../runtime/app-telemetry.js';
import { commandTracing } from '../runtime/command-tracing.js';
import { ADMIN_ROUTE, adminService, publishFigures, type AdminControl, type AdminFigures } from '../runtime/admin-service.js';
import type { NodeFigures } from '../runtime/live-figures.js';
import { adminPageRoute } from './admin-page-route.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { addBackgroundService } from '../runtime/background-service.js';
import type { SwitchboardConfig } from '../runtime/config.js';
import { ControlError, type ReloadResult, type ServiceStatus } from '../runtime/control-protocol.js';
import { isolatedHostFactory, type IsolatedHostOptions } from '../runtime/isolated-service-host.js';
import { ServerRuntime, type RuntimeApp } from '../runtime/server-runtime.js';
import { isLoopbackHost } from './admin-access.js';
import { AppServer, type AppServerOptions, type ListenAddress } from './app-server.js';

export type { BackgroundContext, ServiceHandle } from '../runtime/background-service.js';

export interface RunningServer {
  runtime: ServerRuntime;
  address: ListenAddress;
  /** Endpoint routes of the services directory. */
  routes: string[];
  /** The app server of this process (null in the primary of `--workers N`, which serves none itself). */
  server: AppServer | null;
  /** The worker processes, in the primary of `--workers N`. */
  workers: WorkerPool | null;
  /** The admin page's address with its token, when it is on. */
  adminUrl?: string;
}

export interface StartServerOptions {
  config: SwitchboardConfig;
  version?: string;
  /** Defaults to process.exit (after flushing logs). */
  exit?: (code: number) => void;
  signals?: boolean;
  /** With `tracing.enabled`: spans go to this provider's tracer (default: @opentelemetry/api's global provider). */
  tracerProvider?: TracerProvider;
  /** Transport options passed to the app server (limits, origins, ...); deflate comes from config. */
  transport?: AppServerOptions['transport'];
}

/**
 * Start the whole server. Throws LockHeldError when the run directory is taken. With
 * `workers > 1` this process becomes the primary and forks the workers, which run this same
 * function in their own processes (node:cluster).
 */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const worker = cluster.isWorker && process.env.SWITCHBOARD_WORKER_INDEX !== undefined;
  const primary = !worker && options.config.workers > 1;
  // made before the workers fork, so that they inherit it
  if (adminEnabled(options.config)) adminPageToken(options.config);
  const nodeId = randomBytes(4).toString('hex');
  const runtime = ServerRuntime.create({
    config: worker && process.env.SWITCHBOARD_WORKER_INDEX !== '0' ? { ...options.config, background: {} } : options.config,
    node: nodeId,
    ...(worker ? { role: 'worker' as const } : {}),
    ...(options.version !== undefined ? { version: options.version } : {}),
    ...(options.exit ? { exit: options.exit } : {}),
    ...(options.signals !== undefined ? { signals: options.signals } : {}),
  });
  try {
    if (primary) return await startPrimary(runtime, nodeId, options);
    const running = await compose(runtime, nodeId, options, worker);
    if (worker) serveThePrimary(running);
    return running;
  } catch (err) {
    runtime.log.fatal({ err: String(err) }, 'switchboard failed to start');
    runtime.abort();
    throw err;
  }
}

/** The primary of `--workers N`: the runtime (lock, control socket, signals) over the pool of workers. */
async function startPrimary(runtime: ServerRuntime, nodeId: string, options: StartServerOptions): Promise<RunningServer> {
  const { config } = options;
  const c = config.cluster;
  const hub = config.broker === 'memory' ? new IpcHub({ historySize: c.historySize, historyTtlMs: c.historyTtlMs, metaTtlMs: c.metaTtlMs }) : null;
  const pool = new WorkerPool(nodeId, {
    count: config.workers,
    hub,
    log: runtime.log,
    stopTimeoutMs: config.shutdown.graceMs + config.shutdown.closeTimeoutMs + 5_000,
    restartDelayMs: config.supervisor.initialDelayMs,
    maxRestartDelayMs: config.supervisor.maxDelayMs,
    answer: (op) => {
      if (op === 'metrics') return mergedMetrics();
      return Promise.reject(new Error(`unknown request ${String(op)}`));
    },
  });
  // one scrape for the whole machine, whichever process it reaches
  const mergedMetrics = async (): Promise<string> => mergeMetrics([await runtime.metricsSnapshot(), ...(await pool.metricsSnapshots())]);
  runtime.setMetricsSource(mergedMetrics);
  await pool.start();
  await runtime.start(pool);
  const url = new URL(pool.listening()[0] ?? 'ws://127.0.0.1:0');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const address: ListenAddress = { address: host, family: host.includes(':') ? 'IPv6' : 'IPv4', port: Number(url.port) };
  return { runtime, address, routes: pool.routes(), server: null, workers: pool, ...adminUrl(config, address) };
}

/** A worker answers the primary's control requests and stops when told (or when the primary is gone). */
function serveThePrimary(running: RunningServer): void {
  const { runtime } = running;
  const app = running.server!.app;
  const send = (m: WorkerToPrimary): void => {
    if (process.connected) process.send?.(m);
  };
  const asked = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
  let seq = 0;
  const ask = (op: PrimaryOp): Promise<unknown> =>
    new Promise((resolve, reject) => {
      if (!process.connected) return reject(new Error('the primary is gone'));
      const id = ++seq;
      asked.set(id, { resolve, reject });
      send({ [WORKER_TAG]: 'ask', id, op });
    });
  runtime.setMetricsSource(async () => String(await ask('metrics')));
  process.on('message', (m: unknown) => {
    if (typeof m !== 'object' || m === null) return;
    const msg = m as PrimaryToWorker;
    if (msg[WORKER_TAG] === 'told') {
      const p = asked.get(msg.id);
      asked.delete(msg.id);
      if (msg.ok) p?.resolve(msg.value);
      else p?.reject(new Error(msg.error));
      return;
    }
    if (msg[WORKER_TAG] === 'stop') {
      void runtime.shutdown.shutdownAndExit('primary: stop', msg.window);
      return;
    }
    if (msg[WORKER_TAG] !== 'req') return;
    const answer = async (): Promise<unknown> => {
      switch (msg.op) {
        case 'status':
          return runtime.status();
        case 'reload':
          return reloadServer(running.server!, runtime.log);
        case 'restart':
          return app.restartService(msg.arg ?? '');
        case 'metrics':
          return runtime.metricsSnapshot();
        case 'figures':
          return runtime.nodeFigures();
      }
    };
    answer().then(
      (value) => send({ [WORKER_TAG]: 'res', id: msg.id, ok: true, value }),
      (err: unknown) => send({ [WORKER_TAG]: 'res', id: msg.id, ok: false, error: err instanceof Error ? err.message : String(err), ...(err instanceof ControlError ? { code: err.code } : {}) }),
    );
  });
  // the primary is gone: nobody routes connections here any more
  process.once('disconnect', () => {
    for (const p of asked.values()) p.reject(new Error('the primary is gone'));
    asked.clear();
    void runtime.shutdown.shutdownAndExit('primary gone');
  });
  send({ [WORKER_TAG]: 'ready', node: app.nodeId, listening: [listeningUrl(running.server!, running.address)], routes: running.routes });
}

/** The figures the other nodes with a lease last published (`figures/<node>`); a node that published none yet is left out. */
async function otherNodesFigures(self: string, nodes: () => Promise<Array<{ id: string }>>, read: (name: string) => Promise<AdminFigures | null>): Promise<NodeFigures[]> {
  const others = (await nodes().catch(() => [])).filter((n) => n.id !== self);
  const figures = await Promise.all(others.map((n) => read(`figures/${n.id}`).catch(() => null)));
  return figures.filter((f): f is AdminFigures => f !== null).map(({ cluster: _cluster, ...node }) => node);
}

/** The admin page is on by default only where nobody else can reach it. */
function adminEnabled(config: SwitchboardConfig): boolean {
  return config.admin.enabled ?? isLoopbackHost(config.host);
}

/**
 * The admin page always asks for a token: the configured admin token, else one made at start
 * and printed with the page's address. It is not the console's token: without a configured
 * one the console stays open on loopback, as before. Workers get the primary's through the
 * environment they inherit.
 */
function adminPageToken(config: SwitchboardConfig): string {
  return config.admin.token ?? (process.env.SWITCHBOARD_ADMIN_PAGE_TOKEN ??= randomBytes(18).toString('base64url'));
}

function adminUrl(config: SwitchboardConfig, address: ListenAddress): { adminUrl?: string } {
  if (!adminEnabled(config)) return {};
  const page = `${config.tls.cert !== undefined ? 'https' : 'http'}://${shownHost(address)}:${address.port}${ADMIN_ROUTE}/`;
  // a configured token is a secret the operator already has: never printed. A made one is
  // shown once, in the fragment, so it never reaches a server log or a Referer
  if (config.admin.token !== undefined) return { adminUrl: `${page} (with the admin token)` };
  return { adminUrl: `${page}#token=${encodeURIComponent(adminPageToken(config))}` };
}

function shownHost(a: ListenAddress): string {
  return a.family === 'IPv6' ? `[${a.address}]` : a.address;
}

function listeningUrl(server: AppServer, a: ListenAddress): string {
  return `${server.secure ? 'wss' : 'ws'}://${shownHost(a)}:${a.port}`;
}

/**
 * `switchboard reload` and SIGHUP: re-scan the services directory and read the TLS files
 * again. A certificate that cannot be used is reported and the one in use stays.
 */
async function reloadServer(server: AppServer, log: Logger): Promise<ReloadResult> {
  const { failed, ...result } = await server.rescan();
  const problems = failed.map((f) => `${f.route}: ${f.reason}`);
  let certificate: string | undefined;
  try {
    certificate = server.reloadTls();
    if (certificate !== undefined) log.info({ certificate }, 'TLS certificate reloaded');
  } catch (err) {
    const message = `${(err as Error).message} (the certificate in use stays)`;
    log.error({ err: message }, 'TLS certificate not reloaded');
    problems.push(message);
  }
  if (problems.length > 0) throw new ControlError('RELOAD_FAILED', problems.join('; '));
  return certificate !== undefined ? { ...result, certificate } : result;
}

async function compose(runtime: ServerRuntime, nodeId: string, options: StartServerOptions, worker: boolean): Promise<RunningServer> {
  const { config } = options;
  const log = runtime.log;
  const sv = config.supervisor;
  const restart = { maxRestarts: sv.maxRestarts, windowMs: sv.windowMs, initialDelayMs: sv.initialDelayMs, maxDelayMs: sv.maxDelayMs };
  const heartbeat = { intervalMs: sv.heartbeatIntervalMs, timeoutMs: sv.heartbeatTimeoutMs };
  const isolated: IsolatedHostOptions = {
    supervisor: runtime.supervisor,
    log,
    restart,
    heartbeat,
    stopGraceMs: config.shutdown.graceMs,
    ...(sv.maxHeapMb !== undefined ? { maxHeapMb: sv.maxHeapMb } : {}),
  };
  const joined = await joinCluster(config, nodeId, log, worker);
  // after a mass disconnect, one full collection gives the connections' memory back (see memory-release.ts)
  const memory = !config.memoryRelease ? null : new MemoryRelease(() => server.app.connectionCount, {
    released: (e) => log.info({ peak: e.peak, connections: e.now, rssBefore: e.rssBefore, rssAfter: e.rssAfter, ms: Math.round(e.ms) }, 'connections fell from their peak: memory released'),
  });
  const c = config.cluster;
  const server: AppServer = new AppServer({
    nodeId,
    ...(joined ? { cluster: joined } : {}),
    // the same history settings for the single-process rooms as for a cluster's
    rooms: { historySize: c.historySize, historyTtlMs: c.historyTtlMs, maxRecover: c.maxRecover },
    dir: config.servicesDir,
    port: config.port,
    host: config.host,
    ...(config.tls.cert !== undefined && config.tls.key !== undefined
      ? { tls: { cert: config.tls.cert, key: config.tls.key, ...(config.tls.ca !== undefined ? { ca: config.tls.ca } : {}) } }
      : {}),
    http2: { enabled: config.http2.enabled, maxStreams: config.http2.maxStreams },
    watch: config.watch,
    transport: { perMessageDeflate: config.deflate, http2: { maxSessionBufferBytes: config.http2.maxConnectionBufferBytes }, ...options.transport },
    limits: config.limits,
    trustProxy: config.trustProxy,
    admin: { console: config.admin.console, ...(config.admin.token !== undefined ? { token: config.admin.token } : {}) },
    log,
    hosts: { inline: inlineHostFactory(log), worker: isolatedHostFactory('worker', isolated), process: isolatedHostFactory('process', isolated) },
    defaultIsolation: config.isolation,
    stopDeadlineMs: config.shutdown.graceMs,
    observer: observeAll(
      appTelemetry(runtime.metrics, log, { commandMetrics: config.metrics.enabled }),
      { connectionOpened: () => memory?.opened(), connectionClosed: () => memory?.closed() },
      config.tracing.enabled ? commandTracing((options.tracerProvider ?? trace.getTracerProvider()).getTracer('switchboard', options.version)) : undefined,
    ),
    api: { token: config.api.token, path: config.api.path },
    routes: [
      // metrics on the main port, at metrics.path, unless they have a port of their own
      ...(config.metrics.enabled && config.metrics.port === undefined ? [(req: IncomingMessage, res: ServerResponse) => runtime.handleMetricsRequest(req, res)] : []),
      ...(adminEnabled(config) ? [adminPageRoute()] : []),
    ],
  });
  const app = server.app;
  let othersFigures: (() => Promise<NodeFigures[]>) | null = null;
  if (adminEnabled(config)) {
    const control: AdminControl = {
      node: () => app.nodeId,
      figures: async () => ({ ...(await runtime.nodeFigures()), cluster: await app.nodes().catch(() => []) }),
      disconnect: (id) => app.closeConnection(id, 1000, 'disconnected by an operator'),
      sendToRoom: async (service, room, data) => void (await app.publish(service, room, data)),
      restart: (service) => runtime.restart(service),
      drain: () => void runtime.shutdown.shutdownAndExit('admin: drain'),
    };
    const context = app.mount(ADMIN_ROUTE, adminService(control, { token: adminPageToken(config) }));
    const stop = publishFigures(context, control);
    runtime.shutdown.once('start', stop);
    // behind a broker (not under --workers, whose primary asks its workers), `top` shows the
    // other nodes from the figures they publish, as the admin page does
    if (joined && !worker) othersFigures = () => otherNodesFigures(app.nodeId, () => app.nodes(), (name) => context.live<AdminFigures | null>(name).get());
  }

  // files of the services directory that export start(ctx, signal): background services (one worker runs them)
  for (const b of worker && process.env.SWITCHBOARD_WORKER_INDEX !== '0' ? [] : await app.backgroundFiles()) {
    const name = b.route.replace(/^\//, '');
    if (runtime.supervisor.get(name) || config.background[name]) continue;
    addBackgroundService(runtime.supervisor, {
      name,
      module: b.file,
      isolation: b.isolation === 'process' ? 'process' : 'worker',
      restart,
      heartbeat,
      stopGraceMs: config.shutdown.graceMs,
    });
  }

  const address = await server.listen();
  const shown = shownHost(address);
  warnAboutExposure(config, log);
  if (server.certificate !== undefined) log.info({ certificate: server.certificate, http2: server.http2 }, 'serving TLS');
  if (config.api.token === undefined) log.info({ api: null }, `server API off: no api.token configured (SWITCHBOARD_API_TOKEN or --api-token); ${config.api.path}/* answers 403`);
  else log.info({ api: `${server.secure ? 'https' : 'http'}://${shown}:${address.port}${config.api.path}/` }, `server API at ${config.api.path}/ (bearer token)`);
  const runtimeApp: RuntimeApp = {
    listening: () => [listeningUrl(server, address)],
    node: () => app.nodeId,
    broker: () => app.clusterStatus(),
    nodes: () => app.nodes(),
    memberships: () => app.roomMemberships(),
    connections: () => app.connections(),
    rooms: () => app.rooms(),
    ...(othersFigures ? { figures: async () => [await runtime.nodeFigures(), ...(await othersFigures!())] } : {}),
    connectionCount: () => app.connectionCount,
    services: async () => (await app.services()).map(serviceStatus),
    reload: () => reloadServer(server, log),
    restartService: (route) => app.restartService(route),
    stopAccepting: () => server.stopAccepting(),
    closeStaggered: async (window, graceMs) => {
      await server.closeStaggered({ ...window, graceMs });
    },
    // wait for in-flight commands; at the end of the grace period they are cancelled
    drain: (deadline) => server.drain(deadline),
    closeConnections: async (code, reason, timeoutMs) => {
      await server.closeConnections(code, reason, timeoutMs);
      await app.dispose();
    },
    bridge: {
      publish: async (service, room, data) => {
        await app.publish(service, room, data);
      },
      sendToRoom: (service, room, data) => app.sendToRoom(service, room, data),
      sendToConnection: async (id, data) => {
        if (!(await app.sendToConnection(id, data))) throw new Error(`no connection ${id}`);
      },
      broadcast: (service, data) => {
        app.broadcast(service, data);
      },
    },
  };
  await runtime.start(runtimeApp);
  return { runtime, server, address, routes: await app.listRoutes(), workers: null, ...adminUrl(config, address) };
}

/** Beyond loopback, admin routes without a token are not served: say so once, with how to serve them. */
function warnAboutExposure(config: SwitchboardConfig, log: Logger): void {
  if (isLoopbackHost(config.host)) return;
  if (config.admin.console === 'auto' && config.admin.token === undefined) {
    log.warn({ host: config.host }, 'the console page is off: the server listens beyond loopback and no admin token is set (--admin-token, or --console on)');
  }
  const metricsHost = config.metrics.port !== undefined ? config.metrics.host : config.host;
  if (config.metrics.enabled && !isLoopbackHost(metricsHost) && config.metrics.token === undefined && config.admin.token === undefined) {
    log.warn({ host: metricsHost }, 'metrics are not served: they would be reachable beyond loopback without a token (--metrics-token or --admin-token)');
  }
}

/** The cluster of a server with a broker other than memory, started; undefined for one process. */
async function joinCluster(config: SwitchboardConfig, nodeId: string, log: Logger, worker: boolean): Promise<ClusterFactory | undefined> {
  if (config.broker === 'memory' && !worker) return undefined;
  const c = config.cluster;
  // a worker of `--workers N` without an external broker reaches the primary's hub over its IPC channel
  const broker =
    config.broker === 'memory'
      ? new IpcBroker(batchingEndpoint(processEndpoint()), { nodeId })
      : await connectBroker(config.broker, { nodeId, historySize: c.historySize, historyTtlMs: c.historyTtlMs, metaTtlMs: c.metaTtlMs, leaseMs: c.leaseMs, prefix: c.prefix, log });
  broker.onStatus((s) => log[s.state === 'up' ? 'info' : 'warn']({ broker: broker.kind, state: s.state, err: s.lastError }, `broker ${s.state}`));
  await broker.start();
  log.info({ broker: broker.kind, state: broker.status().state }, `joined the cluster through ${broker.kind}`);
  return brokerCluster(broker, { maxRecover: c.maxRecover, liveRefreshMs: Math.max(1_000, Math.floor(c.historyTtlMs / 3)), onError: (err, what) => log.warn({ err: String(err), what }, 'cluster operation failed') });
}

function processEndpoint(): IpcEndpoint {
  return {
    send: (m) => {
      if (process.connected) process.send?.(m);
    },
    on: (_e, l) => void process.on('message', l),
    off: (_e, l) => void process.off('message', l),
  };
}

function serviceStatus(s: ServiceSummary): ServiceStatus {
  const out: ServiceStatus = {
    name: s.route,
    path: s.route,
    kind: 'endpoint',
    isolation: s.isolation,
    state: s.state,
    restarts: s.restarts,
    connections: s.connections,
    messagesIn: s.messagesIn,
    messagesOut: s.messagesOut,
  };
  if (s.pid !== undefined) out.pid = s.pid;
  if (s.memory) out.memory = s.memory;
  if (s.lastCrash) out.lastCrash = s.lastCrash;
  if (s.error !== undefined) out.error = s.error;
  return out;
}
export { commandTracing } from '../runtime/command-tracing.js';
