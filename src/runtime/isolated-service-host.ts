// A ServiceHost whose service runs in a supervised worker thread or child process. Sockets
// and the protocol stay in the server; hooks, messages, actions and queries cross as plain
// data. On a crash, its connections are closed with 1011 (or kept and re-attached when the
// service sets `connectionsSurviveRestart`); while it restarts or after it failed, new
// handshakes are answered 503.
import type { Logger } from '../app/logger.js';
import { ServiceLoadError } from '../app/service-loader.js';
import type { HandshakeRequest } from '../app/service.js';
import type {
  CloseReply,
  HostHandshakeResult,
  HostQuery,
  HostSink,
  HostStatus,
  OpenInfo,
  ServiceHost,
  ServiceHostFactory,
  ServiceInfo,
} from '../app/service-host.js';
import type { ChildIsolation } from './child.js';
import type { RestartPolicyOptions } from './restart-policy.js';
import { PACKED_MESSAGE, PACKED_SEND, SINK_TARGET, type IsolatedServiceData, type ServiceChannelMessage } from './isolated-service-channel.js';
import type { CrashInfo, HeartbeatOptions, SupervisedUnit } from './supervised-unit.js';
import type { Supervisor } from './supervisor.js';

export const INTERNAL_ERROR = 1011;

/**
 * The transport copies a message shorter than this into its output while sending it (a
 * longer one it may write from the memory it was given, after the send returned: the
 * protocol's zero-copy threshold, 16 KiB, with a margin). A worker's reply segment holding
 * only shorter messages goes back to the worker for reuse once handed on.
 */
const SENT_BY_REFERENCE_FROM = 4096;
export const SERVICE_RESTART = 1012;

const ENTRY = new URL('./isolated-service-entry.js', import.meta.url).href;

export interface IsolatedHostOptions {
  supervisor: Supervisor;
  log: Logger;
  restart?: Partial<RestartPolicyOptions>;
  heartbeat?: HeartbeatOptions | false;
  stopGraceMs?: number;
  maxHeapMb?: number;
}

export interface IsolatedHostStats {
  connections: number;
  messagesIn: number;
  restarts: number;
}

let unitSeq = 0;

/** A connection of this host and the slot its records carry. */
interface Attached {
  info: OpenInfo;
  slot: number;
}

export class IsolatedServiceHost implements ServiceHost {
  readonly file: string;
  readonly route: string;
  readonly isolation: ChildIsolation;
  readonly unit: SupervisedUnit;
  readonly #sink: HostSink;
  readonly #o: IsolatedHostOptions;
  /** The service keeps its clients across a crash (read from the service once it ran). */
  #survive = false;
  readonly #connections = new Map<string, Attached>();
  /** The connection of each slot (see isolated-service-channel.ts), and the slots free for reuse. */
  readonly #ids: Array<string | undefined> = [];
  readonly #freeSlots: number[] = [];
  /** Slots of connections closed while their service was going down: free once a new instance runs. */
  #closedSlots: number[] = [];
  #info: ServiceInfo = { commands: false, isolation: 'worker', presenceEvents: true };
  #messagesIn = 0;
  #everRan = false;
  /** Messages of surviving connections while the service restarts, by connection (null: none held). */
  #held: Map<string, Array<[string | Uint8Array, boolean]>> | null = null;
  #retired = false;

