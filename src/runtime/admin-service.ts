/**
 * The admin page's WebSocket side: a Switchboard service mounted at /_admin. Its figures are
 * live values, one per node (`figures/<node>`): each node sets its own once a second and the
 * page subscribes (`live.subscribe`) to every node of the cluster, getting versioned patches
 * through the broker like any service's live values. The operator's actions are commands:
 * disconnect a connection, send to a room, restart a service, drain this node. The token is
 * checked in the handshake, before anything is sent.
 */
import { timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { defineService, type ServiceContext, type ServiceDefinition } from '../app/service.js';
import { CommandError } from '../app/command-error.js';
import type { NodeFigures } from './live-figures.js';

export const ADMIN_ROUTE = '/_admin';

/** One node's figures as its live value holds them, with the cluster it sees. */
export type AdminFigures = NodeFigures & { cluster: Array<{ id: string; since: number }> };

/** What the admin service may see and do (the runtime and the app provide it). */
export interface AdminControl {
  /** This node's id. */
  node(): string;
  /** This node's figures and the cluster's nodes with a live lease. */
  figures(): Promise<AdminFigures>;
  /** Closes a connection on any node; false when no node has it. */
  disconnect(id: string): Promise<boolean>;
  /** Publishes to a room of a service (numbered, on every node). */
  sendToRoom(service: string, room: string, data: unknown): Promise<void>;
  restart(service: string): Promise<void>;
  /** Graceful stop of this node: stop accepting, finish in-flight commands, close with 1001. */
  drain(): void;
}

export interface AdminServiceOptions {
  token: string;
}

export function tokenMatches(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function adminService(control: AdminControl, options: AdminServiceOptions): ServiceDefinition {
  return defineService({
    handshake: (request) => (tokenMatches(request.query.token, options.token) ? undefined : { reject: { status: 401, reason: 'admin token required' } }),
    live: { 'figures/:node': { initial: null, history: 10 } },
    commands: {
      /** Which node the page is connected to, and the nodes it should subscribe to. */
      hello: { handler: async () => ({ node: control.node(), cluster: (await control.figures()).cluster }) },
      disconnect: {
        input: z.object({ id: z.string().min(1) }),
        handler: async ({ id }) => {
          if (!(await control.disconnect(id))) throw new CommandError('not_found', `no connection ${id}`);
          return { disconnected: id };
        },
      },
      send: {
        input: z.object({ service: z.string().startsWith('/'), room: z.string().min(1), data: z.unknown() }),
        handler: async ({ service, room, data }) => {
          await control.sendToRoom(service, room, data ?? null);
          return { sent: true };
        },
      },
      restart: {
        input: z.object({ service: z.string().min(1) }),
        handler: async ({ service }) => {
          try {
            await control.restart(service);
          } catch (err) {
            throw new CommandError('restart_failed', err instanceof Error ? err.message : String(err));
          }
          return { restarted: service };
        },
      },
      drain: {
        handler: () => {
          // answered first: the drain closes this connection too
          setImmediate(() => control.drain());
          return { draining: true };
        },
      },
    },
  });
}

/**
 * Sets this node's `figures/<node>` live value every `intervalMs` (default 1000) until
 * stopped; a slow round is not overlapped by the next.
 */
export function publishFigures(context: ServiceContext<any>, control: AdminControl, intervalMs = 1000): () => void {
  const live = context.live<AdminFigures | null>(`figures/${control.node()}`);
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    control
      .figures()
      .then((f) => live.set(f))
      .catch((err: unknown) => context.log.debug({ err: String(err) }, 'admin figures not published'))
      .finally(() => (busy = false));
  }, intervalMs).unref();
  return () => clearInterval(timer);
}
