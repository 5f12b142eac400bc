/**
 * The limits the edge applies before and around the app: per client address (connections,
 * handshake rate) and per connection (message and byte rates). Defaults are generous for a
 * real client and small for an abusive one; 0 turns a limit off.
 */
export interface EdgeLimits {
  /** Open connections (and handshakes under way) from one client address. */
  connectionsPerIp: number;
  /** Handshakes a second from one client address (token bucket refill); past it: HTTP 429 with Retry-After. */
  handshakesPerSecond: number;
  /** Handshakes one address may make in a burst. */
  handshakeBurst: number;
  /** Messages a second from one connection. */
  messagesPerSecond: number;
  messageBurst: number;
  /** Message bytes a second from one connection. */
  bytesPerSecond: number;
  /** A message larger than this never passes: keep it at least maxMessageBytes. */
  byteBurst: number;
  /** Over a message or byte rate: 'close' the connection with 1008, or 'drop' the message. */
  overRate: 'close' | 'drop';
  /** Peers whose Forwarded / X-Forwarded-For headers name the client: addresses, CIDR ranges, 'loopback', 'private'. */
  trustProxy: string[];
}

export const DEFAULT_EDGE_LIMITS: Readonly<EdgeLimits> = Object.freeze({
  connectionsPerIp: 1_000,
  handshakesPerSecond: 50,
  handshakeBurst: 200,
  messagesPerSecond: 5_000,
  messageBurst: 10_000,
  bytesPerSecond: 16 * 1024 * 1024,
  byteBurst: 32 * 1024 * 1024,
  overRate: 'close',
  trustProxy: [],
});

/** Merges `partial` over the defaults; throws a TypeError naming a bad key. */
export function resolveEdgeLimits(partial: Partial<EdgeLimits> | undefined): EdgeLimits {
  const l: EdgeLimits = { ...DEFAULT_EDGE_LIMITS, ...partial, trustProxy: [...(partial?.trustProxy ?? DEFAULT_EDGE_LIMITS.trustProxy)] };
  for (const [key, value] of Object.entries(l)) {
    if (key === 'trustProxy') continue;
    if (key === 'overRate') {
      if (value !== 'close' && value !== 'drop') throw new TypeError(`limits.overRate must be 'close' or 'drop', got ${JSON.stringify(value)}`);
    } else if (!Object.hasOwn(DEFAULT_EDGE_LIMITS, key)) {
      throw new TypeError(`unknown edge limit ${JSON.stringify(key)}`);
    } else if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new TypeError(`limits.${key} must be a number, 0 or more, got ${JSON.stringify(value)}`);
    }
  }
  return l;
}
