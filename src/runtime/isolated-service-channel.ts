// What crosses between an isolated service's host in the server (isolated-service-host.ts)
// and its entry in the worker or process (isolated-service-entry.ts): plain data only.
import type { HostAction } from '../app/service-host.js';
import type { ChildIsolation } from './child.js';

export interface IsolatedServiceData {
  file: string;
  route: string;
  isolation: ChildIsolation;
}

/**
 * Messages (not calls) on the service channel; ordered with calls and packed records. A
 * connection's messages and its 'send' actions go as packed records; what else the service
 * does goes as an 'act'.
 */
export type ServiceChannelMessage = { type: 'act'; action: HostAction } | { type: 'event'; event: string; data: unknown; from: string };

/**
 * Tags of packed records (see packed-records.ts): to the child, a connection's message; to
 * the server, a 'send' action to a connection. The record's slot is the connection's: the
 * server gives each connection one with the 'open' call ([OpenInfo, slot]) and reuses it
 * only after the child has answered that connection's 'close' call.
 */
export const PACKED_MESSAGE = 1;
export const PACKED_SEND = 1;

/** The call target under which the child asks the server's sink. */
export const SINK_TARGET = '$sink';
