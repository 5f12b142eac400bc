// The ServiceHostFactory the runtime hands to the app layer: picks inline, worker or
// process hosting per service file (the service's `isolation`, else the configured default),
// and keeps every host it made so that status, restart and reload can find them.
import { statSync } from 'node:fs';
import type { Logger } from 'pino';
import type { ServiceHost, ServiceHostFactory, HostSink } from '../app/service-host.js';
import { importModule } from './child-runtime.js';
import { IsolatedServiceHost, type IsolatedHostOptions } from './isolated-service-host.js';

export type Isolation = 'inline' | 'worker' | 'process';

export interface ServiceRecord {
  file: string;
  route: string;
  isolation: Isolation;
  /** The host handed to the app layer (metered). */
  host: ServiceHost;
  /** The inline or isolated host inside it. */
  inner: ServiceHost;
  /** The app's sink for this service, metered (server operations for background services use it). */
  sink: HostSink;
  /** mtime of the file when this host was loaded. */
  mtimeMs: number;
  connections: Set<string>;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Commands awaiting their reply, per connection: JSON id text -> command and start time. */
  pending: Map<string, Map<string, { cmd: string; t0: bigint }>>;
}

export interface ServiceMeter {
  opened(route: string): void;
  closed(route: string, code: number): void;
  received(route: string, bytes: number): void;
  sent(route: string, count: number, bytes: number): void;
}

export interface ServiceRegistryOptions extends Omit<IsolatedHostOptions, 'log'> {
  log: Logger;
  defaultIsolation: Isolation;
  inline: ServiceHostFactory;
  meter?: ServiceMeter;
  /** Observe JSON command latency (metrics): costs a JSON.parse per command message. */
  onCommand?: (service: string, command: string, outcome: string, seconds: number) => void;
  onConnection?: (event: ConnectionEvent) => void;
}

export type ConnectionEvent =
  | { type: 'open'; id: string; route: string; path: string }
  | { type: 'close'; id: string; route: string; code: number };

/** What a service file declares about hosting, read in the server before choosing a host. */
async function declaredHosting(file: string): Promise<{ isolation?: Isolation; survive: boolean }> {
  try {
    const mod = await importModule(file);
    let def = mod.default as Record<string, unknown> | undefined;
    if (def && typeof def === 'object' && 'default' in def && typeof def.default === 'object') def = def.default as Record<string, unknown>;
    const isolation = def?.isolation;
    return {
      ...(isolation === 'inline' || isolation === 'worker' || isolation === 'process' ? { isolation } : {}),
      survive: def?.connectionsSurviveRestart === true,
    };
  } catch {
    return { survive: false }; // the host's own load reports the error
  }
}

const byteLength = (d: string | Uint8Array): number => (typeof d === 'string' ? Buffer.byteLength(d) : d.byteLength);

export class ServiceRegistry {
  readonly #o: ServiceRegistryOptions;
  /** Current host per route (the newest load). */
  readonly #current = new Map<string, ServiceRecord>();

  constructor(options: ServiceRegistryOptions) {
    this.#o = options;
  }

