import { Buffer } from 'node:buffer';
import { CloseCode, Opcode } from './opcodes.js';
import { ProtocolError, UsageError } from './errors.js';
import { FrameParser, type FrameParserOptions, type FrameRangeHandler } from './frame-parser.js';
import { encodeFrame, encodeHeader, encodeTextFrame, headerLength, writeHeader } from './frame-writer.js';
import { MessageAssembler, asProtocolError, joinPieces, type MessageSink } from './message-assembler.js';
import { MessageSlab } from './message-slab.js';
import type { OutputArena } from './output-arena.js';
import type { PreparedMessage } from './prepared-message.js';
import { applyMask } from './mask.js';
import { copyBytes } from './byte-copy.js';
import { buildClosePayload, parseClosePayload, type CloseInfo } from './close.js';
import type { Extension } from './extensions/extension.js';

/** Connection states (RFC 6455 section 4 and 7). */
export const State = { OPEN: 1, CLOSING: 2, CLOSED: 3 } as const;
export type State = (typeof State)[keyof typeof State];

/** One frame, as the frame-level API sees it. */
export interface Frame {
  fin: boolean;
  rsv: number;
  opcode: number;
  payload: Buffer;
}

/**
 * Where the core's results go. The core calls these synchronously from `receiveData` and
 * the send methods; it never touches a socket or a timer itself.
 */
export interface ProtocolSink extends MessageSink {
  /** Bytes to send, in order. Large payloads come by reference: they must not be changed. */
  output(data: Buffer): void;
  /**
   * With `outputArena`: frames built in place, `buf[start, end)` of an arena block, in
   * order with `output`. Consecutive ranges of one block often continue each other.
   */
  outputRange?(buf: Buffer, start: number, end: number): void;
  /** Frame-level API: every frame as received (only with `observeFrames`). */
  onFrame?(frame: Frame): void;
  onPing(data: Buffer): void;
  onPong(data: Buffer): void;
  /**
   * The peer started the close handshake. Return the code and reason to answer with, or
   * nothing to echo the peer's code (RFC 6455 section 5.5.1).
   */
  onCloseFrame?(code: number, reason: string): CloseInfo | void;
  /** The peer broke the protocol; a Close frame with `error.closeCode` has been written. */
  onError(error: ProtocolError): void;
  /**
   * The transport should close TCP once the bytes written so far are flushed: the close
   * handshake is complete on the server, or the connection failed (section 7.1.1, 7.1.7).
   */
  endTransport(): void;
}

export interface ProtocolOptions {
  role: 'server' | 'client';
  maxMessageBytes: number;
  maxFrameBytes: number;
  /** Negotiated extensions, in the order of the handshake response. */
  extensions?: Extension[];
  /** Client role: 4 fresh random bytes for each frame's mask. */
  maskKey?: () => Uint8Array;
  /** Deliver message pieces through `sink.onFragment` instead of assembling whole messages. */
  streamMessages?: boolean;
  /** Report every received frame through `sink.onFrame`. */
  observeFrames?: boolean;
  /** Messages smaller than this are sent uncompressed even when compression is negotiated. */
  compressThreshold?: number;
  /** Memory received messages are assembled in (default: one per options object). */
  messageSlab?: MessageSlab;
  /** Build small frames in place here; they reach the sink through `outputRange`. */
  outputArena?: OutputArena;
}

const EMPTY = Buffer.alloc(0);

// One parser configuration and one message slab per shared ProtocolOptions object.
const parserOptionsCache = new WeakMap<ProtocolOptions, FrameParserOptions>();
function parserOptions(o: ProtocolOptions): FrameParserOptions {
  let p = parserOptionsCache.get(o);
  if (!p) {
    p = { expectMasked: o.role === 'server', allowedRsv: 0, maxFrameBytes: Math.min(o.maxFrameBytes, o.maxMessageBytes) };
    parserOptionsCache.set(o, p);
  }
  return p;
}
const slabCache = new WeakMap<ProtocolOptions, MessageSlab>();
function messageSlab(o: ProtocolOptions): MessageSlab {
  if (o.messageSlab) return o.messageSlab;
  let s = slabCache.get(o);
  if (!s) slabCache.set(o, (s = new MessageSlab()));
  return s;
}
interface CloseRecords {
  sent: CloseInfo | null;
  received: CloseInfo | null;
  failure: ProtocolError | null;
}