  constructor(file: string, route: string, isolation: ChildIsolation, sink: HostSink, options: IsolatedHostOptions) {
    this.file = file;
    this.route = route;
    this.isolation = isolation;
    this.#sink = sink;
    this.#o = options;
    const name = options.supervisor.get(route) ? `${route}#${++unitSeq}` : route;
    this.unit = options.supervisor.add({
      name,
      isolation,
      entry: ENTRY,
      data: { file, route, isolation } satisfies IsolatedServiceData,
      ...(options.restart ? { restart: options.restart } : {}),
      ...(options.heartbeat !== undefined ? { heartbeat: options.heartbeat } : {}),
      ...(options.stopGraceMs !== undefined ? { stopGraceMs: options.stopGraceMs } : {}),
      ...(options.maxHeapMb !== undefined ? { maxHeapMb: options.maxHeapMb } : {}),
    });
    const supervisorRoute = (from: string, target: string, method: string, args: unknown[]) =>
      target === SINK_TARGET && method === 'ask'
        ? this.#sink.ask(args[0] as HostQuery)
        : options.supervisor.route(from, target, method, args);
    this.unit.setCallRouter(supervisorRoute);
    this.unit.on('message', (payload) => {
      const m = payload as ServiceChannelMessage;
      if (m.type === 'act') this.#sink.act(m.action);
    });
    // text stays UTF-8 bytes: the transport writes them as a text frame without a string between;
    // a connection's replies are handed on together, so its frames are built side by side
    this.unit.onPacked(
      (tag, slot, data, binary) => {
        const to = this.#ids[slot];
        if (tag === PACKED_SEND && to !== undefined) this.#sink.act({ type: 'send', to, data, binary });
      },
      'bytes',
      'bySlot',
      SENT_BY_REFERENCE_FROM,
    );
    this.unit.on('crash', (c) => this.#onCrash(c));
    this.unit.on('state', (s) => {
      if (s === 'running') void this.#onRunning();
    });
  }

  get info(): ServiceInfo {
    return this.#info;
  }

  /** Text messages are copied to the service as their UTF-8 bytes: the child makes the string. */
  get textAsBytes(): boolean {
    return true;
  }

  stats(): IsolatedHostStats {
    return { connections: this.#connections.size, messagesIn: this.#messagesIn, restarts: this.unit.status().restarts };
  }

  /** First start: resolves once the service is loaded, or throws ServiceLoadError (answered 500). */
  async start(): Promise<void> {
    const firstCrash = new Promise<CrashInfo>((resolve) => this.unit.once('crash', resolve));
    const outcome = await Promise.race([this.unit.start().then(() => 'running' as const), firstCrash]);
    if (outcome !== 'running') {
      await this.#o.supervisor.remove(this.unit.name);
      throw new ServiceLoadError(this.file, outcome.error?.message ?? `the ${this.isolation} exited while loading (${outcome.reason})`);
    }
    this.#info = { ...((await this.unit.call('info')) as ServiceInfo), isolation: this.isolation };
    this.#survive = this.#info.survivesRestart === true;
    this.#everRan = true;
  }

  async handshake(request: HandshakeRequest): Promise<HostHandshakeResult> {
    const unavailable = (): HostHandshakeResult => ({
      accept: false,
      status: 503,
      reason: this.unit.state === 'failed' ? 'service failed' : 'service restarting',
      headers: { 'retry-after': '1' },
    });
    if (this.unit.state !== 'running') return unavailable();
    try {
      return (await this.unit.call('handshake', [request])) as HostHandshakeResult;
    } catch {
      return unavailable();
    }
  }

  async open(connection: OpenInfo): Promise<void> {
    const slot = this.#freeSlots.pop() ?? this.#ids.length;
    this.#ids[slot] = connection.id;
    this.#connections.set(connection.id, { info: connection, slot });
    try {
      await this.unit.call('open', [connection, slot]);
    } catch (err) {
      this.#o.log.warn({ service: this.route, connection: connection.id, err: String(err) }, 'open hook did not run: service down');
    }
  }

  /** `data` may be a view of memory the caller reuses: it is copied before this returns. */
  message(connId: string, data: string | Uint8Array, binary: boolean): void {
    const c = this.#connections.get(connId);
    if (c === undefined) return;
    this.#messagesIn++;
    const held = this.#held?.get(connId);
    if (held !== undefined) {
      // a surviving connection whose open hook has not run again yet in the new instance
      if (held.length < MAX_HELD_PER_CONNECTION) held.push([typeof data === 'string' ? data : new Uint8Array(data), binary]);
      else this.#dropped(connId);
      return;
    }
    this.#post(c.slot, connId, data, binary);
  }

  #post(slot: number, connId: string, data: string | Uint8Array, binary: boolean): void {
    if (!this.unit.postPacked(PACKED_MESSAGE, slot, data, binary)) this.#dropped(connId);
  }

  #dropped(connId: string): void {
    this.#o.log.warn({ service: this.route, connection: connId }, 'message dropped: service restarting');
  }

  async close(connId: string, code: number, reason: string): Promise<CloseReply | undefined> {
    const c = this.#connections.get(connId);
    if (c === undefined) return undefined;
    this.#connections.delete(connId);
    this.#held?.delete(connId);
    if (this.#retired && this.#connections.size === 0) void this.#stopUnit();
    if (this.unit.state !== 'running') {
      this.#closedSlots.push(c.slot);
      return undefined;
    }
    try {
      return (await this.unit.call('close', [connId, code, reason])) as CloseReply | undefined;
    } catch {
      return undefined;
    } finally {
      // the child has answered (or is gone): nothing more comes from it for this slot
      this.#freeSlot(c.slot);
    }
  }

  #freeSlot(slot: number): void {
    this.#ids[slot] = undefined;
    this.#freeSlots.push(slot);
  }

