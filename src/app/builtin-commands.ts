/**
 * The built-in commands: `auth` (when the service has resolvers) and `room.join`,
 * `room.leave`, `room.presence`, `room.publish` (when the service enables rooms). Their inputs
 * are checked by small hand-written Standard Schema validators, the same path user schemas take.
 */
import { CommandError, CommandErrorCode } from './command-error.js';
import { REPLIED } from './command-dispatcher.js';
import { resolveFromCommand, type AuthResolver } from './auth/user.js';
import type { CommandDefinition, Position, RoomOptions } from './service.js';
import type { HostSink } from './service-host.js';
import { granted, type RoomPolicy } from './inline-host.js';
import type { LiveDeclarations } from './live/live-declarations.js';
import type { StandardSchemaV1 } from './standard-schema.js';

export const MAX_ROOM_NAME = 200;

function schema<T>(check: (value: unknown) => T | string): StandardSchemaV1<unknown, T> {
  return {
    '~standard': {
      version: 1,
      vendor: 'switchboard',
      validate(value) {
        const r = check(value);
        return typeof r === 'string' ? { issues: [{ message: r }] } : { value: r };
      },
    },
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function roomName(v: unknown): string | null {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_ROOM_NAME ? v : null;
}

const roomInput = schema<{ room: string }>((v) => {
  if (!isObject(v)) return 'expected {"room": string}';
  const room = roomName(v['room']);
  return room === null ? `room: a string of 1..${MAX_ROOM_NAME} characters` : { room };
});

const joinInput = schema<{ room: string; since?: Position }>((v) => {
  if (!isObject(v)) return 'expected {"room": string, "since"?: {"e": string, "o": number}}';
  const room = roomName(v['room']);
  if (room === null) return `room: a string of 1..${MAX_ROOM_NAME} characters`;
  const since = v['since'];
  if (since === undefined || since === null) return { room };
  if (!isObject(since) || typeof since['e'] !== 'string' || !Number.isSafeInteger(since['o']) || (since['o'] as number) < 0) {
    return 'since: expected {"e": string, "o": non-negative integer}';
  }
  return { room, since: { e: since['e'], o: since['o'] as number } };
});

const publishInput = schema<{ room: string; data: unknown }>((v) => {
  if (!isObject(v)) return 'expected {"room": string, "data": any}';
  const room = roomName(v['room']);
  return room === null ? `room: a string of 1..${MAX_ROOM_NAME} characters` : { room, data: v['data'] ?? null };
});

export function authCommand(resolvers: AuthResolver[]): CommandDefinition<undefined, unknown> {
  return {
    async handler(data, call) {
      const user = await resolveFromCommand(resolvers, data);
      if (user === null) throw new CommandError(CommandErrorCode.UNAUTHORIZED, 'invalid credentials');
      call.connection.setUser(user);
      return { user };
    },
  };
}

export function roomCommands(options: RoomOptions<any, any>, sink: HostSink, policy: RoomPolicy): Record<string, CommandDefinition<any, any, any, any>> {
  const member = (connection: { rooms: ReadonlySet<string> }, room: string): boolean => connection.rooms.has(room);
  const commands: Record<string, CommandDefinition<any, any, any, any>> = {
    'room.join': {
      input: joinInput,
      ...(options.join ? { guard: (connection, data: { room: string }) => options.join!(connection, data.room) } : {}),
      async handler(data: { room: string; since?: Position }, call) {
        const volatile = policy.isVolatile(data.room);
        const query = { type: 'join' as const, to: call.connection.id, room: data.room, reply: call.id, ...(data.since && !volatile ? { since: data.since } : {}), ...(volatile ? { volatile } : {}) };
        // a join that outlives its command (timed out, cancelled) is undone at once: the client
        // has its error reply and must not become a member behind it (the join in progress
        // then finds the member gone and writes nothing)
        const undo = (): void => void call.connection.leave(data.room).catch(() => undefined);
        if (!call.connection.rooms.has(data.room)) call.signal.addEventListener('abort', undo, { once: true });
        let result;
        try {
          result = granted(await sink.ask(query));
        } finally {
          call.signal.removeEventListener('abort', undo);
        }
        if (call.signal.aborted) return REPLIED;
        (call.connection.rooms as Set<string>).add(data.room);
        if ('recovered' in result && !result.recovered) policy.resumeExpired(call.connection, data.room, result.reason);
        return REPLIED;
      },
    },
    'room.leave': {
      input: roomInput,
      async handler(data: { room: string }, call) {
        await call.connection.leave(data.room);
        return { room: data.room };
      },
    },
    'room.presence': {
      input: roomInput,
      guard: (connection, data: { room: string }) => member(connection, data.room),
      handler: (data: { room: string }, call) => call.service.presence(data.room),
    },
  };
  if (options.clientPublish === true) {
    commands['room.publish'] = {
      input: publishInput,
      guard: (connection, data: { room: string }) => member(connection, data.room),
      // the publish reaches the broker before the handler's first await: a client's next
      // publish need not wait for this one's position, and their order holds
      pipelined: true,
      async handler(data: { room: string; data: unknown }, call) {
        return { pos: await call.service.publish(data.room, data.data) };
      },
    };
  }
  return commands;
}

const subscribeInput = schema<{ name: string; since?: number }>((v) => {
  if (!isObject(v)) return 'expected {"name": string, "since"?: number}';
  const name = v['name'];
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_ROOM_NAME) return `name: a string of 1..${MAX_ROOM_NAME} characters`;
  const since = v['since'];
  if (since === undefined || since === null) return { name };
  if (!Number.isSafeInteger(since) || (since as number) < 0) return 'since: a non-negative integer (a version)';
  return { name, since: since as number };
});

const nameInput = schema<{ name: string }>((v) => {
  if (!isObject(v) || typeof v['name'] !== 'string' || v['name'].length === 0) return 'expected {"name": string}';
  return { name: v['name'] };
});

/** `live.subscribe` and `live.unsubscribe`, for services that declare live values. */
export function liveCommands(live: LiveDeclarations, sink: HostSink): Record<string, CommandDefinition<any, any, any, any>> {
  return {
    'live.subscribe': {
      input: subscribeInput,
      async handler(data: { name: string; since?: number }, call) {
        const declared = live.resolve(data.name);
        if (declared === null) throw new CommandError(CommandErrorCode.NOT_FOUND, `no live value "${data.name}"`);
        if (declared.guard !== undefined) {
          let allowed = false;
          try {
            allowed = (await declared.guard(call.connection, declared.params)) === true;
          } catch (err) {
            if (err instanceof CommandError) throw err;
          }
          if (!allowed) throw new CommandError(CommandErrorCode.FORBIDDEN, `not allowed to subscribe to "${data.name}"`);
        }
        granted(await sink.ask({
          type: 'liveSubscribe',
          to: call.connection.id,
          name: data.name,
          initial: declared.initial,
          reply: call.id,
          ...(data.since !== undefined ? { since: data.since } : {}),
          ...(declared.history !== undefined ? { history: declared.history } : {}),
        }));
        return REPLIED;
      },
    },
    'live.unsubscribe': {
      input: nameInput,
      async handler(data: { name: string }, call) {
        return { name: data.name, subscribed: await sink.ask({ type: 'liveUnsubscribe', to: call.connection.id, name: data.name }) };
      },
    },
  };
}
