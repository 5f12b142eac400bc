// Composition root of `switchboard serve`: the app server (transport + app layer) inside the
// runtime (lock, logs, supervisor, control socket, metrics, graceful shutdown).
import type { AddressInfo } from 'node:net';
import { AppServer, type AppServerOptions } from '../app/app-server.js';
import { inlineHostFactory } from '../app/inline-host.js';
import { isServiceDefinition } from '../app/service.js';
import { addBackgroundService } from './background-service.js';
import { importModule } from './child-runtime.js';
import type { SwitchboardConfig } from './config.js';
import { ControlError, crashStatus, type ReloadResult, type ServiceStatus } from './control-protocol.js';
import { IsolatedServiceHost } from './isolated-service-host.js';
import { ServerRuntime, type RuntimeApp } from './server-runtime.js';
import { ServiceRegistry, type ServiceRecord } from './service-registry.js';
import type { HostSink } from '../app/service-host.js';

const UNNAMED_OUTCOMES = new Set(['unknown_command', 'bad_request', 'bad_json']);

export interface RunningServer {
  runtime: ServerRuntime;
  app: AppServer;
  address: AddressInfo;
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
  const { config } = options;
  const runtime = ServerRuntime.create({
    config,
    ...(options.version !== undefined ? { version: options.version } : {}),
    ...(options.exit ? { exit: options.exit } : {}),
    ...(options.signals !== undefined ? { signals: options.signals } : {}),
  });
  try {
    return await startWithRuntime(runtime, options);
  } catch (err) {
    runtime.log.fatal({ err: String(err) }, 'switchboard failed to start');
    runtime.abort();
    throw err;
  }
}

async function startWithRuntime(runtime: ServerRuntime, options: StartServerOptions): Promise<RunningServer> {
  const { config } = options;
  const log = runtime.log;
  const m = runtime.metrics;
  const opened = new Map<string, number>();
  const sv = config.supervisor;
  const registry = new ServiceRegistry({
    supervisor: runtime.supervisor,
    log,
    defaultIsolation: config.isolation,
    inline: inlineHostFactory(log),
    restart: { maxRestarts: sv.maxRestarts, windowMs: sv.windowMs, initialDelayMs: sv.initialDelayMs, maxDelayMs: sv.maxDelayMs },
    heartbeat: { intervalMs: sv.heartbeatIntervalMs, timeoutMs: sv.heartbeatTimeoutMs },
    stopGraceMs: config.shutdown.graceMs,
    ...(sv.maxHeapMb !== undefined ? { maxHeapMb: sv.maxHeapMb } : {}),
    meter: {
      opened: (service) => {
        m.connections.inc({ service });
        m.connectionsOpened.inc({ service });
      },
      closed: (service, code) => {
        m.connections.dec({ service });
        m.connectionsClosed.inc({ service, code });
      },
      received: (service, bytes) => {
        m.messagesIn.inc({ service });
        m.bytesIn.inc({ service }, bytes);
      },
      sent: (service, count, bytes) => {
        m.messagesOut.inc({ service }, count);
        m.bytesOut.inc({ service }, bytes);
      },
    },
    ...(config.metrics.enabled
      ? {
          onCommand: (service: string, command: string, outcome: string, seconds: number) =>
            // client-chosen names of commands that do not exist must not become label values
            m.commandDuration.observe({ service, command: UNNAMED_OUTCOMES.has(outcome) ? '(unknown)' : command, outcome }, seconds),
        }
      : {}),
    onConnection: (event) => {
      if (event.type === 'open') {
        opened.set(event.id, Date.now());
        log.info({ connection: event.id, service: event.route, path: event.path }, 'connection open');
      } else {
        const t0 = opened.get(event.id);
        opened.delete(event.id);
        log.info({ connection: event.id, service: event.route, code: event.code, durationMs: t0 === undefined ? undefined : Date.now() - t0 }, 'connection closed');
      }
    },
  });

  const app = new AppServer({
    dir: config.servicesDir,
    port: config.port,
    host: config.host,
    watch: config.watch,
    transport: { perMessageDeflate: config.deflate, ...options.transport },
    log,
    hostFactory: registry.factory,
    stopDeadlineMs: config.shutdown.graceMs,
  });
  app.wss.on('rejected', (_request: unknown, status: number, reason: string) => {
    m.handshakeRejections.inc({ status, reason: reason ?? '' });
  });
  if (config.metrics.enabled && config.metrics.port === undefined) {
    // metrics on the main port, at metrics.path, before the app's own HTTP handler
    const handlers = app.http.listeners('request') as Array<(...a: unknown[]) => void>;
    app.http.removeAllListeners('request');
    app.http.on('request', (req, res) => {
      if (!runtime.handleMetricsRequest(req, res)) for (const h of handlers) h.call(app.http, req, res);
    });
  }

  await registerDirectoryBackgroundServices(app, runtime);
  const address = await app.listen();
  const sinkFor = (service: string): HostSink => {
    const rec = registry.get(service);
    if (!rec) throw new Error(`service ${service} is not loaded (no connection has reached it yet)`);
    return rec.sink;
  };
  const runtimeApp: RuntimeApp = {
    listening: () => [`ws://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`],
    connectionCount: () => app.core.connectionCount,
    services: () => registry.records().map(serviceStatus),
    reload: () => reload(app, registry),
    restartService: async (route) => {
      const rec = registry.get(route);
      if (rec?.inner instanceof IsolatedServiceHost) {
        await rec.inner.restart();
        return true;
      }
      return app.restartService(route);
    },
    stopAccepting: () => {
      app.stopAccepting(); // handshakes already under way: 503
      app.http.close(); // no new TCP connections
    },
    // wait for in-flight commands; at the end of the grace period they are cancelled
    drain: (deadline) => app.drain(deadline),
    closeConnections: async (code, reason, timeoutMs) => {
      await app.closeConnections(code, reason, timeoutMs);
      app.http.closeAllConnections();
      await registry.disposeAll();
    },
    bridge: {
      publish: async (service, room, data) => {
        await sinkFor(service).ask({ type: 'publish', room, data, except: [] });
      },
      sendToRoom: (service, room, data) =>
        sinkFor(service).act({ type: 'deliver', target: { kind: 'room', room }, data, binary: typeof data !== 'string', except: [] }),
      sendToConnection: (id, data) => {
        const any = registry.records()[0];
        if (!any) throw new Error('no service is loaded');
        any.sink.act({ type: 'send', to: id, data, binary: typeof data !== 'string' });
      },
      broadcast: (service, data) =>
        sinkFor(service).act({ type: 'deliver', target: { kind: 'service' }, data, binary: typeof data !== 'string', except: [] }),
    },
  };
  await runtime.start(runtimeApp);
  return { runtime, app, address };
}