/** Reads up to this size from a reused buffer are copied whole into message memory (see receiveData). */
const SMALL_READ = 4096;
/** A frame with at least this much payload still to come may be read straight into place. */
const LANDING_MIN = 4096;
/** Payloads at least this big are written as header + the caller's buffer, without a copy. */
const ZERO_COPY_THRESHOLD = 16 * 1024;

/**
 * The RFC 6455 engine for one connection after the opening handshake: bytes in, messages
 * and control events out; messages in, bytes out. Sans-I/O: the transport feeds it what
 * the socket reads and writes what it produces.
 */
export class ProtocolConnection implements FrameRangeHandler {
  #sink: ProtocolSink;
  /** Shared by every connection of a server: per-connection memory stays small. */
  #cfg: ProtocolOptions;
  #parser: FrameParser;
  #messageExt: Extension | null = null;
  #frameExt: Extension | null = null;
  /** The close handshake's records, made when it starts: an open connection holds none. */
  #close: CloseRecords | null = null;
  /**
   * The current frame's first byte (fin << 7 | rsv | opcode) in bits 0-7, the state in bits
   * 8-9, "sending a fragmented message" in bit 10: one field instead of five.
   */
  #bits = State.OPEN << 8;

  // current frame
  #frameLen = 0;
  #control: Buffer[] | null = null;
  /** The data frames of the current message become messages here; made with the first data frame. */
  #assembler: MessageAssembler | null = null;
  /** Frame-level API: pieces of the data frame being observed. */
  #observed: Buffer[] | null = null;
  #msgBytes = 0;
  /** Frame-scope extension: a transformed frame is decoded whole. */
  #framePieces: Buffer[] | null = null;

