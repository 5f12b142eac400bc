/**
 * The seam between Switchboard nodes: publish/subscribe on named channels carrying bytes,
 * numbered room logs with history (the recovery primitive), presence under node leases.
 * Four adapters implement it (memory, ipc, redis, nats); nothing outside src/cluster/ knows
 * which one runs. Payloads are opaque bytes: a sender serialises once.
 *
 * Failure contract: start() never rejects for an outage (it changes status()); publish()
 * resolves false at once while the broker is down; append() rejects at once; every client
 * error listener belongs to the adapter. Nothing here may crash the process.
 */

/** A room position: epoch (changes when the room's log is lost) and offset (grows per message). */
export interface Position {
  e: string;
  o: number;
}

export type BrokerState = 'up' | 'down' | 'resyncing';

export interface BrokerStatus {
  state: BrokerState;
  /** When it entered this state (ms since the epoch). */
  since: number;
  lastError?: string;
}

export interface RoomMessage {
  room: string;
  pos: Position;
  payload: Uint8Array;
}

/** The follower lost continuity: an epoch change, a gap history could not fill, an outage. */
export interface RoomReset {
  room: string;
  reason: 'epoch' | 'gap' | 'broker_down';
  top?: Position;
}

export type ReadResult =
  | { complete: true; messages: RoomMessage[]; top: Position }
  | { complete: false; reason: 'epoch' | 'expired' | 'too_many' | 'unavailable'; top?: Position };

export interface PresenceEntry {
  connId: string;
  /** Plain data about the member (its user), stored as given. */
  info: unknown;
  /** The node holding the connection. */
  node: string;
  since: number;
}

export type PresenceChange = { type: 'join' | 'leave'; entry: PresenceEntry };

export interface NodeInfo {
  id: string;
  /** Lease start (ms since the epoch). */
  since: number;
}

export interface Broker {
  /** Random per process start; the prefix of every connection id of this node. */
  readonly nodeId: string;
  /** The adapter's name: memory, ipc, redis, nats (logs and /health only). */
  readonly kind: string;
  start(): Promise<void>;
  /** Drain: keep this node's presences `graceMs`, then delete them and the lease. */
  close(options?: { graceMs?: number }): Promise<void>;
  status(): BrokerStatus;
  onStatus(fn: (s: BrokerStatus) => void): () => void;

  /** At-most-once; false at once when down (and never a rejection). Subscribers of this node receive their own messages too. */
  publish(channel: string, payload: Uint8Array): Promise<boolean>;
  /** Re-established by the adapter after reconnects. Resolves with the unsubscribe function. */
  subscribe(channel: string, fn: (payload: Uint8Array) => void): Promise<() => Promise<void>>;

  /** Numbers, stores and fans out in one atomic step; rejects at once when down. */
  append(room: string, payload: Uint8Array): Promise<Position>;
  /**
   * This node's ordered, gap-checked feed of a room: every appended message once, in offset
   * order; when continuity cannot be kept (epoch change, trimmed gap, outage) `reset` says so.
   */
  follow(room: string, fn: (m: RoomMessage) => void, reset: (r: RoomReset) => void): Promise<() => Promise<void>>;
  /** Messages after `after`, if history still holds all of them (at most `limit`). */
  read(room: string, after: Position, limit: number): Promise<ReadResult>;
  /** The room's current position; creates its epoch if the room is new. */
  top(room: string): Promise<Position>;

  presenceSet(room: string, entry: PresenceEntry): Promise<void>;
  presenceDelete(room: string, connId: string): Promise<void>;
  /** Entries of nodes with a live lease; `partial` while the broker is unreachable. */
  presenceList(room: string): Promise<{ entries: PresenceEntry[]; partial: boolean }>;
  /** Joins and leaves of a room, as hints (at most once), from any node, its own included. */
  watchPresence(room: string, fn: (change: PresenceChange) => void): Promise<() => Promise<void>>;

  /** Nodes with a live lease. */
  nodes(): Promise<NodeInfo[]>;
}

/** The broker is unreachable: the operation was not done. */
export class BrokerUnavailableError extends Error {
  constructor(message = 'the broker is unavailable') {
    super(message);
    this.name = 'BrokerUnavailableError';
  }
}
