/**
 * The server API: publish to rooms, send to a connection or a user, disconnect, read
 * presence and history from outside (a web backend, a cron job), as JSON over HTTP on the
 * main port: `POST <path>/<method>` with `Authorization: Bearer <token>`. It goes through
 * the App's public API only, so with `--workers N` or a broker every call reaches every node.
 * Without a token configured every call is refused (403): an open publish endpoint would let
 * anyone who reaches the port speak for the server.
 */
import { Buffer } from 'node:buffer';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { App } from '../app/app.js';
import { encodePush, safeJsonParse } from '../app/command-envelope.js';
import type { HttpRoute } from './http-routes.js';
import type { ServerApi, ServerApiErrorBody, ServerApiMethod } from './server-api-types.js';

export interface ServerApiOptions {
  /** Bearer token every request must carry; unset: the API refuses every call. */
  token?: string | undefined;
  /** Path prefix (default '/api'). */
  path?: string;
  /** Largest request body, bytes (default 1 MiB). */
  maxBodyBytes?: number;
}

type ApiApp = Pick<App<unknown>, 'publish' | 'sendToConnection' | 'sendToUser' | 'closeConnection' | 'presence' | 'history'>;

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const service = z.string().min(1).transform((s) => (s.startsWith('/') ? s : `/${s}`));
const room = z.string().min(1);
const event = z.string().min(1);
const position = z.strictObject({ e: z.string(), o: z.number().int().min(0) });
// 1000, or an application code: 1001-2999 are the protocol's own
const closeCode = z.union([z.literal(1000), z.number().int().min(3000).max(4999)]);

const schemas = {
  publish: z.strictObject({ service, room, data: z.unknown().optional() }),
  send: z.strictObject({ connection: z.string().min(1), event, data: z.unknown().optional() }),
  sendToUser: z.strictObject({ user: z.string().min(1), service: service.optional(), event, data: z.unknown().optional() }),
  disconnect: z.strictObject({ connection: z.string().min(1), code: closeCode.optional(), reason: z.string().max(123).optional() }),
  presence: z.strictObject({ service, room }),
  history: z.strictObject({ service, room, since: position.optional(), limit: z.number().int().min(1).max(1000).optional() }),
} satisfies Record<ServerApiMethod, z.ZodType>;

type Handlers = { [M in ServerApiMethod]: (input: z.output<(typeof schemas)[M]>) => Promise<ServerApi[M]['output']> };

function handlers(app: ApiApp): Handlers {
  return {
    publish: async ({ service, room, data }) => ({ pos: await app.publish(service, room, data) }),
    send: async ({ connection, event, data }) => {
      if (!(await app.sendToConnection(connection, encodePush(event, data)))) throw new ApiError(404, 'not_found', `no connection ${connection}`);
      return {};
    },
    sendToUser: ({ user, service, event, data }) => app.sendToUser(user, encodePush(event, data), service),
    disconnect: async ({ connection, code, reason }) => {
      if (!(await app.closeConnection(connection, code ?? 1000, reason ?? ''))) throw new ApiError(404, 'not_found', `no connection ${connection}`);
      return {};
    },
    presence: async ({ service, room }) => ({ members: await app.presence(service, room) }),
    history: ({ service, room, since, limit }) => app.history(service, room, { ...(since ? { since } : {}), ...(limit !== undefined ? { limit } : {}) }),
  };
}

export function serverApiRoute(app: ApiApp, options: ServerApiOptions = {}): HttpRoute {
  const prefix = `${(options.path ?? '/api').replace(/\/+$/, '')}/`;
  const maxBody = options.maxBodyBytes ?? 1 << 20;
  const digest = options.token !== undefined ? sha256(options.token) : null;
  const methods = handlers(app);
  return async (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (!path.startsWith(prefix)) return false;
    try {
      if (digest === null) throw new ApiError(403, 'api_disabled', 'the server API is off: configure api.token (SWITCHBOARD_API_TOKEN or --api-token)');
      if (!authorized(req, digest)) throw new ApiError(401, 'unauthorized', 'send Authorization: Bearer <api token>');
      const method = path.slice(prefix.length);
      if (!Object.hasOwn(methods, method)) throw new ApiError(404, 'not_found', `no API method "${method}" (${Object.keys(methods).join(', ')})`);
      if (req.method !== 'POST') throw new ApiError(405, 'bad_request', `${method} takes POST with a JSON body`);
      const input = parse(schemas[method as ServerApiMethod] as z.ZodType<unknown>, await readJson(req, maxBody));
      const data = await (methods[method as ServerApiMethod] as (i: unknown) => Promise<unknown>)(input);
      reply(res, 200, { ok: true, data });
    } catch (err) {
      const e = err instanceof ApiError ? err : unexpected(err);
      reply(res, e.status, { ok: false, error: { code: e.code, message: e.message } satisfies ServerApiErrorBody }, e.status === 401 ? { 'www-authenticate': 'Bearer realm="switchboard api"' } : {});
    }
    return true;
  };
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Compares digests in constant time, so the token's length and prefix do not leak through timing. */
function authorized(req: IncomingMessage, digest: Buffer): boolean {
  const header = req.headers.authorization ?? '';
  return header.startsWith('Bearer ') && timingSafeEqual(sha256(header.slice(7).trim()), digest);
}

async function readJson(req: IncomingMessage, max: number): Promise<unknown> {
  // any content type: curl -d sends form-urlencoded, and the Authorization header already keeps browsers' cross-site forms out
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) throw new ApiError(413, 'too_large', `the body is larger than ${max} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return safeJsonParse(text);
  } catch (err) {
    throw new ApiError(400, 'bad_request', `malformed JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  throw new ApiError(400, 'bad_request', `${where}${issue.message}`);
}

function unexpected(err: unknown): ApiError {
  if (err instanceof Error && err.name === 'BrokerUnavailableError') return new ApiError(503, 'unavailable', 'the broker is unavailable; try again');
  return new ApiError(500, 'internal', err instanceof Error ? err.message : String(err));
}

function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
