// The control socket's protocol: one JSON object per line, requests answered by responses
// with the same id. Versioned; validated on both ends.
import { z } from 'zod';
import type { Isolation } from '../app/service.js';

export const CONTROL_VERSION = 1 as const;
export const CONTROL_SOCKET_NAME = 'control.sock';
export const MAX_CONTROL_LINE_BYTES = 1 << 20;

const base = { v: z.literal(CONTROL_VERSION), id: z.number().int().nonnegative() };

export const controlRequestSchema = z.discriminatedUnion('type', [
  z.object({ ...base, type: z.literal('status') }),
  z.object({ ...base, type: z.literal('stop') }),
  z.object({ ...base, type: z.literal('reload') }),
  /** A stop whose connections leave in batches over `windowMs` (1012), then the usual stop. */
  z.object({ ...base, type: z.literal('drain'), windowMs: z.number().int().positive(), batches: z.number().int().positive().optional() }),
  z.object({ ...base, type: z.literal('restart'), service: z.string().min(1) }),
  z.object({ ...base, type: z.literal('figures') }),
]);
export type ControlRequest = z.infer<typeof controlRequestSchema>;
export type ControlRequestType = ControlRequest['type'];

export interface ControlErrorBody {
  code: string;
  message: string;
}

export type ControlResponse =
  | { v: typeof CONTROL_VERSION; id: number; ok: true; data: unknown }
  | { v: typeof CONTROL_VERSION; id: number; ok: false; error: ControlErrorBody };

export const controlResponseSchema = z.union([
  z.object({ ...base, ok: z.literal(true), data: z.unknown() }),
  z.object({ ...base, ok: z.literal(false), error: z.object({ code: z.string(), message: z.string() }) }),
]);

export interface MemoryStatus {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

export interface ServiceStatus {
  name: string;
  kind: 'endpoint' | 'background';
  /** URL path of an endpoint service. */
  path?: string;
  isolation: Isolation;
  state: string;
  restarts: number;
  connections: number;
  messagesIn: number;
  messagesOut: number;
  pid?: number;
  memory?: MemoryStatus;
  lastCrash?: CrashStatus;
  /** Why the service's last load failed. */
  error?: string;
}

/** The last crash of an isolated or background service, as `status` reports it. */
export interface CrashStatus {
  /** uncaught-exception, exit, out-of-memory, hang, start-timeout, ... */
  reason: string;
  at?: string;
  /** The error's message, when there was one. */
  message?: string;
  /** Exit code of the worker or process (null when a signal ended it). */
  code?: number | null;
  /** Signal that ended the process, e.g. SIGKILL. */
  signal?: string | null;
  /** The error's stack, when there was one. */
  stack?: string;
}

/** What `status` shows of a supervised unit's last crash. */
export function crashStatus(crash: { reason: string; at: string; code: number | null; signal: string | null; error?: { message: string } }): CrashStatus {
  return {
    reason: crash.reason,
    at: crash.at,
    ...(crash.error ? { message: crash.error.message } : {}),
    code: crash.code,
    signal: crash.signal,
  };
}

export interface ServerStatus {
  pid: number;
  /** This node's id: the prefix of its connection ids, and its name in the cluster. */
  node: string;
  /** The broker: memory, ipc, redis or nats, its state and since when. */
  broker: { kind: string; state: string; since: string; lastError?: string };
  /** Nodes of the cluster with a live lease (this one alone without a broker). */
  nodes: Array<{ id: string; since: string }>;
  version: string;
  startedAt: string;
  uptimeSeconds: number;
  listening: string[];
  connections: number;
  memory: MemoryStatus;
  /** What the process holds open: file descriptors and active handles and requests by kind (Timeout, TCPSocketWrap ...), to spot leaks. */
  resources?: ResourceStatus;
  services: ServiceStatus[];
}

export interface ResourceStatus {
  /** Open file descriptors (/proc/self/fd); absent where /proc is not available. */
  fds?: number;
  /** process.getActiveResourcesInfo() counted by kind. */
  active: Record<string, number>;
}

export interface ReloadResult {
  added: string[];
  removed: string[];
  restarted: string[];
  unchanged: string[];
  /** The TLS certificate now served to new connections (subject, fingerprint, validity), when serving TLS. */
  certificate?: string;
}

/** What the server does for each request. */
export interface ControlHandlers {
  status(): ServerStatus | Promise<ServerStatus>;
  /** Begin a graceful stop; resolve once it has begun (the reply is sent before exit). */
  stop(): void | Promise<void>;
  /** Begin a staggered stop; resolve once it has begun. */
  drain(window: { windowMs: number; batches?: number }): void | Promise<void>;
  reload(): ReloadResult | Promise<ReloadResult>;
  restart(service: string): void | Promise<void>;
  /** Live figures (`switchboard top`): ClusterFigures. */
  figures(): unknown;
}

/** An error a handler throws to answer with a specific code (e.g. unknown service). */
export class ControlError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ControlError';
  }
}
