/**
 * Per client address: how many connections it holds and how fast it may open new ones. Runs
 * on the raw upgrade, before the request reaches the handshake pipeline or any service code.
 * Entries for an address go when it holds nothing and its bucket is full again (swept, so an
 * address seen once costs nothing for long).
 */
import type { Duplex } from 'node:stream';
import { TokenBucket } from './token-bucket.js';

export type AddressVerdict =
  | { ok: true }
  | { ok: false; limit: 'connections_per_ip' | 'handshake_rate'; status: 429; reason: string; retryAfterS?: number };

interface AddressEntry {
  connections: number;
  bucket: TokenBucket | null;
}

const SWEEP_MS = 10_000;

export class AddressGuard {
  readonly #entries = new Map<string, AddressEntry>();
  readonly #o: { connectionsPerIp: number; handshakesPerSecond: number; handshakeBurst: number };
  #sweep: NodeJS.Timeout | null = null;

  constructor(o: { connectionsPerIp: number; handshakesPerSecond: number; handshakeBurst: number }) {
    this.#o = o;
  }

  /**
   * Admits a handshake from `address` and holds a connection for it until `socket` closes,
   * or says which limit refused it.
   */
  admit(address: string, socket: Duplex, now = Date.now()): AddressVerdict {
    const o = this.#o;
    if (o.connectionsPerIp === 0 && o.handshakesPerSecond === 0) return { ok: true };
    let e = this.#entries.get(address);
    if (e === undefined) {
      e = { connections: 0, bucket: null };
      this.#entries.set(address, e);
      this.#sweep ??= setInterval(() => this.#sweepIdle(), SWEEP_MS).unref();
    }
    if (o.connectionsPerIp > 0 && e.connections >= o.connectionsPerIp) {
      return { ok: false, limit: 'connections_per_ip', status: 429, reason: `Too Many Requests: ${o.connectionsPerIp} connections from this address already` };
    }
    if (o.handshakesPerSecond > 0) {
      e.bucket ??= new TokenBucket(o.handshakesPerSecond, Math.max(1, o.handshakeBurst), now);
      if (!e.bucket.take(1, now)) {
        return { ok: false, limit: 'handshake_rate', status: 429, reason: 'Too Many Requests: handshake rate exceeded', retryAfterS: Math.max(1, Math.ceil(e.bucket.waitMs(1, now) / 1000)) };
      }
    }
    e.connections += 1;
    const entry = e;
    socket.once('close', () => {
      entry.connections -= 1;
    });
    return { ok: true };
  }

  /** Connections held by `address` (for tests and status). */
  connections(address: string): number {
    return this.#entries.get(address)?.connections ?? 0;
  }

  stop(): void {
    if (this.#sweep) clearInterval(this.#sweep);
    this.#sweep = null;
  }

  #sweepIdle(): void {
    const now = Date.now();
    for (const [address, e] of this.#entries) {
      if (e.connections === 0 && (e.bucket === null || e.bucket.full(now))) this.#entries.delete(address);
    }
    if (this.#entries.size === 0) this.stop();
  }
}