  get #head(): number {
    return this.#bits & 0xff;
  }
  set #head(v: number) {
    this.#bits = (this.#bits & ~0xff) | v;
  }
  get #state(): State {
    return ((this.#bits >>> 8) & 3) as State;
  }
  set #state(v: State) {
    this.#bits = (this.#bits & ~0x300) | (v << 8);
  }
  /** An outgoing fragmented message is in progress. */
  get #sendingFragments(): boolean {
    return (this.#bits & 0x400) !== 0;
  }
  set #sendingFragments(v: boolean) {
    this.#bits = v ? this.#bits | 0x400 : this.#bits & ~0x400;
  }
  get #closeSent(): CloseInfo | null {
    return this.#close?.sent ?? null;
  }
  set #closeSent(v: CloseInfo | null) {
    (this.#close ??= { sent: null, received: null, failure: null }).sent = v;
  }
  get #closeReceived(): CloseInfo | null {
    return this.#close?.received ?? null;
  }
  set #closeReceived(v: CloseInfo | null) {
    (this.#close ??= { sent: null, received: null, failure: null }).received = v;
  }
  get #failure(): ProtocolError | null {
    return this.#close?.failure ?? null;
  }
  set #failure(v: ProtocolError | null) {
    (this.#close ??= { sent: null, received: null, failure: null }).failure = v;
  }

  /**
   * `options` may be shared by many connections (the transport passes one object per
   * server); `extensions` are this connection's negotiated ones.
   */
  constructor(sink: ProtocolSink, options: ProtocolOptions, extensions: Extension[] | undefined = options.extensions) {
    this.#sink = sink;
    this.#cfg = options;
    if (options.role === 'client' && !options.maskKey) {
      throw new UsageError('ERR_MASK_SOURCE', 'a client connection needs a maskKey source');
    }
    let rsv = 0;
    if (extensions) {
      for (const ext of extensions) {
        rsv |= ext.rsvBits;
        if (ext.scope === 'message') this.#messageExt = ext;
        else this.#frameExt = ext;
      }
    }
    if (options.outputArena && !sink.outputRange) {
      throw new UsageError('ERR_OUTPUT_RANGE', 'a sink for a connection with an outputArena needs outputRange()');
    }
    this.#parser = new FrameParser(this, parserOptions(options), rsv);
  }

  #messages(): MessageAssembler {
    return (this.#assembler ??= new MessageAssembler(
      this.#sink,
      this.#messageExt,
      this.#cfg.streamMessages === true,
      this.#cfg.maxMessageBytes,
      messageSlab(this.#cfg),
    ));
  }

  get #opcode(): number {
    return this.#head & 0x0f;
  }
  get #fin(): boolean {
    return (this.#head & 0x80) !== 0;
  }
  get #rsv(): number {
    return this.#head & 0x70;
  }

  /** Client role: a fresh mask key per frame (the constructor checked there is a source). */
  get #maskKey(): (() => Uint8Array) | undefined {
    return this.#cfg.role === 'client' ? this.#cfg.maskKey : undefined;
  }

  get role(): 'server' | 'client' {
    return this.#cfg.role;
  }

  get #maxMessage(): number {
    return this.#cfg.maxMessageBytes;
  }

  get #threshold(): number {
    return this.#cfg.compressThreshold ?? this.#messageExt?.threshold ?? 1024;
  }

  get #frameThreshold(): number {
    return this.#cfg.compressThreshold ?? this.#frameExt?.threshold ?? 1024;
  }

  get state(): State {
    return this.#state;
  }
  get closeSent(): Readonly<CloseInfo> | null {
    return this.#closeSent;
  }
  get closeReceived(): Readonly<CloseInfo> | null {
    return this.#closeReceived;
  }
  get failure(): ProtocolError | null {
    return this.#failure;
  }
  /** After our Close frame went out and the peer's has not come: the transport arms a timer. */
  closeExpected(): boolean {
    return this.#closeSent !== null && this.#closeReceived === null && this.#failure === null;
  }

  // ---------------------------------------------------------------- receiving

  /**
   * Bytes from the peer: `chunk[0, length)`. `stable`: false when `chunk` is a read buffer
   * that the next read overwrites; what must outlive this call is then copied.
   */
  receiveData(chunk: Buffer, stable = true, length = chunk.length): void {
    if (!stable && length <= SMALL_READ) {
      // A short read is mostly whole small frames: one bulk copy into message memory makes
      // each of them a view of it, cheaper than copying message by message.
      const copy = messageSlab(this.#cfg).alloc(length);
      copyBytes(chunk, 0, length, copy, 0);
      this.#parser.push(copy, length, true);
      return;
    }
    this.#parser.push(chunk, length, stable);
  }

  /**
   * Where the next bytes from the peer should be read to, when they are the payload of a
   * data frame still at least `min` bytes from its end: a place in the message's own
   * memory, at most the rest of the frame. Null: read anywhere and use receiveData.
   */
  landingBuffer(min = LANDING_MIN): Buffer | null {
    if (this.#parser.remaining < min || this.#opcode >= 0x8 || this.#framePieces !== null) return null;
    if (this.#cfg.observeFrames && this.#sink.onFrame) return null;
    return this.#assembler?.landing(min) ?? null;
  }

  /** `n` bytes were read into `buf`, the last landingBuffer(), from its start. */
  receiveLanded(buf: Buffer, n: number): void {
    this.#parser.landed(buf, n);
  }

  /** TCP closed by the peer (or reset): nothing more will arrive. */
  receiveEof(): void {
    this.#parser.stop();
    this.#state = State.CLOSED;
  }

  onFrameStart(fin: boolean, rsv: number, opcode: number, length: number): boolean {
    this.#head = (fin ? 0x80 : 0) | rsv | opcode;
    this.#frameLen = length;
    if (opcode >= 0x8) {
      this.#control = null;
      return true;
    }
    const messageRsv = rsv & (this.#messageExt?.rsvBits ?? 0);
    if (opcode === Opcode.CONTINUATION) {
      if (!this.#assembler?.open) return this.#failWith('ERR_WS_UNEXPECTED_CONTINUATION', 'continuation frame without a message to continue');
      if (messageRsv) return this.#failWith('ERR_WS_RESERVED_BITS', 'RSV bit of a per-message extension set on a continuation frame');
    } else {
      if (this.#assembler?.open) return this.#failWith('ERR_WS_EXPECTED_CONTINUATION', 'new data frame before the previous message ended');
      this.#messages().begin(opcode, messageRsv);
      this.#msgBytes = 0;
    }
    this.#msgBytes += length;
    if (this.#msgBytes > this.#maxMessage) {
      return this.#failWith('ERR_WS_MESSAGE_TOO_BIG', `message exceeds ${this.#maxMessage} bytes`, CloseCode.MESSAGE_TOO_BIG);
    }
    const frameExt = this.#frameExt;
    if (frameExt && rsv & frameExt.rsvBits) this.#framePieces = [];
    else this.#assembler!.frameStart(length, fin);
    return true;
  }

  onFramePayload(data: Buffer, end: boolean): boolean {
    return this.onPayloadRange(data, 0, data.length, end, true);
  }

  onPayloadRange(buf: Buffer, start: number, end: number, frameEnd: boolean, stable: boolean): boolean {
    const opcode = this.#opcode;
    if (opcode >= 0x8) {
      if (!frameEnd) {
        // Control payloads are short and rare: their pieces are copied.
        (this.#control ??= []).push(Buffer.from(buf.subarray(start, end)));
        return true;
      }
      let payload: Buffer;
      if (this.#control) {
        this.#control.push(buf.subarray(start, end));
        payload = Buffer.concat(this.#control);
        this.#control = null;
      } else {
        payload = stable ? buf.subarray(start, end) : Buffer.from(buf.subarray(start, end));
      }
      return this.#onControl(opcode, payload);
    }
    // Checked before the frame is reported: whether a frame with invalid UTF-8 is reported
    // must not depend on where the socket's chunks happen to end.
    if (!this.#framePieces) {
      const bad = this.#assembler!.check(buf, start, end, frameEnd && this.#fin);
      if (bad !== null) return this.#fail(bad);
    }
    if (this.#cfg.observeFrames && this.#sink.onFrame) {
      // Frame-level API: report each data frame whole, as it was on the wire (unmasked).
      const data = buf.subarray(start, end);
      if (!frameEnd || this.#observed) (this.#observed ??= []).push(Buffer.from(data));
      if (frameEnd) {
        const payload = this.#observed ? joinPieces(this.#observed) : stable ? data : Buffer.from(data);
        this.#observed = null;
        this.#sink.onFrame({ fin: this.#fin, rsv: this.#rsv, opcode, payload });
      }
    }
    let failed: ProtocolError | null;
    if (this.#framePieces) {
      this.#framePieces.push(Buffer.from(buf.subarray(start, end)));
      if (!frameEnd) return true;
      const whole = joinPieces(this.#framePieces);
      this.#framePieces = null;
      let piece: Buffer;
      try {
        piece = this.#frameExt!.decode(whole, this.#rsv, this.#maxMessage - this.#msgBytes + this.#frameLen);
      } catch (err) {
        return this.#fail(asProtocolError(err));
      }
      const bad = this.#assembler!.check(piece, 0, piece.length, this.#fin);
      if (bad !== null) return this.#fail(bad);
      this.#assembler!.frameStart(piece.length, this.#fin);
      failed = this.#assembler!.pieceRange(piece, 0, piece.length, true, this.#fin, true);
    } else {
      failed = this.#assembler!.pieceRange(buf, start, end, frameEnd, this.#fin, stable);
    }
    return failed === null ? true : this.#fail(failed);
  }

  #onControl(opcode: number, payload: Buffer): boolean {
    if (this.#cfg.observeFrames && this.#sink.onFrame) this.#sink.onFrame({ fin: true, rsv: this.#rsv, opcode, payload });
    if (this.#rsv !== 0) return this.#failWith('ERR_WS_RESERVED_BITS', 'RSV bits set on a control frame');
    if (opcode === Opcode.PING) {
      // Answer pings until we have sent Close (section 5.5.2, 5.5.1: nothing after Close).
      if (this.#closeSent === null) this.#writeFrame(Opcode.PONG, payload, true, 0);
      this.#sink.onPing(payload);
      return true;
    }
    if (opcode === Opcode.PONG) {
      this.#sink.onPong(payload);
      return true;
    }
    // Close
    let info: CloseInfo;
    try {
      info = parseClosePayload(payload);
    } catch (err) {
      return this.#fail(asProtocolError(err));
    }
    this.#closeReceived = info;
    this.#parser.stop(); // section 1.4: after Close, no more data is read
    if (this.#closeSent === null) {
      let reply: CloseInfo | void = undefined;
      if (this.#sink.onCloseFrame) reply = this.#sink.onCloseFrame(info.code, info.reason);
      let body: Buffer;
      try {
        body = reply
          ? buildClosePayload(reply.code, reply.reason)
          : buildClosePayload(info.code === CloseCode.NO_STATUS_RCVD ? undefined : info.code);
      } catch {
        body = buildClosePayload(info.code === CloseCode.NO_STATUS_RCVD ? undefined : info.code);
      }
      this.#closeSent = reply ?? { code: info.code, reason: '' };
      this.#writeFrame(Opcode.CLOSE, body, true, 0);
    }
    this.#state = State.CLOSED;
    // The server closes TCP first (section 7.1.1); a client waits for the server to do it.
    if (this.#cfg.role === 'server') this.#sink.endTransport();
    return false;
  }

  #failWith(code: ConstructorParameters<typeof ProtocolError>[0], message: string, closeCode?: number): false {
    return this.#fail(new ProtocolError(code, message, closeCode));
  }

  onFrameError(error: ProtocolError): void {
    this.#fail(error);
  }

  /** Fail the connection (section 7.1.7): send Close with the error's code, then drop TCP. */
  #fail(error: ProtocolError): false {
    if (this.#failure || this.#state === State.CLOSED) return false;
    this.#failure = error;
    this.#parser.stop();
    this.#assembler?.reset();
    this.#framePieces = null;
    if (this.#closeSent === null) {
      this.#closeSent = { code: error.closeCode, reason: '' };
      this.#writeFrame(Opcode.CLOSE, buildClosePayload(error.closeCode), true, 0);
    }
    this.#state = State.CLOSED;
    this.#sink.onError(error);
    this.#sink.endTransport();
    return false;
  }

  /** Fail the connection for a reason found above the protocol (e.g. 1008, 1011). */
  fail(code: number, reason = ''): void {
    if (this.#state === State.CLOSED) return;
    if (this.#closeSent === null) this.close(code, reason);
    this.#failure = new ProtocolError('ERR_WS_EXTENSION', reason || `failed with ${code}`, code);
    this.#parser.stop();
    this.#state = State.CLOSED;
    this.#sink.endTransport();
  }

  // ---------------------------------------------------------------- sending

  /** Send a whole text message. Returns false when the connection no longer sends. */
  sendText(text: string): boolean {
    if (this.#state !== State.OPEN || this.#sendingFragments) return this.#refuseSend();
    const len = Buffer.byteLength(text);
    if (this.#messageExt && len >= this.#threshold) return this.#sendEncoded(Buffer.from(text), true);
    if (this.#frameExt) {
      this.#writeFrame(Opcode.TEXT, Buffer.from(text), true, 0);
      return true;
    }
    const mask = this.#maskKey ? this.#maskKey() : null;
    const arena = this.#cfg.outputArena;
    if (len < ZERO_COPY_THRESHOLD || mask) {
      if (arena) {
        const size = headerLength(len, mask !== null) + len;
        const at = arena.reserve(size);
        const b = arena.buf;
        const p = writeHeader(b, at, true, 0, Opcode.TEXT, len, mask);
        if (len) b.write(text, p, len, 'utf8');
        if (mask && len > 0) applyMask(b, mask, 0, p, p + len);
        this.#sink.outputRange!(b, at, at + size);
      } else {
        this.#sink.output(encodeTextFrame(text, len, true, 0, mask));
      }
    } else {
      this.#outputHeader(Opcode.TEXT, len, true, 0);
      this.#sink.output(Buffer.from(text));
    }
    return true;
  }

  /** Send a whole binary message. */
  sendBinary(data: Uint8Array): boolean {
    return this.sendBytes(data, false);
  }

  /** Send a whole message from bytes: binary, or text whose bytes the caller knows are UTF-8. */
  sendBytes(data: Uint8Array, isText: boolean): boolean {
    if (this.#state !== State.OPEN || this.#sendingFragments) return this.#refuseSend();
    const buf = toBuffer(data);
    if (this.#messageExt && buf.length >= this.#threshold) return this.#sendEncoded(buf, isText);
    this.#writeFrame(isText ? Opcode.TEXT : Opcode.BINARY, buf, true, 0);
    return true;
  }

  /**
   * Send one fragment of a message (section 5.4): the first call picks text or binary, the
   * call with `fin` ends it. Fragments are sent uncompressed.
   */
  sendFragment(data: Uint8Array | string, isBinary: boolean, fin: boolean): boolean {
    if (this.#state !== State.OPEN) return this.#refuseSend();
    const opcode = this.#sendingFragments ? Opcode.CONTINUATION : isBinary ? Opcode.BINARY : Opcode.TEXT;
    this.#sendingFragments = !fin;
    this.#writeFrame(opcode, typeof data === 'string' ? Buffer.from(data) : toBuffer(data), fin, 0);
    return true;
  }

  /** Frame-level API: send any frame as given (masked on the client). No rule is checked. */
  sendFrame(frame: { opcode: number; payload?: Uint8Array; fin?: boolean; rsv?: number }): boolean {
    if (this.#state === State.CLOSED) return this.#refuseSend();
    this.#writeFrame(frame.opcode, toBuffer(frame.payload ?? EMPTY), frame.fin ?? true, frame.rsv ?? 0);
    return true;
  }

  /**
   * Send a message framed once for many connections: its frame, or, when this connection's
   * message extension encodes statelessly and the message is big enough, the encoded frame
   * made once for every connection with the same parameters. Server role only.
   */
  sendPrepared(message: PreparedMessage): boolean {
    const ext = this.#messageExt;
    if (ext !== null && ext.sharedEncodingKey !== undefined && message.length >= this.#threshold) {
      return this.sendRaw(message.encodedFor(ext));
    }
    return this.sendRaw(message.frame);
  }

  /** Write an already framed message (a broadcast framed once). Server role only. */
  sendRaw(frame: Buffer): boolean {
    if (this.#state !== State.OPEN || this.#sendingFragments) return this.#refuseSend();
    if (this.#maskKey) throw new UsageError('ERR_RAW_ON_CLIENT', 'pre-framed messages are unmasked: server only');
    this.#sink.output(frame);
    return true;
  }

  sendPing(data: Uint8Array = EMPTY): boolean {
    return this.#sendControl(Opcode.PING, data);
  }

  sendPong(data: Uint8Array = EMPTY): boolean {
    return this.#sendControl(Opcode.PONG, data);
  }

  /** Start the close handshake (section 7.1.2). Throws UsageError for a code that may not be sent. */
  close(code?: number, reason = ''): void {
    const body = buildClosePayload(code, reason);
    if (this.#closeSent !== null || this.#state === State.CLOSED) return;
    this.#closeSent = { code: code ?? CloseCode.NO_STATUS_RCVD, reason };
    this.#state = State.CLOSING;
    this.#writeFrame(Opcode.CLOSE, body, true, 0);
  }

  #sendControl(opcode: number, data: Uint8Array): boolean {
    if (this.#closeSent !== null || this.#state === State.CLOSED) return this.#refuseSend();
    if (data.length > 125) throw new UsageError('ERR_CONTROL_TOO_LONG', 'control frame payload longer than 125 bytes');
    this.#writeFrame(opcode, toBuffer(data), true, 0);
    return true;
  }

  #sendEncoded(payload: Buffer, isText: boolean): boolean {
    const encoded = this.#messageExt!.encode(payload, isText);
    const opcode = isText ? Opcode.TEXT : Opcode.BINARY;
    if (encoded) this.#writeFrame(opcode, encoded.payload, true, encoded.rsv);
    else this.#writeFrame(opcode, payload, true, 0);
    return true;
  }

  #writeFrame(opcode: number, payload: Buffer, fin: boolean, rsv: number): void {
    if (this.#frameExt && opcode < 0x8 && payload.length >= this.#frameThreshold) {
      const enc = this.#frameExt.encode(payload, opcode === Opcode.TEXT);
      if (enc) {
        payload = enc.payload;
        rsv |= enc.rsv;
      }
    }
    const mask = this.#maskKey ? this.#maskKey() : null;
    const len = payload.length;
    if (mask || len < ZERO_COPY_THRESHOLD) {
      const arena = this.#cfg.outputArena;
      if (!arena) {
        this.#sink.output(encodeFrame(opcode, payload, fin, rsv, mask));
        return;
      }
      const size = headerLength(len, mask !== null) + len;
      const at = arena.reserve(size);
      const b = arena.buf;
      const p = writeHeader(b, at, fin, rsv, opcode, len, mask);
      copyBytes(payload, 0, len, b, p);
      if (mask && len > 0) applyMask(b, mask, 0, p, p + len);
      this.#sink.outputRange!(b, at, at + size);
    } else {
      this.#outputHeader(opcode, len, fin, rsv);
      this.#sink.output(payload);
    }
  }

  /** The header of a large unmasked frame whose payload follows by reference. */
  #outputHeader(opcode: number, len: number, fin: boolean, rsv: number): void {
    const arena = this.#cfg.outputArena;
    if (!arena) {
      this.#sink.output(encodeHeader(opcode, len, fin, rsv));
      return;
    }
    const size = headerLength(len, false);
    const at = arena.reserve(size);
    writeHeader(arena.buf, at, fin, rsv, opcode, len, null);
    this.#sink.outputRange!(arena.buf, at, at + size);
  }

  #refuseSend(): false {
    return false;
  }

  /** Release extension resources. */
  dispose(): void {
    this.#messageExt?.dispose();
    this.#frameExt?.dispose();
  }
}

function toBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
