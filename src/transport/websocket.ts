import { Buffer } from 'node:buffer';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { Http2Stream } from 'node:http2';
import {
  CloseCode,
  ProtocolConnection,
  type ProtocolOptions,
  State,
  prepareFrame,
  type Extension,
  type Frame,
  type ProtocolError,
  type ProtocolSink,
} from '../protocol/index.js';
import type { Limits } from './limits.js';
import { FlushQueue, type Flushable } from './flush-queue.js';
import type { DeadlineSweep } from './deadline-sweep.js';

/** What `send` did with a message (uWS SendStatus). */
export const SendStatus = {
  /** Queued for writing; the peer keeps up. */
  SENT: 0,
  /** Queued, but more than the high-water mark is now waiting: slow down until 'drain'. */
  BACKPRESSURE: 1,
  /** Not sent: the connection is closing, or the slow-consumer policy dropped it. */
  DROPPED: 2,
} as const;
export type SendStatus = (typeof SendStatus)[keyof typeof SendStatus];

export const ReadyState = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 } as const;

/** A message framed once, to be written as the same bytes to many connections. */
export class PreparedMessage {
  readonly frame: Buffer;
  readonly data: string | Uint8Array;
  readonly binary: boolean;
  constructor(data: string | Uint8Array, binary: boolean) {
    this.data = data;
    this.binary = binary;
    this.frame = prepareFrame(data, binary);
  }
}

export function prepareMessage(data: string | Uint8Array, binary = typeof data !== 'string'): PreparedMessage {
  return new PreparedMessage(data, binary);
}

/**
 * What every connection of one server (or one client) shares. Built once, so a connection
 * holds one pointer to it instead of copies of each setting.
 */
export interface WebSocketShared {
  limits: Limits;
  flushQueue: FlushQueue;
  /** The protocol core's configuration (role, limits, flags, mask source). */
  protocol: ProtocolOptions;
  /** Called once when a connection is closed (the server untracks it). */
  onClosed?: (ws: WebSocket) => void;
  /** pywebsocket's passive closing handshake: choose the reply to a peer's Close. */
  onCloseFrame?: (ws: WebSocket, code: number, reason: string) => { code: number; reason: string } | void;
  /** Close-handshake deadlines swept by the server (without it: a timer per closing connection). */
  deadlines?: DeadlineSweep;
}

/** Build the shared part for a server's or a client's connections. */
export function sharedConfig(o: {
  role: 'server' | 'client';
  limits: Limits;
  flushQueue: FlushQueue;
  maskKey?: () => Uint8Array;
  streamMessages?: boolean;
  observeFrames?: boolean;
  onClosed?: WebSocketShared['onClosed'];
  onCloseFrame?: WebSocketShared['onCloseFrame'];
  deadlines?: DeadlineSweep;
}): WebSocketShared {
  const protocol: ProtocolOptions = {
    role: o.role,
    maxMessageBytes: o.limits.maxMessageBytes,
    maxFrameBytes: o.limits.maxFrameBytes,
    streamMessages: o.streamMessages === true,
    observeFrames: o.observeFrames === true,
  };
  if (o.maskKey) protocol.maskKey = o.maskKey;
  const shared: WebSocketShared = { limits: o.limits, flushQueue: o.flushQueue, protocol };
  if (o.onClosed) shared.onClosed = o.onClosed;
  if (o.onCloseFrame) shared.onCloseFrame = o.onCloseFrame;
  if (o.deadlines) shared.deadlines = o.deadlines;
  return shared;
}

export interface WebSocketEvents {
  open: [];
  message: [data: Buffer, isBinary: boolean];
  fragment: [data: Buffer, isBinary: boolean, fin: boolean];
  frame: [frame: Frame];
  close: [code: number, reason: string];
  error: [error: Error];
  ping: [data: Buffer];
  pong: [data: Buffer];
  drain: [];
}

/**
 * What carries a connection's bytes: a TCP/TLS socket (HTTP/1.1 Upgrade) or an HTTP/2
 * stream (RFC 8441 extended CONNECT). Only this module and the handshake code tell them
 * apart; the protocol engine and the app see the same WebSocket either way.
 */
