/**
 * The command-protocol client, for Node and browsers (plain ESM, no imports at run time):
 * `call(cmd, data)` -> Promise, `on(event, fn)`, rooms with positions, and automatic reconnect
 * with backoff that re-authenticates and re-joins rooms from their last position.
 *
 *   // browser: the global WebSocket is used
 *   const client = createClient('ws://localhost:8080/chat');
 *   // Node: pass the library's connect()
 *   import { connect } from 'switchboard';
 *   const client = createClient('ws://localhost:8080/chat', { connect });
 */
import type { InputOf, ServiceDefinition } from '../app/service.js';
import { LiveValue, type LiveReply, type LiveTransport } from './live-value.js';

export { LiveValue, type LiveChange, type LiveReply } from './live-value.js';

/** What a call resolves to per command: `{ [cmd]: { input; output } }`. */
export type Api = Record<string, { input: unknown; output: unknown }>;

/**
 * The Api of a service, from its definition: `ApiOf<typeof import('./services/chat.ts').default>`
 * or, with `import type chat from './services/chat.js'`, `ApiOf<typeof chat>`. Anything that
 * is not a service definition is a compile error (NotAServiceDefinition), never a silent
 * fallback to the untyped Api.
 */
export type ApiOf<S> = S extends ServiceDefinition<any, any, infer C, infer L>
  ? { [K in keyof C & string]: { input: C[K] extends { input?: infer I } ? InputOf<I> : unknown; output: unknown } } & LiveApi<L> & BuiltinApi
  : // an ES module's default import of a CommonJS service file (a "type": "commonjs" package)
    // is that file's whole `exports` object: the definition is its `default`
    S extends { default: infer D extends ServiceDefinition<any, any, any> }
    ? ApiOf<D>
    : NotAServiceDefinition<S>;

/** What ApiOf makes of a type that is not a service definition: it does not satisfy `Api`, and its key says why. */
export type NotAServiceDefinition<S> = {
  'ApiOf<S> needs the type of a defineService(...) value, e.g. ApiOf<typeof import("./services/chat.js").default>': S;
};

export interface Position {
  e: string;
  o: number;
}

/** A live declaration's name as clients may ask for it: `board/:id` -> `board/${string}`. */
export type LiveName<K extends string> = K extends `${infer Head}/${infer Rest}` ? `${LiveSegment<Head>}/${LiveName<Rest>}` : LiveSegment<K>;
type LiveSegment<S extends string> = S extends `:${string}` ? string : S;

/** A service's live values in its Api: `live:<name>` keys whose output is the value's type. */
export type LiveApi<L> = string extends keyof L ? {} : { [K in keyof L & string as `live:${LiveName<K>}`]: { input: never; output: L[K] } };

/** The names `client.live()` accepts: any string for an untyped Api, the declared ones for a typed one. */
export type LiveNames<A> = [DeclaredLiveNames<A>] extends [never] ? (string extends keyof A ? string : never) : DeclaredLiveNames<A>;
type DeclaredLiveNames<A> = { [K in keyof A & string]: K extends `live:${infer N}` ? N : never }[keyof A & string];

/** The type of a live value by name. */
export type LiveType<A extends Api, N extends string> = A[`live:${N}` & keyof A]['output'];

export type BuiltinApi = {
  auth: { input: Record<string, string>; output: { user: unknown } };
  'room.join': { input: { room: string; since?: Position }; output: JoinReply };
  'room.leave': { input: { room: string }; output: { room: string } };
  'room.presence': { input: { room: string }; output: Array<{ id: string; user: unknown }> };
  'room.publish': { input: { room: string; data: unknown }; output: { pos: Position } };
};

export interface JoinReply {
  pos: Position;
  recovered?: boolean;
  reason?: string;
  messages?: Array<{ pos: Position; data: unknown }>;
}

/** A connected socket, as the client needs it. */
export interface ClientSocket {
  send(text: string): void;
  close(code?: number, reason?: string): void;
}

export interface SocketHandlers {
  message(text: string): void;
  close(code: number, reason: string): void;
}

/** Opens a socket; resolves once it is open. */
export type SocketFactory = (url: string, handlers: SocketHandlers) => Promise<ClientSocket>;

