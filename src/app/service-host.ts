/**
 * The service boundary. The server side (AppCore) talks to a service only through a
 * ServiceHost, and a host talks back only through a HostSink; every argument and result is
 * plain, structured-clone-able data. InlineHost runs the service in this thread; a worker or
 * process host implements the same interface by posting these values over a port.
 */
import type { HandshakeRequest, Isolation, JoinResult, Position, PresenceEntry, ServiceLimits, User } from './service.js';

export interface ServiceInfo {
  /** The service speaks the JSON command protocol on text messages. */
  commands: boolean;
  isolation: Isolation;
  /** Push presence.join / presence.leave events to room members. */
  presenceEvents: boolean;
  /** Keep the service's clients connected when its worker or process restarts. */
  survivesRestart?: boolean;
  /** The service's own connection limits (defineService's `limits`). */
  limits?: ServiceLimits;
}

export type HostHandshakeResult =
  | { accept: true; protocol?: string; headers?: Record<string, string>; user: User | null }
  | { accept: false; status: number; reason: string; headers?: Record<string, string> };

export interface OpenInfo {
  id: string;
  request: HandshakeRequest;
  protocol: string;
  user: User | null;
  /** Commands of this connection waiting or running at once (0 = no limit). */
  commandsInFlight?: number;
}

export interface CloseReply {
  code: number;
  reason: string;
}

export interface ServiceHost {
  readonly file: string;
  readonly info: ServiceInfo;
  handshake(request: HandshakeRequest): Promise<HostHandshakeResult>;
  open(connection: OpenInfo): Promise<void>;
  /**
   * A whole message. Text is a string, or its UTF-8 bytes (`binary` false) for a host that
   * says `textAsBytes`; bytes may be a view of memory reused once this returns.
   */
  message(connId: string, data: string | Uint8Array, binary: boolean): void;
  /** Take text messages as their UTF-8 bytes (a host that copies them across a boundary as they are). */
  readonly textAsBytes?: boolean;
  /**
   * The peer sent a Close frame: runs the close hook now, and returns its reply choice if the
   * hook answered synchronously (pywebsocket's passive closing). Optional: a host that cannot
   * answer synchronously (a worker) leaves it out and the transport echoes the peer's code.
   */
  peerClose?(connId: string, code: number, reason: string): CloseReply | undefined;
  /** The connection is gone (or the peer sent a close): runs the close hook, cancels its commands. */
  close(connId: string, code: number, reason: string): Promise<CloseReply | undefined>;
  /**
   * Resolves when no message of any connection is being handled (in-flight commands settled);
   * with `connId`, when that connection's messages are (a staggered drain retiring it).
   */
  idle(connId?: string): Promise<void>;
  /**
   * Server stopping: abort in-flight commands (their reply is `cancelled`) and refuse new ones;
   * with `connId`, abort that connection's in-flight commands only (its grace is over).
   */
  cancel(connId?: string): void;
  /** An event said on another node (`cluster.say`) that this service listens to. */
  clusterEvent?(event: string, data: unknown, from: string): void;
  /** Where the host stands (a host without it is running while it exists). */
  status?(): HostStatus;
  /** Restart the service's thread or process (manual restart). */
  restart?(): Promise<void>;
  /** A newer load of the file took over: stop once the last connection is gone. */
  retire?(): void;
  /** Stop now (server shutdown, after the connections are closed). */
  dispose?(): Promise<void>;
}

export interface HostStatus {
  state: 'running' | 'restarting' | 'failed' | 'stopping';
  restarts: number;
  pid?: number;
  memory?: { rss: number; heapUsed: number; heapTotal: number; external: number };
  lastCrash?: { reason: string; at: string; message?: string; stack?: string; code?: number | null; signal?: string | null };
}

/** Where a delivery goes. */
export type Target =
  | { kind: 'connections'; ids: string[] }
  | { kind: 'service' }
  | { kind: 'all' }
  | { kind: 'room'; room: string };

export type HostAction =
  /** Bytes with `binary` false are UTF-8 text, sent as a text message. */
  | { type: 'send'; to: string; data: string | Uint8Array; binary: boolean }
  | { type: 'deliver'; target: Target; data: string | Uint8Array; binary: boolean; except: string[] }
  | { type: 'close'; to: string; code: number; reason: string }
  | { type: 'user'; to: string; user: User | null }
  /** A command finished (for metrics and logs): its name, outcome (`ok` or an error code) and duration. */
  | { type: 'command'; to: string; command: string; outcome: string; ms: number }
  /** The service listens to a cluster event now (or no longer). */
  | { type: 'listen' | 'unlisten'; event: string };

export type HostQuery =
  /** With `reply`, the server writes the command reply itself in the same step as the join, so no room push can overtake it. */
  | { type: 'join'; to: string; room: string; since?: Position; reply?: string | number | null; volatile?: boolean }
  | { type: 'leave'; to: string; room: string }
  | { type: 'publish'; room: string; data: unknown; except: string[]; volatile?: boolean }
  | { type: 'presence'; room: string }
  /** `cluster.say(event, data)`: false when it could not be sent (the broker is down). */
  | { type: 'say'; event: string; data: unknown }
  | { type: 'liveGet'; name: string; initial: unknown; history?: number }
  /** With `base`, only as the version after it. */
  | { type: 'liveSet'; name: string; value: unknown; initial: unknown; history?: number; base?: number }
  /** With `reply`, the server writes the command reply in the step that makes the subscriber. */
  | { type: 'liveSubscribe'; to: string; name: string; since?: number; initial: unknown; history?: number; reply?: string | number | null }
  | { type: 'liveUnsubscribe'; to: string; name: string };

/** A join the server refused (the connection's room quota is full). */
export interface Refused {
  refused: { code: string; message: string };
}

export interface HostAnswers {
  join: JoinResult | Refused;
  leave: boolean;
  publish: Position | null;
  presence: PresenceEntry[];
  say: boolean;
  liveGet: { v: number; value: unknown };
  liveSet: { ok: boolean; v: number; value: unknown };
  liveSubscribe: LiveSnapshot | Refused;
  liveUnsubscribe: boolean;
}

/** What a live subscriber gets first: the whole value, or the patches since its version. */
export type LiveSnapshot = { v: number; value: unknown } | { v: number; patches: Array<{ v: number; patch: unknown }> };

export interface HostSink {
  act(action: HostAction): void;
  ask<Q extends HostQuery>(query: Q): Promise<HostAnswers[Q['type']]>;
}

/** Loads a service file into a host; throws ServiceLoadError when the file is not a usable service. */
export type ServiceHostFactory = (file: string, route: string, sink: HostSink) => Promise<ServiceHost>;

/** A host factory per isolation; the app layer itself provides only 'inline'. */
export type ServiceHostFactories = Partial<Record<Isolation, ServiceHostFactory>>;
