/** Resource limits of a connection or server. Every one is configurable; defaults are safe for production. */
export interface Limits {
  /** Time for a client to complete the opening handshake (ms). */
  handshakeTimeoutMs: number;
  /** Largest request/response head accepted during the handshake (bytes); 431 past it. */
  maxHeaderBytes: number;
  /** Largest message, after reassembly and decompression (bytes); close 1009 past it. */
  maxMessageBytes: number;
  /** Largest single frame (bytes); close 1009 past it. */
  maxFrameBytes: number;
  /** Bytes queued for a peer above which the slow-consumer policy applies. */
  highWaterMark: number;
  /** 'close': fail a peer that falls behind by more than highWaterMark (1008); 'drop': drop new messages for it. */
  slowConsumer: 'close' | 'drop';
  /** With no traffic from the peer for this long, ping it; close it after a second silent period (0 = off). */
  idleTimeoutMs: number;
  /** Time to wait for the peer's side of the close handshake before dropping TCP (ms). */
  closeTimeoutMs: number;
}

/** The limits a handshake may set for one connection (e.g. per service), over the server's. */
export type ConnectionLimitOverrides = Partial<Pick<Limits, 'maxMessageBytes' | 'maxFrameBytes' | 'highWaterMark' | 'slowConsumer' | 'idleTimeoutMs'>>;

export const CONNECTION_LIMIT_KEYS = ['maxMessageBytes', 'maxFrameBytes', 'highWaterMark', 'slowConsumer', 'idleTimeoutMs'] as const;

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  handshakeTimeoutMs: 10_000,
  maxHeaderBytes: 16 * 1024,
  maxMessageBytes: 1024 * 1024,
  maxFrameBytes: 1024 * 1024,
  highWaterMark: 4 * 1024 * 1024,
  slowConsumer: 'close',
  idleTimeoutMs: 60_000,
  closeTimeoutMs: 5_000,
});

/** Merge and check user limits; throws a TypeError naming the bad key. */
export function resolveLimits(partial: Partial<Limits> | undefined): Limits {
  const l: Limits = { ...DEFAULT_LIMITS, ...(partial ?? {}) };
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof Limits)[]) {
    const v = l[key];
    if (key === 'slowConsumer') {
      if (v !== 'close' && v !== 'drop') throw new TypeError(`limits.slowConsumer must be 'close' or 'drop', got ${JSON.stringify(v)}`);
    } else if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) {
      throw new TypeError(`limits.${key} must be a non-negative finite number, got ${JSON.stringify(v)}`);
    }
  }
  for (const key of Object.keys(partial ?? {})) {
    if (!(key in DEFAULT_LIMITS)) throw new TypeError(`unknown limit ${JSON.stringify(key)}`);
  }
  return l;
}