/** A browser-style WebSocket constructor (the global one, or any compatible). */
export interface WebSocketConstructorLike {
  new (url: string, protocols?: string | string[]): {
    readyState: number;
    send(data: string): void;
    close(code?: number, reason?: string): void;
    addEventListener(type: string, listener: (event: any) => void): void;
  };
}

/** The Node library's connect(): an EventEmitter-style socket. */
export type NodeConnect = (url: string, options?: any) => Promise<{
  send(data: string): unknown;
  close(code?: number, reason?: string): void;
  on(event: 'message', fn: (data: { toString(encoding?: string): string }, isBinary: boolean) => void): unknown;
  on(event: 'close', fn: (code: number, reason: string) => void): unknown;
  on(event: 'error', fn: (err: unknown) => void): unknown;
}>;

export interface ClientReconnectOptions {
  /** First delay, ms (default 250). */
  initialDelayMs?: number;
  /** Cap, ms (default 5000). */
  maxDelayMs?: number;
  /** Growth per attempt (default 2). */
  factor?: number;
  /** Give up after this many attempts in a row (default: never). */
  maxAttempts?: number;
}

export interface CommandClientOptions {
  /** Node: the library's connect(). */
  connect?: NodeConnect;
  /** A WebSocket constructor (default: globalThis.WebSocket). */
  WebSocket?: WebSocketConstructorLike;
  /** Any other way to open a socket. */
  socketFactory?: SocketFactory;
  /** Reconnect with backoff (default on); false to disable. */
  reconnect?: ClientReconnectOptions | false;
  /** Default timeout of a call, ms (default 15000). */
  callTimeoutMs?: number;
  /** Credentials sent with the `auth` command after every (re)connect, before rooms are re-joined. */
  auth?: () => Record<string, string> | Promise<Record<string, string>>;
}

/** A failed call: `code` is the server's error code, or `disconnected` / `timeout` / `closed` from the client. */
export class ClientCommandError extends Error {
  readonly code: string;
  readonly details: unknown;
  constructor(code: string, message: string, details?: unknown) {
    super(message);
    this.name = 'ClientCommandError';
    this.code = code;
    this.details = details;
  }
}

/**
 * A connection that could not be opened. `code`: `refused` (the server answered the handshake
 * with a final `status`: a 4xx other than 408/429, or a redirect that was not followed),
 * `unavailable` (an answer worth retrying: 503, 429, 408, other 5xx) or `unreachable` (no
 * HTTP answer: refused TCP connection, network error, timeout; `status` 0). A refusal is
 * final: `ready` and every pending call reject with it and the client stops.
 */
export class ClientConnectError extends ClientCommandError {
  readonly status: number;
  /** What the server's Retry-After header asked for, in ms. */
  readonly retryAfterMs: number | undefined;
  constructor(code: 'refused' | 'unavailable' | 'unreachable', message: string, status: number, retryAfterMs?: number, cause?: unknown) {
    super(code, message, { status });
    this.name = 'ClientConnectError';
    this.status = status;
    this.retryAfterMs = retryAfterMs;
    if (cause !== undefined) (this as { cause?: unknown }).cause = cause;
  }

  /** True when trying again cannot help. */
  get final(): boolean {
    return this.code === 'refused';
  }
}

/** Parses Retry-After: delay-seconds or an HTTP date. */
function parseRetryAfter(value: unknown): number | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const seconds = Number(value.trim());
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/**
 * What a failed connection attempt means for the client. The transport's `HandshakeError`
 * says the same (`retryable`); this file is served to browsers on its own, so it imports
 * nothing at run time and reads the error's `status` and `headers` instead.
 */
function connectFailure(err: unknown, url: string): ClientConnectError {
  if (err instanceof ClientConnectError) return err;
  const e = (err ?? {}) as { status?: unknown; headers?: Record<string, unknown>; message?: unknown; body?: unknown };
  const status = typeof e.status === 'number' && e.status >= 300 && e.status < 600 ? e.status : 0;
  const detail = typeof e.message === 'string' ? e.message : String(err);
  if (status === 0) return new ClientConnectError('unreachable', `cannot connect to ${url}: ${detail}`, 0, undefined, err);
  const retryAfterMs = parseRetryAfter(e.headers?.['retry-after']);
  const body = typeof e.body === 'string' && e.body.trim() !== '' ? ` (${e.body.trim().slice(0, 200)})` : '';
  const final = status < 400 || (status < 500 && status !== 408 && status !== 429);
  return new ClientConnectError(final ? 'refused' : 'unavailable', `${url}: the server answered the handshake with HTTP ${status}${body}`, status, retryAfterMs, err);
}

