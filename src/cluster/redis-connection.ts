/**
 * One supervised connection to Redis. The client's own reconnect is off: every loss (socket
 * error, close, a connect or setup that does not finish in time, or `restart()` when the
 * owner judges the link dead, e.g. a silent pub/sub or a timed-out command over a path that
 * swallows packets) goes through one path: drop the client, report `down`, make a new one
 * with backoff, run `setup` on it (resubscribe ...), report `ready`. Every client `error`
 * listener is ours; nothing here throws into the process.
 */
import { createClient, type RedisClientType } from '@redis/client';

export type Client = RedisClientType;

export interface RedisConnectionOptions {
  url: string;
  /** Shown in CLIENT LIST. */
  name: string;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  /** Runs on every new client before it counts as ready. */
  setup?: (client: Client) => Promise<void>;
  onReady: (client: Client) => void;
  onDown: (reason: string) => void;
}

const BACKOFF_MIN_MS = 50;
const BACKOFF_MAX_MS = 1000;

export class RedisConnection {
  readonly #o: RedisConnectionOptions;
  #client: Client | null = null;
  #ready = false;
  #closed = false;
  #attempt = 0;
  #timer: NodeJS.Timeout | undefined;
  /** Bumped for every client made: events of an abandoned client are ignored. */
  #generation = 0;

  constructor(options: RedisConnectionOptions) {
    this.#o = options;
  }

  get ready(): boolean {
    return this.#ready;
  }

  /** The ready client, or null. */
  get client(): Client | null {
    return this.#ready ? this.#client : null;
  }

  /**
   * Runs `fn` on the ready client with a reply deadline. The client's own command timeout
   * stops at the socket write; a link that swallows packets would leave the call waiting
   * forever, so past the deadline the link counts as dead: restarted, and the call fails.
   */
  async call<T>(fn: (client: Client) => Promise<T>): Promise<T> {
    const client = this.client;
    if (client === null) throw new LinkDownError('not connected');
    const generation = this.#generation;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const call = fn(client).finally(() => {
      settled = true;
    });
    try {
      return await Promise.race([
        call,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            // after the I/O of this turn: when this process itself stalled (a long GC, SIGSTOP),
            // the reply may be waiting unread in the socket, and the link is fine
            setImmediate(() => {
              if (settled) return;
              this.#lost(generation, `no reply within ${this.#o.commandTimeoutMs} ms`);
              reject(new LinkDownError(`no reply within ${this.#o.commandTimeoutMs} ms`));
            });
          }, this.#o.commandTimeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Makes the first client; resolves after its first attempt, ready or not (later attempts go on in the background). */
  start(): Promise<void> {
    return this.#connect();
  }

  /** Abandons the current client (it is judged dead) and makes a new one. */
  restart(reason: string): void {
    if (this.#closed || this.#client === null) return;
    this.#lost(this.#generation, reason);
  }

  /** Closes for good: QUIT when it can, else drops the socket. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    const client = this.#client;
    const wasReady = this.#ready;
    this.#client = null;
    this.#ready = false;
    this.#generation += 1;
    if (client === null) return;
    if (wasReady) {
      // a polite close, but never longer than a command may take: the path may be swallowing packets
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([client.close().catch(() => undefined), new Promise((r) => (timer = setTimeout(r, this.#o.commandTimeoutMs)))]);
      clearTimeout(timer);
    }
    destroy(client);
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    const generation = ++this.#generation;
    const client: Client = createClient({
      url: this.#o.url,
      RESP: 3,
      name: this.#o.name,
      // a command while the link is down fails at once instead of waiting in a queue
      disableOfflineQueue: true,
      commandOptions: { timeout: this.#o.commandTimeoutMs },
      socket: { reconnectStrategy: false, connectTimeout: this.#o.connectTimeoutMs },
    }) as Client;
    this.#client = client;
    client.on('error', () => {
      // reported through 'terminated' or a failed command; an unhandled 'error' would crash the process
    });
    client.on('terminated', () => this.#lost(generation, 'connection lost'));
    client.on('end', () => this.#lost(generation, 'connection ended'));
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        (async () => {
          await client.connect();
          await this.#o.setup?.(client);
        })(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no connection within ${this.#o.connectTimeoutMs} ms`)), this.#o.connectTimeoutMs);
        }),
      ]);
    } catch (err) {
      if (generation === this.#generation) this.#lost(generation, message(err));
      return;
    } finally {
      clearTimeout(timer);
    }
    if (generation !== this.#generation || this.#closed) return;
    this.#ready = true;
    this.#attempt = 0;
    this.#o.onReady(client);
  }

  #lost(generation: number, reason: string): void {
    if (generation !== this.#generation || this.#closed) return;
    this.#generation += 1;
    const client = this.#client;
    const wasReady = this.#ready;
    this.#client = null;
    this.#ready = false;
    if (client !== null) destroy(client);
    if (wasReady || this.#attempt === 0) this.#o.onDown(reason);
    const delay = Math.min(BACKOFF_MIN_MS * 2 ** this.#attempt, BACKOFF_MAX_MS);
    this.#attempt += 1;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#connect(), delay);
    this.#timer.unref();
  }
}

/** The connection is down, or was judged dead while the call waited. */
export class LinkDownError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LinkDownError';
  }
}

function destroy(client: Client): void {
  try {
    client.destroy();
  } catch {
    /* already closed */
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