  /** Resolves when the service has no message in hand (in-flight commands settled); at once if it is down. */
  async idle(connId?: string): Promise<void> {
    if (this.unit.state !== 'running') return;
    try {
      await this.unit.call('idle', connId === undefined ? [] : [connId]);
    } catch {
      /* crashed: nothing is in flight any more */
    }
  }

  clusterEvent(event: string, data: unknown, from: string): void {
    this.unit.post({ type: 'event', event, data, from } satisfies ServiceChannelMessage);
  }

  /** Server stopping: the service cancels its in-flight commands (replies `cancelled`). */
  cancel(connId?: string): void {
    if (this.unit.state === 'running') this.unit.call('cancel', connId === undefined ? [] : [connId]).catch(() => undefined);
  }

  status(): HostStatus {
    const u = this.unit.status();
    const state = u.state === 'running' ? 'running' : u.state === 'failed' ? 'failed' : u.state === 'stopping' || u.state === 'stopped' ? 'stopping' : 'restarting';
    const s: HostStatus = { state, restarts: u.restarts };
    if (u.pid !== undefined && u.isolation === 'process') s.pid = u.pid;
    if (u.memory) s.memory = { rss: u.memory.rss, heapUsed: u.memory.heapUsed, heapTotal: u.memory.heapTotal, external: u.memory.external };
    const c = u.lastCrash;
    if (c) {
      s.lastCrash = { reason: c.reason, at: c.at, code: c.code, signal: c.signal };
      if (c.error) {
        s.lastCrash.message = c.error.message;
        if (c.error.stack !== undefined) s.lastCrash.stack = c.error.stack;
      }
    }
    return s;
  }

  /** Stop the worker/process for good (server shutdown or a replaced service). */
  async dispose(): Promise<void> {
    await this.#stopUnit();
  }

  /** A newer version of this service took over: stop once the last connection is gone. */
  retire(): void {
    this.#retired = true;
    if (this.#connections.size === 0) void this.#stopUnit();
  }

  /** Manual restart: connections are closed with 1012 (or kept and re-attached). */
  async restart(): Promise<void> {
    if (!this.#survive) this.#closeAll(SERVICE_RESTART, 'service restart');
    else this.#holdAll();
    await this.unit.restart();
  }

  async #stopUnit(): Promise<void> {
    await this.#o.supervisor.remove(this.unit.name);
  }

  #closeAll(code: number, reason: string): void {
    for (const [id, c] of [...this.#connections]) {
      this.#connections.delete(id);
      // the instance going down may still send for it: the slot is free once a new one runs
      this.#closedSlots.push(c.slot);
      this.#sink.act({ type: 'close', to: id, code, reason });
    }
  }

  #onCrash(c: CrashInfo): void {
    if (!this.#everRan) return; // a failed first load is reported by start()
    const n = this.#connections.size;
    this.#o.log.error(
      { service: this.route, isolation: this.isolation, reason: c.reason, err: c.error?.message, connections: n, keep: this.#survive },
      `service ${this.route} crashed (${c.reason}); ${this.#survive ? `keeping its ${n} connection(s)` : `closing its ${n} connection(s) with 1011`}`,
    );
    if (!this.#survive) this.#closeAll(INTERNAL_ERROR, 'service crashed');
    else this.#holdAll();
  }

  /** From now until the new instance has run their open hook, the connections' messages wait here, in order. */
  #holdAll(): void {
    this.#held ??= new Map();
    for (const id of this.#connections.keys()) if (!this.#held.has(id)) this.#held.set(id, []);
  }

  async #onRunning(): Promise<void> {
    if (!this.#everRan) return; // start() does the first one
    try {
      this.#info = { ...((await this.unit.call('info')) as ServiceInfo), isolation: this.isolation };
    } catch {
      return; // crashed again at once
    }
    // re-attach surviving connections to the new instance: its open hook runs again, then
    // what they sent meanwhile follows it (calls and messages share one ordered channel)
    for (const slot of this.#closedSlots) this.#freeSlot(slot);
    this.#closedSlots = [];
    const held = this.#held;
    this.#held = null;
    for (const { info, slot } of this.#connections.values()) {
      this.unit.call('open', [info, slot]).catch(() => undefined);
      for (const [data, binary] of held?.get(info.id) ?? []) this.#post(slot, info.id, data, binary);
    }
  }
}

/** Hosts services of one isolation in supervised workers or processes. */
/** Messages one surviving connection may send while its service restarts; past it they are dropped (and logged). */
const MAX_HELD_PER_CONNECTION = 1000;

export function isolatedHostFactory(isolation: ChildIsolation, options: IsolatedHostOptions): ServiceHostFactory {
  return async (file, route, sink) => {
    const host = new IsolatedServiceHost(file, route, isolation, sink, options);
    await host.start();
    return host;
  };
}
