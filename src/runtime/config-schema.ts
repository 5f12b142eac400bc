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
  /**
   * Serve TLS (wss:// and https:// on the one port) from these PEM files; re-read on SIGHUP
   * and `switchboard reload`. `ca`: require client certificates signed by it.
   */
  tls: z
    .strictObject({
      cert: z.string().min(1).optional(),
      key: z.string().min(1).optional(),
      ca: z.string().min(1).optional(),
    })
    .prefault({})
    .superRefine((t, ctx) => {
      if ((t.cert === undefined) !== (t.key === undefined)) {
        ctx.addIssue({ code: 'custom', path: [t.cert === undefined ? 'cert' : 'key'], message: 'TLS needs both --tls-cert and --tls-key' });
      }
      if (t.ca !== undefined && t.cert === undefined) ctx.addIssue({ code: 'custom', path: ['ca'], message: '--tls-ca (client certificates) needs --tls-cert and --tls-key' });
    }),
  /** WebSocket over HTTP/2 (RFC 8441) beside HTTP/1.1 on the TLS port. */
  http2: z
    .strictObject({
      /** Offer h2 (ALPN) and extended CONNECT when TLS is on. */
      enabled: z.boolean().default(true),
      /** Concurrent streams (WebSockets and requests) per HTTP/2 connection. */
      maxStreams: z.number().int().positive().default(100),
      /** Bytes queued for one HTTP/2 connection, all its WebSockets together, above which the slow-consumer policy applies. */
      maxConnectionBufferBytes: z.number().int().positive().default(16 * 1024 * 1024),
    })
    .prefault({}),
  /** Offer permessage-deflate to clients. */
  deflate: z.boolean().default(true),
  /** Isolation of services that do not declare one. */
  isolation: z.enum(['inline', 'worker', 'process']).default('inline'),
  /** memory (one process), redis://HOST:PORT or nats://HOST:PORT (several processes and machines). */
  broker: z
    .string()
    .regex(/^(memory|(redis|rediss|nats):\/\/.+)$/, 'memory, redis://HOST:PORT or nats://HOST:PORT')
    .default('memory'),
  /** Server processes on this machine (node:cluster); with broker memory they share the primary's hub. */
  workers: z.number().int().min(1).max(256).default(1),
  cluster: z
    .strictObject({
      /** Room messages kept per room for resume. */
      historySize: z.number().int().min(0).default(100),
      /** Age after which a message leaves the history. */
      historyTtlMs: positiveMs.default(5 * 60_000),
      /** How long an idle room keeps its position. */
      metaTtlMs: positiveMs.default(24 * 3_600_000),
      /** Most messages one rejoin may recover. */
      maxRecover: z.number().int().positive().default(500),
      /** A node's lease: without a renewal for this long, its presence entries are removed. */
      leaseMs: positiveMs.default(15_000),
      /** Prefix of every key, channel and subject. */
      prefix: z.string().regex(/^[A-Za-z0-9_-]+$/).default('sb'),
    })
    .prefault({}),
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
  /** What a value may be, for error messages: "a port number from 0 to 65535". */
  takes: string;
}

