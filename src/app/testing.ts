/**
 * Test services without a network (in the spirit of Phoenix's ChannelTest): connections are
 * in-memory, everything else — routing, loading, hooks, commands, rooms — is the real code.
 *
 *   const t = serviceTester({ dir: 'services' });
 *   const c = await t.connect('/chat', { headers: { authorization: 'Basic ...' } });
 *   assert.equal((await c.call('add', { a: 1, b: 2 })).data, 3);
 *   await c.next((m) => m.event === 'welcome');
 */
import { App, type Decision } from './app.js';
import type { ConnectionPort, Framer } from './connection-port.js';
import { silentLogger, type Logger } from './logger.js';
import type { AppObserver } from './observer.js';
import type { RoomIndexOptions } from './rooms/room-index.js';
import type { HandshakeRequest, Isolation } from './service.js';
import type { CloseReply, ServiceHostFactories } from './service-host.js';

/** What the in-memory framer makes: the message itself. */
export interface MemoryFramed {
  data: string | Uint8Array;
  binary: boolean;
}

/** An in-memory connection: records everything the server sends to it. */
export class MemorySocket implements ConnectionPort<MemoryFramed> {
  readonly sent: Array<string | Uint8Array> = [];
  closedWith: { code: number; reason: string } | null = null;
  #waiters: Array<{ pred: (m: string) => boolean; resolve: (m: string) => void }> = [];

  send(data: string | Uint8Array): void {
    this.#push(data);
  }
  sendFramed(message: MemoryFramed): void {
    this.#push(message.data);
  }
  close(code = 1000, reason = ''): void {
    this.closedWith ??= { code, reason };
  }
  /** The text messages received so far, parsed as JSON. */
  get json(): any[] {
    const out: unknown[] = [];
    for (const m of this.sent) if (typeof m === 'string') out.push(parse(m));
    return out;
  }
  /** The first (already received or future) JSON message that matches. */
  next(pred: (msg: any) => boolean): Promise<any> {
    for (const m of this.sent) if (typeof m === 'string' && matches(m, pred)) return Promise.resolve(parse(m));
    return new Promise((resolve) => this.#waiters.push({ pred: (m) => matches(m, pred), resolve: (m) => resolve(parse(m)) }));
  }
  /** The reply to the command with this id. */
  reply(id: number | string): Promise<any> {
    return this.next((m) => typeof m === 'object' && m !== null && m.id === id && 'ok' in m);
  }
  #push(data: string | Uint8Array): void {
    this.sent.push(data);
    if (typeof data !== 'string') return;
    for (const w of [...this.#waiters]) {
      if (w.pred(data)) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        w.resolve(data);
      }
    }
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function matches(text: string, pred: (m: any) => boolean): boolean {
  try {
    return pred(parse(text));
  } catch {
    return false;
  }
}

/** A framer that does not frame: framed messages carry the data; counts fan-outs. */
export class MemoryFramer implements Framer<MemoryFramed> {
  framed = 0;
  frame(data: string | Uint8Array, binary: boolean): MemoryFramed {
    this.framed += 1;
    return { data, binary };
  }
}

export function testRequest(path: string, extra: Partial<HandshakeRequest> = {}): HandshakeRequest {
  const q = path.indexOf('?');
  const query = q >= 0 ? Object.fromEntries(new URLSearchParams(path.slice(q + 1))) : {};
  return { method: 'GET', url: path, path: q >= 0 ? path.slice(0, q) : path, query, headers: {}, cookies: {}, protocols: [], extensions: [], remoteAddress: '127.0.0.1', remotePort: 1, secure: false, ...extra } as HandshakeRequest;
}

export interface TestConnection {
  readonly id: string;
  readonly socket: MemorySocket;
  readonly protocol: string;
  /** Sends a text (or binary) message as the client. */
  send(data: string | Uint8Array): void;
  /** Sends `{"id","cmd","data"}` and resolves with the reply object. */
  call(cmd: string, data?: unknown): Promise<{ id: number; ok: boolean; data?: any; error?: { code: string; message: string; details?: any } }>;
  next(pred: (msg: any) => boolean): Promise<any>;
  /** The peer closes with this code and reason; resolves with the service's close reply, if any. */
  close(code?: number, reason?: string): Promise<CloseReply | undefined>;
}

export interface ServiceTesterOptions {
  dir: string;
  log?: Logger;
  rooms?: RoomIndexOptions;
  hosts?: ServiceHostFactories;
  defaultIsolation?: Isolation;
  observer?: AppObserver;
}

export interface ServiceTester {
  readonly app: App<MemoryFramed>;
  readonly framer: MemoryFramer;
  /** Runs the handshake; throws with the status when the service (or routing) rejects it. */
  connect(path: string, request?: Partial<HandshakeRequest>): Promise<TestConnection>;
  /** The handshake decision alone (404, 500, 401, the service's own...). */
  decide(path: string, request?: Partial<HandshakeRequest>): Promise<Decision>;
}

export class HandshakeRejected extends Error {
  constructor(readonly status: number, readonly reason: string, readonly headers?: Record<string, string>) {
    super(`handshake rejected: ${status} ${reason}`);
    this.name = 'HandshakeRejected';
  }
}

export function serviceTester(options: ServiceTesterOptions): ServiceTester {
  const log = options.log ?? silentLogger;
  const framer = new MemoryFramer();
  const app = new App<MemoryFramed>({
    root: options.dir,
    log,
    framer,
    ...(options.hosts ? { hosts: options.hosts } : {}),
    ...(options.defaultIsolation ? { defaultIsolation: options.defaultIsolation } : {}),
    ...(options.rooms ? { rooms: options.rooms } : {}),
    ...(options.observer ? { observer: options.observer } : {}),
  });
  let calls = 0;
  return {
    app,
    framer,
    decide: (path, request) => app.admit(testRequest(path, request)),
    async connect(path, request) {
      const req = testRequest(path, request);
      const d = await app.admit(req);
      if (!d.accept) throw new HandshakeRejected(d.status, d.reason, d.headers);
      const socket = new MemorySocket();
      const id = app.open(socket, req, d.admission);
      return {
        id,
        socket,
        protocol: d.admission.protocol,
        send: (data) => app.message(id, data, typeof data !== 'string'),
        async call(cmd, data) {
          const cid = ++calls;
          app.message(id, JSON.stringify({ id: cid, cmd, data }), false);
          return socket.reply(cid);
        },
        next: (pred) => socket.next(pred),
        async close(code = 1000, reason = '') {
          const chosen = app.peerClose(id, code, reason);
          const after = await app.closed(id, code, reason);
          return chosen ?? after;
        },
      };
    },
  };
}
