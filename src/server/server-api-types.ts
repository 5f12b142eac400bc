/**
 * The server API's requests and answers: what `POST <api.path>/<method>` takes as its JSON
 * body and returns. Shared by the HTTP route and the Node client (types only).
 */

export interface ApiPosition {
  e: string;
  o: number;
}

export interface ApiPresenceEntry {
  id: string;
  user: { id: string; [key: string]: unknown } | null;
}

export interface ServerApi {
  /** Appends a message to a room of a service (numbered, kept in its history) and pushes it to its members on every node. */
  publish: { input: { service: string; room: string; data?: unknown }; output: { pos: ApiPosition | null } };
  /** A push `{"event", "data"}` to one connection, on whatever node holds it. */
  send: { input: { connection: string; event: string; data?: unknown }; output: Record<string, never> };
  /** A push to every connection of a user (`user.id`), of one service or of all, on every node. */
  sendToUser: { input: { user: string; service?: string; event: string; data?: unknown }; output: { local: number; relayed: boolean } };
  /** Closes a connection (default code 1000), on whatever node holds it. */
  disconnect: { input: { connection: string; code?: number; reason?: string }; output: Record<string, never> };
  /** Who is in a room, on every node. */
  presence: { input: { service: string; room: string }; output: { members: ApiPresenceEntry[] } };
  /** The first `limit` messages after `since`, or the latest `limit` the history still holds (default 100, at most 1000). */
  history: {
    input: { service: string; room: string; since?: ApiPosition; limit?: number };
    output: { pos: ApiPosition; messages: Array<{ pos: ApiPosition; data: unknown }>; reason?: 'expired' | 'epoch' };
  };
}

export type ServerApiMethod = keyof ServerApi;

/** Every answer: `ok` and the method's output, or `ok: false` and a coded error (its HTTP status says the same). */
export type ServerApiReply<M extends ServerApiMethod> = { ok: true; data: ServerApi[M]['output'] } | { ok: false; error: ServerApiErrorBody };

export interface ServerApiErrorBody {
  /** unauthorized, api_disabled, bad_request, not_found, too_large, unavailable, internal */
  code: string;
  message: string;
}