export type Carrier = Socket | Http2Stream;

/**
 * Bytes queued for a group of connections that share one carrier below them (the streams
 * of one HTTP/2 connection): over its limit, each of them applies its slow-consumer policy.
 */
export interface SendBudget {
  exceeded(): boolean;
}

const kWs = Symbol('switchboard.websocket');
type OwnedSocket = Carrier & { [kWs]?: WebSocket };

/**
 * One WebSocket connection over a socket, on either side. It pumps socket bytes through
 * the sans-I/O protocol core, coalesces everything sent in one event-loop turn into one
 * write, and applies the backpressure policy. Socket handlers are shared functions that
 * find their WebSocket through a symbol, so an idle connection costs no closures.
 */
export class WebSocket extends EventEmitter<WebSocketEvents> implements ProtocolSink, Flushable {
  readonly protocol: string;
  readonly extensions: string;
  /** Free slot for the application (set from a handshake hook's `context`). */
  context: unknown = undefined;
  #socket: OwnedSocket;
  #proto: ProtocolConnection;
  #shared: WebSocketShared;
  readonly #budget: SendBudget | undefined;
  #out: Buffer | Buffer[] | null = null;
  #outBytes = 0;
  #readyState: number = ReadyState.OPEN;
  /** A timer, or true when the server's deadline sweep holds the deadline. */
  #closeTimer: NodeJS.Timeout | true | null = null;
  #ending = false;
  #watchingDrain = false;
  /** Heartbeat: set by inbound traffic, cleared by each sweep. */
  alive = true;
  /** Heartbeat: a ping went out and nothing came back yet. */
  awaitingPong = false;

  constructor(socket: Carrier, shared: WebSocketShared, protocol = '', extensions: Extension[] = [], budget?: SendBudget) {
    super();
    this.#socket = socket as OwnedSocket;
    this.#shared = shared;
    this.#budget = budget;
    this.protocol = protocol;
    this.extensions = extensions.length ? extensions.map((e) => e.response).join(', ') : '';
    this.#proto = new ProtocolConnection(this, shared.protocol, extensions.length ? extensions : undefined);
    const s = this.#socket;
    s[kWs] = this;
    // Sockets from an http.Server (and HTTP/2 streams) are half-open capable: a peer's FIN
    // (END_STREAM) would leave them open forever. A WebSocket has no use for half-open
    // transport, so let Node end our side too.
    s.allowHalfOpen = false;
    if ('setNoDelay' in s) s.setNoDelay(true);
    s.on('data', onSocketData);
    s.on('close', onSocketClose);
    s.on('error', onSocketError);
  }

  /** Bytes from the socket that arrived with the handshake. */
  receive(data: Buffer): void {
    this.alive = true;
    this.#proto.receiveData(data);
  }

  get readyState(): number {
    return this.#readyState;
  }

  /** Bytes queued and not yet handed to the kernel. */
  get bufferedAmount(): number {
    return this.#outBytes + this.#socket.writableLength;
  }

  get remoteAddress(): string | undefined {
    const s = this.#socket;
    return 'session' in s ? s.session?.socket?.remoteAddress : s.remoteAddress;
  }

  // ------------------------------------------------------------------ sending

  /** Send a message: strings as text, bytes as binary (override with `binary`). */
  send(data: string | Uint8Array | ArrayBuffer, options?: { binary?: boolean }): SendStatus {
    const gate = this.#admit();
    if (gate !== SendStatus.SENT) return gate;
    let ok: boolean;
    if (typeof data === 'string') {
      ok = options?.binary ? this.#proto.sendBinary(Buffer.from(data)) : this.#proto.sendText(data);
    } else {
      const bytes = data instanceof ArrayBuffer ? Buffer.from(data) : data;
      ok = this.#proto.sendBytes(bytes, options?.binary === false);
    }
    return ok ? this.#status() : SendStatus.DROPPED;
  }

