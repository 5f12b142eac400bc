/**
 * The admin page's WebSocket side: a Switchboard service mounted at /_admin. It pushes the
 * live figures of every node it can see (`admin.figures`, once a second while someone
 * watches: pushed, never polled) and offers the operator's actions as commands: disconnect a
 * connection, send to a room, restart a service, drain this node. The token is checked in the
 * handshake, before anything is sent.
 */
import { timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { defineService, type ServiceDefinition } from '../app/service.js';
import { CommandError } from '../app/command-error.js';
import type { ClusterFigures } from './live-figures.js';

export const ADMIN_ROUTE = '/_admin';

/** What the admin service may see and do (the runtime and the app provide it). */
export interface AdminControl {
  figures(): Promise<ClusterFigures>;
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
  /** How often the figures are pushed (default 1000 ms). */
  intervalMs?: number;
}

export function tokenMatches(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function adminService(control: AdminControl, options: AdminServiceOptions): ServiceDefinition {
  const watchers = new Set<{ push(event: string, data?: unknown): void }>();
  let timer: NodeJS.Timeout | undefined;
  let busy = false;
  const pushAll = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      const f = await control.figures();
      for (const w of watchers) w.push('admin.figures', f);
    } finally {
      busy = false;
    }
  };
  return defineService({
    handshake: (request) => (tokenMatches(request.query.token, options.token) ? undefined : { reject: { status: 401, reason: 'admin token required' } }),
    open: async (connection) => {
      watchers.add(connection);
      connection.push('admin.figures', await control.figures());
      timer ??= setInterval(() => void pushAll().catch(() => undefined), options.intervalMs ?? 1000).unref();
    },
    close: (connection) => {
      watchers.delete(connection);
      if (watchers.size === 0) {
        clearInterval(timer);
        timer = undefined;
      }
    },
    commands: {
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
