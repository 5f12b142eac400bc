/**
 * Runs a service in this thread. It keeps the service side of each connection (user, state,
 * rooms, in-flight commands), builds the Connection and ServiceContext facades handed to the
 * service, and turns their calls into HostSink actions and queries: plain data only, as a
 * worker host would post them.
 */
import { CommandError, CommandErrorCode } from './command-error.js';
import { CommandDispatcher, type CallScope, type Outcome } from './command-dispatcher.js';
import { decodeBinaryFrame, hasBytes } from './binary-frame.js';
import { decodeEnvelope, encodeError, encodePushMessage, encodeReplyMessage, envelopeOf, safeJsonParse, type CommandId, type Envelope } from './command-envelope.js';
import { authCommand, liveCommands, roomCommands } from './builtin-commands.js';
import { LiveDeclarations } from './live/live-declarations.js';
import { LiveHandleImpl } from './live/live-handle.js';
import { resolveFromRequest, type AuthResolver } from './auth/user.js';
import type { Logger } from './logger.js';
import { loadServiceDefinition } from './service-loader.js';
import type { ClusterEvents, Connection, HandshakeRequest, Isolation, LiveHandle, JoinResult, Position, PresenceEntry, SendOptions, ServiceContext, ServiceDefinition, User } from './service.js';
import type { CloseReply, HostHandshakeResult, HostSink, OpenInfo, Refused, ServiceHost, ServiceHostFactory, ServiceInfo, Target } from './service-host.js';

interface ConnectionRecord extends CallScope {
  readonly connection: ConnectionFacade;
  /** Set once the close hook ran (from peerClose, before the connection is gone). */
  closeHook?: CloseReply | undefined | Promise<CloseReply | undefined>;
  closeRan?: boolean;
  /** The tail of this connection's message queue: settles when its last message may let the next one start. */
  queue: Promise<void>;
  /** Pipelined commands that let the queue go on before they settled. */
  pipelined?: Set<Promise<void>>;
  /** Commands waiting in the queue or running. */
  commands: number;
  /** The most it may have (0 = no limit). */
  readonly maxCommands: number;
}

/**
 * Loads services into this thread. `isolation` is where this thread is: a worker or child
 * process hosting an isolated service uses this same host inside it.
 */
export function inlineHostFactory(log: Logger, isolation: Isolation = 'inline'): ServiceHostFactory {
  return async (file, route, sink) => new InlineHost(file, route, await loadServiceDefinition(file, isolation), sink, log, isolation);
}

export class InlineHost implements ServiceHost {
  readonly file: string;
  readonly info: ServiceInfo;
  readonly #def: ServiceDefinition;
  readonly #sink: HostSink;
  readonly #log: Logger;
  readonly #resolvers: AuthResolver[];
  readonly #connections = new Map<string, ConnectionRecord>();
  readonly #service: ServiceContextImpl;
  /** The service-wide API, for the server's own mounted services (driven from outside any connection). */
  get context(): ServiceContext<any> {
    return this.#service;
  }
  readonly #dispatcher: CommandDispatcher | null;
  /** Some command may let its connection's next message start before it settled. */
  readonly #pipelines: boolean;
  /** Messages waiting or being handled, over all connections (a count: a batch of thousands from a worker's channel made a Set of them grow and shrink). */
  #busy = 0;
  #idleWaiters: Array<() => void> = [];
  readonly #rooms: RoomPolicy;

