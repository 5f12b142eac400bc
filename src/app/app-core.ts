/**
 * The server side of the app layer: routes a handshake to a service host, keeps the live
 * connections, the rooms (one RoomIndex per service route) and presence, and delivers what
 * hosts ask for, framing each fan-out once. It sees PeerSockets and plain data, never frames.
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { encodeReply } from './command-envelope.js';
import type { Logger } from './logger.js';
import type { Framer, PeerSocket } from './peer-socket.js';
import { RoomIndex, type RoomIndexOptions } from './room-index.js';
import { RouteResolver } from './route-resolver.js';
import { ServiceLoadError } from './service-loader.js';
import type { HandshakeRequest, JoinResult, Position, PresenceEntry, User } from './service.js';
import type { CloseReply, HostAction, HostAnswers, HostQuery, HostSink, ServiceHost, ServiceHostFactory, Target } from './service-host.js';

export interface AppCoreOptions {
  /** The services directory. */
  root: string;
  hostFactory: ServiceHostFactory;
  framer: Framer;
  log: Logger;
  rooms?: RoomIndexOptions;
}

/** The accept decision carried from the handshake to attach(). */
export interface Admission {
  file: string;
  route: string;
  protocol: string;
  user: User | null;
  headers?: Record<string, string>;
}

export type Decision = { accept: true; admission: Admission } | { accept: false; status: number; reason: string; headers?: Record<string, string> };

interface LiveConnection {
  readonly id: string;
  readonly socket: PeerSocket;
  readonly file: string;
  readonly route: string;
  readonly host: ServiceHost;
  readonly stats: ServiceStats;
  user: User | null;
}

export interface ServiceSummary {
  route: string;
  file: string;
  isolation: 'inline' | 'worker' | 'process';
  state: 'running' | 'failed' | 'stopping';
  reloads: number;
  connections: number;
  messagesIn: number;
  messagesOut: number;
}

interface ServiceStats {
  /** Modification time of the file when it was loaded. */
  mtimeMs: number;
  messagesIn: number;
  messagesOut: number;
  reloads: number;
}

interface ServiceEntry {
  readonly stats: ServiceStats;
  file: string;
  route: string;
  host: Promise<ServiceHost>;
  /** The loaded host new connections get. */
  ready: ServiceHost | undefined;
  /** Hosts still serving connections (older versions after a reload, and the current one). */
  readonly connections: Set<string>;
}

export interface AppCoreEvents {
  reload: [{ file: string; route: string; ok: boolean; error?: string }];
  'load-error': [{ file: string; route: string; reason: string }];
}

export class AppCore extends EventEmitter<AppCoreEvents> {
  readonly resolver: RouteResolver;
  readonly nodeId = randomBytes(4).toString('hex');
  readonly #o: AppCoreOptions;
  readonly #services = new Map<string, ServiceEntry>();
  readonly #connections = new Map<string, LiveConnection>();
  readonly #rooms = new Map<string, RoomIndex>();
  readonly #hosts = new Set<ServiceHost>();
  #seq = 0;
  #stopping = false;

