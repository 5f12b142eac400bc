// Raw node:net WebSocket server for testing WebSocket clients: answers the HTTP upgrade
// itself (possibly wrongly, on purpose) and hands back a RawConnection in the server role.
import { createServer, type Server, type Socket } from 'node:net';
import type { ServerHttp2Session } from 'node:http2';
import { acceptFor, parseHead, readHead } from './raw-client.js';
import { RawConnection } from './raw-connection.js';
import { rawHttp2Server } from './raw-http2.js';

export interface RawRequest {
  requestLine: string;
  method: string;
  path: string;
  /** lower-case names */
  headers: Record<string, string>;
  key: string;
  raw: string;
}

/** What to answer: a complete raw response head (without the final CRLFCRLF), or parts of a 101. */
export type RawResponder = (req: RawRequest) => string | { extensions?: string; protocol?: string; extraHeaders?: string[] };

export function upgradeResponse(req: RawRequest, opts: { extensions?: string; protocol?: string; extraHeaders?: string[] } = {}): string {
  const lines = ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${acceptFor(req.key)}`];
  if (opts.extensions) lines.push(`Sec-WebSocket-Extensions: ${opts.extensions}`);
  if (opts.protocol) lines.push(`Sec-WebSocket-Protocol: ${opts.protocol}`);
  lines.push(...(opts.extraHeaders ?? []));
  return lines.join('\r\n');
}

export interface Accepted {
  conn: RawConnection;
  request: RawRequest;
}

export class RawServer {
  readonly server: Server;
  port = 0;
  private responder: RawResponder = () => ({});
  private queue: Array<Accepted | Error> = [];
  private waiters: Array<() => void> = [];
  private sockets = new Set<Socket>();
  private sessions = new Set<ServerHttp2Session>();
  readonly secure: boolean;
  /** The CA a client must trust (with http2). */
  readonly ca: string | undefined;

  /** With `http2`: TLS, and WebSockets as HTTP/2 extended CONNECT streams (RFC 8441). */
  constructor(options: { http2?: { key: string; cert: string; ca: string } } = {}) {
    this.secure = options.http2 !== undefined;
    this.ca = options.http2?.ca;
    if (options.http2) {
      const h2 = rawHttp2Server(options.http2, (req) => this.responder(req), (v) => this.push(v));
      this.server = h2.server;
      this.sessions = h2.sessions;
    } else {
      this.server = createServer((socket) => this.onSocket(socket));
    }
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const a = this.server.address();
    this.port = typeof a === 'object' && a ? a.port : 0;
    return this.port;
  }

  get url(): string {
    return `${this.secure ? 'wss' : 'ws'}://127.0.0.1:${this.port}/`;
  }

  /** Set how the next upgrade requests are answered. */
  respondWith(responder: RawResponder): void {
    this.responder = responder;
  }

  private async onSocket(socket: Socket): Promise<void> {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    try {
      const { head, rest } = await readHead(socket, 10_000);
      const parsed = parseHead(head);
      const [method = '', path = ''] = parsed.statusLine.split(' ');
      const request: RawRequest = {
        requestLine: parsed.statusLine,
        method,
        path,
        headers: parsed.headers,
        key: parsed.headers['sec-websocket-key'] ?? '',
        raw: head,
      };
      const r = this.responder(request);
      const response = typeof r === 'string' ? r : upgradeResponse(request, r);
      if (response === '') {
        // hang up without answering
        socket.destroy();
        this.push(new Error('hung up on purpose'));
        return;
      }
      socket.write(response + '\r\n\r\n');
      const conn = new RawConnection(socket, 'server', rest);
      socket.resume();
      this.push({ conn, request });
    } catch (err) {
      socket.destroy();
      this.push(err as Error);
    }
  }

  private push(v: Accepted | Error): void {
    this.queue.push(v);
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** The next upgraded connection (rejects after ms). */
  async accepted(ms = 10_000): Promise<Accepted> {
    const deadline = Date.now() + ms;
    for (let guard = 0; guard < 100_000; guard++) {
      const v = this.queue.shift();
      if (v instanceof Error) throw v;
      if (v) return v;
      const left = deadline - Date.now();
      if (left <= 0) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    throw new Error(`no upgrade request within ${ms} ms`);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    for (const s of this.sessions) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
