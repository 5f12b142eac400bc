/**
 * The app's seam to other nodes. A cluster (src/cluster/, behind a broker) is made with the
 * app's local connections and gives back rooms that span nodes and a link for what else
 * crosses: sends and closes for connections of other nodes, and cluster events. Without
 * one, the app runs as a single node (LocalRooms, no link).
 */
import type { Rooms, RoomDelivery } from './rooms/rooms.js';
import type { LiveLog } from './live/live-log.js';

/** How a cluster reaches the connections and services of this node. */
export interface LocalConnections extends RoomDelivery {
  /** Closes a connection of this node; false when there is none with this id. */
  close(id: string, code: number, reason: string): boolean;
  /** An event said on another node, for this node's services that listen to it. */
  event(event: string, data: unknown, from: string): void;
}

export type LinkState = 'up' | 'down' | 'resyncing';

export interface LinkStatus {
  state: LinkState;
  /** When it entered this state (ms since the epoch). */
  since: number;
  lastError?: string;
}

/** What crosses to other nodes besides rooms. */
export interface NodeLink {
  /** This node's id: the prefix of its connection ids. */
  readonly nodeId: string;
  /** The broker kind (memory, ipc, redis, nats), for /health and logs. */
  readonly kind: string;
  /** Sends to connections of other nodes (at most once). */
  sendTo(ids: readonly string[], data: string | Uint8Array, binary: boolean): Promise<boolean>;
  /** Closes a connection of another node; false when its node is not reachable. */
  close(id: string, code: number, reason: string): Promise<boolean>;
  /** Says an event to every other node (at most once); false when the broker is down. */
  say(event: string, data: unknown): Promise<boolean>;
  /** This node has listeners for the event now (or no longer). */
  listen(event: string): Promise<void>;
  unlisten(event: string): Promise<void>;
  status(): LinkStatus;
  /** Live nodes, with this one. */
  nodes(): Promise<Array<{ id: string; since: number }>>;
}

export interface Cluster {
  readonly rooms: Rooms;
  readonly link: NodeLink;
  /** Where live values' changes are ordered for every node. */
  readonly liveLog: LiveLog;
  /** How often an idle live value is repeated in the log, so the log's history keeps it. */
  readonly liveRefreshMs?: number;
  /** Sets up this node's own feeds (its direct channel); the broker itself is already started. */
  start(): Promise<void>;
  /** Leave the cluster: presences kept `graceMs` for clients that reconnect elsewhere. */
  close(options?: { graceMs?: number }): Promise<void>;
}

export type ClusterFactory = (local: LocalConnections) => Cluster;
