/**
 * What a worker's IpcBroker and the primary's IpcHub say to each other over the worker's
 * IPC channel (node:cluster with 'advanced' serialization, so bytes cross as bytes). Tagged
 * `sbc` so they never mix with the channel's other traffic.
 */
import type { Position, PresenceChange, PresenceEntry, ReadResult, RoomMessage, NodeInfo } from './broker.js';

export const IPC_TAG = 'sbc';

/** Operations a worker asks of the hub; `sub` names the feed its events come back on. */
export type HubRequest =
  | { op: 'join'; node: string }
  | { op: 'publish'; channel: string; payload: Uint8Array }
  | { op: 'subscribe'; channel: string; sub: number }
  | { op: 'append'; room: string; payload: Uint8Array }
  | { op: 'follow'; room: string; sub: number }
  | { op: 'read'; room: string; after: Position; limit: number }
  | { op: 'top'; room: string }
  | { op: 'presenceSet'; room: string; entry: PresenceEntry }
  | { op: 'presenceDelete'; room: string; connId: string }
  | { op: 'presenceList'; room: string }
  | { op: 'watchPresence'; room: string; sub: number }
  | { op: 'unsubscribe'; sub: number }
  | { op: 'nodes' }
  | { op: 'leave'; graceMs: number };

export interface HubAnswers {
  join: null;
  publish: boolean;
  subscribe: null;
  append: Position;
  follow: null;
  read: ReadResult;
  top: Position;
  presenceSet: null;
  presenceDelete: null;
  presenceList: PresenceEntry[];
  watchPresence: null;
  unsubscribe: null;
  nodes: NodeInfo[];
  leave: null;
}

export type WorkerToHub = { [IPC_TAG]: 'req'; id: number; req: HubRequest };

export type HubToWorker =
  | { [IPC_TAG]: 'res'; id: number; ok: true; value: unknown }
  | { [IPC_TAG]: 'res'; id: number; ok: false; error: string }
  | { [IPC_TAG]: 'msg'; sub: number; payload: Uint8Array }
  | { [IPC_TAG]: 'room'; sub: number; message: RoomMessage }
  | { [IPC_TAG]: 'presence'; sub: number; change: PresenceChange };

/** One end of an IPC channel: a node:cluster worker, `process` in the worker, or a MessagePort in tests. */
export interface IpcEndpoint {
  send(message: unknown): void;
  on(event: 'message', listener: (message: unknown) => void): void;
  off(event: 'message', listener: (message: unknown) => void): void;
}

export function isTagged(m: unknown): m is { [IPC_TAG]: string } {
  return typeof m === 'object' && m !== null && typeof (m as Record<string, unknown>)[IPC_TAG] === 'string';
}
