import { Buffer } from 'node:buffer';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { Http2Stream } from 'node:http2';
import {
  CloseCode,
  ProtocolConnection,
  type ProtocolOptions,
  State,
  PreparedMessage,
  prepareMessage,
  type Extension,
  type Frame,
  type ProtocolError,
  type ProtocolSink,
} from '../protocol/index.js';
import type { Limits } from './limits.js';
import { FlushQueue, type Flushable } from './flush-queue.js';
import type { DeadlineSweep } from './deadline-sweep.js';
import { kReader, readDirect, type DirectReader } from './direct-reads.js';
import type { ReadMemory } from './read-memory.js';

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

export { PreparedMessage, prepareMessage };

/**
 * What every connection of one server (or one client) shares. Built once, so a connection
 * holds one pointer to it instead of copies of each setting.
 */
export interface WebSocketShared {
  limits: Limits;
  flushQueue: FlushQueue;
  /** Read buffer and message memory of these connections; null: Node's own reads ('data'). */
  reads: ReadMemory | null;
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
  reads: ReadMemory;
  /** False: keep Node's 'data' events even where reads could land in our memory. */
  directReads?: boolean;
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
    messageSlab: o.reads.slab,
    outputArena: o.flushQueue.arena,
  };
  if (o.maskKey) protocol.maskKey = o.maskKey;
  const shared: WebSocketShared = { limits: o.limits, flushQueue: o.flushQueue, reads: o.directReads === false ? null : o.reads, protocol };
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

/** The socket's slot for its WebSocket: the one direct reads use too. */
const kWs = kReader;
/** EventEmitter's listener table (see the constructor: a fast object this class made). */
interface Listeners {
  _events: { message?: ((this: WebSocket, data: Buffer, isBinary: boolean) => void) | unknown[] };
}
const ENDING = 1;
const WATCHING_DRAIN = 2;
const ALIVE = 4;
const AWAITING_PONG = 8;
/** Queued pieces totalling at most this are joined into one buffer rather than written with writev. */
const JOIN_LIMIT = 16 * 1024;
type OwnedSocket = Carrier & { [kWs]?: WebSocket | DirectReader };

/**
 * One WebSocket connection over a socket, on either side. It pumps socket bytes through
 * the sans-I/O protocol core, coalesces everything sent in one event-loop turn into one
 * write, and applies the backpressure policy. Socket handlers are shared functions that
 * find their WebSocket through a symbol, so an idle connection costs no closures.
 *
 * Reads: where Node allows (plain TCP), the socket reads into the server's shared read
 * buffer, or, while a large frame is arriving, straight into the memory its message is
 * assembled in (see direct-reads.ts); elsewhere Node's 'data' chunks are used.
 * Writes: small frames are built in the flush queue's OutputArena and one turn's frames of
 * a connection leave as one write; large payloads go out by reference beside their header
 * through one writev.
 */
export class WebSocket extends EventEmitter<WebSocketEvents> implements ProtocolSink, Flushable, DirectReader {
  /** The negotiated subprotocol and extensions, when there are any (most connections: none). */
  #negotiated: { protocol: string; extensions: string } | null = null;
  /** Free slot for the application (set from a handshake hook's `context`). */
  context: unknown = undefined;
  #socket: OwnedSocket;
  #proto: ProtocolConnection;
  #shared: WebSocketShared;
  /** The send budget of the HTTP/2 connection under this stream; null over a socket of its own. */
  readonly #budget: SendBudget | null;
  /** Queued output, in order, before the open arena range. */
  #out: Buffer | Buffer[] | null = null;
  /** The last queued bytes when they are an arena range that the next one may extend. */
  #openBuf: Buffer | null = null;
  #openStart = 0;
  #openEnd = 0;

  /** A timer, or true when the server's deadline sweep holds the deadline. */
  #closeTimer: NodeJS.Timeout | true | null = null;
  /** ENDING | WATCHING_DRAIN | ALIVE | AWAITING_PONG, and the ready state in bits 4-5: one field, an idle connection stays small. */
  #flags = ALIVE | (ReadyState.OPEN << 4);

