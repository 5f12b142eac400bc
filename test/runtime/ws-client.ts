// A small test client over our transport: JSON commands, pushes and the close outcome.
import { connect, HandshakeError, type WebSocket } from '../../src/transport/index.js';
import { DEADLINE_MS } from '../helpers/wait.js';

export interface Closed {
  code: number;
  reason: string;
}

export class TestClient {
  readonly ws: WebSocket;
  readonly received: unknown[] = [];
  closed: Closed | undefined;
  #nextId = 1;
  #waiters: Array<() => void> = [];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      this.received.push(isBinary ? new Uint8Array(data) : JSON.parse(data.toString('utf8')));
      this.#wake();
    });
    ws.on('close', (code: number, reason: string) => {
      this.closed = { code, reason };
      this.#wake();
    });
    ws.on('error', () => undefined);
  }

  static async open(url: string): Promise<TestClient> {
    return new TestClient(await connect(url));
  }

  /** Connect, retrying while the service answers 503 (restarting). */
  static async openWhenAvailable(url: string, timeoutMs = DEADLINE_MS): Promise<TestClient> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await TestClient.open(url);
      } catch (err) {
        if (!(err instanceof HandshakeError) || err.status !== 503 || Date.now() > end) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  #wake(): void {
    for (const w of this.#waiters) w();
  }

  waitFor<T>(pick: () => T | undefined, what: string, timeoutMs = DEADLINE_MS): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const v = pick();
        if (v !== undefined) {
          done();
          resolve(v);
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${what}; received ${JSON.stringify(this.received)}; closed ${JSON.stringify(this.closed)}`));
      }, timeoutMs);
      const waiter = (): void => void check();
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
      };
      this.#waiters.push(waiter);
      check();
    });
  }

  /** Send a command; returns its id (use reply(id) to wait). */
  send(cmd: string, data?: unknown): number {
    const id = this.#nextId++;
    this.ws.send(JSON.stringify({ id, cmd, ...(data !== undefined ? { data } : {}) }));
    return id;
  }

  reply(id: number): Promise<{ id: number; ok: boolean; data?: unknown; error?: { code: string; message: string } }> {
    return this.waitFor(
      () => this.received.find((m) => (m as { id?: unknown }).id === id) as { id: number; ok: boolean } | undefined,
      `reply ${id}`,
    );
  }

  async call(cmd: string, data?: unknown): Promise<unknown> {
    const r = await this.reply(this.send(cmd, data));
    if (!r.ok) throw new Error(`${cmd} failed: ${JSON.stringify(r.error)}`);
    return r.data;
  }

  whenClosed(timeoutMs = DEADLINE_MS): Promise<Closed> {
    return this.waitFor(() => this.closed, 'close', timeoutMs);
  }

  close(): void {
    if (!this.closed) this.ws.terminate();
  }
}