/** Every key settable by an environment variable or a flag. */
export const CONFIG_KEYS: readonly ConfigKey[] = [
  { path: 'port', type: 'number', env: 'SWITCHBOARD_PORT', flag: 'port', description: 'WebSocket server port (0: any free port)', takes: 'a port number from 0 to 65535' },
  { path: 'host', type: 'string', env: 'SWITCHBOARD_HOST', flag: 'host', description: 'interface to listen on', takes: 'a host name or IP address' },
  { path: 'servicesDir', type: 'string', env: 'SWITCHBOARD_SERVICES_DIR', flag: 'services', description: 'directory of service files', takes: 'a directory' },
  { path: 'runDir', type: 'string', env: 'SWITCHBOARD_RUN_DIR', flag: 'run-dir', description: 'run directory (lock file, control socket)', takes: 'a directory' },
  { path: 'watch', type: 'boolean', env: 'SWITCHBOARD_WATCH', flag: 'watch', description: 'reload changed service files for new connections', takes: 'true or false (or 1/0, yes/no, on/off)' },
  { path: 'deflate', type: 'boolean', env: 'SWITCHBOARD_DEFLATE', flag: 'deflate', description: 'offer permessage-deflate (--no-deflate: off)', takes: 'true or false (or 1/0, yes/no, on/off)' },
  { path: 'tls.cert', type: 'string', env: 'SWITCHBOARD_TLS_CERT', flag: 'tls-cert', description: 'serve TLS with this certificate (PEM; with --tls-key)', takes: 'a PEM certificate file' },
  { path: 'tls.key', type: 'string', env: 'SWITCHBOARD_TLS_KEY', flag: 'tls-key', description: 'private key of --tls-cert (PEM)', takes: 'a PEM private key file' },
  { path: 'tls.ca', type: 'string', env: 'SWITCHBOARD_TLS_CA', flag: 'tls-ca', description: 'require client certificates signed by this CA (PEM)', takes: 'a PEM CA certificate file' },
  { path: 'http2.enabled', type: 'boolean', env: 'SWITCHBOARD_HTTP2', flag: 'http2', description: 'with TLS, also serve HTTP/2 and WebSockets over it (--no-http2: off)', takes: 'true or false (or 1/0, yes/no, on/off)' },
  { path: 'http2.maxStreams', type: 'number', env: 'SWITCHBOARD_HTTP2_MAX_STREAMS', flag: 'http2-max-streams', description: 'concurrent streams per HTTP/2 connection', takes: 'a whole number, 1 or more' },
  { path: 'http2.maxConnectionBufferBytes', type: 'number', env: 'SWITCHBOARD_HTTP2_MAX_CONNECTION_BUFFER_BYTES', flag: 'http2-max-connection-buffer-bytes', description: 'bytes queued for one HTTP/2 connection before the slow-consumer policy', takes: 'a whole number of bytes, 1 or more' },
  { path: 'isolation', type: 'string', env: 'SWITCHBOARD_ISOLATION', flag: 'isolation', description: 'default isolation: inline, worker or process', takes: 'inline, worker or process' },
  { path: 'broker', type: 'string', env: 'SWITCHBOARD_BROKER', flag: 'broker', description: 'memory, redis://HOST:PORT or nats://HOST:PORT', takes: 'memory, redis://HOST:PORT or nats://HOST:PORT' },
  { path: 'workers', type: 'number', env: 'SWITCHBOARD_WORKERS', flag: 'workers', description: 'server processes on this machine', takes: 'a whole number from 1 to 256' },
  { path: 'cluster.historySize', type: 'number', env: 'SWITCHBOARD_HISTORY_SIZE', flag: 'history-size', description: 'room messages kept per room for resume', takes: 'a whole number, 0 or more' },
  { path: 'cluster.historyTtlMs', type: 'number', env: 'SWITCHBOARD_HISTORY_TTL_MS', flag: 'history-ttl-ms', description: 'age after which a room message leaves the history', takes: 'a whole number of milliseconds, 1 or more' },
  { path: 'cluster.maxRecover', type: 'number', env: 'SWITCHBOARD_MAX_RECOVER', flag: 'max-recover', description: 'most messages one rejoin may recover', takes: 'a whole number, 1 or more' },
  { path: 'cluster.leaseMs', type: 'number', env: 'SWITCHBOARD_LEASE_MS', flag: 'lease-ms', description: "a node's lease (its presence goes when it lapses)", takes: 'a whole number of milliseconds, 1 or more' },
  { path: 'log.level', type: 'string', env: 'SWITCHBOARD_LOG_LEVEL', flag: 'log-level', description: 'fatal, error, warn, info, debug, trace or silent', takes: 'fatal, error, warn, info, debug, trace or silent' },
  { path: 'log.destination', type: 'string', env: 'SWITCHBOARD_LOG_DESTINATION', flag: 'log-destination', description: 'stdout, stderr or a file path', takes: 'stdout, stderr or a file path' },
  { path: 'metrics.enabled', type: 'boolean', env: 'SWITCHBOARD_METRICS', flag: 'metrics', description: 'serve Prometheus metrics', takes: 'true or false (or 1/0, yes/no, on/off)' },
  { path: 'metrics.port', type: 'number', env: 'SWITCHBOARD_METRICS_PORT', flag: 'metrics-port', description: 'admin port for /metrics (default: the main port)', takes: 'a port number from 0 to 65535' },
  { path: 'metrics.host', type: 'string', env: 'SWITCHBOARD_METRICS_HOST', flag: 'metrics-host', description: 'interface of the admin port', takes: 'a host name or IP address' },
  { path: 'metrics.path', type: 'string', env: 'SWITCHBOARD_METRICS_PATH', flag: 'metrics-path', description: 'HTTP path of the metrics', takes: 'a path starting with /' },
  { path: 'metrics.token', type: 'string', env: 'SWITCHBOARD_METRICS_TOKEN', flag: 'metrics-token', description: 'bearer token required to read metrics', takes: 'a non-empty token' },
  { path: 'shutdown.graceMs', type: 'number', env: 'SWITCHBOARD_SHUTDOWN_GRACE_MS', flag: 'shutdown-grace-ms', description: 'grace period for in-flight commands on stop', takes: 'a whole number of milliseconds, 1 or more' },
  { path: 'shutdown.closeTimeoutMs', type: 'number', env: 'SWITCHBOARD_SHUTDOWN_CLOSE_TIMEOUT_MS', flag: 'shutdown-close-timeout-ms', description: 'time allowed for closing handshakes on stop', takes: 'a whole number of milliseconds, 1 or more' },
  { path: 'supervisor.maxRestarts', type: 'number', env: 'SWITCHBOARD_MAX_RESTARTS', flag: 'max-restarts', description: 'restarts allowed within the window before a service is failed', takes: 'a whole number, 0 or more' },
  { path: 'supervisor.windowMs', type: 'number', env: 'SWITCHBOARD_RESTART_WINDOW_MS', flag: 'restart-window-ms', description: 'restart budget window', takes: 'a whole number of milliseconds, 1 or more' },
  { path: 'supervisor.initialDelayMs', type: 'number', env: 'SWITCHBOARD_RESTART_DELAY_MS', flag: 'restart-delay-ms', description: 'first restart delay (doubles each time)', takes: 'a whole number of milliseconds, 1 or more' },
  { path: 'supervisor.maxDelayMs', type: 'number', env: 'SWITCHBOARD_RESTART_MAX_DELAY_MS', flag: 'restart-max-delay-ms', description: 'longest restart delay', takes: 'a whole number of milliseconds, 1 or more' },
  { path: 'supervisor.heartbeatIntervalMs', type: 'number', env: 'SWITCHBOARD_HEARTBEAT_INTERVAL_MS', flag: 'heartbeat-interval-ms', description: 'heartbeat ping interval for isolated services', takes: 'a whole number of milliseconds, 1 or more' },
  { path: 'supervisor.heartbeatTimeoutMs', type: 'number', env: 'SWITCHBOARD_HEARTBEAT_TIMEOUT_MS', flag: 'heartbeat-timeout-ms', description: 'no pong for this long: restart', takes: 'a whole number of milliseconds, 1 or more' },
  { path: 'supervisor.maxHeapMb', type: 'number', env: 'SWITCHBOARD_MAX_HEAP_MB', flag: 'max-heap-mb', description: 'heap limit of each worker/process', takes: 'a whole number of MB, 1 or more' },
];

export const CONFIG_FILE_NAMES = ['switchboard.config.ts', 'switchboard.config.mts', 'switchboard.config.js', 'switchboard.config.mjs', 'switchboard.config.json'];
