/**
 * The application layer's public face. An edge module binds a transport to it (admit a
 * handshake, open a connection with its port, hand over its messages, report its close);
 * the runtime steers it through the rest (drain, services, reload, delivery from outside).
 * It sees connection ports and plain data, never sockets or frames.
 */
import { randomBytes } from 'node:crypto';
import { CommandErrorCode } from './command-error.js';
import { DEFAULT_CONNECTION_LIMITS, Quota, connectionLimitsFor, type ConnectionLimits } from './connection-limits.js';
import type { ConnectionPort, Framer } from './connection-port.js';
import { encodeReply, replyText } from './command-envelope.js';
import { inlineHostFactory } from './inline-host.js';
import { silentLogger, type Logger } from './logger.js';
import type { AppObserver } from './observer.js';
import { LocalRooms } from './rooms/local-rooms.js';
import type { RoomIndexOptions } from './rooms/room-index.js';
import type { RoomHistory } from './rooms/room-history.js';
import type { RoomMember, Rooms } from './rooms/rooms.js';
import { LiveValues, type LiveSpec, type LiveValuesOptions } from './live/live-values.js';
import { LocalLiveLog } from './live/live-log.js';
import type { Json } from '../client/json-patch.js';
import type { ClusterFactory, LinkStatus, LocalConnections, NodeLink } from './cluster.js';
import { paceBatches, settlesWithin, SERVICE_RESTART, type StaggerOptions } from './staggered-close.js';
import { ServiceCatalog, type BackgroundFile, type RescanResult, type ServiceSummary } from './service-catalog.js';
import type { CloseReply, HostAction, HostAnswers, HostQuery, HostSink, Refused, ServiceHost, ServiceHostFactories, Target } from './service-host.js';
import type { HandshakeRequest, Isolation, Position, PresenceEntry, ServiceContext, ServiceDefinition, ServiceLimits, User } from './service.js';

/** The cluster event that carries sendToUser() to the other nodes (a name no service can say: `$` is reserved). */
const USER_EVENT = '$switchboard.user';

interface UserDelivery {
  user: string;
  route: string | null;
  data: string;
}

export interface AppOptions<Framed> {
  /** The services directory. */
  root: string;
  framer: Framer<Framed>;
  /** Where services run, per isolation (default: inline only, in this thread). */
  hosts?: ServiceHostFactories;
  /** Isolation of service files that declare none (default 'inline'). */
  defaultIsolation?: Isolation;
  /** History of the default, in-process rooms. */
  rooms?: RoomIndexOptions;
  /** Several nodes behind a broker (src/cluster/): rooms, presence, direct sends and events across them. */
  cluster?: ClusterFactory;
  /** This node's id without a cluster (default: random); with one, the broker's. */
  nodeId?: string;
  /** Live values: patches kept per value, linger of unused copies. */
  live?: LiveValuesOptions;
  log?: Logger;
  observer?: AppObserver;
  /** What one connection may hold at once (defaults: DEFAULT_CONNECTION_LIMITS); a service may override them. */
  limits?: Partial<ConnectionLimits>;
}

/** The accept decision carried from admit() to open(). */
export interface Admission {
  file: string;
  route: string;
  protocol: string;
  user: User | null;
  headers?: Record<string, string>;
  /** The service's own limits (the edge applies the transport and rate ones). */
  limits?: ServiceLimits;
}

export type Decision = { accept: true; admission: Admission } | { accept: false; status: number; reason: string; headers?: Record<string, string> };

interface LiveConnection<Framed> {
  readonly id: string;
  readonly port: ConnectionPort<Framed>;
  readonly file: string;
  readonly route: string;
  readonly host: ServiceHost;
  readonly openedAt: number;
  /** Its service's counters (shared by the service's connections). */
  readonly stats: { messagesIn: number; messagesOut: number; connections: Set<string> };
  readonly member: RoomMember;
  readonly rooms: Quota;
  readonly subscriptions: Quota;
  /** The request path (without the query). */
  readonly path: string;
  /** Payload bytes from and to this connection. */
  bytesIn: number;
  bytesOut: number;
}

/** One open connection of this node, as operators see it (`switchboard top`, the admin page). */
export interface ConnectionSummary {
  id: string;
  route: string;
  path: string;
  user: string | null;
  rooms: string[];
  bytesIn: number;
  bytesOut: number;
  openedAt: number;
}

