// The implementation under test, behind a small adapter so the harness can be proven
// against `ws` (SB_SUBJECT=ws) and then pointed at Switchboard (the default).
// Switchboard's API is used through the contract in /work/notes/contract.md.
import { Buffer } from 'node:buffer';
import type { AddressInfo } from 'node:net';

export type SubjectKind = 'switchboard' | 'ws';
export const SUBJECT: SubjectKind = process.env['SB_SUBJECT'] === 'ws' ? 'ws' : 'switchboard';

export interface DeflateOptions {
  serverNoContextTakeover?: boolean;
  clientNoContextTakeover?: boolean;
  serverMaxWindowBits?: number;
  clientMaxWindowBits?: number;
}

export interface Limits {
  maxMessageBytes?: number;
  maxFrameBytes?: number;
}

export interface EchoServerOptions {
  limits?: Limits;
  perMessageDeflate?: boolean | DeflateOptions;
  protocols?: string[];
  /** Switchboard only: TLS, with WebSockets over HTTP/2 (RFC 8441) beside HTTP/1.1. */
  http2?: { key: string; cert: string };
}

export interface EchoServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

// ---- the parts of Switchboard's API used here (structural, so this file compiles before it lands) ----
interface SbSocket {
  readonly protocol: string;
  readonly extensions: string;
  readonly readyState: number;
  send(data: string | Uint8Array, options?: { binary?: boolean }): number;
  ping(data?: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  on(event: 'message', fn: (data: Buffer, isBinary: boolean) => void): unknown;
  on(event: 'close', fn: (code: number, reason: string) => void): unknown;
  on(event: 'error', fn: (err: Error) => void): unknown;
  on(event: 'ping' | 'pong', fn: (data: Buffer) => void): unknown;
  on(event: string, fn: (...args: any[]) => void): unknown;
}
interface SbServer {
  listen(): Promise<AddressInfo>;
  close(options?: { code?: number; reason?: string; timeoutMs?: number }): Promise<void>;
  on(event: 'connection', fn: (ws: SbSocket, request: unknown) => void): unknown;
  on(event: string, fn: (...args: any[]) => void): unknown;
}
interface SbModule {
  WebSocketServer: new (options: Record<string, unknown>) => SbServer;
  connect(url: string, options?: Record<string, unknown>): Promise<SbSocket>;
}

let sbModule: SbModule | undefined;
export async function switchboard(): Promise<SbModule> {
  if (sbModule) return sbModule;
  // dist/test/helpers/subjects.js -> dist/src/index.js
  const mod = (await import('../../src/index.js')) as unknown as Partial<SbModule>;
  if (typeof mod.WebSocketServer !== 'function' || typeof mod.connect !== 'function') {
    throw new Error('src/index.ts does not export WebSocketServer and connect yet (the implementation has not landed)');
  }
  sbModule = mod as SbModule;
  return sbModule;
}

async function wsModule(): Promise<typeof import('ws')> {
  return import('ws');
}

function wsDeflate(o: boolean | DeflateOptions | undefined): boolean | Record<string, unknown> {
  if (!o) return false;
  if (o === true) return { threshold: 0 };
  return {
    threshold: 0,
    serverNoContextTakeover: o.serverNoContextTakeover,
    clientNoContextTakeover: o.clientNoContextTakeover,
    serverMaxWindowBits: o.serverMaxWindowBits,
    clientMaxWindowBits: o.clientMaxWindowBits,
  };
}

/** Switchboard's permessage-deflate options; threshold 0 so that every message is compressed. */
function sbDeflate(o: boolean | DeflateOptions): false | Record<string, unknown> {
  if (!o) return false;
  return { threshold: 0, ...(o === true ? {} : o) };
}

/** An echo server: every message is sent back with the same type. */
export async function startEchoServer(opts: EchoServerOptions = {}, kind: SubjectKind = SUBJECT): Promise<EchoServer> {
  if (kind === 'ws') {
    const { WebSocketServer } = await wsModule();
    const wss = new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      maxPayload: opts.limits?.maxMessageBytes ?? 64 * 1024 * 1024,
      perMessageDeflate: wsDeflate(opts.perMessageDeflate) as never,
      ...(opts.protocols ? { handleProtocols: (set: Set<string>) => opts.protocols!.find((p) => set.has(p)) ?? false } : {}),
    });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    wss.on('connection', (ws) => {
      ws.on('error', () => {});
      ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
    });
    const port = (wss.address() as AddressInfo).port;
    return {
      port,
      url: `ws://127.0.0.1:${port}/`,
      close: () =>
        new Promise<void>((resolve) => {
          for (const c of wss.clients) c.terminate();
          wss.close(() => resolve());
        }),
    };
  }
  const sb = await switchboard();
  const server = new sb.WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    ...(opts.limits ? { limits: opts.limits } : {}),
    ...(opts.perMessageDeflate !== undefined ? { perMessageDeflate: sbDeflate(opts.perMessageDeflate) } : {}),
    ...(opts.protocols ? { protocols: opts.protocols } : {}),
    ...(opts.http2 ? { tls: opts.http2, http2: true } : {}),
  });
  server.on('error', () => {});
  server.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (ws.readyState === 1) ws.send(data, { binary: isBinary });
    });
  });
  const addr = await server.listen();
  return {
    port: addr.port,
    url: `${opts.http2 ? 'wss' : 'ws'}://127.0.0.1:${addr.port}/`,
    close: () => server.close({ timeoutMs: 2000 }),
  };
}