export type ClientEvent = 'open' | 'close' | 'reconnecting' | 'reconnected' | 'rejoined' | 'room.message' | 'room.reset' | 'presence.join' | 'presence.leave' | (string & {});

/** Data of the `open` event. */
export interface OpenEvent {
  url: string;
  /** False on the first connection, true after a reconnect. */
  reconnected: boolean;
}

/** Data of the `rejoined` event: how one room was resumed after a reconnect. */
export interface RejoinedEvent {
  room: string;
  /** Every message missed while away was replayed (`replayed` of them). */
  recovered: boolean;
  replayed: number;
  /** Why not (expired, epoch, too_many): a `room.reset` follows. */
  reason?: string;
  pos: Position;
}

/** Data of the `reconnecting` event. */
export interface ReconnectingEvent {
  attempt: number;
  delayMs: number;
  /** The failure that led to this retry, when there was one (the previous connection may just have closed). */
  error?: ClientConnectError;
}

/** A server push as received: `{event, data}`, plus `room`/`pos` on room events. */
export interface Push {
  event: string;
  data?: unknown;
  room?: string;
  pos?: Position | null;
  reason?: string;
}

type Listener = (data: any, push: Push) => void;

interface Pending {
  resolve(value: unknown): void;
  reject(err: unknown): void;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Runs on the reply as it is read, before any message that follows it (room joins: the replayed messages come first). */
  onReply?: (data: unknown) => void;
}

interface RoomState {
  pos: Position | null;
  handlers: Set<(data: unknown, pos: Position) => void>;
}

/** A rejoin refused for these reasons is not tried again. */
const FINAL_JOIN_ERRORS = new Set(['forbidden', 'unauthorized', 'invalid_input', 'unknown_command', 'closed', 'refused']);
const REJOIN_ATTEMPTS = 8;

export function nodeSocketFactory(connect: NodeConnect): SocketFactory {
  return async (url, handlers) => {
    const ws = await connect(url);
    ws.on('message', (data, isBinary) => {
      if (!isBinary) handlers.message(data.toString('utf8'));
    });
    ws.on('close', (code, reason) => handlers.close(code, reason));
    ws.on('error', () => {});
    return { send: (text) => void ws.send(text), close: (code, reason) => ws.close(code, reason) };
  };
}

export function browserSocketFactory(Ctor: WebSocketConstructorLike): SocketFactory {
  return (url, handlers) =>
    new Promise((resolve, reject) => {
      const ws = new Ctor(url);
      let opened = false;
      ws.addEventListener('open', () => {
        opened = true;
        resolve({ send: (text) => ws.send(text), close: (code, reason) => ws.close(code, reason) });
      });
      ws.addEventListener('message', (e: { data: unknown }) => {
        if (typeof e.data === 'string') handlers.message(e.data);
      });
      ws.addEventListener('close', (e: { code: number; reason: string }) => {
        if (opened) handlers.close(e.code, e.reason);
        else reject(new Error(`connection failed (${e.code})`));
      });
    });
}

export class CommandClient<A extends Api = Api & BuiltinApi> {
  readonly url: string;
  #factory: SocketFactory;
  #options: CommandClientOptions;
  #socket: ClientSocket | null = null;
  #seq = 0;
  #pending = new Map<number, Pending>();
  #queue: string[] = [];
  #listeners = new Map<string, Set<Listener>>();
  #rooms = new Map<string, RoomState>();
  #lives = new Map<string, LiveValue<any>>();
  #closed = false;
  /** Why the client stopped by itself (a final refusal, reconnect off, or attempts used up). */
  #failure: ClientCommandError | undefined;
  #attempt = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #ready: Promise<void>;
  #readyResolve!: () => void;
  #readyReject!: (err: unknown) => void;
  #everOpened = false;

