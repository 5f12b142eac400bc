import { Buffer } from 'node:buffer';
import { CloseCode, Opcode } from './opcodes.js';
import { ProtocolError } from './errors.js';
import { Utf8Validator } from './utf8.js';
import type { Extension } from './extensions/extension.js';

/** Where a finished message (or, when streaming, each piece of one) goes. */
export interface MessageSink {
  /** A complete message (after assembly, decompression and UTF-8 validation). */
  onMessage(data: Buffer, isBinary: boolean): void;
  /** Streaming receive: message pieces as they arrive (only with `streamMessages`). */
  onFragment?(data: Buffer, isBinary: boolean, fin: boolean): void;
}

const EMPTY = Buffer.alloc(0);

/**
 * Turns the data frames of one message into what the sink receives: the whole message, or
 * its pieces as they arrive when streaming. Text is checked as UTF-8 piece by piece (fail
 * fast, RFC 6455 section 8.1); a compressed message is inflated by the message extension,
 * frame by frame when the extension can, so size and UTF-8 limits bite mid-message.
 * Wire-level rules (opcode sequence, frame sizes) stay with the connection.
 */
export class MessageAssembler {
  readonly #sink: MessageSink;
  readonly #ext: Extension | null;
  readonly #stream: boolean;
  readonly #maxBytes: number;
  /** 0 = no message in progress. */
  #opcode = 0;
  /** The message extension's RSV bits on the first frame: 0 = not compressed. */
  #rsv = 0;
  #utf8: Utf8Validator | null = null;
  /** Pieces of the message so far (compressed or plain). */
  #pieces: Buffer[] | null = null;
  /** Compressed and fragmented, for an extension that decodes only whole messages. */
  #compressed: Buffer[] | null = null;
  /** Compressed and fragmented: what the frames so far inflated to. */
  #plain: Buffer[] | null = null;
  #plainBytes = 0;

  constructor(sink: MessageSink, ext: Extension | null, streamMessages: boolean, maxMessageBytes: number) {
    this.#sink = sink;
    this.#ext = ext;
    this.#stream = streamMessages && sink.onFragment !== undefined;
    this.#maxBytes = maxMessageBytes;
  }

  /** A message is in progress (its first frame came, its last did not). */
  get open(): boolean {
    return this.#opcode !== 0;
  }

  /** RSV bits of the message extension carried by the current message's first frame. */
  get rsv(): number {
    return this.#rsv;
  }

