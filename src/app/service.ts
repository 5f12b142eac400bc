/**
 * The service API: what a service file exports (`export default defineService({...})`) and
 * the objects its hooks and command handlers receive. Everything a hook receives or returns
 * is plain data or a facade whose methods turn into plain-data messages, so that a service can
 * later run in a worker thread or a child process (see service-host.ts).
 */
import type { StandardSchemaV1 } from './standard-schema.js';
import type { UpgradeRequest } from '../transport/upgrade-request.js';
import type { AuthResolver, User } from './auth/user.js';
import type { Logger } from './logger.js';

export type { User } from './auth/user.js';

/**
 * The opening handshake as a service sees it: the transport's plain, structured-clone-able
 * request (path, query, headers, cookies, origin, offered subprotocols and extensions, peer
 * address, and `user` when HTTP Basic already authenticated it).
 */
export type HandshakeRequest = UpgradeRequest;

/** What `handshake` may return: nothing (accept), a subprotocol choice, or a rejection. */
export type HandshakeDecision =
  | void
  | undefined
  | true
  | { protocol?: string; headers?: Record<string, string> }
  | { reject: { status: number; reason?: string; headers?: Record<string, string> } };

/** Where a service's code runs. */
export type Isolation = 'inline' | 'worker' | 'process';

/** A room position: epoch (changes when the room's history is lost) and offset (grows per message). */
export interface Position {
  e: string;
  o: number;
}

export interface RoomMessage {
  pos: Position;
  data: unknown;
}

export type JoinResult =
  | { pos: Position }
  | { pos: Position; recovered: true; messages: RoomMessage[] }
  | { pos: Position; recovered: false; reason: 'expired' | 'epoch' | 'too_many' };

export interface PresenceEntry {
  id: string;
  user: User | null;
}

export interface SendOptions {
  /** Connection ids that must not receive it (e.g. the sender). */
  except?: string | string[];
}

/** One client connection, as seen by a service. */
export interface Connection<State = Record<string, unknown>, Shared = Record<string, unknown>> {
  /** Unique id of this connection on the server. */
  readonly id: string;
  readonly request: HandshakeRequest;
  /** The subprotocol chosen in the handshake ('' if none). */
  readonly protocol: string;
  readonly user: User | null;
  readonly isAuthenticated: boolean;
  /** Per-connection state, free for the service. */
  state: State;
  /** Rooms this connection is in. */
  readonly rooms: ReadonlySet<string>;
  /** The service this connection belongs to: service-wide state, rooms, delivery. */
  readonly service: ServiceContext<Shared>;
  /** Sends a raw text or binary message. */
  send(data: string | Uint8Array): void;
  /** Sends a server push `{"event", "data"}`. */
  push(event: string, data?: unknown): void;
  join(room: string, options?: { since?: Position }): Promise<JoinResult>;
  leave(room: string): Promise<void>;
  /** Sets (or clears) the authenticated user, e.g. from a login command. */
  setUser(user: User | null): void;
  close(code?: number, reason?: string): void;
}

/** Service-wide API, reachable as `connection.service` and as `call.service` in commands. */
export interface ServiceContext<Shared = Record<string, unknown>> {
  /** The route of the service, e.g. `/chat`. */
  readonly route: string;
  /** Service-wide state shared by every connection of this service. */
  state: Shared;
  readonly log: Logger;
  /**
   * Appends a message to a room (numbered, kept in its history) and pushes it to its
   * members, on every node. Resolves with its position; null when it was not numbered (a
   * volatile room, or the cluster's broker is down: then only this node's members got it).
   */
  publish(room: string, data: unknown, options?: SendOptions): Promise<Position | null>;
  /** Events between the nodes of a cluster (at most once; a node never hears its own). */
  readonly cluster: ClusterEvents;
  /** A live value of this service (declared in `live`, or any name with `initial`). */
  live<T = any>(name: string, initial?: T): LiveHandle<T>;
  /** Pushes `{"event", "data"}` to the listed connections (any service on this server). */
  sendTo(ids: string[], event: string, data?: unknown): void;
  /** Pushes `{"event", "data"}` to every connection of this service. */
  broadcast(event: string, data?: unknown, options?: SendOptions): void;
  /** Pushes `{"event", "data"}` to every connection on the server. */
  broadcastAll(event: string, data?: unknown, options?: SendOptions): void;
  /** Sends a raw message (framed once) to every connection of this service. */
  broadcastRaw(data: string | Uint8Array, options?: SendOptions): void;
  /** Who is in a room. */
  presence(room: string): Promise<PresenceEntry[]>;
  /** Ids of the connections of this service. */
  connections(): string[];
}