  records(): ServiceRecord[] {
    return [...this.#current.values()];
  }

  get(route: string): ServiceRecord | undefined {
    return this.#current.get(route);
  }

  readonly factory: ServiceHostFactory = async (file, route, sink) => {
    const declared = await declaredHosting(file);
    const isolation = declared.isolation ?? this.#o.defaultIsolation;
    let mtimeMs = 0;
    try {
      mtimeMs = statSync(file).mtimeMs;
    } catch {
      /* gone: the load fails below */
    }
    const record: ServiceRecord = {
      file, route, isolation, host: undefined as never, inner: undefined as never, sink: undefined as never, mtimeMs,
      connections: new Set(), messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, pending: new Map(),
    };
    const metered = this.#meteredSink(record, sink);
    record.sink = metered;
    let inner: ServiceHost;
    if (isolation === 'inline') {
      inner = await this.#o.inline(file, route, metered);
    } else {
      const host = new IsolatedServiceHost(file, route, isolation, declared.survive, metered, this.#o);
      await host.start();
      inner = host;
    }
    record.inner = inner;
    record.host = new MeteredHost(record, inner, this.#o.meter, this.#o.onConnection, this.#o.onCommand !== undefined);
    const previous = this.#current.get(route);
    this.#current.set(route, record);
    if (previous && previous.inner instanceof IsolatedServiceHost) previous.inner.retire();
    return record.host;
  };

  /** The file of this route is gone. */
  forget(route: string): void {
    const rec = this.#current.get(route);
    if (!rec) return;
    this.#current.delete(route);
    if (rec.inner instanceof IsolatedServiceHost) rec.inner.retire();
  }

  /** Stop every worker/process of endpoint services (after connections are closed). */
  async disposeAll(): Promise<void> {
    await Promise.all(this.records().map((r) => (r.inner instanceof IsolatedServiceHost ? r.inner.dispose() : undefined)));
  }

  /** A reply is `{"id":<id>,"ok":true|false,...}` (command-envelope.ts). */
  #observeReply(record: ServiceRecord, connId: string, data: string): void {
    const waiting = record.pending.get(connId);
    if (!waiting || !data.startsWith('{"id":')) return;
    const okAt = data.indexOf(',"ok":', 6);
    if (okAt < 0) return;
    const key = data.slice(6, okAt);
    const started = waiting.get(key);
    if (!started) return;
    waiting.delete(key);
    let outcome = 'ok';
    if (!data.startsWith('true', okAt + 6)) {
      try {
        outcome = String((JSON.parse(data) as { error?: { code?: unknown } }).error?.code ?? 'error');
      } catch {
        outcome = 'error';
      }
    }
    this.#o.onCommand!(record.route, started.cmd, outcome, Number(process.hrtime.bigint() - started.t0) / 1e9);
  }

  #meteredSink(record: ServiceRecord, sink: HostSink): HostSink {
    const meter = this.#o.meter;
    return {
      ask: (q) => sink.ask(q),
      act: (action) => {
        if (action.type === 'send') {
          if (this.#o.onCommand && typeof action.data === 'string') this.#observeReply(record, action.to, action.data);
          record.messagesOut++;
          record.bytesOut += byteLength(action.data);
          meter?.sent(record.route, 1, byteLength(action.data));
        } else if (action.type === 'deliver') {
          // fan-out: counted once per delivery here (recipients are known to the app core)
          record.messagesOut++;
          meter?.sent(record.route, 1, byteLength(action.data));
        }
        sink.act(action);
      },
    };
  }

}

/** Counts connections and messages of one service host; everything else passes through. */
class MeteredHost implements ServiceHost {
  constructor(
    readonly record: ServiceRecord,
    readonly inner: ServiceHost,
    readonly meter: ServiceMeter | undefined,
    readonly onConnection: ((event: ConnectionEvent) => void) | undefined,
    readonly timeCommands: boolean,
  ) {}

  get file() {
    return this.inner.file;
  }

  get info() {
    return this.inner.info;
  }

  handshake(request: Parameters<ServiceHost['handshake']>[0]) {
    return this.inner.handshake(request);
  }

  open(connection: Parameters<ServiceHost['open']>[0]) {
    this.record.connections.add(connection.id);
    this.meter?.opened(this.record.route);
    this.onConnection?.({ type: 'open', id: connection.id, route: this.record.route, path: connection.request.path });
    return this.inner.open(connection);
  }

  message(connId: string, data: string | Uint8Array, binary: boolean): void {
    this.record.messagesIn++;
    const n = byteLength(data);
    this.record.bytesIn += n;
    this.meter?.received(this.record.route, n);
    if (this.timeCommands && !binary && typeof data === 'string' && this.inner.info.commands) this.#startCommand(connId, data);
    this.inner.message(connId, data, binary);
  }

  #startCommand(connId: string, text: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    const { id, cmd } = (msg ?? {}) as { id?: unknown; cmd?: unknown };
    if (typeof cmd !== 'string' || (typeof id !== 'number' && typeof id !== 'string')) return;
    let waiting = this.record.pending.get(connId);
    if (!waiting) this.record.pending.set(connId, (waiting = new Map()));
    if (waiting.size >= 1000) return;
    waiting.set(JSON.stringify(id), { cmd: cmd.length > 100 ? cmd.slice(0, 100) : cmd, t0: process.hrtime.bigint() });
  }

  peerClose(connId: string, code: number, reason: string) {
    return this.inner.peerClose?.(connId, code, reason);
  }

  close(connId: string, code: number, reason: string) {
    this.record.pending.delete(connId);
    if (this.record.connections.delete(connId)) {
      this.meter?.closed(this.record.route, code);
      this.onConnection?.({ type: 'close', id: connId, route: this.record.route, code });
    }
    return this.inner.close(connId, code, reason);
  }

  idle() {
    return this.inner.idle();
  }

  cancel(): void {
    this.inner.cancel();
  }
}
