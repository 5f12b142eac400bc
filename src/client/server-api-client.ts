/**
 * A typed client of the server API (src/server/server-api.ts) for Node backends: publish to
 * rooms, send to connections and users, disconnect, read presence and history of a running
 * Switchboard from outside it.
 *
 *   const api = new ServerApiClient('http://127.0.0.1:8080', { token: process.env.SWITCHBOARD_API_TOKEN! });
 *   await api.publish('/chat', 'lobby', { text: 'deploy finished' });
 */
import type { ApiPosition, ServerApi, ServerApiErrorBody, ServerApiMethod, ServerApiReply } from '../server/server-api-types.js';

export type { ApiPosition, ApiPresenceEntry, ServerApi, ServerApiMethod, ServerApiReply, ServerApiErrorBody } from '../server/server-api-types.js';

export interface ServerApiClientOptions {
  token: string;
  /** The server's api.path (default '/api'). */
  path?: string;
  /** Per request (default 10 s). */
  timeoutMs?: number;
}

/** A call the server refused or could not do: `code` from the answer, `status` its HTTP status. */
export class ServerApiError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(status: number, body: ServerApiErrorBody) {
    super(body.message);
    this.name = 'ServerApiError';
    this.code = body.code;
    this.status = status;
  }
}

export class ServerApiClient {
  readonly #base: string;
  readonly #o: ServerApiClientOptions;

  /** `url`: the server's HTTP origin, e.g. http://127.0.0.1:8080 (ws:// and wss:// are taken as http:// and https://). */
  constructor(url: string, options: ServerApiClientOptions) {
    const u = new URL(url.replace(/^ws(s?):/, 'http$1:'));
    this.#base = `${u.origin}${(options.path ?? '/api').replace(/\/+$/, '')}/`;
    this.#o = options;
  }

  /** One call by method name; rejects with ServerApiError when the server says no. */
  async call<M extends ServerApiMethod>(method: M, input: ServerApi[M]['input']): Promise<ServerApi[M]['output']> {
    const res = await fetch(this.#base + method, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.#o.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(input),
      signal: AbortSignal.timeout(this.#o.timeoutMs ?? 10_000),
    });
    const text = await res.text();
    let reply: ServerApiReply<M>;
    try {
      reply = JSON.parse(text) as ServerApiReply<M>;
    } catch {
      throw new ServerApiError(res.status, { code: 'bad_response', message: `HTTP ${res.status}: ${text.slice(0, 200)}` });
    }
    if (!reply.ok) throw new ServerApiError(res.status, reply.error);
    return reply.data;
  }

  /** Numbered and kept in the room's history; resolves with its position (null in a volatile room or while the broker is down). */
  async publish(service: string, room: string, data: unknown): Promise<ApiPosition | null> {
    return (await this.call('publish', { service, room, data })).pos;
  }

  /** A push `{"event", "data"}` to one connection; rejects with code not_found when it is gone. */
  async send(connection: string, event: string, data?: unknown): Promise<void> {
    await this.call('send', { connection, event, data });
  }

  /** A push to every connection of a user, of one service or all; `local` counts the receiving node's connections only. */
  sendToUser(user: string, event: string, data?: unknown, options: { service?: string } = {}): Promise<ServerApi['sendToUser']['output']> {
    return this.call('sendToUser', { user, event, data, ...(options.service !== undefined ? { service: options.service } : {}) });
  }

  async disconnect(connection: string, options: { code?: number; reason?: string } = {}): Promise<void> {
    await this.call('disconnect', { connection, ...options });
  }

  async presence(service: string, room: string): Promise<ServerApi['presence']['output']['members']> {
    return (await this.call('presence', { service, room })).members;
  }

  history(service: string, room: string, options: { since?: ApiPosition; limit?: number } = {}): Promise<ServerApi['history']['output']> {
    return this.call('history', { service, room, ...options });
  }
}