/** A live value as a service holds it: read it, set it, change it. Every change is a new version. */
export interface LiveHandle<T = any> {
  readonly name: string;
  /** The current value. */
  get(): Promise<T>;
  /** The current version (0 until the first change). */
  version(): Promise<number>;
  /** Replaces the value; resolves with its version. */
  set(value: T): Promise<number>;
  /**
   * Changes the value from the current one: `fn` gets a copy to change in place (or returns
   * a new value). When another node changed it first, `fn` runs again on the newer value.
   */
  update(fn: (draft: T) => T | void): Promise<number>;
}

/** How a service declares a live value (`live: { 'board/:id': { ... } }`). */
export interface LiveOptions<T = any, State = Record<string, unknown>, Shared = Record<string, unknown>> {
  /** The value before any change: a value, or made from the name's parameters (`board/:id` -> `{ id }`). */
  initial: T | ((params: Record<string, string>) => T);
  /** Who may subscribe (default: anyone). False (or a thrown error) answers `forbidden`. */
  subscribe?: (connection: Connection<State, Shared>, params: Record<string, string>) => boolean | Promise<boolean>;
  /** Patches kept for clients that resubscribe with `since` (default 50). */
  history?: number;
}

/** `service.cluster`: say an event to every other node, listen to what they say. */
export interface ClusterEvents {
  /** False when it could not be sent (no cluster, or its broker is down). */
  say(event: string, data?: unknown): Promise<boolean>;
  on(event: string, listener: (data: any, from: string) => void): void;
  off(event: string, listener: (data: any, from: string) => void): void;
}

/** The second argument of a command handler. */
export interface CommandCall<State = Record<string, unknown>, Shared = Record<string, unknown>> {
  readonly id: string | number | null;
  readonly cmd: string;
  readonly connection: Connection<State, Shared>;
  readonly service: ServiceContext<Shared>;
  /** Aborts on timeout, when the connection closes, or when the server stops. */
  readonly signal: AbortSignal;
}

export interface CommandDefinition<Schema = StandardSchemaV1 | undefined, Result = unknown, State = Record<string, unknown>, Shared = Record<string, unknown>> {
  /** A Standard Schema validator for `data` (zod, valibot, ...). Without one, `data` is passed as is. */
  input?: Schema;
  /** Require an authenticated user (error `unauthorized` otherwise). */
  auth?: boolean;
  /** A custom guard: false (or a thrown error) answers `forbidden`. */
  guard?: (connection: Connection<State, Shared>, data: InputOf<Schema>) => boolean | Promise<boolean>;
  /** Milliseconds before the handler's signal aborts and the reply is `timeout`. Default: the service's commandTimeoutMs. */
  timeoutMs?: number;
  /**
   * Let the connection's next message start as soon as this handler has been called, instead
   * of after it settled. What the handler does before its first `await` still happens in the
   * order the messages came; the built-in `room.publish` hands its message to the broker then,
   * so one connection's publishes keep their order without waiting a broker round trip each.
   * Replies can then come out of order: each carries its command's id. Default false.
   */
  pipelined?: boolean;
  handler: (data: InputOf<Schema>, call: CommandCall<State, Shared>) => Result | Promise<Result>;
}

