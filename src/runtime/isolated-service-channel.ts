// What crosses between an isolated service's host in the server (isolated-service-host.ts)
// and its entry in the worker or process (isolated-service-entry.ts): plain data only.
import type { HostAction } from '../app/service-host.js';
import type { ChildIsolation } from './child.js';

export interface IsolatedServiceData {
  file: string;
  route: string;
  isolation: ChildIsolation;
}

/** Messages (not calls) on the service channel; ordered with calls. */
export type ServiceChannelMessage =
  | { type: 'message'; connId: string; data: string | Uint8Array; binary: boolean }
  | { type: 'act'; action: HostAction }
  | { type: 'event'; event: string; data: unknown; from: string };

/**
 * Tags of packed records (see packed-records.ts): to the child, a connection's message
 * (key: connection id); to the server, a 'send' action (key: the connection it goes to).
 * Data that cannot be packed goes as the ServiceChannelMessage of the same meaning.
 */
export const PACKED_MESSAGE = 1;
export const PACKED_SEND = 1;

/** The call target under which the child asks the server's sink. */
export const SINK_TARGET = '$sink';