  constructor(options: AppCoreOptions) {
    super();
    this.#o = options;
    this.resolver = new RouteResolver(options.root);
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Decides a handshake: 404 without a service, 500 when it fails to load, else the service's own decision. */
  async decide(request: HandshakeRequest): Promise<Decision> {
    if (this.#stopping) return { accept: false, status: 503, reason: 'server is stopping' };
    const resolution = await this.resolver.resolve(request.url);
    if (!resolution.found) {
      if (resolution.reason === 'outside_root') this.#o.log.warn({ url: request.url }, 'service path resolves outside the services directory');
      return { accept: false, status: 404, reason: 'no service at this path' };
    }
    let host: ServiceHost;
    try {
      host = await this.#host(resolution.file, resolution.route);
    } catch (err) {
      return { accept: false, status: 500, reason: 'service failed to load' };
    }
    let result;
    try {
      result = await host.handshake(request);
    } catch (err) {
      this.#o.log.error({ route: resolution.route, err }, 'service handshake failed');
      return { accept: false, status: 500, reason: 'handshake failed' };
    }
    if (!result.accept) return { accept: false, status: result.status, reason: result.reason, ...(result.headers ? { headers: result.headers } : {}) };
    const admission: Admission = { file: resolution.file, route: resolution.route, protocol: result.protocol ?? '', user: result.user };
    if (result.headers) admission.headers = result.headers;
    return { accept: true, admission };
  }

  /** Registers an upgraded connection and runs the service's open hook. Returns its id. */
  attach(socket: PeerSocket, request: HandshakeRequest, admission: Admission, protocol = admission.protocol): string {
    const entry = this.#services.get(admission.file);
    const host = entry?.ready;
    if (entry === undefined || host === undefined) throw new Error(`attach without a decided service: ${admission.file}`);
    const id = `${this.nodeId}.${(++this.#seq).toString(36)}`;
    this.#connections.set(id, { id, socket, file: admission.file, route: admission.route, host, user: admission.user, stats: entry.stats });
    entry.connections.add(id);
    void host.open({ id, request, protocol, user: admission.user });
    return id;
  }

  /** A whole message from the connection. */
  message(id: string, data: string | Uint8Array, binary: boolean): void {
    const c = this.#connections.get(id);
    if (c === undefined) return;
    c.stats.messagesIn += 1;
    c.host.message(id, data, binary);
  }

  /** The peer sent a Close frame: the service may choose the reply code and reason. */
  peerClose(id: string, code: number, reason: string): CloseReply | undefined {
    const c = this.#connections.get(id);
    return c?.host.peerClose?.(id, code, reason);
  }

  /** The connection closed: leaves rooms, runs the close hook. */
  async closed(id: string, code: number, reason: string): Promise<CloseReply | undefined> {
    const c = this.#connections.get(id);
    if (c === undefined) return undefined;
    this.#connections.delete(id);
    this.#services.get(c.file)?.connections.delete(id);
    const rooms = this.#roomsOf(c.route);
    for (const room of rooms.leaveAll(id)) if (c.host.info.presenceEvents) this.#presenceEvent(c, 'presence.leave', room);
    return c.host.close(id, code, reason);
  }

  /** --watch: drop the cached service for this file and load it again for new connections. */
  async reload(file: string): Promise<boolean> {
    const entry = this.#services.get(file);
    if (entry === undefined) return false;
    const next = this.#load(file, entry.route);
    entry.stats.mtimeMs = mtimeOf(file);
    try {
      await next;
    } catch (err) {
      const reason = err instanceof ServiceLoadError ? err.reason : String(err);
      this.emit('reload', { file, route: entry.route, ok: false, error: reason });
      entry.host = next; // new connections get the 500 until the file is fixed
      entry.ready = undefined;
      void next.catch(() => {});
      return false;
    }
    entry.host = next;
    entry.ready = await next;
    entry.stats.reloads += 1;
    this.#o.log.info({ file, route: entry.route }, 'service reloaded');
    this.emit('reload', { file, route: entry.route, ok: true });
    return true;
  }

  /** True when the file's modification time differs from when it was last loaded. */
  changedOnDisk(file: string): boolean {
    const entry = this.#services.get(file);
    if (entry === undefined) return false;
    try {
      return statSync(file).mtimeMs !== entry.stats.mtimeMs;
    } catch {
      return true;
    }
  }

  /** Forgets a file's cached service (deleted file); a later request re-resolves it. */
  forget(file: string): void {
    const entry = this.#services.get(file);
    if (entry !== undefined && entry.connections.size === 0) this.#services.delete(file);
  }

  /** The files currently loaded (for --watch). */
  loadedFiles(): string[] {
    return [...this.#services.keys()];
  }

  /** New handshakes are answered 503 from now on. */
  stopAccepting(): void {
    this.#stopping = true;
  }

  /**
   * Stops accepting and waits for in-flight commands; when `deadline` aborts, cancels them
   * (replies `cancelled`, handler signals abort) and waits up to `afterAbortMs` more.
   */
  async drain(deadline: AbortSignal, afterAbortMs = 1000): Promise<void> {
    this.stopAccepting();
    const hosts = [...this.#hosts];
    const idle = Promise.allSettled(hosts.map((h) => h.idle()));
    const aborted = new Promise<void>((resolve) => {
      const onAbort = (): void => {
        for (const h of hosts) h.cancel();
        setTimeout(resolve, afterAbortMs).unref();
      };
      if (deadline.aborted) onAbort();
      else deadline.addEventListener('abort', onAbort, { once: true });
    });
    await Promise.race([idle, aborted]);
  }

  /** Graceful stop of the service side: drain with a deadline of `deadlineMs`. */
  async stop(deadlineMs = 5000): Promise<void> {
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), deadlineMs);
    try {
      await this.drain(deadline.signal);
    } finally {
      clearTimeout(timer);
    }
  }

  /** One line per service, for status pages and the runtime. */
  services(): ServiceSummary[] {
    return [...this.#services.values()].map((e) => ({
      route: e.route,
      file: e.file,
      isolation: e.ready?.info.isolation ?? 'inline',
      state: this.#stopping ? 'stopping' : e.ready ? 'running' : 'failed',
      reloads: e.stats.reloads,
      connections: e.connections.size,
      messagesIn: e.stats.messagesIn,
      messagesOut: e.stats.messagesOut,
    }));
  }