/** The handler's `data` type: the schema's output type; `unknown` without a schema; `any` when the schema type is unknown. */
export type InputOf<S> = 0 extends 1 & S ? any : S extends StandardSchemaV1 ? StandardSchemaV1.InferOutput<S> : unknown;

export interface RoomOptions<State = Record<string, unknown>, Shared = Record<string, unknown>> {
  /** Guard for the built-in `room.join` command (default: any connection may join any room). */
  join?: (connection: Connection<State, Shared>, room: string) => boolean | Promise<boolean>;
  /** Let clients publish with the built-in `room.publish` command (members only). Default false. */
  clientPublish?: boolean;
  /** Send presence.join / presence.leave events to room members. Default true. */
  presenceEvents?: boolean;
  /**
   * Rooms that skip history: their messages are neither numbered nor kept, so they cost no
   * store and cannot be recovered (pos null). All rooms, or those the function picks.
   */
  volatile?: boolean | ((room: string) => boolean);
}

/**
 * Limits of one connection to this service, over the server's (`switchboard serve` options).
 * Each is optional; 0 means no limit. Handshake-time limits (per client address, handshake
 * rate, handshake timeout) are the server's alone: they apply before a service is chosen.
 */
export interface ServiceLimits {
  /** Messages a second from one connection (token bucket refill). */
  messagesPerSecond?: number;
  /** Messages one connection may send in a burst (bucket size). */
  messageBurst?: number;
  /** Message bytes a second from one connection. */
  bytesPerSecond?: number;
  /** Message bytes one connection may send in a burst; a message larger than this never passes. */
  byteBurst?: number;
  /** Over a rate: 'close' the connection with 1008, or 'drop' the message (counted). */
  overRate?: 'close' | 'drop';
  /** Commands waiting or running at once per connection; more are answered `too_many_commands`. */
  commandsInFlight?: number;
  /** Rooms per connection; more joins are answered `too_many_rooms`. */
  roomsPerConnection?: number;
  /** Live subscriptions per connection; more are answered `too_many_subscriptions`. */
  subscriptionsPerConnection?: number;
  /** Largest message after reassembly and decompression, in bytes (close 1009 past it). */
  maxMessageBytes?: number;
  /** Largest frame, in bytes (close 1009 past it). */
  maxFrameBytes?: number;
  /** Bytes queued for one client above which the slow-consumer policy applies. */
  highWaterMark?: number;
  /** A client past highWaterMark: 'close' it (1008) or 'drop' messages for it. */
  slowConsumer?: 'close' | 'drop';
  /** A client silent for half of this is pinged, one silent the other half is dropped (0 = never). */
  idleTimeoutMs?: number;
  /**
   * How long this service's handshake hook may take (an auth call, say); past it the client is
   * answered 503 and the hook's late answer is ignored (0 = only the server's handshake deadline).
   */
  handshakeTimeoutMs?: number;
}

