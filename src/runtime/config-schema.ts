// The server configuration: its schema (with defaults) and where each key can also come
// from (an environment variable and a CLI flag).
import { z } from 'zod';

const port = z.number().int().min(0).max(65535);
const positiveMs = z.number().int().positive();

export const configSchema = z.strictObject({
  /** Port of the WebSocket server (0: any free port). */
  port: port.default(8080),
  /** Interface to listen on ('0.0.0.0' or '::' for all). */
  host: z.string().min(1).default('127.0.0.1'),
  /** Directory of service files. */
  servicesDir: z.string().min(1).default('services'),
  /** Run directory: lock/pid file and control socket. */
  runDir: z.string().min(1).default('.switchboard'),
  /** Reload a changed service file for new connections. */
  watch: z.boolean().default(false),
  /** Offer permessage-deflate to clients. */
  deflate: z.boolean().default(true),
  /** Isolation of services that do not declare one. */
  isolation: z.enum(['inline', 'worker', 'process']).default('inline'),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      /** 'stdout', 'stderr' or a file path. */
      destination: z.string().min(1).default('stdout'),
    })
    .prefault({}),
  metrics: z
    .strictObject({
      enabled: z.boolean().default(false),
      /** Serve /metrics on this admin port; unset: on the main server's port at `path`. */
      port: port.optional(),
      host: z.string().min(1).default('127.0.0.1'),
      path: z.string().startsWith('/').default('/metrics'),
      /** When set, requests must send `Authorization: Bearer <token>`. */
      token: z.string().min(1).optional(),
    })
    .prefault({}),
  shutdown: z
    .strictObject({
      /** How long in-flight commands may finish before their AbortSignal fires. */
      graceMs: positiveMs.default(10_000),
      /** After the grace period, how long closing handshakes may take before sockets are destroyed. */
      closeTimeoutMs: positiveMs.default(5_000),
    })
    .prefault({}),
  supervisor: z
    .strictObject({
      maxRestarts: z.number().int().min(0).default(5),
      windowMs: positiveMs.default(60_000),
      initialDelayMs: positiveMs.default(100),
      maxDelayMs: positiveMs.default(30_000),
      heartbeatIntervalMs: positiveMs.default(1_000),
      heartbeatTimeoutMs: positiveMs.default(5_000),
      /** Heap limit of each worker/process in MB. */
      maxHeapMb: z.number().int().positive().optional(),
    })
    .prefault({}),
  /** Background services by name. */
  background: z
    .record(
      z.string().regex(/^[a-zA-Z0-9_.-]+$/, 'names use letters, digits, _ . -'),
      z.strictObject({
        module: z.string().min(1),
        isolation: z.enum(['worker', 'process']).default('worker'),
        options: z.unknown().optional(),
      }),
    )
    .default({}),
});

export type SwitchboardConfig = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

export type ConfigValueType = 'string' | 'number' | 'boolean';

export interface ConfigKey {
  /** Dotted path in the config object. */
  path: string;
  type: ConfigValueType;
  env: string;
  flag: string;
  description: string;
}

