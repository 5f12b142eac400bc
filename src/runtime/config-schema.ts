// The server configuration: its schema (with defaults) and where each key can also come
// from (an environment variable and a CLI flag).
import { z } from 'zod';
import { DEFAULT_CONNECTION_LIMITS } from '../app/connection-limits.js';
import { trustedProxies } from '../server/client-address.js';
import { DEFAULT_EDGE_LIMITS } from '../server/edge-limits.js';
import { DEFAULT_LIMITS } from '../transport/limits.js';

const port = z.number().int().min(0).max(65535);
const positiveMs = z.number().int().positive();
const count = z.number().int().min(0);
const policy = z.enum(['close', 'drop']);
const T = DEFAULT_LIMITS;
const E = DEFAULT_EDGE_LIMITS;
const C = DEFAULT_CONNECTION_LIMITS;

/** A list of proxies: an array in a config file, comma-separated in a flag or variable. */
const proxyList = z
  .union([z.array(z.string()), z.string()])
  .transform((v) => (typeof v === 'string' ? v.split(',') : v).map((s) => s.trim()).filter((s) => s !== ''))
  .superRefine((list, ctx) => {
    try {
      trustedProxies(list);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });

/** Marks an issue of a rule across keys: its message says what is wrong, not a value's (see loadConfig). */
export const ACROSS_KEYS = { acrossKeys: true } as const;

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
        ctx.addIssue({ code: 'custom', path: [t.cert === undefined ? 'cert' : 'key'], message: 'TLS needs both --tls-cert and --tls-key', params: ACROSS_KEYS });
      }
      if (t.ca !== undefined && t.cert === undefined) ctx.addIssue({ code: 'custom', path: ['ca'], message: '--tls-ca (client certificates) needs --tls-cert and --tls-key', params: ACROSS_KEYS });
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
  /** After a mass disconnect, run a full garbage collection so the closed connections' memory goes back to the system. */
  memoryRelease: z.boolean().default(true),
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
  /** Limits of the transport (sizes, buffers, timeouts) and against abuse (per address, per connection); 0 turns a count off. */
  limits: z
    .strictObject({
      handshakeTimeoutMs: count.default(T.handshakeTimeoutMs),
      maxHeaderBytes: z.number().int().min(1024).default(T.maxHeaderBytes),
      maxMessageBytes: z.number().int().positive().default(T.maxMessageBytes),
      maxFrameBytes: z.number().int().positive().default(T.maxFrameBytes),
      highWaterMark: z.number().int().positive().default(T.highWaterMark),
      slowConsumer: policy.default(T.slowConsumer),
      idleTimeoutMs: count.default(T.idleTimeoutMs),
      connectionsPerIp: count.default(E.connectionsPerIp),
      handshakesPerSecond: count.default(E.handshakesPerSecond),
      handshakeBurst: count.default(E.handshakeBurst),
      messagesPerSecond: count.default(E.messagesPerSecond),
      messageBurst: count.default(E.messageBurst),
      bytesPerSecond: count.default(E.bytesPerSecond),
      byteBurst: count.default(E.byteBurst),
      overRate: policy.default(E.overRate),
      commandsInFlight: count.default(C.commandsInFlight),
      roomsPerConnection: count.default(C.roomsPerConnection),
      subscriptionsPerConnection: count.default(C.subscriptionsPerConnection),
    })
    .prefault({}),
  /** Proxies whose Forwarded / X-Forwarded-For name the client (addresses, CIDR ranges, loopback, private). */
  trustProxy: proxyList.default([]),
  admin: z
    .strictObject({
      /** The console page and /services.json: auto (on for loopback or with a token), on, off. */
      console: z.enum(['auto', 'on', 'off']).default('auto'),
      /** Serve the admin page at /_admin/ (default: on when the server listens on loopback only). */
      enabled: z.boolean().optional(),
      /** Required by the console and (without metrics.token) the metrics: Bearer, or the Basic password. */
      token: z.string().min(1).optional(),
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
  api: z
    .strictObject({
      /** Bearer token of the server API; unset: the API refuses every call. */
      token: z.string().min(1).optional(),
      /** Path prefix of the server API on the main port. */
      path: z.string().regex(/^\/[^?#]*[^/?#]$/, 'a path starting with / (not / alone)').default('/api'),
    })
    .prefault({}),
  tracing: z
    .strictObject({
      /** An OpenTelemetry span per command, through @opentelemetry/api's global tracer provider (bring your own SDK). */
      enabled: z.boolean().default(false),
    })
    .prefault({}),
  shutdown: z
    .strictObject({
      /** How long in-flight commands may finish before their AbortSignal fires. */
      graceMs: positiveMs.default(10_000),
      /** After the grace period, how long closing handshakes may take before sockets are destroyed. */
      closeTimeoutMs: positiveMs.default(5_000),
      /** Staggered drain on SIGTERM/SIGINT/stop: connections leave in batches with 1012 over this window (0: all at once with 1001). */
      drainWindowMs: z.number().int().min(0).default(0),
      /** Batches of the staggered drain (0: one per second of the window). */
      drainBatches: z.number().int().min(0).default(0),
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
  { path: 'memoryRelease', type: 'boolean', env: 'SWITCHBOARD_MEMORY_RELEASE', flag: 'memory-release', description: 'after a mass disconnect, collect garbage so RSS falls back (--no-memory-release: off)', takes: 'true or false (or 1/0, yes/no, on/off)' },
  { path: 'workers', type: 'number', env: 'SWITCHBOARD_WORKERS', flag: 'workers', description: 'server processes on this machine', takes: 'a whole number from 1 to 256' },
  { path: 'cluster.historySize', type: 'number', env: 'SWITCHBOARD_HISTORY_SIZE', flag: 'history-size', description: 'room messages kept per room for resume', takes: 'a whole number, 0 or more' },
  { path: 'cluster.historyTtlMs', type: 'number', env: 'SWITCHBOARD_HISTORY_TTL_MS', flag: 'history-ttl-ms', description: 'age after which a room message leaves the history', takes: 'a whole number of milliseconds, 1 or more' },
  { path: 'cluster.maxRecover', type: 'number', env: 'SWITCHBOARD_MAX_RECOVER', flag: 'max-recover', description: 'most messages one rejoin may recover', takes: 'a whole number, 1 or more' },
  { path: 'cluster.leaseMs', type: 'number', env: 'SWITCHBOARD_LEASE_MS', flag: 'lease-ms', description: "a node's lease (its presence goes when it lapses)", takes: 'a whole number of milliseconds, 1 or more' },
  { path: 'limits.handshakeTimeoutMs', type: 'number', env: 'SWITCHBOARD_HANDSHAKE_TIMEOUT_MS', flag: 'handshake-timeout-ms', description: 'time a client has to complete its opening handshake (0: none)', takes: 'a whole number of milliseconds, 0 or more' },
  { path: 'limits.maxHeaderBytes', type: 'number', env: 'SWITCHBOARD_MAX_HEADER_BYTES', flag: 'max-header-bytes', description: 'largest handshake request head (431 past it)', takes: 'a whole number of bytes, 1024 or more' },
  { path: 'limits.maxMessageBytes', type: 'number', env: 'SWITCHBOARD_MAX_MESSAGE_BYTES', flag: 'max-message-bytes', description: 'largest message after reassembly and inflation (1009 past it)', takes: 'a whole number of bytes, 1 or more' },
  { path: 'limits.maxFrameBytes', type: 'number', env: 'SWITCHBOARD_MAX_FRAME_BYTES', flag: 'max-frame-bytes', description: 'largest frame (1009 past it)', takes: 'a whole number of bytes, 1 or more' },
  { path: 'limits.highWaterMark', type: 'number', env: 'SWITCHBOARD_HIGH_WATER_MARK', flag: 'high-water-mark', description: 'bytes queued for a client before the slow-consumer policy applies', takes: 'a whole number of bytes, 1 or more' },
  { path: 'limits.slowConsumer', type: 'string', env: 'SWITCHBOARD_SLOW_CONSUMER', flag: 'slow-consumer', description: 'close (1008) or drop, for a client past the high-water mark', takes: 'close or drop' },
  { path: 'limits.idleTimeoutMs', type: 'number', env: 'SWITCHBOARD_IDLE_TIMEOUT_MS', flag: 'idle-timeout-ms', description: 'ping a silent client after half of this, drop it after the rest (0: off)', takes: 'a whole number of milliseconds, 0 or more' },
  { path: 'limits.connectionsPerIp', type: 'number', env: 'SWITCHBOARD_CONNECTIONS_PER_IP', flag: 'connections-per-ip', description: 'connections from one client address (429 past it; 0: no limit)', takes: 'a whole number, 0 or more' },
  { path: 'limits.handshakesPerSecond', type: 'number', env: 'SWITCHBOARD_HANDSHAKES_PER_SECOND', flag: 'handshakes-per-second', description: 'handshakes a second from one client address (429 with Retry-After past it; 0: no limit)', takes: 'a whole number, 0 or more' },
  { path: 'limits.handshakeBurst', type: 'number', env: 'SWITCHBOARD_HANDSHAKE_BURST', flag: 'handshake-burst', description: 'handshakes one client address may make in a burst', takes: 'a whole number, 0 or more' },
  { path: 'limits.messagesPerSecond', type: 'number', env: 'SWITCHBOARD_MESSAGES_PER_SECOND', flag: 'messages-per-second', description: 'messages a second from one connection (0: no limit)', takes: 'a whole number, 0 or more' },
  { path: 'limits.messageBurst', type: 'number', env: 'SWITCHBOARD_MESSAGE_BURST', flag: 'message-burst', description: 'messages one connection may send in a burst', takes: 'a whole number, 0 or more' },
  { path: 'limits.bytesPerSecond', type: 'number', env: 'SWITCHBOARD_BYTES_PER_SECOND', flag: 'bytes-per-second', description: 'message bytes a second from one connection (0: no limit)', takes: 'a whole number, 0 or more' },
  { path: 'limits.byteBurst', type: 'number', env: 'SWITCHBOARD_BYTE_BURST', flag: 'byte-burst', description: 'message bytes one connection may send in a burst', takes: 'a whole number, 0 or more' },
  { path: 'limits.overRate', type: 'string', env: 'SWITCHBOARD_OVER_RATE', flag: 'over-rate', description: 'close (1008) or drop, for a connection over its message or byte rate', takes: 'close or drop' },
  { path: 'limits.commandsInFlight', type: 'number', env: 'SWITCHBOARD_COMMANDS_IN_FLIGHT', flag: 'commands-in-flight', description: 'commands of one connection waiting or running (too_many_commands past it; 0: no limit)', takes: 'a whole number, 0 or more' },
  { path: 'limits.roomsPerConnection', type: 'number', env: 'SWITCHBOARD_ROOMS_PER_CONNECTION', flag: 'rooms-per-connection', description: 'rooms one connection may be in (too_many_rooms past it; 0: no limit)', takes: 'a whole number, 0 or more' },
  { path: 'limits.subscriptionsPerConnection', type: 'number', env: 'SWITCHBOARD_SUBSCRIPTIONS_PER_CONNECTION', flag: 'subscriptions-per-connection', description: 'live subscriptions of one connection (too_many_subscriptions past it; 0: no limit)', takes: 'a whole number, 0 or more' },
  { path: 'trustProxy', type: 'string', env: 'SWITCHBOARD_TRUST_PROXY', flag: 'trust-proxy', description: 'proxies whose Forwarded/X-Forwarded-For name the client: addresses, CIDRs, loopback, private (comma-separated)', takes: 'addresses, CIDR ranges, loopback or private, comma-separated' },
  { path: 'admin.console', type: 'string', env: 'SWITCHBOARD_CONSOLE', flag: 'console', description: 'the console page: auto (loopback, or with --admin-token), on or off', takes: 'auto, on or off' },
  { path: 'admin.token', type: 'string', env: 'SWITCHBOARD_ADMIN_TOKEN', flag: 'admin-token', description: 'token required by the console and admin pages and, without --metrics-token, the metrics (admin page without one: a random token, printed at start)', takes: 'a non-empty token' },
  { path: 'admin.enabled', type: 'boolean', env: 'SWITCHBOARD_ADMIN', flag: 'admin', description: 'serve the admin page at /_admin/ (default: on for loopback)', takes: 'true or false (or 1/0, yes/no, on/off)' },
  { path: 'log.level', type: 'string', env: 'SWITCHBOARD_LOG_LEVEL', flag: 'log-level', description: 'fatal, error, warn, info, debug, trace or silent', takes: 'fatal, error, warn, info, debug, trace or silent' },
  { path: 'log.destination', type: 'string', env: 'SWITCHBOARD_LOG_DESTINATION', flag: 'log-destination', description: 'stdout, stderr or a file path', takes: 'stdout, stderr or a file path' },
  { path: 'metrics.enabled', type: 'boolean', env: 'SWITCHBOARD_METRICS', flag: 'metrics', description: 'serve Prometheus metrics', takes: 'true or false (or 1/0, yes/no, on/off)' },
  { path: 'metrics.port', type: 'number', env: 'SWITCHBOARD_METRICS_PORT', flag: 'metrics-port', description: 'admin port for /metrics (default: the main port)', takes: 'a port number from 0 to 65535' },
  { path: 'metrics.host', type: 'string', env: 'SWITCHBOARD_METRICS_HOST', flag: 'metrics-host', description: 'interface of the admin port', takes: 'a host name or IP address' },
  { path: 'metrics.path', type: 'string', env: 'SWITCHBOARD_METRICS_PATH', flag: 'metrics-path', description: 'HTTP path of the metrics', takes: 'a path starting with /' },
  { path: 'metrics.token', type: 'string', env: 'SWITCHBOARD_METRICS_TOKEN', flag: 'metrics-token', description: 'bearer token required to read metrics', takes: 'a non-empty token' },
  { path: 'api.token', type: 'string', env: 'SWITCHBOARD_API_TOKEN', flag: 'api-token', description: 'bearer token of the server API (unset: the API is off)', takes: 'a non-empty token' },
  { path: 'api.path', type: 'string', env: 'SWITCHBOARD_API_PATH', flag: 'api-path', description: 'path prefix of the server API', takes: 'a path starting with /' },
  { path: 'tracing.enabled', type: 'boolean', env: 'SWITCHBOARD_TRACING', flag: 'tracing', description: 'an OpenTelemetry span per command (needs an SDK registered)', takes: 'true or false (or 1/0, yes/no, on/off)' },
  { path: 'shutdown.graceMs', type: 'number', env: 'SWITCHBOARD_SHUTDOWN_GRACE_MS', flag: 'shutdown-grace-ms', description: 'grace period for in-flight commands on stop', takes: 'a whole number of milliseconds, 1 or more' },
  { path: 'shutdown.closeTimeoutMs', type: 'number', env: 'SWITCHBOARD_SHUTDOWN_CLOSE_TIMEOUT_MS', flag: 'shutdown-close-timeout-ms', description: 'time allowed for closing handshakes on stop', takes: 'a whole number of milliseconds, 1 or more' },
  { path: 'shutdown.drainWindowMs', type: 'number', env: 'SWITCHBOARD_SHUTDOWN_DRAIN_WINDOW_MS', flag: 'shutdown-drain-window-ms', description: 'on stop, close connections in batches with 1012 over this window (0: all at once, 1001)', takes: 'a whole number of milliseconds, 0 or more' },
  { path: 'shutdown.drainBatches', type: 'number', env: 'SWITCHBOARD_SHUTDOWN_DRAIN_BATCHES', flag: 'shutdown-drain-batches', description: 'batches of the staggered drain (0: one per second of the window)', takes: 'a whole number, 0 or more' },
  { path: 'supervisor.maxRestarts', type: 'number', env: 'SWITCHBOARD_MAX_RESTARTS', flag: 'max-restarts', description: 'restarts allowed within the window before a service is failed', takes: 'a whole number, 0 or more' },
  { path: 'supervisor.windowMs', type: 'number', env: 'SWITCHBOARD_RESTART_WINDOW_MS', flag: 'restart-window-ms', description: 'restart budget window', takes: 'a whole number of milliseconds, 1 or more' },
  { path: 'supervisor.initialDelayMs', type: 'number', env: 'SWITCHBOARD_RESTART_DELAY_MS', flag: 'restart-delay-ms', description: 'first restart delay (doubles each time)', takes: 'a whole number of milliseconds, 1 or more' },
  { path: 'supervisor.maxDelayMs', type: 'number', env: 'SWITCHBOARD_RESTART_MAX_DELAY_MS', flag: 'restart-max-delay-ms', description: 'longest restart delay', takes: 'a whole number of milliseconds, 1 or more' },
  { path: 'supervisor.heartbeatIntervalMs', type: 'number', env: 'SWITCHBOARD_HEARTBEAT_INTERVAL_MS', flag: 'heartbeat-interval-ms', description: 'heartbeat ping interval for isolated services', takes: 'a whole number of milliseconds, 1 or more' },
  { path: 'supervisor.heartbeatTimeoutMs', type: 'number', env: 'SWITCHBOARD_HEARTBEAT_TIMEOUT_MS', flag: 'heartbeat-timeout-ms', description: 'no pong for this long: restart', takes: 'a whole number of milliseconds, 1 or more' },
  { path: 'supervisor.maxHeapMb', type: 'number', env: 'SWITCHBOARD_MAX_HEAP_MB', flag: 'max-heap-mb', description: 'heap limit of each worker/process', takes: 'a whole number of MB, 1 or more' },
];

export const CONFIG_FILE_NAMES = ['switchboard.config.ts', 'switchboard.config.mts', 'switchboard.config.js', 'switchboard.config.mjs', 'switchboard.config.json'];