export interface ServiceOptions<State = Record<string, unknown>, Shared = Record<string, unknown>> {
  /** Initial service-wide state. */
  state?: () => Shared;
  /** Initial per-connection state. */
  connectionState?: () => State;
  /** Resolvers tried in order at handshake (and by the `auth` command) to find the user. */
  auth?: AuthResolver | AuthResolver[];
  /** Reject the handshake with 401 when no resolver finds a user. */
  requireAuth?: boolean;
  handshake?: (request: HandshakeRequest) => HandshakeDecision | Promise<HandshakeDecision>;
  open?: (connection: Connection<State, Shared>) => void | Promise<void>;
  /**
   * Raw messages: every message when the service has no command protocol, and binary
   * messages when it has one.
   */
  message?: (connection: Connection<State, Shared>, data: string | Uint8Array) => void | Promise<void>;
  /**
   * The peer closed (code/reason as received; 1005/'' when none) or the connection was lost
   * (1006). May return the code and reason to answer a peer's close with.
   */
  close?: (connection: Connection<State, Shared>, code: number, reason: string) => void | { code: number; reason?: string } | Promise<void | { code: number; reason?: string }>;
  /**
   * A client rejoined a room with a position history can no longer cover (`reason`:
   * expired, epoch, too_many): it got `room.reset` and will reload; the service may push
   * what the client needs to rebuild its state.
   */
  resumeExpired?: (connection: Connection<State, Shared>, room: string, reason: string) => void | Promise<void>;
  /**
   * Live values clients subscribe to (`live.subscribe`) and get as versioned patches. Keys
   * are names, or patterns with `:parameters` (`board/:id`).
   */
  live?: Record<string, LiveOptions<any, State, Shared>>;
  /** Named handlers of the JSON command protocol. */
  commands?: Record<string, CommandDefinition<any, any, State, Shared>>;
  /** Enable the built-in room.join / room.leave / room.presence commands. */
  rooms?: boolean | RoomOptions<State, Shared>;
  /** Also accept the key-value command form `{"name": argument, ...}` (one reply object). */
  keyValueCommands?: boolean;
  /** Default command timeout in ms (10000). */
  commandTimeoutMs?: number;
  /**
   * Where the service's code runs: in the server's thread, a worker thread or a child
   * process (worker and process need the runtime, i.e. `switchboard serve`). Write it as a
   * string literal: the server reads it from the source before running the file.
   */
  isolation?: Isolation;
  /**
   * With 'worker' or 'process' isolation: when the service crashes and restarts, keep its
   * clients connected and re-attach them to the new instance (default: close them with 1011).
   */
  connectionsSurviveRestart?: boolean;
  /** This service's connection limits, over the server's (see ServiceLimits). */
  limits?: ServiceLimits;
}

export const SERVICE_MARK: unique symbol = Symbol.for('switchboard.service') as never;

export interface ServiceDefinition<
  State = Record<string, unknown>,
  Shared = Record<string, unknown>,
  Commands = Record<string, CommandDefinition<any, any, State, Shared>>,
  /** Each declared live value's type, by name (pattern). */
  Lives = Record<string, unknown>,
> extends ServiceOptions<State, Shared> {
  readonly [SERVICE_MARK]: 1;
  readonly commands?: Commands & Record<string, CommandDefinition<any, any, State, Shared>>;
  readonly live?: { [K in keyof Lives]: LiveOptions<Lives[K], State, Shared> };
}

/** Maps each command's schema to a typed definition, so handlers get `data` typed from `input`. */
export type CommandsOf<Schemas extends Record<string, unknown>, State, Shared> = { [K in keyof Schemas]: CommandDefinition<Schemas[K], unknown, State, Shared> };

/** Declares a service. Use as the default export of a service file. */
export function defineService<
  State = Record<string, unknown>,
  Shared = Record<string, unknown>,
  Schemas extends Record<string, unknown> = Record<string, any>,
  Lives extends Record<string, unknown> = {},
>(
  options: Omit<ServiceOptions<State, Shared>, 'commands' | 'live'> & {
    commands?: CommandsOf<Schemas, State, Shared>;
    live?: { [K in keyof Lives]: LiveOptions<Lives[K], State, Shared> };
  },
): ServiceDefinition<State, Shared, CommandsOf<Schemas, State, Shared>, Lives> {
  return Object.freeze({ ...options, [SERVICE_MARK]: 1 as const }) as never;
}

/** Declares one command with its schema, so that `data` is typed from the schema. */
export function defineCommand<Schema, Result, State = Record<string, unknown>, Shared = Record<string, unknown>>(
  command: CommandDefinition<Schema, Result, State, Shared>,
): CommandDefinition<Schema, Result, State, Shared> {
  return command;
}

/** True for values made by defineService, from this copy of the library or another (Symbol.for). */
export function isServiceDefinition(value: unknown): value is ServiceDefinition {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[SERVICE_MARK] === 1;
}