export interface ClientEvent {
  type: 'open' | 'message' | 'ping' | 'pong' | 'close' | 'error';
  data?: Buffer;
  isBinary?: boolean;
  code?: number;
  reason?: string;
  error?: Error;
}

export interface EchoClientOptions {
  limits?: Limits;
  perMessageDeflate?: boolean | DeflateOptions;
  protocols?: string[];
  /** echo messages back (default true) */
  echo?: boolean;
  /** Switchboard only: connect over HTTP/2 (RFC 8441), trusting this CA. */
  http2?: { ca: string };
}

export interface EchoClient {
  events: ClientEvent[];
  /** resolves when open, rejects when the handshake fails */
  opened: Promise<void>;
  protocol(): string;
  extensions(): string;
  send(data: string | Buffer, binary: boolean): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  /** wait until a 'close' event was emitted (false at the deadline) */
  waitClose(ms: number): Promise<boolean>;
}

/** A client that echoes every message, recording all events. */
export function startEchoClient(url: string, opts: EchoClientOptions = {}, kind: SubjectKind = SUBJECT): EchoClient {
  const events: ClientEvent[] = [];
  let waiters: Array<() => void> = [];
  const record = (e: ClientEvent) => {
    events.push(e);
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  const echo = opts.echo ?? true;
  let sock: { send(d: string | Buffer, binary: boolean): void; close(c?: number, r?: string): void; terminate(): void; protocol: () => string; extensions: () => string } | undefined;

  const opened = (async () => {
    if (kind === 'ws') {
      const { WebSocket } = await wsModule();
      const ws = new WebSocket(url, opts.protocols ?? [], {
        perMessageDeflate: wsDeflate(opts.perMessageDeflate) as never,
        maxPayload: opts.limits?.maxMessageBytes ?? 64 * 1024 * 1024,
      });
      sock = {
        send: (d, binary) => ws.send(d, { binary }),
        close: (c, r) => ws.close(c, r),
        terminate: () => ws.terminate(),
        protocol: () => ws.protocol,
        extensions: () => ws.extensions,
      };
      ws.on('message', (data, isBinary) => {
        record({ type: 'message', data: data as Buffer, isBinary });
        if (echo && ws.readyState === 1) ws.send(data as Buffer, { binary: isBinary });
      });
      ws.on('ping', (d) => record({ type: 'ping', data: d }));
      ws.on('pong', (d) => record({ type: 'pong', data: d }));
      ws.on('close', (code, reason) => record({ type: 'close', code, reason: reason.toString() }));
      ws.on('error', (error) => record({ type: 'error', error }));
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
        ws.once('close', () => reject(new Error('closed before open')));
      });
      record({ type: 'open' });
      return;
    }
    const sb = await switchboard();
    const ws = await sb.connect(url, {
      ...(opts.protocols ? { protocols: opts.protocols } : {}),
      ...(opts.perMessageDeflate !== undefined ? { perMessageDeflate: sbDeflate(opts.perMessageDeflate) } : {}),
      ...(opts.limits ? { limits: opts.limits } : {}),
      ...(opts.http2 ? { http2: true, tls: { ca: opts.http2.ca } } : {}),
      handshakeTimeoutMs: 10_000,
    });
    sock = {
      send: (d, binary) => void ws.send(d, { binary }),
      close: (c, r) => ws.close(c, r),
      terminate: () => ws.terminate(),
      protocol: () => ws.protocol,
      extensions: () => ws.extensions,
    };
    record({ type: 'open' });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      record({ type: 'message', data, isBinary });
      if (echo && ws.readyState === 1) ws.send(data, { binary: isBinary });
    });
    ws.on('ping', (d: Buffer) => record({ type: 'ping', data: d }));
    ws.on('pong', (d: Buffer) => record({ type: 'pong', data: d }));
    ws.on('close', (code: number, reason: string) => record({ type: 'close', code, reason: String(reason) }));
    ws.on('error', (error: Error) => record({ type: 'error', error }));
  })();
  opened.catch(() => {});

  return {
    events,
    opened,
    protocol: () => sock?.protocol() ?? '',
    extensions: () => sock?.extensions() ?? '',
    send: (d, binary) => sock?.send(d, binary),
    close: (c, r) => sock?.close(c, r),
    terminate: () => sock?.terminate(),
    async waitClose(ms) {
      const deadline = Date.now() + ms;
      for (let guard = 0; guard < 100_000; guard++) {
        if (events.some((e) => e.type === 'close')) return true;
        const left = deadline - Date.now();
        if (left <= 0) return false;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.min(left, 250));
          waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
      return false;
    },
  };
}
