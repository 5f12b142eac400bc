import type { HandshakeRequest } from '../service.js';

/** An authenticated user: plain data (it crosses the service boundary and goes into presence). */
export interface User {
  id: string;
  name?: string;
  [key: string]: unknown;
}

/**
 * Turns a request (cookie, header, query) or the data of a first `auth` command into a user.
 * Return null for "not mine / not valid"; resolvers are tried in order.
 */
export interface AuthResolver {
  readonly name: string;
  fromRequest?(request: HandshakeRequest): User | null | Promise<User | null>;
  fromCommand?(data: unknown): User | null | Promise<User | null>;
  /** Headers added to a 401 when the service requires auth (e.g. a Basic challenge). */
  challenge?(): Record<string, string>;
}

/** Tries each resolver's fromRequest in order; the first user wins. Resolver errors count as "no user". */
export async function resolveFromRequest(resolvers: AuthResolver[], request: HandshakeRequest): Promise<User | null> {
  for (const r of resolvers) {
    if (r.fromRequest === undefined) continue;
    try {
      const user = await r.fromRequest(request);
      if (user) return user;
    } catch {
      // an invalid credential is not a server error
    }
  }
  return null;
}

export async function resolveFromCommand(resolvers: AuthResolver[], data: unknown): Promise<User | null> {
  for (const r of resolvers) {
    if (r.fromCommand === undefined) continue;
    try {
      const user = await r.fromCommand(data);
      if (user) return user;
    } catch {
      // as above
    }
  }
  return null;
}

/** Reads a string field of command data without trusting its shape. */
export function stringField(data: unknown, key: string): string | undefined {
  if (typeof data !== 'object' || data === null || !Object.hasOwn(data, key)) return undefined;
  const v = (data as Record<string, unknown>)[key];
  return typeof v === 'string' ? v : undefined;
}