/** One room of this node with its members here. */
export interface RoomSummary {
  route: string;
  room: string;
  members: string[];
}

/** What a connection holds against a quota, and the error a claim past it is answered with. */
const QUOTAS = {
  rooms: { code: CommandErrorCode.TOO_MANY_ROOMS, what: 'rooms' },
  subscriptions: { code: CommandErrorCode.TOO_MANY_SUBSCRIPTIONS, what: 'live subscriptions' },
} as const;
/** How long cancelled commands of a drained connection have to send their reply before it closes. */
const CANCELLED_REPLY_MS = 1000;

const HOOK_TIMED_OUT = Symbol('handshake hook timed out');

/** The hook's answer, or a rejection with HOOK_TIMED_OUT once the service's own deadline passed. */
function withinHookDeadline<T>(answer: Promise<T>, ms: number | undefined): Promise<T> {
  if (!ms) return answer;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(HOOK_TIMED_OUT), ms);
  });
  return Promise.race([answer, late]).finally(() => clearTimeout(timer));
}

function liveSpec(query: { initial: unknown; history?: number }): LiveSpec {
  return query.history !== undefined ? { initial: query.initial as Json, history: query.history } : { initial: query.initial as Json };
}

export class App<Framed> {
  /** Prefix of every connection id: unique per node and process start. */
  readonly nodeId: string;
  readonly #log: Logger;
  readonly #observer: AppObserver;
  readonly #framer: Framer<Framed>;
  readonly #catalog: ServiceCatalog;
  readonly #rooms: Rooms;
  readonly #live: LiveValues;
  readonly #link: NodeLink | null;
  readonly #closeCluster: ((o: { graceMs?: number }) => Promise<void>) | null;
  readonly #startCluster: (() => Promise<void>) | null;
  /** Hosts listening to each cluster event. */
  readonly #listeners = new Map<string, Set<ServiceHost>>();
  readonly #connections = new Map<string, LiveConnection<Framed>>();
  readonly #limits: ConnectionLimits;
  #seq = 0;
  #stopping = false;