  #host(file: string, route: string): Promise<ServiceHost> {
    let entry = this.#services.get(file);
    if (entry === undefined) {
      entry = { file, route, host: this.#load(file, route), ready: undefined, connections: new Set(), stats: { mtimeMs: mtimeOf(file), messagesIn: 0, messagesOut: 0, reloads: 0 } };
      this.#services.set(file, entry);
    }
    const current = entry;
    return current.host.then((host) => {
      if (current.host === this.#services.get(file)?.host) current.ready ??= host;
      return host;
    }, (err: unknown) => {
      // a failed load is not cached: the next request tries again (the file may be fixed)
      if (this.#services.get(file) === current && current.connections.size === 0) this.#services.delete(file);
      throw err;
    });
  }

  #load(file: string, route: string): Promise<ServiceHost> {
    const loading = this.#o.hostFactory(file, route, this.#sink(file, route));
    loading.then(
      (host) => this.#hosts.add(host),
      (err: unknown) => {
        const reason = err instanceof ServiceLoadError ? err.reason : err instanceof Error ? err.message : String(err);
        this.#o.log.error({ file, route, reason }, `service ${file} failed to load: ${reason}`);
        this.emit('load-error', { file, route, reason });
      },
    );
    return loading;
  }

  #roomsOf(route: string): RoomIndex {
    let rooms = this.#rooms.get(route);
    if (rooms === undefined) this.#rooms.set(route, (rooms = new RoomIndex(this.#o.rooms)));
    return rooms;
  }

  #sink(file: string, route: string): HostSink {
    return {
      act: (action) => this.#act(file, route, action),
      ask: (query) => Promise.resolve().then(() => this.#ask(route, query)) as never,
    };
  }

