import { EventEmitter } from 'node:events';
import type { Buffer } from 'node:buffer';
import { connect, HandshakeError, type ClientOptions } from './client.js';
import { SendStatus, type WebSocket } from './websocket.js';

export interface ReconnectOptions extends ClientOptions {
  /** First delay before reconnecting (ms, default 250). */
  initialDelayMs?: number;
  /** Upper bound of the delay (ms, default 30 s). */
  maxDelayMs?: number;
  /** Delay growth per failed attempt (default 2). */
  factor?: number;
  /** Give up after this many consecutive failed attempts (default: never). */
  maxAttempts?: number;
  /** Messages kept while disconnected, sent on reconnect (default 0: sends fail while down). */
  queueLimit?: number;
}

export interface ReconnectingEvents {
  open: [ws: WebSocket];
  message: [data: Buffer, isBinary: boolean];
  close: [code: number, reason: string];
  reconnecting: [attempt: number, delayMs: number];
  error: [error: Error];
  /** No more attempts: maxAttempts consecutive failures, or a handshake refusal that retrying cannot change. */
  giveup: [];
}

/**
 * An opt-in client that reconnects with exponential backoff and full jitter when the
 * connection drops (any close except one we asked for). Each attempt is a fresh `connect`.
 */
export class ReconnectingWebSocket extends EventEmitter<ReconnectingEvents> {
  readonly url: string;
  #opts: ReconnectOptions;
  #ws: WebSocket | null = null;
  #attempt = 0;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;
  #queue: { data: string | Uint8Array; binary: boolean }[] = [];

  constructor(url: string | URL, options: ReconnectOptions = {}) {
    super();
    this.url = String(url);
    this.#opts = options;
    queueMicrotask(() => this.#open());
  }

  /** The current connection, if open. */
  get socket(): WebSocket | null {
    return this.#ws;
  }

  send(data: string | Uint8Array, options?: { binary?: boolean }): SendStatus {
    const binary = options?.binary ?? typeof data !== 'string';
    if (this.#ws && this.#ws.readyState === 1) return this.#ws.send(data, { binary });
    if (this.#queue.length < (this.#opts.queueLimit ?? 0)) {
      this.#queue.push({ data, binary });
      return SendStatus.BACKPRESSURE;
    }
    return SendStatus.DROPPED;
  }

  /** Close for good: no reconnect after this. */
  close(code = 1000, reason = ''): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#ws?.close(code, reason);
  }

  #open(): void {
    if (this.#stopped) return;
    connect(this.url, this.#opts).then(
      (ws) => {
        if (this.#stopped) {
          ws.close(1000);
          return;
        }
        this.#ws = ws;
        this.#attempt = 0;
        ws.on('message', (data, isBinary) => this.emit('message', data, isBinary));
        ws.on('error', (err) => this.#emitError(err));
        ws.on('close', (code, reason) => {
          this.#ws = null;
          this.emit('close', code, reason);
          this.#schedule();
        });
        this.emit('open', ws);
        const queued = this.#queue;
        this.#queue = [];
        for (const m of queued) ws.send(m.data, { binary: m.binary });
      },
      (err: Error) => {
        this.#emitError(err);
        if (err instanceof HandshakeError && !err.retryable) return this.#giveUp();
        this.#schedule(err instanceof HandshakeError ? err.retryAfterMs : undefined);
      },
    );
  }

  #giveUp(): void {
    this.#stopped = true;
    this.emit('giveup');
  }

  #schedule(retryAfterMs?: number): void {
    if (this.#stopped) return;
    const o = this.#opts;
    if (o.maxAttempts !== undefined && this.#attempt >= o.maxAttempts) return this.#giveUp();
    const cap = Math.min(o.maxDelayMs ?? 30_000, (o.initialDelayMs ?? 250) * (o.factor ?? 2) ** this.#attempt);
    // full jitter spreads reconnect storms out; the server's Retry-After is a floor
    const delay = Math.max(Math.round(Math.random() * cap), retryAfterMs ?? 0);
    this.#attempt++;
    this.emit('reconnecting', this.#attempt, delay);
    this.#timer = setTimeout(() => this.#open(), delay);
  }

  #emitError(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }
}

/** Open a connection that comes back by itself. */
export function reconnecting(url: string | URL, options?: ReconnectOptions): ReconnectingWebSocket {
  return new ReconnectingWebSocket(url, options);
}
