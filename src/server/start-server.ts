/**
 * The composition root of `switchboard serve`: the runtime's parts (lock, logs, metrics,
 * supervisor, control socket, shutdown), the service hosts per isolation, and the app
 * server, wired together through their public APIs. The `switchboard/runtime` entry.
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { ClusterFactory } from '../app/cluster.js';
import type { Logger } from '../app/logger.js';
import type { ServiceSummary } from '../app/service-catalog.js';
import { brokerCluster, connectBroker } from '../cluster/index.js';
import { inlineHostFactory } from '../app/inline-host.js';
import { appTelemetry } from '../runtime/app-telemetry.js';
import { addBackgroundService } from '../runtime/background-service.js';
import type { SwitchboardConfig } from '../runtime/config.js';
import { ControlError, type ReloadResult, type ServiceStatus } from '../runtime/control-protocol.js';
import { isolatedHostFactory, type IsolatedHostOptions } from '../runtime/isolated-service-host.js';
import { ServerRuntime, type RuntimeApp } from '../runtime/server-runtime.js';
import { AppServer, type AppServerOptions, type ListenAddress } from './app-server.js';

export type { BackgroundContext, ServiceHandle } from '../runtime/background-service.js';

export interface RunningServer {
  runtime: ServerRuntime;
  server: AppServer;
  address: ListenAddress;
}

export interface StartServerOptions {
  config: SwitchboardConfig;
  version?: string;
  /** Defaults to process.exit (after flushing logs). */
  exit?: (code: number) => void;
  signals?: boolean;
  /** Transport options passed to the app server (limits, origins, ...); deflate comes from config. */
  transport?: AppServerOptions['transport'];
}

/** Start the whole server. Throws LockHeldError when the run directory is taken. */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const nodeId = randomBytes(4).toString('hex');
  const runtime = ServerRuntime.create({
    config: options.config,
    node: nodeId,
    ...(options.version !== undefined ? { version: options.version } : {}),
    ...(options.exit ? { exit: options.exit } : {}),
    ...(options.signals !== undefined ? { signals: options.signals } : {}),
  });
  try {
    return await compose(runtime, nodeId, options);
  } catch (err) {
    runtime.log.fatal({ err: String(err) }, 'switchboard failed to start');
    runtime.abort();
    throw err;
  }
}

async function compose(runtime: ServerRuntime, nodeId: string, options: StartServerOptions): Promise<RunningServer> {
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
  const cluster = await joinCluster(config, nodeId, log);
  const server = new AppServer({
    nodeId,
    ...(cluster ? { cluster } : {}),
    dir: config.servicesDir,
    port: config.port,
    host: config.host,
    watch: config.watch,
    transport: { perMessageDeflate: config.deflate, ...options.transport },
    log,
    hosts: { inline: inlineHostFactory(log), worker: isolatedHostFactory('worker', isolated), process: isolatedHostFactory('process', isolated) },
    defaultIsolation: config.isolation,
    stopDeadlineMs: config.shutdown.graceMs,
    observer: appTelemetry(runtime.metrics, log, { commandMetrics: config.metrics.enabled }),
    // metrics on the main port, at metrics.path, unless they have a port of their own
    ...(config.metrics.enabled && config.metrics.port === undefined ? { routes: [(req, res) => runtime.handleMetricsRequest(req, res)] } : {}),
  });
  const app = server.app;

  // files of the services directory that export start(ctx, signal): background services
  for (const b of await app.backgroundFiles()) {
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
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const runtimeApp: RuntimeApp = {
    listening: () => [`ws://${shown}:${address.port}`],
    node: () => app.nodeId,
    broker: () => app.clusterStatus(),
    nodes: () => app.nodes(),
    connectionCount: () => app.connectionCount,
    services: async () => (await app.services()).map(serviceStatus),
    reload: async (): Promise<ReloadResult> => {
      const { failed, ...result } = await app.rescan();
      if (failed.length > 0) throw new ControlError('RELOAD_FAILED', failed.map((f) => `${f.route}: ${f.reason}`).join('; '));
      return result;
    },
    restartService: (route) => app.restartService(route),
    stopAccepting: () => server.stopAccepting(),
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
  return { runtime, server, address };
}

/** The cluster of a server with a broker other than memory, started; undefined for one process. */
async function joinCluster(config: SwitchboardConfig, nodeId: string, log: Logger): Promise<ClusterFactory | undefined> {
  if (config.broker === 'memory') return undefined;
  const c = config.cluster;
  const broker = await connectBroker(config.broker, { nodeId, historySize: c.historySize, historyTtlMs: c.historyTtlMs, metaTtlMs: c.metaTtlMs, leaseMs: c.leaseMs, prefix: c.prefix, log });
  broker.onStatus((s) => log[s.state === 'up' ? 'info' : 'warn']({ broker: broker.kind, state: s.state, err: s.lastError }, `broker ${s.state}`));
  await broker.start();
  log.info({ broker: broker.kind, state: broker.status().state }, `joined the cluster through ${broker.kind}`);
  return brokerCluster(broker, { maxRecover: c.maxRecover, onError: (err, what) => log.warn({ err: String(err), what }, 'cluster operation failed') });
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