  /** Send a message framed once by `prepareMessage` (fan-out). */
  sendPrepared(message: PreparedMessage): SendStatus {
    const gate = this.#admit();
    if (gate !== SendStatus.SENT) return gate;
    if (this.#proto.role === 'client') return this.send(message.data, { binary: message.binary });
    return this.#proto.sendRaw(message.frame) ? this.#status() : SendStatus.DROPPED;
  }

  /** Streaming send: one fragment of a message; the call with `fin` ends it. */
  sendFragment(data: string | Uint8Array, options: { binary?: boolean; fin: boolean }): SendStatus {
    const gate = this.#admit();
    if (gate !== SendStatus.SENT) return gate;
    return this.#proto.sendFragment(data, options.binary === true, options.fin) ? this.#status() : SendStatus.DROPPED;
  }

  /** Frame-level API: send any frame exactly as given. */
  sendFrame(frame: { opcode: number; payload?: Uint8Array; fin?: boolean; rsv?: number }): SendStatus {
    return this.#proto.sendFrame(frame) ? this.#status() : SendStatus.DROPPED;
  }

  ping(data?: string | Uint8Array): void {
    this.#proto.sendPing(typeof data === 'string' ? Buffer.from(data) : data);
  }

  pong(data?: string | Uint8Array): void {
    this.#proto.sendPong(typeof data === 'string' ? Buffer.from(data) : data);
  }

  /** Start the close handshake; TCP closes when the peer answers or after closeTimeoutMs. */
  close(code?: number, reason?: string): void {
    if (this.#readyState >= ReadyState.CLOSING) return;
    this.#proto.close(code ?? CloseCode.NORMAL_CLOSURE, reason ?? '');
    this.#readyState = ReadyState.CLOSING;
    this.#armCloseTimer();
  }

  /** Drop the connection now, without a close handshake. */
  terminate(): void {
    this.#out = null;
    this.#outBytes = 0;
    this.#socket.destroy();
  }

  /** Apply the slow-consumer policy before queueing another message. */
  #admit(): SendStatus {
    if (this.#readyState !== ReadyState.OPEN) return SendStatus.DROPPED;
    // What the kernel would not take in earlier turns measures a slow reader; bytes queued
    // in this turn are the caller's own burst and show up in the returned status instead.
    if (this.#socket.writableLength <= this.#shared.limits.highWaterMark && this.#budget?.exceeded() !== true) return SendStatus.SENT;
    if (this.#shared.limits.slowConsumer === 'drop') return SendStatus.DROPPED;
    this.#failSlowConsumer();
    return SendStatus.DROPPED;
  }

  #status(): SendStatus {
    return this.#outBytes + this.#socket.writableLength > this.#shared.limits.highWaterMark ? SendStatus.BACKPRESSURE : SendStatus.SENT;
  }

  #failSlowConsumer(): void {
    this.#emitError(new Error('slow consumer: send buffer above highWaterMark'));
    // Whatever is queued will not reach a peer that stopped reading: drop it, say why, go.
    this.#out = null;
    this.#outBytes = 0;
    this.#proto.fail(CloseCode.POLICY_VIOLATION, 'slow consumer');
    this.#readyState = ReadyState.CLOSING;
  }

  // ------------------------------------------------------------- ProtocolSink

  /** @internal protocol output */
  output(data: Buffer): void {
    const out = this.#out;
    if (out === null) {
      this.#out = data;
      this.#shared.flushQueue.add(this);
    } else if (Array.isArray(out)) {
      out.push(data);
    } else {
      this.#out = [out, data];
    }
    this.#outBytes += data.length;
  }

  /** Write everything queued this turn: one buffer, or one writev for large payloads. */
  flush(): void {
    const out = this.#out;
    if (out === null) return;
    const n = this.#outBytes;
    this.#out = null;
    this.#outBytes = 0;
    const s = this.#socket;
    if (s.destroyed) return;
    let flowing: boolean;
    if (!Array.isArray(out)) {
      flowing = s.write(out);
    } else if (n <= 65536) {
      flowing = s.write(Buffer.concat(out, n));
    } else {
      s.cork();
      for (let i = 0; i < out.length; i++) s.write(out[i]!);
      s.uncork();
      flowing = s.writableLength === 0;
    }
    // Watch the socket's 'drain' only once it has pushed back: idle connections carry no listener.
    if (!flowing && !this.#watchingDrain) {
      this.#watchingDrain = true;
      s.on('drain', onSocketDrain);
    }
    if (this.#ending) s.end();
  }

  /** @internal */
  onMessage(data: Buffer, isBinary: boolean): void {
    this.emit('message', data, isBinary);
  }

  /** @internal */
  onFragment(data: Buffer, isBinary: boolean, fin: boolean): void {
    this.emit('fragment', data, isBinary, fin);
  }

  /** @internal */
  onFrame(frame: Frame): void {
    this.emit('frame', frame);
  }

  /** @internal */
  onPing(data: Buffer): void {
    this.emit('ping', data);
  }

  /** @internal */
  onPong(data: Buffer): void {
    this.emit('pong', data);
  }

  /** @internal */
  onCloseFrame(code: number, reason: string): { code: number; reason: string } | void {
    this.#readyState = ReadyState.CLOSING;
    const choose = this.#shared.onCloseFrame;
    return choose ? choose(this, code, reason) : undefined;
  }

  /** @internal */
  onError(error: ProtocolError): void {
    this.#emitError(error);
  }

  /** Errors are reported to listeners; with none, a peer's misbehaviour must not crash the process. */
  #emitError(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  static reportError(ws: WebSocket, error: Error): void {
    ws.#emitError(error);
  }

  /** @internal */
  endTransport(): void {
    this.#readyState = ReadyState.CLOSING;
    this.#ending = true;
    if (this.#out === null) this.#socket.end();
    // The peer may never close its side: do not wait forever.
    this.#armCloseTimer();
  }

  #armCloseTimer(): void {
    const ms = this.#shared.limits.closeTimeoutMs;
    if (this.#closeTimer || ms === 0) return;
    const sweep = this.#shared.deadlines;
    if (sweep) {
      sweep.arm(this.#socket, ms);
      this.#closeTimer = true;
    } else {
      const t = setTimeout(() => this.#socket.destroy(), ms);
      t.unref();
      this.#closeTimer = t;
    }
  }

  // ---------------------------------------------------------- socket events

  static onData(ws: WebSocket, chunk: Buffer): void {
    ws.alive = true;
    ws.awaitingPong = false;
    ws.#proto.receiveData(chunk);
    if (ws.#proto.state === State.CLOSED && ws.#proto.role === 'client' && !ws.#ending) {
      // Close handshake done: the server closes TCP first; wait for it, not forever.
      ws.#armCloseTimer();
    }
  }

  static onClose(ws: WebSocket): void {
    if (ws.#readyState === ReadyState.CLOSED) return;
    ws.#readyState = ReadyState.CLOSED;
    const timer = ws.#closeTimer;
    if (timer === true) ws.#shared.deadlines!.disarm(ws.#socket);
    else if (timer) clearTimeout(timer);
    ws.#proto.receiveEof();
    ws.#proto.dispose();
    const received = ws.#proto.closeReceived;
    const failure = ws.#proto.failure;
    let code: number = CloseCode.ABNORMAL_CLOSURE;
    let reason = '';
    if (received) {
      code = received.code;
      reason = received.reason;
    } else if (failure) {
      code = failure.closeCode;
      reason = failure.message;
    }
    ws.#shared.onClosed?.(ws);
    ws.emit('close', code, reason);
  }

  static onDrain(ws: WebSocket): void {
    if (ws.#out === null) ws.emit('drain');
  }

}

function onSocketData(this: OwnedSocket, chunk: Buffer): void {
  WebSocket.onData(this[kWs]!, chunk);
}
function onSocketClose(this: OwnedSocket): void {
  WebSocket.onClose(this[kWs]!);
}
function onSocketError(this: OwnedSocket, err: Error): void {
  const ws = this[kWs]!;
  // ECONNRESET after a close is the peer being quick, not a problem worth reporting.
  if (ws.readyState === ReadyState.OPEN) WebSocket.reportError(ws, err);
}
function onSocketDrain(this: OwnedSocket): void {
  WebSocket.onDrain(this[kWs]!);
}