/** Every key settable by an environment variable or a flag. */
export const CONFIG_KEYS: readonly ConfigKey[] = [
  { path: 'port', type: 'number', env: 'SWITCHBOARD_PORT', flag: 'port', description: 'WebSocket server port (0: any free port)' },
  { path: 'host', type: 'string', env: 'SWITCHBOARD_HOST', flag: 'host', description: 'interface to listen on' },
  { path: 'servicesDir', type: 'string', env: 'SWITCHBOARD_SERVICES_DIR', flag: 'services', description: 'directory of service files' },
  { path: 'runDir', type: 'string', env: 'SWITCHBOARD_RUN_DIR', flag: 'run-dir', description: 'run directory (lock file, control socket)' },
  { path: 'watch', type: 'boolean', env: 'SWITCHBOARD_WATCH', flag: 'watch', description: 'reload changed service files for new connections' },
  { path: 'deflate', type: 'boolean', env: 'SWITCHBOARD_DEFLATE', flag: 'deflate', description: 'offer permessage-deflate (--no-deflate: off)' },
  { path: 'isolation', type: 'string', env: 'SWITCHBOARD_ISOLATION', flag: 'isolation', description: 'default isolation: inline, worker or process' },
  { path: 'log.level', type: 'string', env: 'SWITCHBOARD_LOG_LEVEL', flag: 'log-level', description: 'fatal, error, warn, info, debug, trace or silent' },
  { path: 'log.destination', type: 'string', env: 'SWITCHBOARD_LOG_DESTINATION', flag: 'log-destination', description: 'stdout, stderr or a file path' },
  { path: 'metrics.enabled', type: 'boolean', env: 'SWITCHBOARD_METRICS', flag: 'metrics', description: 'serve Prometheus metrics' },
  { path: 'metrics.port', type: 'number', env: 'SWITCHBOARD_METRICS_PORT', flag: 'metrics-port', description: 'admin port for /metrics (default: the main port)' },
  { path: 'metrics.host', type: 'string', env: 'SWITCHBOARD_METRICS_HOST', flag: 'metrics-host', description: 'interface of the admin port' },
  { path: 'metrics.path', type: 'string', env: 'SWITCHBOARD_METRICS_PATH', flag: 'metrics-path', description: 'HTTP path of the metrics' },
  { path: 'metrics.token', type: 'string', env: 'SWITCHBOARD_METRICS_TOKEN', flag: 'metrics-token', description: 'bearer token required to read metrics' },
  { path: 'shutdown.graceMs', type: 'number', env: 'SWITCHBOARD_SHUTDOWN_GRACE_MS', flag: 'shutdown-grace-ms', description: 'grace period for in-flight commands on stop' },
  { path: 'shutdown.closeTimeoutMs', type: 'number', env: 'SWITCHBOARD_SHUTDOWN_CLOSE_TIMEOUT_MS', flag: 'shutdown-close-timeout-ms', description: 'time allowed for closing handshakes on stop' },
  { path: 'supervisor.maxRestarts', type: 'number', env: 'SWITCHBOARD_MAX_RESTARTS', flag: 'max-restarts', description: 'restarts allowed within the window before a service is failed' },
  { path: 'supervisor.windowMs', type: 'number', env: 'SWITCHBOARD_RESTART_WINDOW_MS', flag: 'restart-window-ms', description: 'restart budget window' },
  { path: 'supervisor.initialDelayMs', type: 'number', env: 'SWITCHBOARD_RESTART_DELAY_MS', flag: 'restart-delay-ms', description: 'first restart delay (doubles each time)' },
  { path: 'supervisor.maxDelayMs', type: 'number', env: 'SWITCHBOARD_RESTART_MAX_DELAY_MS', flag: 'restart-max-delay-ms', description: 'longest restart delay' },
  { path: 'supervisor.heartbeatIntervalMs', type: 'number', env: 'SWITCHBOARD_HEARTBEAT_INTERVAL_MS', flag: 'heartbeat-interval-ms', description: 'heartbeat ping interval for isolated services' },
  { path: 'supervisor.heartbeatTimeoutMs', type: 'number', env: 'SWITCHBOARD_HEARTBEAT_TIMEOUT_MS', flag: 'heartbeat-timeout-ms', description: 'no pong for this long: restart' },
  { path: 'supervisor.maxHeapMb', type: 'number', env: 'SWITCHBOARD_MAX_HEAP_MB', flag: 'max-heap-mb', description: 'heap limit of each worker/process' },
];

export const CONFIG_FILE_NAMES = ['switchboard.config.ts', 'switchboard.config.mts', 'switchboard.config.js', 'switchboard.config.mjs', 'switchboard.config.json'];