  constructor(options: AppOptions<Framed>) {
    this.#log = options.log ?? silentLogger;
    this.#limits = { ...DEFAULT_CONNECTION_LIMITS, ...options.limits };
    this.#observer = options.observer ?? {};
    this.#framer = options.framer;
    this.#catalog = new ServiceCatalog({
      root: options.root,
      hosts: options.hosts ?? { inline: inlineHostFactory(this.#log) },
      defaultIsolation: options.defaultIsolation ?? 'inline',
      sinkFor: (file, route) => this.#sink(file, route),
      observer: this.#observer,
      log: this.#log,
    });
    const local: LocalConnections = {
      deliver: (ids, data, binary, except) => this.#deliver(ids, data, binary, except),
      close: (id, code, reason) => this.#closeLocal(id, code, reason),
      event: (event, data, from) => {
        if (event === USER_EVENT) {
          const d = data as UserDelivery;
          this.#deliverToUser(d.user, d.route, d.data);
          return;
        }
        for (const host of this.#listeners.get(event) ?? []) host.clusterEvent?.(event, data, from);
      },
    };
    if (options.cluster) {
      const cluster = options.cluster(local);
      this.#rooms = cluster.rooms;
      this.#link = cluster.link;
      this.nodeId = cluster.link.nodeId;
      this.#live = new LiveValues(cluster.liveLog, local, { ...(cluster.liveRefreshMs !== undefined ? { refreshMs: cluster.liveRefreshMs } : {}), ...options.live });
      this.#startCluster = () => cluster.start();
      this.#closeCluster = (o) => cluster.close(o);
    } else {
      this.#rooms = new LocalRooms(local, options.rooms);
      this.#live = new LiveValues(new LocalLiveLog(), local, options.live);
      this.#link = null;
      this.nodeId = options.nodeId ?? randomBytes(4).toString('hex');
      this.#startCluster = null;
      this.#closeCluster = null;
    }
  }

  /** Serves `definition` at `route` ahead of the services directory (the server's own services, such as the admin page's). */
  mount(route: string, definition: ServiceDefinition): ServiceContext<any> {
    return this.#catalog.mount(route, definition);
  }

  /** Joins the cluster, if there is one (before the first connection). */
  async start(): Promise<void> {
    await this.#startCluster?.();
    await this.#link?.listen(USER_EVENT);
  }

  /** The cluster link's state (always up for a single node). */
  clusterStatus(): LinkStatus & { kind: string; nodeId: string } {
    const s = this.#link?.status() ?? { state: 'up' as const, since: this.#startedAt };
    return { ...s, kind: this.#link?.kind ?? 'memory', nodeId: this.nodeId };
  }

  /** Live nodes (this one alone without a cluster). */
  async nodes(): Promise<Array<{ id: string; since: number }>> {
    return this.#link ? this.#link.nodes() : [{ id: this.nodeId, since: this.#startedAt }];
  }

  readonly #startedAt = Date.now();

  get connectionCount(): number {
    return this.#connections.size;
  }

  // ------------------------------------------------------------ the edge's side

  /** Decides a handshake: 404 without a service, 500 when it fails to load, else the service's own decision. */
  async admit(request: HandshakeRequest): Promise<Decision> {
    if (this.#stopping) return { accept: false, status: 503, reason: 'server is stopping' };
    const mounted = this.#catalog.mounted(request.path);
    const resolution = mounted ? { found: true as const, file: mounted.file, route: mounted.route } : await this.#catalog.resolver.resolve(request.url);
    if (!resolution.found) {
      if (resolution.reason === 'outside_root') this.#log.warn({ path: request.path }, 'service path resolves outside the services directory');
      return { accept: false, status: 404, reason: 'no service at this path' };
    }
    let host: ServiceHost;
    try {
      host = mounted?.ready ?? (await this.#catalog.host(resolution.file, resolution.route));
    } catch {
      return { accept: false, status: 500, reason: 'service failed to load' };
    }
    let result;
    try {
      result = await withinHookDeadline(host.handshake(request), host.info.limits?.handshakeTimeoutMs);
    } catch (err) {
      if (err === HOOK_TIMED_OUT) {
        this.#log.warn({ route: resolution.route, ms: host.info.limits?.handshakeTimeoutMs }, 'service handshake hook timed out');
        this.#observer.limitExceeded?.({ limit: 'handshake_timeout', action: 'refused', route: resolution.route });
        return { accept: false, status: 503, reason: 'handshake timed out' };
      }
      this.#log.error({ route: resolution.route, err }, 'service handshake failed');
      return { accept: false, status: 500, reason: 'handshake failed' };
    }
    if (!result.accept) return { accept: false, status: result.status, reason: result.reason, ...(result.headers ? { headers: result.headers } : {}) };
    const admission: Admission = { file: resolution.file, route: resolution.route, protocol: result.protocol ?? '', user: result.user };
    if (result.headers) admission.headers = result.headers;
    if (host.info.limits) admission.limits = host.info.limits;
    return { accept: true, admission };
  }

  /** An admitted connection is open: registers it and runs the service's open hook. Returns its id. */
  open(port: ConnectionPort<Framed>, request: HandshakeRequest, admission: Admission): string {
    const entry = this.#catalog.entry(admission.file);
    const host = entry?.ready;
    if (entry === undefined || host === undefined) throw new Error(`open without an admitted service: ${admission.file}`);
    const id = `${this.nodeId}.${(++this.#seq).toString(36)}`;
    const member: RoomMember = { id, user: admission.user, announce: host.info.presenceEvents };
    const limits = connectionLimitsFor(this.#limits, host.info.limits);
    const rooms = new Quota(limits.roomsPerConnection);
    const subscriptions = new Quota(limits.subscriptionsPerConnection);
    this.#connections.set(id, { id, port, file: admission.file, route: admission.route, host, openedAt: Date.now(), stats: entry, member, rooms, subscriptions, path: request.path, bytesIn: 0, bytesOut: 0 });
    entry.connections.add(id);
    this.#observer.connectionOpened?.({ id, route: admission.route, path: request.path, remoteAddress: request.remoteAddress });
    void host.open({ id, request, protocol: admission.protocol, user: admission.user, commandsInFlight: limits.commandsInFlight });
    return id;
  }

  /**
   * A whole message from the connection; `bytes` is its size on the wire when the edge knows
   * it. Text may come as its (valid) UTF-8 bytes: it becomes a string only for a host that
   * wants one.
   */
  message(id: string, data: string | Uint8Array, binary: boolean, bytes?: number): void {
    const c = this.#connections.get(id);
    if (c === undefined) return;
    c.stats.messagesIn += 1;
    const size = bytes ?? byteLength(data);
    c.bytesIn += size;
    this.#observer.messageIn?.(c.route, size);
    c.host.message(id, binary || typeof data === 'string' || c.host.textAsBytes === true ? data : utf8Text(data), binary);
  }

  /** The peer sent a Close frame: the service may choose the reply code and reason. */
  peerClose(id: string, code: number, reason: string): CloseReply | undefined {
    return this.#connections.get(id)?.host.peerClose?.(id, code, reason);
  }

  /** The connection closed: it leaves its rooms, the close hook runs. */
  async closed(id: string, code: number, reason: string): Promise<CloseReply | undefined> {
    const c = this.#connections.get(id);
    if (c === undefined) return undefined;
    this.#connections.delete(id);
    c.stats.connections.delete(id);
    this.#rooms.leaveAll(c.route, id);
    this.#live.leaveAll(id);
    this.#observer.connectionClosed?.({ id, route: c.route, code, durationMs: Date.now() - c.openedAt });
    return c.host.close(id, code, reason);
  }

  // ------------------------------------------------------------ the runtime's side

  /** New handshakes are answered 503 from now on. */
  stopAccepting(): void {
    this.#stopping = true;
  }

  /** False once stopAccepting() was called. */
  get accepting(): boolean {
    return !this.#stopping;
  }

  /**
   * Stops accepting and waits for in-flight commands; when `deadline` aborts, cancels them
   * (replies `cancelled`, handler signals abort) and waits up to `afterAbortMs` more.
   */
  async drain(deadline: AbortSignal, afterAbortMs = 1000): Promise<void> {
    this.stopAccepting();
    const hosts = this.#catalog.hosts();
    const idle = Promise.allSettled(hosts.map((h) => h.idle()));
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<void>((resolve) => {
      onAbort = (): void => {
        for (const h of hosts) h.cancel();
        timer = setTimeout(resolve, afterAbortMs);
      };
      if (deadline.aborted) onAbort();
      else deadline.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([idle, aborted]);
    } finally {
      clearTimeout(timer);
      if (onAbort) deadline.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Staggered drain: stops accepting, then closes the connections in batches spread over
   * `windowMs` (1012 Service Restart by default). A connection's in-flight commands get up to
   * `graceMs` from its batch's start to finish; then they are cancelled (their reply,
   * `cancelled`, still goes out) and it is closed. Resolves with the batch sizes once every
   * connection of every batch is closed.
   */
  async closeStaggered(o: StaggerOptions): Promise<number[]> {
    this.stopAccepting();
    const retiring: Array<Promise<void>> = [];
    const sizes = await paceBatches([...this.#connections.keys()], o, (batch) => {
      const ids = batch.ids.filter((id) => this.#connections.has(id));
      this.#observer.drainBatch?.({ index: batch.index, of: batch.of, connections: ids.length, remaining: this.#connections.size - ids.length });
      for (const id of ids) retiring.push(this.#retire(id, o));
    });
    await Promise.all(retiring);
    return sizes;
  }

  async #retire(id: string, o: StaggerOptions): Promise<void> {
    const c = this.#connections.get(id);
    if (c === undefined) return;
    if (!(await settlesWithin(c.host.idle(id), o.graceMs))) {
      c.host.cancel(id);
      await settlesWithin(c.host.idle(id), CANCELLED_REPLY_MS);
    }
    this.#closeLocal(id, o.code ?? SERVICE_RESTART, o.reason ?? 'service restart: reconnect');
  }

  /** Every endpoint service of the directory, loaded or not, with its state. */
  services(): Promise<ServiceSummary[]> {
    return this.#catalog.summaries();
  }

  /** Re-scans the directory (reload, SIGHUP). */
  rescan(): Promise<RescanResult> {
    return this.#catalog.rescan();
  }

  /** Loads one changed file again for new connections (--watch). */
  reloadFile(file: string): Promise<{ ok: true } | { ok: false; reason: string } | undefined> {
    return this.#catalog.reload(file);
  }

  /** The files loaded so far. */
  loadedFiles(): string[] {
    return this.#catalog.loadedFiles();
  }

  /** Restarts a service's worker or process (or loads an inline one again); false when no service serves the route. */
  restartService(route: string): Promise<boolean> {
    return this.#catalog.restart(route);
  }

  listRoutes(): Promise<string[]> {
    return this.#catalog.endpointRoutes();
  }

  /** True when a service answers at this path. */
  async isService(path: string): Promise<boolean> {
    return (await this.#catalog.resolver.resolve(path)).found;
  }

  /** Files of the directory that are background services (run by the runtime, not here). */
  backgroundFiles(): Promise<BackgroundFile[]> {
    return this.#catalog.backgroundFiles();
  }

  /** Sends a raw message to one connection, on this node or (with a cluster) another; false when it cannot be reached. */
  async sendToConnection(id: string, data: string | Uint8Array): Promise<boolean> {
    const c = this.#connections.get(id);
    if (c !== undefined) {
      this.#send(c, data, typeof data !== 'string');
      return true;
    }
    return this.#remote(id) ? this.#link!.sendTo([id], data, typeof data !== 'string') : false;
  }

  /** Closes one connection, on this node or another; false when there is no such connection here and no other node to ask. */
  async closeConnection(id: string, code: number, reason: string): Promise<boolean> {
    if (this.#closeLocal(id, code, reason)) return true;
    return this.#remote(id) ? this.#link!.close(id, code, reason) : false;
  }

  /** Appends a message to a room of a service (numbered, kept in its history) and pushes it to its members; null when it was not numbered. */
  publish(route: string, room: string, data: unknown): Promise<Position | null> {
    return this.#publish(route, room, data, [], false);
  }

  /** Who is in a room of a service (every node's members, with a cluster). */
  presence(route: string, room: string): Promise<PresenceEntry[]> {
    return this.#rooms.presence(route, room);
  }

  /** A room's numbered messages: the first `limit` after `since`, or without it the latest `limit` still held. */
  history(route: string, room: string, options: { since?: Position; limit?: number } = {}): Promise<RoomHistory> {
    return this.#rooms.history(route, room, options.since, options.limit ?? 100);
  }

  /**
   * A raw message to every connection of a user (`user.id`), of one service or of all, on
   * every node. Returns how many connections of this node got it, and whether it was handed
   * to the other nodes (at most once; false without a cluster or while its broker is down).
   */
  async sendToUser(userId: string, data: string, route?: string): Promise<{ local: number; relayed: boolean }> {
    const local = this.#deliverToUser(userId, route ?? null, data);
    const relayed = this.#link ? await this.#link.say(USER_EVENT, { user: userId, route: route ?? null, data } satisfies UserDelivery) : false;
    return { local, relayed };
  }

  #deliverToUser(userId: string, route: string | null, data: string): number {
    const ids: string[] = [];
    for (const c of this.#connections.values()) if (c.member.user?.id === userId && (route === null || c.route === route)) ids.push(c.id);
    return this.#deliver(ids, data, false, []);
  }

  /** Room memberships of this node's connections. */
  roomMemberships(): number {
    return this.#rooms.memberships();
  }

  /** This node's rooms and their members here. */
  rooms(): RoomSummary[] {
    return this.#rooms.localRooms().map((r) => ({ route: r.scope, room: r.room, members: r.members }));
  }

  /** This node's open connections, with their rooms and traffic. */
  connections(): ConnectionSummary[] {
    const roomsOf = new Map<string, string[]>();
    for (const r of this.#rooms.localRooms()) {
      for (const id of r.members) {
        const list = roomsOf.get(id);
        if (list) list.push(r.room);
        else roomsOf.set(id, [r.room]);
      }
    }
    return [...this.#connections.values()].map((c) => ({
      id: c.id,
      route: c.route,
      path: c.path,
      user: c.member.user?.id ?? null,
      rooms: roomsOf.get(c.id) ?? [],
      bytesIn: c.bytesIn,
      bytesOut: c.bytesOut,
      openedAt: c.openedAt,
    }));
  }

  async #publish(route: string, room: string, data: unknown, except: readonly string[], volatile: boolean): Promise<Position | null> {
    const t0 = performance.now();
    const pos = await this.#rooms.publish(route, room, data, except, volatile ? { volatile } : {});
    this.#observer.roomPublished?.({ route, durationMs: performance.now() - t0, numbered: pos !== null });
    return pos;
  }

  /** Says a cluster event to every other node; false without a cluster or while its broker is down. */
  say(event: string, data: unknown): Promise<boolean> {
    return this.#link ? this.#link.say(event, data) : Promise.resolve(false);
  }

  /** A raw message to every member of a room of a service. */
  sendToRoom(route: string, room: string, data: string | Uint8Array): void {
    this.#rooms.send(route, room, data, typeof data !== 'string', []);
  }

  /** A raw message to every connection of a service; returns how many. */
  broadcast(route: string, data: string | Uint8Array): number {
    return this.#deliver(this.#connectionsOf(route), data, typeof data !== 'string', []);
  }

  /** Stops every service host (after the connections are closed) and leaves the cluster. */
  async dispose(options: { graceMs?: number } = {}): Promise<void> {
    await this.#catalog.disposeAll();
    await this.#live.close();
    this.#rooms.dispose?.();
    await this.#closeCluster?.(options);
  }

  #closeLocal(id: string, code: number, reason: string): boolean {
    const c = this.#connections.get(id);
    c?.port.close(code, reason);
    return c !== undefined;
  }

  /** The id names another node of the cluster. */
  #remote(id: string): boolean {
    return this.#link !== null && !id.startsWith(`${this.nodeId}.`);
  }

  // ------------------------------------------------------------ the services' side

  #sink(file: string, route: string): HostSink {
    return {
      act: (action) => this.#act(file, route, action),
      ask: (query) => this.#ask(route, query) as never,
    };
  }

  #act(file: string, route: string, action: HostAction): void {
    switch (action.type) {
      case 'send': {
        const c = this.#connections.get(action.to);
        if (c !== undefined) this.#send(c, action.data, action.binary);
        return;
      }
      case 'deliver':
        this.#target(file, route, action.target, action.data, action.binary, action.except);
        return;
      case 'close':
        this.#connections.get(action.to)?.port.close(action.code, action.reason);
        return;
      case 'user': {
        const c = this.#connections.get(action.to);
        if (c !== undefined) c.member.user = action.user;
        return;
      }
      case 'command':
        this.#observer.commandFinished?.({ route, connection: action.to, command: action.command, outcome: action.outcome, durationMs: action.ms });
        if (action.outcome === CommandErrorCode.TOO_MANY_COMMANDS) this.#observer.limitExceeded?.({ limit: 'commands_in_flight', action: 'refused', route, connection: action.to });
        return;
      case 'listen':
      case 'unlisten':
        if (action.event === USER_EVENT) return; // the app's own: a service neither hears nor unsubscribes it
        this.#listen(file, action.type === 'listen', action.event);
        return;
    }
  }

  #listen(file: string, on: boolean, event: string): void {
    const host = this.#catalog.entry(file)?.ready;
    if (host === undefined) return;
    let hosts = this.#listeners.get(event);
    if (on) {
      if (!hosts) this.#listeners.set(event, (hosts = new Set()));
      hosts.add(host);
      if (hosts.size === 1) void this.#link?.listen(event);
    } else if (hosts?.delete(host) && hosts.size === 0) {
      this.#listeners.delete(event);
      void this.#link?.unlisten(event);
    }
  }

  async #ask(route: string, query: HostQuery): Promise<HostAnswers[HostQuery['type']]> {
    switch (query.type) {
      case 'join': {
        const c = this.#connections.get(query.to);
        if (c === undefined) return { pos: { e: '', o: 0 } };
        const refused = this.#claim(c, 'rooms', query.room);
        if (refused) return refused;
        const reply = query.reply;
        const options = query.volatile === true ? { volatile: true } : {};
        let result;
        try {
          result = await this.#rooms.join(route, query.room, c.member, query.since, (r, reset, json) => {
            // written in the step that makes the member, before any room message can follow
            if (reply !== undefined) this.#send(c, json === undefined ? encodeReply(reply, r) : replyText(reply, json), false);
            if (reset !== undefined) this.#send(c, reset, false);
          }, options);
        } catch (err) {
          c.rooms.release(query.room);
          throw err;
        }
        if (query.since !== undefined && 'recovered' in result) this.#observer.roomResumed?.({ route, outcome: result.recovered ? 'recovered' : result.reason });
        return result;
      }
      case 'leave':
        this.#connections.get(query.to)?.rooms.release(query.room);
        return this.#rooms.leave(route, query.room, query.to);
      case 'publish':
        return this.#publish(route, query.room, query.data, query.except, query.volatile === true);
      case 'presence':
        return this.#rooms.presence(route, query.room);
      case 'say':
        return query.event === USER_EVENT ? false : this.say(query.event, query.data);
      case 'liveGet':
        return this.#live.get(route, query.name, liveSpec(query));
      case 'liveSet':
        return this.#live.set(route, query.name, query.value as Json, liveSpec(query), query.base);
      case 'liveSubscribe': {
        const c = this.#connections.get(query.to);
        if (c === undefined) return { v: 0, value: null };
        const refused = this.#claim(c, 'subscriptions', query.name);
        if (refused) return refused;
        const reply = query.reply;
        let snapshot;
        try {
          snapshot = await this.#live.subscribe(route, query.name, c.id, query.since, liveSpec(query), (s) => {
            // written in the step that makes the subscriber, before any patch can follow
            if (reply !== undefined) this.#send(c, encodeReply(reply, { name: query.name, ...s }), false);
          });
        } catch (err) {
          c.subscriptions.release(query.name);
          throw err;
        }
        if (!this.#connections.has(c.id)) this.#live.unsubscribe(route, query.name, c.id);
        return snapshot;
      }
      case 'liveUnsubscribe':
        this.#connections.get(query.to)?.subscriptions.release(query.name);
        return this.#live.unsubscribe(route, query.name, query.to);
    }
  }

  /**
   * Claims `key` (a room, a live subscription) for the connection; past its quota, reports
   * the limit and returns the refusal the client is answered with.
   */
  #claim(c: LiveConnection<Framed>, kind: keyof typeof QUOTAS, key: string): Refused | undefined {
    const quota = c[kind];
    if (quota.claim(key)) return undefined;
    this.#observer.limitExceeded?.({ limit: kind, action: 'refused', route: c.route, connection: c.id });
    const q = QUOTAS[kind];
    return { refused: { code: q.code, message: `this connection already holds ${quota.limit} ${q.what}, the most it may` } };
  }

  #target(file: string, route: string, target: Target, data: string | Uint8Array, binary: boolean, except: string[]): void {
    switch (target.kind) {
      case 'connections': {
        this.#deliver(target.ids, data, binary, except);
        const remote = target.ids.filter((id) => this.#remote(id) && !except.includes(id));
        if (remote.length > 0) void this.#link!.sendTo(remote, data, binary);
        return;
      }
      case 'service':
        this.#deliver(this.#catalog.entry(file)?.connections ?? [], data, binary, except);
        return;
      case 'all':
        this.#deliver(this.#connections.keys(), data, binary, except);
        return;
      case 'room':
        this.#rooms.send(route, target.room, data, binary, except);
        return;
    }
  }

  #connectionsOf(route: string): Iterable<string> {
    const ids: string[] = [];
    for (const c of this.#connections.values()) if (c.route === route) ids.push(c.id);
    return ids;
  }

  #send(c: LiveConnection<Framed>, data: string | Uint8Array, binary: boolean): void {
    c.stats.messagesOut += 1;
    const size = byteLength(data);
    c.bytesOut += size;
    this.#observer.messageOut?.(c.route, 1, size);
    c.port.send(data, binary);
  }

  /** Frames once, writes the same framed message to every recipient. */
  #deliver(ids: Iterable<string>, data: string | Uint8Array, binary: boolean, except: readonly string[]): number {
    const skip = except.length > 0 ? new Set(except) : null;
    let framed: Framed | undefined;
    let n = 0;
    let route = '';
    let size = -1;
    for (const id of ids) {
      if (skip?.has(id)) continue;
      const c = this.#connections.get(id);
      if (c === undefined) continue;
      framed ??= this.#framer.frame(data, binary);
      if (size < 0) size = byteLength(data);
      c.bytesOut += size;
      c.stats.messagesOut += 1;
      c.port.sendFramed(framed);
      route = c.route;
      n += 1;
    }
    if (n > 0) this.#observer.messageOut?.(route, n, size);
    return n;
  }
}

function byteLength(data: string | Uint8Array): number {
  return typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
}

function utf8Text(bytes: Uint8Array): string {
  return (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).toString('utf8');
}
