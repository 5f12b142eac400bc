/**
 * What one connection may hold at once, counted where the app keeps it: commands waiting or
 * running, rooms, live subscriptions. Server-wide defaults (`switchboard serve` options, or
 * App options) that a service may override in `defineService({ limits })`. Plain data: the
 * service's overrides cross from a worker or process with its info.
 */
import type { ServiceLimits } from './service.js';

export interface ConnectionLimits {
  /** Commands of one connection waiting or running at once; past it a command is answered `too_many_commands` (0 = no limit). */
  commandsInFlight: number;
  /** Rooms one connection may be in; past it `room.join` is answered `too_many_rooms` (0 = no limit). */
  roomsPerConnection: number;
  /** Live subscriptions one connection may hold; past it a subscribe is answered `too_many_subscriptions` (0 = no limit). */
  subscriptionsPerConnection: number;
}

export const DEFAULT_CONNECTION_LIMITS: Readonly<ConnectionLimits> = Object.freeze({
  commandsInFlight: 64,
  roomsPerConnection: 100,
  subscriptionsPerConnection: 100,
});

const COUNTS = ['messagesPerSecond', 'messageBurst', 'bytesPerSecond', 'byteBurst', 'commandsInFlight', 'roomsPerConnection', 'subscriptionsPerConnection', 'maxMessageBytes', 'maxFrameBytes', 'highWaterMark', 'idleTimeoutMs', 'handshakeTimeoutMs'] as const;
const CHOICES: Record<string, readonly string[]> = { overRate: ['close', 'drop'], slowConsumer: ['close', 'drop'] };

/** Why a service's `limits` cannot be used, or undefined when they can. */
export function serviceLimitsProblem(limits: unknown): string | undefined {
  if (limits === undefined) return undefined;
  if (typeof limits !== 'object' || limits === null || Array.isArray(limits)) return 'limits must be an object';
  for (const [key, value] of Object.entries(limits)) {
    if ((COUNTS as readonly string[]).includes(key)) {
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) return `limits.${key} must be a whole number, 0 or more`;
    } else if (Object.hasOwn(CHOICES, key)) {
      if (!CHOICES[key]!.includes(value as string)) return `limits.${key} must be ${CHOICES[key]!.map((c) => `'${c}'`).join(' or ')}`;
    } else {
      return `limits.${key} is not a limit (known: ${[...COUNTS, ...Object.keys(CHOICES)].join(', ')})`;
    }
  }
  return undefined;
}

/** The server's defaults with the service's own limits over them. */
export function connectionLimitsFor(defaults: ConnectionLimits, service: ServiceLimits | undefined): ConnectionLimits {
  return {
    commandsInFlight: service?.commandsInFlight ?? defaults.commandsInFlight,
    roomsPerConnection: service?.roomsPerConnection ?? defaults.roomsPerConnection,
    subscriptionsPerConnection: service?.subscriptionsPerConnection ?? defaults.subscriptionsPerConnection,
  };
}

/**
 * Named things a connection holds (rooms, subscriptions), at most `limit` of them. The set is
 * made on the first claim: a connection that holds nothing costs nothing.
 */
export class Quota {
  #held: Set<string> | null = null;

  constructor(readonly limit: number) {}

  /** True when `key` is held now (it was, or there was room for it); false when the quota is full. */
  claim(key: string): boolean {
    const held = (this.#held ??= new Set());
    if (held.has(key)) return true;
    if (this.limit > 0 && held.size >= this.limit) return false;
    held.add(key);
    return true;
  }

  release(key: string): void {
    this.#held?.delete(key);
  }

  get size(): number {
    return this.#held?.size ?? 0;
  }
}