function serviceStatus(r: ServiceRecord): ServiceStatus {
  const s: ServiceStatus = {
    name: r.route,
    path: r.route,
    kind: 'endpoint',
    isolation: r.isolation,
    state: 'running',
    restarts: 0,
    connections: r.connections.size,
    messagesIn: r.messagesIn,
    messagesOut: r.messagesOut,
  };
  if (r.inner instanceof IsolatedServiceHost) {
    const u = r.inner.unit.status();
    s.state = u.state;
    s.restarts = u.restarts;
    if (u.pid !== undefined && u.isolation === 'process') s.pid = u.pid;
    if (u.memory) s.memory = { rss: u.memory.rss, heapUsed: u.memory.heapUsed, heapTotal: u.memory.heapTotal, external: u.memory.external };
    if (u.lastCrash) s.lastCrash = crashStatus(u.lastCrash);
  }
  return s;
}

/** `reload`: the app re-scans (changed files get a fresh host, deleted ones are forgotten). */
async function reload(app: AppServer, registry: ServiceRegistry): Promise<ReloadResult> {
  const loadErrors = new Map<string, string>(); // the caller sees why, not just "see the log"
  const onReload = (e: { route: string; ok: boolean; error?: string }): void => void (!e.ok && e.error && loadErrors.set(e.route, e.error));
  app.on('reload', onReload);
  let result: ReloadResult;
  try {
    result = await app.rescan();
  } finally {
    app.off('reload', onReload);
  }
  for (const route of result.removed) registry.forget(route);
  for (const route of result.restarted) {
    if (app.services().find((s) => s.route === route)?.state === 'failed') {
      throw new ControlError('RELOAD_FAILED', `${route}: the changed file failed to load: ${loadErrors.get(route) ?? 'see the server log'}`);
    }
  }
  return result;
}

/** Files in the services directory that export start(ctx, signal) and no service are background services. */
async function registerDirectoryBackgroundServices(app: AppServer, runtime: ServerRuntime): Promise<void> {
  const sv = runtime.config.supervisor;
  for (const route of await app.core.resolver.listRoutes()) {
    const resolved = await app.core.resolver.resolve(route);
    if (!resolved.found) continue;
    let mod: Record<string, unknown>;
    try {
      mod = await importModule(resolved.file);
    } catch {
      continue; // reported as a 500 when a client asks for it
    }
    if (typeof mod.start !== 'function' || isServiceDefinition(mod.default)) continue;
    const name = route.replace(/^\//, '');
    if (runtime.supervisor.get(name) || runtime.config.background[name]) continue;
    const isolation = mod.isolation === 'process' ? 'process' : 'worker';
    addBackgroundService(runtime.supervisor, {
      name,
      module: resolved.file,
      isolation,
      restart: { maxRestarts: sv.maxRestarts, windowMs: sv.windowMs, initialDelayMs: sv.initialDelayMs, maxDelayMs: sv.maxDelayMs },
      heartbeat: { intervalMs: sv.heartbeatIntervalMs, timeoutMs: sv.heartbeatTimeoutMs },
      stopGraceMs: runtime.config.shutdown.graceMs,
    });
  }
}