  constructor(file: string, route: string, def: ServiceDefinition, sink: HostSink, log: Logger, isolation: Isolation = 'inline') {
    this.file = file;
    this.#def = def;
    this.#sink = sink;
    this.#log = log;
    this.#resolvers = def.auth === undefined ? [] : Array.isArray(def.auth) ? def.auth : [def.auth];
    const rooms = def.rooms === true ? {} : def.rooms === false || def.rooms === undefined ? null : def.rooms;
    const volatile = rooms?.volatile;
    const isVolatile = (room: string): boolean => (typeof volatile === 'function' ? volatile(room) === true : volatile === true);
    const resumeExpired = (connection: Connection<any, any>, room: string, reason: string): void => {
      const hook = def.resumeExpired;
      if (hook === undefined) return;
      Promise.resolve()
        .then(() => hook(connection, room, reason))
        .catch((err: unknown) => log.error({ route, connection: connection.id, room, err }, 'resumeExpired hook threw'));
    };
    this.#rooms = { isVolatile, resumeExpired };
    const live = new LiveDeclarations(def.live);
    this.#service = new ServiceContextImpl(route, def.state ? def.state() : {}, sink, log, this.#connections, isVolatile, live);
    const commandProtocol = def.commands !== undefined || rooms !== null || def.live !== undefined || def.keyValueCommands === true;
    this.info = {
      commands: commandProtocol,
      isolation,
      presenceEvents: rooms?.presenceEvents !== false,
      survivesRestart: def.connectionsSurviveRestart === true,
      ...(def.limits !== undefined ? { limits: { ...def.limits } } : {}),
    };
    this.#dispatcher = commandProtocol
      ? new CommandDispatcher({
          route,
          log,
          defaultTimeoutMs: def.commandTimeoutMs ?? 10_000,
          commands: {
            ...(this.#resolvers.length > 0 ? { auth: authCommand(this.#resolvers) } : {}),
            ...(rooms !== null ? roomCommands(rooms, sink, this.#rooms) : {}),
            ...(def.live !== undefined ? liveCommands(live, sink) : {}),
            ...def.commands,
          },
        })
      : null;
    this.#pipelines = this.#dispatcher?.pipelines ?? false;
  }

  async handshake(request: HandshakeRequest): Promise<HostHandshakeResult> {
    let user: User | null = await resolveFromRequest(this.#resolvers, request);
    if (user === null && request.user !== undefined) user = { id: request.user };
    if (this.#def.requireAuth === true && user === null) {
      const headers = Object.assign({}, ...this.#resolvers.map((r) => r.challenge?.() ?? {})) as Record<string, string>;
      return { accept: false, status: 401, reason: 'authentication required', headers };
    }
    if (this.#def.handshake === undefined) return { accept: true, user };
    let decision;
    try {
      decision = await this.#def.handshake(request);
    } catch (err) {
      this.#log.error({ route: this.#service.route, file: this.file, err }, 'handshake hook threw');
      return { accept: false, status: 500, reason: 'handshake failed' };
    }
    if (decision === undefined || decision === true) return { accept: true, user };
    if (typeof decision !== 'object' || decision === null) return { accept: true, user };
    if ('reject' in decision) {
      const { status, reason, headers } = decision.reject;
      return { accept: false, status: Number.isInteger(status) && status >= 400 && status <= 599 ? status : 403, reason: reason ?? 'rejected', ...(headers ? { headers } : {}) };
    }
    if (decision.protocol !== undefined && !request.protocols.includes(decision.protocol)) {
      this.#log.error({ route: this.#service.route, protocol: decision.protocol, offered: request.protocols }, 'handshake chose a subprotocol the client did not offer');
      return { accept: false, status: 500, reason: 'bad subprotocol choice' };
    }
    return { accept: true, user, ...(decision.protocol !== undefined ? { protocol: decision.protocol } : {}), ...(decision.headers ? { headers: decision.headers } : {}) };
  }

  async open(info: OpenInfo): Promise<void> {
    const connection = new ConnectionFacade(info, this.#def.connectionState ? this.#def.connectionState() : {}, this.#service, this.#sink, this.#rooms);
    const record: ConnectionRecord = { connection, service: this.#service, inflight: new Set(), queue: Promise.resolve(), commands: 0, maxCommands: info.commandsInFlight ?? 0 };
    this.#connections.set(info.id, record);
    if (this.#def.open === undefined) return;
    const hook = this.#def.open;
    // messages that arrive while an async open hook runs wait for it
    record.queue = (async () => {
      try {
        await hook(connection);
      } catch (err) {
        this.#hookFailed('open', info.id, err);
      }
    })();
    await record.queue;
  }

  message(connId: string, data: string | Uint8Array, binary: boolean): void {
    const record = this.#connections.get(connId);
    if (record === undefined) return;
    const command = this.#dispatcher !== null && !binary;
    if (command && record.maxCommands > 0 && record.commands >= record.maxCommands) return this.#tooManyCommands(record, data as string);
    // one connection's messages are handled in order, each after the previous one settled,
    // or, in a service with pipelined commands, once such a command's handler was called
    let release: (() => void) | undefined;
    const next = this.#pipelines && (command || binary) ? new Promise<void>((resolve) => (release = resolve)) : null;
    const run = (): Promise<void> =>
      this.#dispatcher === null ? this.#raw(record, data) : binary ? this.#binaryCommand(record, data as Uint8Array, release) : this.#command(record, data as string, release);
    const task = record.queue.then(run, run);
    record.queue = next ?? task;
    if (next !== null) (record.pipelined ??= new Set()).add(task);
    if (command) record.commands += 1;
    this.#busy += 1;
    void task.finally(() => {
      release?.();
      record.pipelined?.delete(task);
      if (command) record.commands -= 1;
      if (--this.#busy === 0) this.#wakeIdle();
    });
  }

  /** Answered at once, ahead of the queue: the client learns it must slow down without waiting for the commands before it. */
  #tooManyCommands(record: ConnectionRecord, text: string): void {
    const envelope = decodeEnvelope(text, false);
    const id = envelope.kind === 'command' || envelope.kind === 'invalid' ? envelope.id : null;
    const cmd = envelope.kind === 'command' ? envelope.cmd : '';
    this.#reply(record, encodeError(id, { code: CommandErrorCode.TOO_MANY_COMMANDS, message: `more than ${record.maxCommands} commands in flight on this connection` }));
    this.#sink.act({ type: 'command', to: record.connection.id, command: cmd, outcome: CommandErrorCode.TOO_MANY_COMMANDS, ms: 0 });
  }

  peerClose(connId: string, code: number, reason: string): CloseReply | undefined {
    const record = this.#connections.get(connId);
    if (record === undefined || record.closeRan === true) return undefined;
    this.#cancel(record);
    record.closeRan = true;
    record.closeHook = this.#runClose(record, code, reason);
    return record.closeHook instanceof Promise ? undefined : record.closeHook;
  }

  async close(connId: string, code: number, reason: string): Promise<CloseReply | undefined> {
    const record = this.#connections.get(connId);
    if (record === undefined) return undefined;
    this.#connections.delete(connId);
    this.#cancel(record);
    return record.closeRan === true ? record.closeHook : this.#runClose(record, code, reason);
  }

  #cancel(record: ConnectionRecord): void {
    record.connection.closed = true;
    for (const c of record.inflight) c.abort(new CommandError(CommandErrorCode.CANCELLED, 'connection closed'));
  }

  /** Runs the close hook; synchronous when the hook is. */
  #runClose(record: ConnectionRecord, code: number, reason: string): CloseReply | undefined | Promise<CloseReply | undefined> {
    if (this.#def.close === undefined) return undefined;
    const failed = (err: unknown): undefined => {
      this.#log.error({ route: this.#service.route, connection: record.connection.id, err }, 'close hook threw');
      return undefined;
    };
    const toReply = (reply: unknown): CloseReply | undefined =>
      reply && typeof reply === 'object' && Number.isInteger((reply as CloseReply).code) ? { code: (reply as CloseReply).code, reason: (reply as CloseReply).reason ?? '' } : undefined;
    try {
      const result = this.#def.close(record.connection, code, reason);
      return result instanceof Promise ? result.then(toReply, failed) : toReply(result);
    } catch (err) {
      return failed(err);
    }
  }

  async idle(connId?: string): Promise<void> {
    if (connId === undefined) {
      if (this.#busy > 0) await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
      return;
    }
    const record = this.#connections.get(connId);
    if (record === undefined) return;
    // a message that came while waiting extends the queue: wait for the new tail too
    for (let tail = record.queue; ; tail = record.queue) {
      await tail.catch(() => undefined);
      if (record.pipelined?.size) await Promise.allSettled([...record.pipelined]);
      if (record.queue === tail && !record.pipelined?.size) return;
    }
  }

  #wakeIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }

  cancel(connId?: string): void {
    if (connId === undefined) {
      this.#dispatcher?.stop();
      return;
    }
    const record = this.#connections.get(connId);
    // the connection is still open: the reply `cancelled` reaches the client before its close
    for (const c of record?.inflight ?? []) c.abort(new CommandError(CommandErrorCode.CANCELLED, 'server is restarting'));
  }

  clusterEvent(event: string, data: unknown, from: string): void {
    this.#service.clusterEvents.dispatch(event, data, from);
  }

  async #raw(record: ConnectionRecord, data: string | Uint8Array): Promise<void> {
    if (this.#def.message === undefined) {
      if (this.#dispatcher !== null) this.#reply(record, encodeError(null, { code: CommandErrorCode.BAD_REQUEST, message: 'a binary message must be a command frame: [uint32 header length][JSON header][bytes]' }));
      return;
    }
    try {
      await this.#def.message(record.connection, data);
    } catch (err) {
      this.#hookFailed('message', record.connection.id, err);
    }
  }

  /** A binary frame with a command in its header runs as a command; other binary messages go to the message hook. */
  async #binaryCommand(record: ConnectionRecord, bytes: Uint8Array, started?: () => void): Promise<void> {
    const frame = decodeBinaryFrame(bytes, safeJsonParse);
    if (frame === null || !Object.hasOwn(frame, 'cmd')) return this.#raw(record, bytes);
    return this.#envelope(record, envelopeOf(frame, false), started);
  }

  async #command(record: ConnectionRecord, text: string, started?: () => void): Promise<void> {
    return this.#envelope(record, decodeEnvelope(text, this.#def.keyValueCommands === true), started);
  }

  async #envelope(record: ConnectionRecord, envelope: Envelope, started?: () => void): Promise<void> {
    if (envelope.kind === 'invalid') {
      this.#log.warn({ route: this.#service.route, connection: record.connection.id, code: envelope.error.code, reason: envelope.error.message }, 'bad command message');
      this.#reply(record, encodeError(envelope.id, envelope.error));
      return;
    }
    if (envelope.kind === 'command') {
      const outcome = await this.#run(record, envelope.id, envelope.cmd, envelope.data, started);
      this.#answer(record, envelope.id, outcome);
      return;
    }
    // key-value form: several commands, one reply object {name: {ok, data|error}}
    const reply: Record<string, unknown> = {};
    for (const [cmd, arg] of envelope.entries) {
      const outcome = await this.#run(record, null, cmd, arg);
      reply[cmd] = outcome.ok === true ? { ok: true, data: outcome.data ?? null } : outcome.ok === false ? { ok: false, error: outcome.error } : { ok: true };
    }
    this.#reply(record, safeStringify(reply) ?? encodeError(null, { code: CommandErrorCode.HANDLER_ERROR, message: 'reply is not serialisable' }));
  }

  /** Runs one command and reports it (name, outcome, duration) for metrics and logs. */
  async #run(record: ConnectionRecord, id: CommandId, cmd: string, data: unknown, started?: () => void): Promise<Outcome> {
    const t0 = performance.now();
    const outcome = await this.#dispatcher!.run(record, id, cmd, data, started);
    const result = outcome.ok === false ? outcome.error.code : 'ok';
    this.#sink.act({ type: 'command', to: record.connection.id, command: cmd, outcome: result, ms: performance.now() - t0 });
    return outcome;
  }

  #answer(record: ConnectionRecord, id: CommandId, outcome: Outcome): void {
    if (outcome.ok === 'replied') return;
    if (outcome.ok === false) {
      this.#reply(record, encodeError(id, outcome.error));
      return;
    }
    let text: string | Uint8Array;
    try {
      text = encodeReplyMessage(id, outcome.data);
    } catch (err) {
      this.#log.error({ route: this.#service.route, connection: record.connection.id, id, err }, 'command result is not JSON-serialisable');
      text = encodeError(id, { code: CommandErrorCode.HANDLER_ERROR, message: 'result is not serialisable' });
    }
    this.#reply(record, text);
  }

  #reply(record: ConnectionRecord, message: string | Uint8Array): void {
    if (!record.connection.closed) this.#sink.act({ type: 'send', to: record.connection.id, data: message, binary: typeof message !== 'string' });
  }

  #hookFailed(hook: string, connId: string, err: unknown): void {
    this.#log.error({ route: this.#service.route, file: this.file, connection: connId, err }, `${hook} hook threw; closing with 1011`);
    this.#sink.act({ type: 'close', to: connId, code: 1011, reason: 'internal error' });
  }
}

function safeStringify(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}

function exceptList(options?: SendOptions): string[] {
  const e = options?.except;
  return e === undefined ? [] : typeof e === 'string' ? [e] : [...e];
}

class ServiceContextImpl implements ServiceContext<any> {
  readonly route: string;
  state: any;
  readonly log: Logger;
  readonly #sink: HostSink;
  readonly #connections: Map<string, ConnectionRecord>;

  readonly clusterEvents: ClusterEventsImpl;
  readonly #isVolatile: (room: string) => boolean;
  readonly #live: LiveDeclarations;

  constructor(route: string, state: unknown, sink: HostSink, log: Logger, connections: Map<string, ConnectionRecord>, isVolatile: (room: string) => boolean, live: LiveDeclarations) {
    this.route = route;
    this.state = state;
    this.log = log;
    this.#sink = sink;
    this.#connections = connections;
    this.#isVolatile = isVolatile;
    this.#live = live;
    this.clusterEvents = new ClusterEventsImpl(sink, log, route);
  }

  live<T = any>(name: string, initial?: T): LiveHandle<T> {
    const declared = this.#live.resolve(name);
    return new LiveHandleImpl<T>(this.#sink, name, declared ? declared.initial : initial === undefined ? null : initial, declared?.history);
  }

  get cluster(): ClusterEvents {
    return this.clusterEvents;
  }

  publish(room: string, data: unknown, options?: SendOptions): Promise<Position | null> {
    if (hasBytes(data)) return Promise.reject(new TypeError('room messages are JSON (they are kept in history and cross brokers as text): send bytes with push, sendTo or broadcast'));
    return this.#sink.ask({ type: 'publish', room, data: data === undefined ? null : data, except: exceptList(options), ...(this.#isVolatile(room) ? { volatile: true } : {}) });
  }

  sendTo(ids: string[], event: string, data?: unknown): void {
    const m = encodePushMessage(event, data);
    this.#deliver({ kind: 'connections', ids: [...ids] }, m, typeof m !== 'string', []);
  }

  broadcast(event: string, data?: unknown, options?: SendOptions): void {
    const m = encodePushMessage(event, data);
    this.#deliver({ kind: 'service' }, m, typeof m !== 'string', exceptList(options));
  }

  broadcastAll(event: string, data?: unknown, options?: SendOptions): void {
    const m = encodePushMessage(event, data);
    this.#deliver({ kind: 'all' }, m, typeof m !== 'string', exceptList(options));
  }

  broadcastRaw(data: string | Uint8Array, options?: SendOptions): void {
    this.#deliver({ kind: 'service' }, data, typeof data !== 'string', exceptList(options));
  }

  presence(room: string): Promise<PresenceEntry[]> {
    return this.#sink.ask({ type: 'presence', room });
  }

  connections(): string[] {
    return [...this.#connections.keys()];
  }

  #deliver(target: Target, data: string | Uint8Array, binary: boolean, except: string[]): void {
    this.#sink.act({ type: 'deliver', target, data, binary, except });
  }
}

class ConnectionFacade implements Connection<any, any> {
  readonly id: string;
  readonly request: HandshakeRequest;
  readonly protocol: string;
  readonly service: ServiceContext<any>;
  readonly rooms = new Set<string>();
  state: any;
  closed = false;
  #user: User | null;
  readonly #sink: HostSink;

  readonly #rooms: RoomPolicy;

  constructor(info: OpenInfo, state: unknown, service: ServiceContext<any>, sink: HostSink, rooms: RoomPolicy) {
    this.id = info.id;
    this.request = info.request;
    this.protocol = info.protocol;
    this.#user = info.user;
    this.state = state;
    this.service = service;
    this.#sink = sink;
    this.#rooms = rooms;
  }

  get user(): User | null {
    return this.#user;
  }

  get isAuthenticated(): boolean {
    return this.#user !== null;
  }

  send(data: string | Uint8Array): void {
    if (!this.closed) this.#sink.act({ type: 'send', to: this.id, data, binary: typeof data !== 'string' });
  }

  push(event: string, data?: unknown): void {
    this.send(encodePushMessage(event, data));
  }

  async join(room: string, options?: { since?: Position }): Promise<JoinResult> {
    const volatile = this.#rooms.isVolatile(room);
    const result = granted(await this.#sink.ask({ type: 'join', to: this.id, room, ...(options?.since && !volatile ? { since: options.since } : {}), ...(volatile ? { volatile } : {}) }));
    this.rooms.add(room);
    if ('recovered' in result && !result.recovered) this.#rooms.resumeExpired(this, room, result.reason);
    return result;
  }

  async leave(room: string): Promise<void> {
    this.rooms.delete(room);
    await this.#sink.ask({ type: 'leave', to: this.id, room });
  }

  setUser(user: User | null): void {
    this.#user = user;
    this.#sink.act({ type: 'user', to: this.id, user });
  }

  close(code = 1000, reason = ''): void {
    this.#sink.act({ type: 'close', to: this.id, code, reason });
  }
}

/** The server's answer to a claim on a quota (a join; a live subscription): a refusal is thrown as the CommandError the client gets. */
export function granted<T extends object>(answer: T | Refused): T {
  if ('refused' in answer) throw new CommandError(answer.refused.code, answer.refused.message);
  return answer as T;
}

/** What the room commands and facades need to know of the service's room options. */
export interface RoomPolicy {
  isVolatile(room: string): boolean;
  /** A rejoin could not be recovered: runs the service's resumeExpired hook. */
  resumeExpired(connection: Connection<any, any>, room: string, reason: string): void;
}

/** `service.cluster` inside a host: listeners here, say and (un)listen through the sink. */
class ClusterEventsImpl implements ClusterEvents {
  readonly #sink: HostSink;
  readonly #log: Logger;
  readonly #route: string;
  readonly #listeners = new Map<string, Set<(data: any, from: string) => void>>();

  constructor(sink: HostSink, log: Logger, route: string) {
    this.#sink = sink;
    this.#log = log;
    this.#route = route;
  }

  say(event: string, data?: unknown): Promise<boolean> {
    return this.#sink.ask({ type: 'say', event, data: data === undefined ? null : data });
  }

  on(event: string, listener: (data: any, from: string) => void): void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener);
    if (set.size === 1) this.#sink.act({ type: 'listen', event });
  }

  off(event: string, listener: (data: any, from: string) => void): void {
    const set = this.#listeners.get(event);
    if (!set?.delete(listener) || set.size > 0) return;
    this.#listeners.delete(event);
    this.#sink.act({ type: 'unlisten', event });
  }

  dispatch(event: string, data: unknown, from: string): void {
    for (const listener of [...(this.#listeners.get(event) ?? [])]) {
      try {
        listener(data, from);
      } catch (err) {
        this.#log.error({ route: this.#route, event, err }, 'cluster event listener threw');
      }
    }
  }
}