  /** The first frame of a new message. */
  begin(opcode: number, rsv: number): void {
    this.#opcode = opcode;
    this.#rsv = rsv;
    if (opcode === Opcode.TEXT && rsv === 0) {
      if (this.#utf8) this.#utf8.reset();
      else this.#utf8 = new Utf8Validator();
    }
  }

  /**
   * Checks the UTF-8 of an uncompressed text piece as it arrives (call once per piece,
   * before piece()). Compressed text is checked after inflating, inside piece().
   */
  check(data: Buffer, messageEnd: boolean): ProtocolError | null {
    if (this.#rsv !== 0 || this.#opcode !== Opcode.TEXT) return null;
    const v = this.#utf8!;
    if (!v.feed(data)) return invalidUtf8('invalid UTF-8 in text message');
    if (messageEnd && !v.complete) return invalidUtf8('text message ends inside a UTF-8 sequence');
    return null;
  }

  /**
   * A piece of the current message's payload, unmasked, frame-decoded and check()ed.
   * `frameEnd`: the frame's payload is complete; `fin`: that frame ends the message.
   * Returns the error that fails the connection, or null.
   */
  piece(data: Buffer, frameEnd: boolean, fin: boolean): ProtocolError | null {
    if (this.#rsv !== 0) return this.#compressedPiece(data, frameEnd, fin);
    const messageEnd = frameEnd && fin;
    const isBinary = this.#opcode === Opcode.BINARY;
    if (this.#stream) {
      if (messageEnd) this.#opcode = 0;
      if (data.length || messageEnd) this.#sink.onFragment!(data, isBinary, messageEnd);
      return null;
    }
    if (!messageEnd) {
      if (data.length) (this.#pieces ??= []).push(data);
      return null;
    }
    this.#opcode = 0;
    let message = data;
    if (this.#pieces) {
      if (data.length) this.#pieces.push(data);
      message = joinPieces(this.#pieces);
      this.#pieces = null;
    }
    this.#sink.onMessage(message, isBinary);
    return null;
  }

  /** Forget the message in progress (the connection failed). */
  reset(): void {
    this.#opcode = 0;
    this.#pieces = null;
    this.#compressed = null;
    this.#plain = null;
    this.#plainBytes = 0;
  }

  #compressedPiece(data: Buffer, frameEnd: boolean, fin: boolean): ProtocolError | null {
    if (data.length) (this.#pieces ??= []).push(data);
    if (!frameEnd) return null;
    const messageEnd = fin;
    const isBinary = this.#opcode === Opcode.BINARY;
    const ext = this.#ext!;
    const compressed = joinPieces(this.#pieces);
    this.#pieces = null;
    if ((fin && this.#plain === null) || !ext.decodeFragment) {
      // Whole in one frame (the common case), or an extension that decodes only whole messages.
      if (!messageEnd) {
        (this.#compressed ??= []).push(compressed);
        return null;
      }
      const all = this.#compressed ? joinPieces([...this.#compressed, compressed]) : compressed;
      this.#compressed = null;
      let whole: Buffer;
      try {
        whole = ext.decode(all, this.#rsv, this.#maxBytes);
      } catch (err) {
        return asProtocolError(err);
      }
      if (!isBinary) {
        const failed = this.#validateText(whole, true, true);
        if (failed) return failed;
      }
      return this.#deliver(whole, isBinary);
    }
    // A fragmented compressed message is inflated frame by frame: a bomb in fragments fails
    // at the first frame past the limit, and invalid UTF-8 at the first bad frame.
    const first = this.#plain === null;
    const plain = (this.#plain ??= []);
    let part: Buffer;
    try {
      part = ext.decodeFragment(compressed, messageEnd, this.#maxBytes - this.#plainBytes);
    } catch (err) {
      this.#plain = null;
      return asProtocolError(err);
    }
    this.#plainBytes += part.length;
    if (part.length) plain.push(part);
    if (!isBinary) {
      const failed = this.#validateText(part, first, messageEnd);
      if (failed) return failed;
    }
    if (!messageEnd) return null;
    this.#plain = null;
    this.#plainBytes = 0;
    return this.#deliver(joinPieces(plain), isBinary);
  }

  #deliver(plain: Buffer, isBinary: boolean): null {
    this.#opcode = 0;
    if (this.#stream) this.#sink.onFragment!(plain, isBinary, true);
    else this.#sink.onMessage(plain, isBinary);
    return null;
  }

  /** UTF-8 of decompressed text, part by part from the message's start (`first`). */
  #validateText(part: Buffer, first: boolean, end: boolean): ProtocolError | null {
    const v = (this.#utf8 ??= new Utf8Validator());
    if (first) v.reset();
    return v.feed(part) && (!end || v.complete) ? null : invalidUtf8('invalid UTF-8 in text message');
  }
}

function invalidUtf8(message: string): ProtocolError {
  return new ProtocolError('ERR_WS_INVALID_UTF8', message, CloseCode.INVALID_FRAME_PAYLOAD_DATA);
}

/** An extension's failure: its own ProtocolError, or an internal error (1011). */
export function asProtocolError(err: unknown): ProtocolError {
  if (err instanceof ProtocolError) return err;
  return new ProtocolError('ERR_WS_EXTENSION', err instanceof Error ? err.message : String(err), CloseCode.INTERNAL_ERROR);
}

export function joinPieces(pieces: Buffer[] | null): Buffer {
  if (!pieces || pieces.length === 0) return EMPTY;
  return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
}