  constructor(url: string, options: CommandClientOptions = {}) {
    this.url = url;
    this.#options = options;
    const Ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructorLike }).WebSocket;
    const factory = options.socketFactory ?? (options.connect ? nodeSocketFactory(options.connect) : Ctor ? browserSocketFactory(Ctor) : null);
    if (factory === null) throw new TypeError('no WebSocket available: pass { connect } (Node) or { WebSocket }');
    this.#factory = factory;
    this.#ready = new Promise((resolve, reject) => {
      this.#readyResolve = resolve;
      this.#readyReject = reject;
    });
    this.#ready.catch(() => {});
    void this.#open();
  }

  /** Resolves once the first connection is open (rejects if it fails and reconnect is off). */
  get ready(): Promise<void> {
    return this.#ready;
  }

  get connected(): boolean {
    return this.#socket !== null;
  }

  /** Runs a command; resolves with its `data`, rejects with a ClientCommandError. */
  call<K extends keyof A & string>(cmd: K, data?: A[K]['input'], options: { timeoutMs?: number } = {}): Promise<A[K]['output']> {
    return this.#call(cmd, data, options.timeoutMs) as Promise<A[K]['output']>;
  }

  #call(cmd: string, data: unknown, timeout?: number, onReply?: (data: unknown) => void): Promise<unknown> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#closed) return Promise.reject(new ClientCommandError('closed', 'client is closed'));
    const id = ++this.#seq;
    const timeoutMs = timeout ?? this.#options.callTimeoutMs ?? 15_000;
    return new Promise((resolve, reject) => {
      const pending: Pending = { resolve, reject, timer: undefined, ...(onReply ? { onReply } : {}) };
      pending.timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new ClientCommandError('timeout', `no reply to "${cmd}" within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, pending);
      this.#write(JSON.stringify({ id, cmd, data: data === undefined ? null : data }));
    });
  }

  /** Listens to a server push (by event name) or a client event; returns an unsubscribe function. */
  on(event: ClientEvent, fn: Listener): () => void {
    let set = this.#listeners.get(event);
    if (set === undefined) this.#listeners.set(event, (set = new Set()));
    set.add(fn);
    return () => set.delete(fn);
  }

  /**
   * A live value of the service: subscribed now, kept current from its patches, and
   * resubscribed from its version after every reconnect. The same name gives the same object.
   */
  live<N extends LiveNames<A>>(name: N): LiveValue<LiveType<A, N>> {
    return this.#live(name) as LiveValue<LiveType<A, N>>;
  }

  #live(name: string): LiveValue<unknown> {
    let value = this.#lives.get(name);
    if (value === undefined) {
      value = new LiveValue<unknown>(name, this.#liveTransport);
      this.#lives.set(name, value);
      value.resubscribe().catch((err: unknown) => this.#emit('error', err, { event: 'error', data: { live: name } }));
    }
    return value;
  }

  readonly #liveTransport: LiveTransport = {
    subscribe: (name, since, onReply) => this.#call('live.subscribe', since === null ? { name } : { name, since }, undefined, (data) => onReply(data as LiveReply)),
    unsubscribe: (name) => this.#call('live.unsubscribe', { name }),
    forget: (name) => this.#lives.delete(name),
  };

  /** Joins a room (re-joined from its last position after every reconnect). */
  async join(room: string, onMessage?: (data: unknown, pos: Position) => void): Promise<JoinReply> {
    let state = this.#rooms.get(room);
    if (state === undefined) this.#rooms.set(room, (state = { pos: null, handlers: new Set() }));
    if (onMessage) state.handlers.add(onMessage);
    return this.#join(room, state);
  }

  async leave(room: string): Promise<void> {
    this.#rooms.delete(room);
    await this.call('room.leave' as keyof A & string, { room } as never);
  }

  /** The last position seen in a room. */
  position(room: string): Position | null {
    return this.#rooms.get(room)?.pos ?? null;
  }

  /** Closes for good (no reconnect); pending calls reject with `closed`. */
  close(code = 1000, reason = ''): void {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.#socket?.close(code, reason);
    this.#socket = null;
    this.#failPending('closed', 'client closed');
  }

  /** Drops the current connection as if the network failed (reconnect follows). For tests and demos. */
  dropConnection(): void {
    this.#socket?.close(4000, 'dropped by client');
  }

  async #join(room: string, state: RoomState): Promise<JoinReply> {
    // the reply is applied as it is read: live messages written right after it (often in the
    // same packet) must come after the replayed ones, or they would mark them as duplicates
    const onReply = (data: unknown): void => {
      const reply = data as JoinReply;
      for (const m of reply.messages ?? []) this.#roomMessage(room, state, m.pos, m.data, { event: 'room.message', room, pos: m.pos, data: m.data });
      if (state.pos === null || state.pos.e !== reply.pos.e || state.pos.o < reply.pos.o) state.pos = reply.pos;
    };
    return (await this.#call('room.join', state.pos ? { room, since: state.pos } : { room }, undefined, onReply)) as JoinReply;
  }

  #roomMessage(room: string, state: RoomState, pos: Position, data: unknown, push: Push): void {
    if (state.pos !== null && state.pos.e === pos.e && pos.o <= state.pos.o) return; // duplicate around a resume
    state.pos = pos;
    for (const fn of state.handlers) fn(data, pos);
    this.#emit('room.message', data, push);
  }

  async #open(): Promise<void> {
    let socket: ClientSocket;
    try {
      socket = await this.#factory(this.url, { message: (text) => this.#onMessage(text), close: (code, reason) => this.#onClose(socket, code, reason) });
    } catch (err) {
      if (this.#closed) return;
      const failure = connectFailure(err, this.url);
      this.#emit('error', failure, { event: 'error', data: failure });
      if (failure.final || !this.#scheduleReconnect(failure)) this.#stop(failure);
      return;
    }
    if (this.#closed) {
      socket.close(1000, '');
      return;
    }
    this.#socket = socket;
    const reconnected = this.#everOpened;
    this.#everOpened = true;
    this.#attempt = 0;
    for (const text of this.#queue.splice(0)) socket.send(text);
    const open: OpenEvent = { url: this.url, reconnected };
    this.#emit('open', open, { event: 'open', data: open });
    if (reconnected) void this.#resume();
    this.#readyResolve();
  }

  /** No more attempts: `ready`, pending and later calls reject with `failure`. */
  #stop(failure: ClientCommandError): void {
    this.#closed = true;
    this.#failure = failure;
    clearTimeout(this.#retryTimer);
    this.#readyReject(failure); // no effect once ready has resolved
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer);
      this.#pending.delete(id);
      p.reject(failure);
    }
    this.#queue.length = 0;
  }

  async #resume(): Promise<void> {
    const socket = this.#socket;
    try {
      if (this.#options.auth) await this.call('auth' as keyof A & string, (await this.#options.auth()) as never);
    } catch (err) {
      this.#emit('error', err, { event: 'error' });
      return;
    }
    // each room on its own: one that fails (its node cannot reach the broker yet) is tried
    // again, and does not keep the others from resuming
    await Promise.all([
      ...[...this.#rooms].map(([room, state]) => this.#rejoin(room, state, socket)),
      ...[...this.#lives.values()].map((live) => live.resubscribe().catch((err: unknown) => this.#emit('error', err, { event: 'error', data: { live: live.name } }))),
    ]);
    if (this.#socket !== socket) return;
    const reconnected = { url: this.url, rooms: [...this.#rooms.keys()] };
    this.#emit('reconnected', reconnected, { event: 'reconnected', data: reconnected });
  }

  async #rejoin(room: string, state: RoomState, socket: ClientSocket | null): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (this.#socket !== socket || this.#rooms.get(room) !== state) return; // the next connection resumes it
      try {
        const reply = await this.#join(room, state);
        const rejoined: RejoinedEvent = { room, recovered: reply.recovered === true, replayed: reply.messages?.length ?? 0, pos: reply.pos, ...(reply.reason !== undefined ? { reason: reply.reason } : {}) };
        this.#emit('rejoined', rejoined, { event: 'rejoined', room, data: rejoined });
        return;
      } catch (err) {
        this.#emit('error', err, { event: 'error', room });
        const code = err instanceof ClientCommandError ? err.code : '';
        if (FINAL_JOIN_ERRORS.has(code) || attempt >= REJOIN_ATTEMPTS) return;
        const r = this.#options.reconnect || {};
        const delay = Math.min((r.initialDelayMs ?? 250) * (r.factor ?? 2) ** attempt, r.maxDelayMs ?? 5000);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  #onClose(socket: ClientSocket, code: number, reason: string): void {
    if (this.#socket !== socket) return;
    this.#socket = null;
    this.#failPending('disconnected', `connection closed (${code})`);
    this.#emit('close', { code, reason }, { event: 'close', data: { code, reason } });
    if (!this.#closed && !this.#scheduleReconnect()) {
      this.#stop(new ClientCommandError('disconnected', `connection closed (${code}) and reconnect is off`));
    }
  }

  #scheduleReconnect(error?: ClientConnectError): boolean {
    const r = this.#options.reconnect;
    if (r === false || this.#closed) return false;
    const max = r?.maxAttempts ?? Infinity;
    if (this.#attempt >= max) return false;
    const backoff = Math.min((r?.initialDelayMs ?? 250) * (r?.factor ?? 2) ** this.#attempt, r?.maxDelayMs ?? 5000);
    // the server's Retry-After is a floor: an earlier attempt would only be refused again
    const delay = Math.max(backoff, error?.retryAfterMs ?? 0);
    this.#attempt += 1;
    const event: ReconnectingEvent = { attempt: this.#attempt, delayMs: delay, ...(error ? { error } : {}) };
    this.#emit('reconnecting', event, { event: 'reconnecting', data: event });
    this.#retryTimer = setTimeout(() => void this.#open(), delay);
    return true;
  }

  #write(text: string): void {
    if (this.#socket !== null) this.#socket.send(text);
    else this.#queue.push(text);
  }

  #failPending(code: string, message: string): void {
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer);
      this.#pending.delete(id);
      p.reject(new ClientCommandError(code, message));
    }
    if (code === 'closed') this.#queue.length = 0;
  }

  #onMessage(text: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(text) as Record<string, unknown>;
    } catch {
      this.#emit('text', text, { event: 'text', data: text });
      return;
    }
    if (typeof msg !== 'object' || msg === null) return;
    if (typeof msg['event'] === 'string') {
      const push = msg as unknown as Push;
      if (push.event === 'room.message' && typeof push.room === 'string' && push.pos) {
        const state = this.#rooms.get(push.room);
        if (state !== undefined) this.#roomMessage(push.room, state, push.pos, push.data, push);
        else this.#emit('room.message', push.data, push);
        return;
      }
      if ((push.event === 'live.patch' || push.event === 'live.value') && typeof msg['name'] === 'string' && typeof msg['v'] === 'number') {
        const live = this.#lives.get(msg['name']);
        if (push.event === 'live.patch') live?.patch(msg['v'], msg['patch']);
        else live?.whole(msg['v'], msg['value']);
        this.#emit(push.event, msg, push);
        return;
      }
      if (push.event === 'room.reset' && typeof push.room === 'string') {
        const state = this.#rooms.get(push.room);
        if (state !== undefined && push.pos) state.pos = push.pos;
      }
      this.#emit(push.event, push.data, push);
      return;
    }
    if (typeof msg['id'] === 'number' && 'ok' in msg) {
      const p = this.#pending.get(msg['id']);
      if (p === undefined) return;
      this.#pending.delete(msg['id']);
      clearTimeout(p.timer);
      if (msg['ok'] === true) {
        try {
          p.onReply?.(msg['data']);
        } catch {
          // a malformed reply: the caller still gets it
        }
        p.resolve(msg['data']);
      }
      else {
        const e = (msg['error'] ?? {}) as { code?: string; message?: string; details?: unknown };
        p.reject(new ClientCommandError(e.code ?? 'error', e.message ?? 'command failed', e.details));
      }
    }
  }

  #emit(event: string, data: unknown, push: Push): void {
    const set = this.#listeners.get(event);
    if (set === undefined) return;
    for (const fn of [...set]) {
      try {
        fn(data, push);
      } catch {
        // a listener's error must not break the client
      }
    }
  }
}

/** Creates a client and starts connecting. */
export function createClient<A extends Api = Api & BuiltinApi>(url: string, options?: CommandClientOptions): CommandClient<A> {
  return new CommandClient<A>(url, options);
}