  get #readyState(): number {
    return (this.#flags >>> 4) & 3;
  }
  set #readyState(v: number) {
    this.#flags = (this.#flags & ~0x30) | (v << 4);
  }
  /** The place in a message's memory the next read was told to land in (see readTarget). */
  #landing: Buffer | null = null;

  /** Heartbeat: set by inbound traffic, cleared by each sweep. */
  get alive(): boolean {
    return (this.#flags & ALIVE) !== 0;
  }
  set alive(v: boolean) {
    this.#flags = v ? this.#flags | ALIVE : this.#flags & ~ALIVE;
  }
  /** The silence after which the heartbeat pings this connection, then drops it (0 = never). */
  get idleTimeoutMs(): number {
    return this.#shared.limits.idleTimeoutMs;
  }
  /** Heartbeat: a ping went out and nothing came back yet. */
  get awaitingPong(): boolean {
    return (this.#flags & AWAITING_PONG) !== 0;
  }
  set awaitingPong(v: boolean) {
    this.#flags = v ? this.#flags | AWAITING_PONG : this.#flags & ~AWAITING_PONG;
  }
  get #ending(): boolean {
    return (this.#flags & ENDING) !== 0;
  }
  set #ending(v: boolean) {
    this.#flags = v ? this.#flags | ENDING : this.#flags & ~ENDING;
  }
  get #watchingDrain(): boolean {
    return (this.#flags & WATCHING_DRAIN) !== 0;
  }
  set #watchingDrain(v: boolean) {
    this.#flags = v ? this.#flags | WATCHING_DRAIN : this.#flags & ~WATCHING_DRAIN;
  }

  /**
   * `head`: the handshake response, written before anything else the connection sends (an
   * HTTP/2 stream has had its response already). `budget`: the HTTP/2 connection's, for a stream.
   */
  constructor(socket: Carrier, shared: WebSocketShared, protocol = '', extensions: Extension[] = [], head?: string, budget?: SendBudget) {
    super();
    // EventEmitter gives every emitter a null-prototype listener table in dictionary mode
    // (about 200 bytes per connection); an empty null-prototype object made this way stays a
    // fast object as listeners are added, the way Node's own streams keep theirs.
    (this as unknown as { _events: object })._events = Object.setPrototypeOf({}, null);
    this.#socket = socket as OwnedSocket;
    this.#shared = shared;
    this.#budget = budget ?? null;
    if (protocol || extensions.length) {
      this.#negotiated = { protocol, extensions: extensions.length ? extensions.map((e) => e.response).join(', ') : '' };
    }
    this.#proto = new ProtocolConnection(this, shared.protocol, extensions.length ? extensions : undefined);
    if (head !== undefined) {
      const arena = shared.flushQueue.arena;
      const n = Buffer.byteLength(head);
      const at = arena.reserve(n);
      arena.buf.write(head, at, n, 'utf8');
      this.outputRange(arena.buf, at, at + n);
    }
    const s = this.#socket;
    s[kWs] = this;
    // Sockets from an http.Server (and HTTP/2 streams) are half-open capable: a peer's FIN
    // (END_STREAM) would leave them open forever. A WebSocket has no use for half-open
    // transport, so let Node end our side too.
    s.allowHalfOpen = false;
    if ('setNoDelay' in s) s.setNoDelay(true);
    // An HTTP/2 stream has no handle of its own to read into: readDirect declines it.
    if (!(shared.reads && readDirect(s as Socket, this))) s.on('data', onSocketData);
    s.on('close', onSocketClose);
    if (s.listenerCount('error', onSocketError) === 0) s.on('error', onSocketError);
  }

  /** Bytes from the socket that arrived with the handshake. */
  receive(data: Buffer): void {
    this.alive = true;
    this.#proto.receiveData(data);
  }

  get readyState(): number {
    return this.#readyState;
  }

  /** The subprotocol the server chose ('' for none). */
  get protocol(): string {
    return this.#negotiated?.protocol ?? '';
  }

  /** The extensions in force, as in the handshake response ('' for none). */
  get extensions(): string {
    return this.#negotiated?.extensions ?? '';
  }

  /** Bytes queued and not yet handed to the kernel. */
  get bufferedAmount(): number {
    return this.#queued() + this.#socket.writableLength;
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
    return this.#proto.sendPrepared(message) ? this.#status() : SendStatus.DROPPED;
  }

  /** @internal fan-out: queue a prepared message; true when it was (no send status to work out). */
  deliver(message: PreparedMessage): boolean {
    if (this.#admit() !== SendStatus.SENT) return false;
    if (this.#proto.role === 'client') return this.send(message.data, { binary: message.binary }) !== SendStatus.DROPPED;
    return this.#proto.sendPrepared(message);
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
    this.#dropOutput();
    this.#socket.destroy();
  }

  #dropOutput(): void {
    this.#out = null;
    this.#openBuf = null;
  }

  /** Apply the slow-consumer policy before queueing another message. */
  #admit(): SendStatus {
    if (this.#readyState !== ReadyState.OPEN) return SendStatus.DROPPED;
    // What the kernel would not take in earlier turns measures a slow reader; bytes queued
    // in this turn are the caller's own burst and show up in the returned status instead.
    const budget = this.#budget;
    if (this.#socket.writableLength <= this.#shared.limits.highWaterMark && (budget === null || !budget.exceeded())) return SendStatus.SENT;
    if (this.#shared.limits.slowConsumer === 'drop') return SendStatus.DROPPED;
    this.#failSlowConsumer();
    return SendStatus.DROPPED;
  }

  #status(): SendStatus {
    return this.#queued() + this.#socket.writableLength > this.#shared.limits.highWaterMark ? SendStatus.BACKPRESSURE : SendStatus.SENT;
  }

  #failSlowConsumer(): void {
    this.#emitError(new Error('slow consumer: send buffer above highWaterMark'));
    // Whatever is queued will not reach a peer that stopped reading: drop it, say why, go.
    this.#dropOutput();
    this.#proto.fail(CloseCode.POLICY_VIOLATION, 'slow consumer');
    this.#readyState = ReadyState.CLOSING;
  }

  // ------------------------------------------------------------- ProtocolSink

  /** @internal protocol output: bytes by reference. */
  output(data: Buffer): void {
    const open = this.#openBuf;
    if (open !== null) {
      this.#queue(open.subarray(this.#openStart, this.#openEnd));
      this.#openBuf = null;
    } else if (this.#out === null) {
      this.#shared.flushQueue.add(this);
    }
    this.#queue(data);
  }

  /** @internal protocol output: frames built in the arena. */
  outputRange(buf: Buffer, start: number, end: number): void {
    const open = this.#openBuf;
    if (open === buf && this.#openEnd === start) {
      this.#openEnd = end;
    } else {
      if (open !== null) this.#queue(open.subarray(this.#openStart, this.#openEnd));
      else if (this.#out === null) this.#shared.flushQueue.add(this);
      this.#openBuf = buf;
      this.#openStart = start;
      this.#openEnd = end;
    }
  }

  /** Bytes queued this turn, not yet handed to the socket (counted when asked: a field less per connection). */
  #queued(): number {
    let n = this.#openBuf === null ? 0 : this.#openEnd - this.#openStart;
    const out = this.#out;
    if (out === null) return n;
    if (!Array.isArray(out)) return n + out.length;
    for (let i = 0; i < out.length; i++) n += out[i]!.length;
    return n;
  }

  #queue(data: Buffer): void {
    const out = this.#out;
    if (out === null) this.#out = data;
    else if (Array.isArray(out)) out.push(data);
    else this.#out = [out, data];
  }

  /**
   * Write everything queued this turn: one buffer, or one writev when large payloads are
   * in it. True when the kernel took it all at once (nothing of it is still referenced).
   */
  flush(): boolean {
    let out = this.#out;
    const open = this.#openBuf;
    if (out === null && open === null) return true;
    if (open !== null) {
      const tail = open.subarray(this.#openStart, this.#openEnd);
      if (out === null) out = tail;
      else if (Array.isArray(out)) out.push(tail);
      else out = [out, tail];
    }
    this.#dropOutput();
    const s = this.#socket;
    if (s.destroyed) return true;
    let flowing: boolean;
    let n = 0;
    if (Array.isArray(out)) for (let i = 0; i < out.length; i++) n += out[i]!.length;
    if (!Array.isArray(out)) {
      flowing = s.write(out!);
    } else if (n <= JOIN_LIMIT) {
      // A few small pieces (say a prepared frame beside a direct send): one copy, one write.
      const arena = this.#shared.flushQueue.joins;
      const at = arena.reserve(n);
      const b = arena.buf;
      let p = at;
      for (let i = 0; i < out.length; i++) {
        b.set(out[i]!, p);
        p += out[i]!.length;
      }
      flowing = s.write(b.subarray(at, p));
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
    if (this.#ending) this.#closeTcp();
    return s.writableLength === 0;
  }

  // --------------------------------------------------------------- DirectReader

  /** @internal where the next read lands: the frame's own memory, or the shared read buffer. */
  readTarget(): Buffer {
    return (this.#landing = this.#proto.landingBuffer()) ?? this.#shared.reads!.buffer;
  }

  /** @internal */
  onRead(n: number, buf: Buffer): void {
    this.#flags = (this.#flags | ALIVE) & ~AWAITING_PONG;
    if (buf === this.#landing) this.#proto.receiveLanded(buf, n);
    else this.#proto.receiveData(buf, false, n);
    this.#afterReceive();
  }

  /** @internal */
  onMessage(data: Buffer, isBinary: boolean): void {
    // The common case, one listener: called directly, without emit()'s argument array per
    // message. Anything else (several listeners, rejection capture) goes through emit().
    const listener = (this as unknown as Listeners)._events.message;
    if (typeof listener === 'function' && !EventEmitter.captureRejections) listener.call(this, data, isBinary);
    else if (listener !== undefined) this.emit('message', data, isBinary);
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
    if (this.#out === null && this.#openBuf === null) this.#closeTcp();
    // The peer may never close its side: do not wait forever.
    this.#armCloseTimer();
  }

  /**
   * Close our side of TCP once what we wrote is out. After a complete close handshake
   * (both Close frames exchanged) the peer may send nothing more, so when the kernel has
   * taken everything the socket is closed at once: the FIN still follows our Close frame,
   * and waiting for the peer's FIN only cost a wake-up and the stream's end-of-input path.
   * Otherwise (a failure, or writes still queued) end() and wait, with the close timer.
   */
  #closeTcp(): void {
    const s = this.#socket;
    if (s.writableLength === 0 && this.#proto.closeReceived !== null && this.#proto.closeSent !== null && this.#proto.failure === null) {
      s.destroy();
    } else {
      s.end();
    }
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
    ws.#flags = (ws.#flags | ALIVE) & ~AWAITING_PONG;
    ws.#proto.receiveData(chunk);
    ws.#afterReceive();
  }

  #afterReceive(): void {
    if (this.#proto.state === State.CLOSED && this.#proto.role === 'client' && !this.#ending) {
      // Close handshake done: the server closes TCP first; wait for it, not forever.
      this.#armCloseTimer();
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
    if (ws.#out === null && ws.#openBuf === null) ws.emit('drain');
  }

}

function onSocketData(this: OwnedSocket, chunk: Buffer): void {
  WebSocket.onData(this[kWs] as WebSocket, chunk);
}
function onSocketClose(this: OwnedSocket): void {
  WebSocket.onClose(this[kWs] as WebSocket);
}
/**
 * A socket's error listener from accept to close: before the upgrade (no WebSocket in the
 * slot yet) an error just drops the socket; after it, the WebSocket reports it. Installed
 * once, it never has to be removed (removing a listener turns the socket's listener table
 * into a slow dictionary, a few hundred bytes per connection).
 */
export function onSocketError(this: OwnedSocket, err: Error): void {
  const ws = this[kWs];
  if (!(ws instanceof WebSocket)) {
    this.destroy();
    return;
  }
  // ECONNRESET after a close is the peer being quick, not a problem worth reporting.
  if (ws.readyState === ReadyState.OPEN) WebSocket.reportError(ws, err);
}
function onSocketDrain(this: OwnedSocket): void {
  WebSocket.onDrain(this[kWs] as WebSocket);
}
