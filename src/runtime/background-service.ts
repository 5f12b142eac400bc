// Background services: modules that export `start(ctx, signal)` and no endpoint (a ticker,
// a queue consumer). Each runs supervised in a worker thread or child process; its other
// exported functions can be called by anyone holding `getService(name)`.
import type { Logger } from '../app/logger.js';
import type { ChildIsolation } from './child.js';
import type { RestartPolicyOptions } from './restart-policy.js';
import type { HeartbeatOptions, SupervisedUnit, UnitState } from './supervised-unit.js';
import type { Supervisor } from './supervisor.js';

/** A handle to call another (background) service by name. */
export interface ServiceHandle {
  readonly name: string;
  call(method: string, ...args: unknown[]): Promise<unknown>;
}

/** What a background service's `start(ctx, signal)` receives. */
export interface BackgroundContext {
  readonly name: string;
  /** Options from the server config for this service (plain data). */
  readonly options: unknown;
  readonly log: Logger;
  getService(name: string): ServiceHandle;
  /** Append `data` to a room of an endpoint service (numbered, kept in its history) and push it to the members. */
  publish(service: string, room: string, data: unknown): Promise<void>;
  /** Send a raw message to every member of a room of an endpoint service (e.g. "/chat", "lobby"). */
  sendToRoom(service: string, room: string, data: string | Uint8Array): Promise<void>;
  /** Send a raw message to one connection by id. */
  sendToConnection(id: string, data: string | Uint8Array): Promise<void>;
  /** Send a raw message to every connection of an endpoint service, e.g. "/chat". */
  broadcast(service: string, data: string | Uint8Array): Promise<void>;
}

export interface BackgroundModule {
  start(ctx: BackgroundContext, signal: AbortSignal): unknown;
  [method: string]: unknown;
}

/** Name of the pseudo-unit that receives server operations (rooms, connections). */
export const SERVER_TARGET = '$server';

/** Server operations a background service can ask for; implemented by the app layer. */
export interface ServerBridge {
  publish(service: string, room: string, data: unknown): void | Promise<void>;
  sendToRoom(service: string, room: string, data: string | Uint8Array): void | Promise<void>;
  sendToConnection(id: string, data: string | Uint8Array): void | Promise<void>;
  broadcast(service: string, data: string | Uint8Array): void | Promise<void>;
}

export interface BackgroundServiceOptions {
  name: string;
  /** Path or file: URL of the module (.js, .mjs or .ts). */
  module: string;
  isolation?: ChildIsolation;
  options?: unknown;
  restart?: Partial<RestartPolicyOptions>;
  heartbeat?: HeartbeatOptions | false;
  stopGraceMs?: number;
  maxHeapMb?: number;
}

const BACKGROUND_ENTRY = new URL('./background-entry.js', import.meta.url).href;

export function addBackgroundService(supervisor: Supervisor, o: BackgroundServiceOptions): SupervisedUnit {
  return supervisor.add({
    name: o.name,
    isolation: o.isolation ?? 'worker',
    entry: BACKGROUND_ENTRY,
    data: { module: o.module, options: o.options ?? null },
    ...(o.restart ? { restart: o.restart } : {}),
    ...(o.heartbeat !== undefined ? { heartbeat: o.heartbeat } : {}),
    ...(o.stopGraceMs !== undefined ? { stopGraceMs: o.stopGraceMs } : {}),
    ...(o.maxHeapMb !== undefined ? { maxHeapMb: o.maxHeapMb } : {}),
  });
}

/** Routes "$server" calls of background services to the app layer. */
export function serveBridge(bridge: ServerBridge) {
  return async (_from: string, target: string, method: string, args: unknown[]): Promise<unknown> => {
    if (target !== SERVER_TARGET) throw new Error(`no service named "${target}"`);
    const [a, b, c] = args as [string, string | Uint8Array, string | Uint8Array];
    switch (method) {
      case 'publish':
        return bridge.publish(a, b as string, c);
      case 'sendToRoom':
        return bridge.sendToRoom(a, b as string, c);
      case 'sendToConnection':
        return bridge.sendToConnection(a, b);
      case 'broadcast':
        return bridge.broadcast(a, b);
      default:
        throw new Error(`unknown server operation "${method}"`);
    }
  };
}

export interface ServiceHandleInfo extends ServiceHandle {
  readonly state: UnitState | 'unknown';
}

/** `getService(name)` on the server side. Calls fail (never hang) while the service is down. */
export function getService(supervisor: Supervisor, name: string): ServiceHandleInfo {
  return {
    name,
    get state() {
      return supervisor.get(name)?.state ?? 'unknown';
    },
    call: (method, ...args) => supervisor.route('$host', name, method, args),
  };
}