  #act(file: string, route: string, action: HostAction): void {
    switch (action.type) {
      case 'send': {
        const c = this.#connections.get(action.to);
        if (c === undefined) return;
        c.stats.messagesOut += 1;
        c.socket.send(action.data, { binary: action.binary });
        return;
      }
      case 'deliver':
        this.#deliver(this.#targets(file, route, action.target), action.data, action.binary, action.except);
        return;
      case 'close':
        this.#connections.get(action.to)?.socket.close(action.code, action.reason);
        return;
      case 'user': {
        const c = this.#connections.get(action.to);
        if (c !== undefined) c.user = action.user;
        return;
      }
    }
  }

  #ask(route: string, query: HostQuery): HostAnswers[HostQuery['type']] {
    switch (query.type) {
      case 'join':
        return this.#join(route, query.to, query.room, query.since, query.reply);
      case 'leave': {
        const c = this.#connections.get(query.to);
        const left = this.#roomsOf(route).leave(query.room, query.to);
        if (left && c !== undefined && c.host.info.presenceEvents) this.#presenceEvent(c, 'presence.leave', query.room);
        return left;
      }
      case 'publish': {
        const rooms = this.#roomsOf(route);
        const message = rooms.append(query.room, query.data);
        this.#deliver(rooms.members(query.room), message.text, false, query.except);
        return message.pos;
      }
      case 'presence':
        return this.#presence(route, query.room);
    }
  }

  #join(route: string, id: string, room: string, since: Position | undefined, reply: string | number | null | undefined): JoinResult {
    const c = this.#connections.get(id);
    const rooms = this.#roomsOf(route);
    const added = c !== undefined && rooms.join(room, id);
    let result: JoinResult;
    let reset: string | undefined;
    if (since === undefined) {
      result = { pos: rooms.top(room) };
    } else {
      const read = rooms.read(room, since);
      if (read.complete) {
        result = { pos: read.top, recovered: true, messages: read.messages.map((m) => ({ pos: m.pos, data: m.data })) };
      } else {
        result = { pos: read.top, recovered: false, reason: read.reason };
        reset = `{"event":"room.reset","room":${JSON.stringify(room)},"reason":${JSON.stringify(read.reason)},"pos":${JSON.stringify(read.top)}}`;
      }
    }
    // the reply, the reset and the presence event are written in this same step, so no
    // room push can reach the client before the position it is relative to
    if (c !== undefined) {
      if (reply !== undefined) (c.stats.messagesOut += 1), c.socket.send(encodeReply(reply, result), { binary: false });
      if (reset !== undefined) (c.stats.messagesOut += 1), c.socket.send(reset, { binary: false });
      if (added && c.host.info.presenceEvents) this.#presenceEvent(c, 'presence.join', room);
    }
    return result;
  }

  #presence(route: string, room: string): PresenceEntry[] {
    const out: PresenceEntry[] = [];
    for (const id of this.#roomsOf(route).members(room)) out.push({ id, user: this.#connections.get(id)?.user ?? null });
    return out;
  }

  #presenceEvent(c: LiveConnection, event: 'presence.join' | 'presence.leave', room: string): void {
    const text = `{"event":"${event}","room":${JSON.stringify(room)},"data":${JSON.stringify({ id: c.id, user: c.user })}}`;
    this.#deliver(this.#roomsOf(c.route).members(room), text, false, [c.id]);
  }

  #targets(file: string, route: string, target: Target): Iterable<string> {
    switch (target.kind) {
      case 'connections':
        return target.ids;
      case 'service':
        return this.#services.get(file)?.connections ?? [];
      case 'all':
        return this.#connections.keys();
      case 'room':
        return this.#roomsOf(route).members(target.room);
    }
  }

  /** Frames once, writes the same prepared message to every recipient. */
  #deliver(ids: Iterable<string>, data: string | Uint8Array, binary: boolean, except: string[]): number {
    const skip = except.length > 0 ? new Set(except) : null;
    let prepared: unknown;
    let n = 0;
    for (const id of ids) {
      if (skip?.has(id)) continue;
      const c = this.#connections.get(id);
      if (c === undefined) continue;
      prepared ??= this.#o.framer.prepare(data, binary);
      c.stats.messagesOut += 1;
      c.socket.sendPrepared(prepared as never);
      n += 1;
    }
    return n;
  }
}


function mtimeOf(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}
