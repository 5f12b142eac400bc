import { Buffer } from 'node:buffer';
import { CloseCode, Opcode } from './opcodes.js';
import { ProtocolError } from './errors.js';
import { Utf8Validator } from './utf8.js';
import { MessageSlab } from './message-slab.js';
import { copyBytes } from './byte-copy.js';
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
 * A frame whose payload spans reads gets memory for at most this many bytes beyond those
 * that arrived: a peer that announces a large frame and then trickles does not make us
 * reserve what it announced. Bigger frames grow (doubling) as their bytes come.
 */
const AHEAD = 64 * 1024;
/**
 * Room a landing place keeps past its frame's end, so the read that completes a frame
 * also brings what follows it (often a few small frames) instead of stopping short.
 */
const LANDING_TAIL = 4096;

/**
 * Turns the data frames of one message into what the sink receives: the whole message, or
 * its pieces as they arrive when streaming. Text is checked as UTF-8 piece by piece (fail
 * fast, RFC 6455 section 8.1); a compressed message is inflated by the message extension,
 * frame by frame when the extension can, so size and UTF-8 limits bite mid-message.
 * Wire-level rules (opcode sequence, frame sizes) stay with the connection.
 *
 * Memory: a message that arrives whole in a buffer that outlives the read is delivered as
 * a view of it, an inflated one as the extension returned it. Everything else (messages
 * spanning reads or frames, messages in a reused read buffer, inflated fragments) is
 * assembled in MessageSlab memory, which is never reused: whatever the sink is given stays
 * valid for as long as it is held. While a frame
 * spans reads, `landing()` offers the rest of its place in that memory so the transport
 * can read the payload straight into it.
 */
export class MessageAssembler {
  readonly #sink: MessageSink;
  readonly #ext: Extension | null;
  readonly #stream: boolean;
  readonly #maxBytes: number;
  readonly #slab: MessageSlab;
  /** 0 = no message in progress. */
  #opcode = 0;
  /** The message extension's RSV bits on the first frame: 0 = not compressed. */
  #rsv = 0;
  #utf8: Utf8Validator | null = null;
  /** Payload bytes of the current frame not seen yet. */
  #frameLeft = 0;
  /** The current frame ends its message: nothing comes after what it announced. */
  #frameFin = false;
  /** The message so far (compressed: the compressed bytes of the frame or message so far). */
  #region: Buffer | null = null;
  #fill = 0;
  /** A fragmented compressed message inflated frame by frame: the plain bytes so far. */
  #plain: Buffer | null = null;
  #plainFill = 0;
  #inflating = false;

  constructor(sink: MessageSink, ext: Extension | null, streamMessages: boolean, maxMessageBytes: number, slab?: MessageSlab) {
    this.#sink = sink;
    this.#ext = ext;
    this.#stream = streamMessages && sink.onFragment !== undefined;
    this.#maxBytes = maxMessageBytes;
    this.#slab = slab ?? new MessageSlab(16 * 1024);
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

  /** A data frame of the current message starts; `length` is its payload length. */
  frameStart(length: number, fin = false): void {
    this.#frameLeft = length;
    this.#frameFin = fin;
  }

  /**
   * Checks the UTF-8 of an uncompressed text piece `buf[start, end)` as it arrives (call once
   * per piece, before pieceRange()). Compressed text is checked after inflating, inside it.
   */
  check(buf: Buffer, start: number, end: number, messageEnd: boolean): ProtocolError | null {
    if (this.#rsv !== 0 || this.#opcode !== Opcode.TEXT) return null;
    const v = this.#utf8!;
    if (messageEnd) return v.end(buf, start, end) ? null : invalidUtf8('invalid UTF-8 in text message');
    return v.feed(buf, start, end) ? null : invalidUtf8('invalid UTF-8 in text message');
  }

  /** `piece` for a view that stays valid (see pieceRange). */
  piece(data: Buffer, frameEnd: boolean, fin: boolean): ProtocolError | null {
    return this.pieceRange(data, 0, data.length, frameEnd, fin, true);
  }

  /**
   * `buf[start, end)`: a piece of the current message's payload, unmasked, frame-decoded and check()ed.
   * `frameEnd`: the frame's payload is complete; `fin`: that frame ends the message;
   * `stable`: `buf` outlives this call (false for a read buffer the next read reuses).
   * Returns the error that fails the connection, or null.
   */
  pieceRange(buf: Buffer, start: number, end: number, frameEnd: boolean, fin: boolean, stable: boolean): ProtocolError | null {
    if (this.#rsv !== 0) return this.#compressedPiece(buf, start, end, frameEnd, fin);
    const n = end - start;
    const messageEnd = frameEnd && fin;
    const isBinary = this.#opcode === Opcode.BINARY;
    if (this.#stream) {
      this.#frameLeft -= n;
      if (messageEnd) this.#opcode = 0;
      if (n || messageEnd) this.#sink.onFragment!(stable ? view(buf, start, end) : this.#copy(buf, start, end), isBinary, messageEnd);
      return null;
    }
    if (messageEnd && this.#region === null && n === this.#frameLeft) {
      // The whole message in one piece: the common case, no assembly.
      this.#opcode = 0;
      this.#frameLeft = 0;
      this.#sink.onMessage(stable ? view(buf, start, end) : this.#copy(buf, start, end), isBinary);
      return null;
    }
    this.#append(buf, start, end);
    if (!messageEnd) return null;
    this.#opcode = 0;
    this.#sink.onMessage(this.#take(), isBinary);
    return null;
  }

  /**
   * Memory the rest of the current frame's payload may be read into: the next piece, if it
   * is exactly there, needs no copy. It may reach a little past the frame's end; bytes that
   * land there belong to the frames that follow and stay valid (the memory is never
   * reused). Null when fewer than `min` bytes are left or the frame is not assembled here.
   */
  landing(min: number): Buffer | null {
    const left = this.#frameLeft;
    if (this.#stream || this.#opcode === 0 || left < min) return null;
    let r = this.#region;
    if (r === null || r.length === this.#fill) {
      this.#ensure(left < AHEAD ? left : AHEAD, left, LANDING_TAIL);
      r = this.#region!;
    }
    const room = r.length - this.#fill;
    const want = left + LANDING_TAIL;
    return r.subarray(this.#fill, this.#fill + (room < want ? room : want));
  }

  /** Forget the message in progress (the connection failed). */
  reset(): void {
    this.#opcode = 0;
    this.#frameLeft = 0;
    this.#region = null;
    this.#fill = 0;
    this.#plain = null;
    this.#plainFill = 0;
    this.#inflating = false;
  }

  #compressedPiece(buf: Buffer, start: number, end: number, frameEnd: boolean, fin: boolean): ProtocolError | null {
    const ext = this.#ext!;
    const perFrame = ext.decodeFragment !== undefined;
    let compressed: Buffer;
    if (frameEnd && this.#region === null && end - start === this.#frameLeft && (fin || perFrame)) {
      // The frame's compressed payload came in one piece: inflate it where it lies.
      this.#frameLeft = 0;
      compressed = view(buf, start, end);
    } else {
      this.#append(buf, start, end);
      if (!frameEnd || (!fin && !perFrame)) return null;
      compressed = this.#region === null ? EMPTY : this.#region.subarray(0, this.#fill);
      this.#region = null;
      this.#fill = 0;
    }
    const isBinary = this.#opcode === Opcode.BINARY;
    if (!perFrame || (fin && !this.#inflating)) {
      // Whole in one frame (the common case), or an extension that decodes only whole messages.
      let whole: Buffer;
      try {
        whole = ext.decode(compressed, this.#rsv, this.#maxBytes);
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
    const first = !this.#inflating;
    this.#inflating = true;
    let part: Buffer;
    try {
      part = ext.decodeFragment!(compressed, fin, this.#maxBytes - this.#plainFill);
    } catch (err) {
      return asProtocolError(err);
    }
    if (!isBinary) {
      const failed = this.#validateText(part, first, fin);
      if (failed) return failed;
    }
    this.#appendPlain(part);
    if (!fin) return null;
    const plain = this.#plain === null ? EMPTY : this.#plain.subarray(0, this.#plainFill);
    this.#plain = null;
    this.#plainFill = 0;
    this.#inflating = false;
    return this.#deliver(plain, isBinary);
  }

  #deliver(plain: Buffer, isBinary: boolean): null {
    this.#opcode = 0;
    if (this.#stream) this.#sink.onFragment!(plain, isBinary, true);
    else this.#sink.onMessage(plain, isBinary);
    return null;
  }

  /** Add `buf[start, end)` to the message region (nothing to copy if it was read in place). */
  #append(buf: Buffer, start: number, end: number): void {
    const n = end - start;
    const left = this.#frameLeft;
    this.#frameLeft = left > n ? left - n : 0;
    const r = this.#region;
    // Read in place: the bytes are where the region continues. The bound matters: the next
    // allocation of the same slab block may start right where a full region ends.
    if (r !== null && buf.buffer === r.buffer && buf.byteOffset + start === r.byteOffset + this.#fill && this.#fill + n <= r.length) {
      this.#fill += n;
      return;
    }
    if (n === 0) return;
    // A frame that goes on past this piece will be read into this memory: leave room for
    // what follows its end too (see landing()).
    this.#ensure(n, left, left > n ? LANDING_TAIL : 0);
    copyBytes(buf, start, end, this.#region!, this.#fill);
    this.#fill += n;
  }

  /**
   * Room for `n` more bytes; `left` is what the frame still has to deliver, `n` included.
   * `tail`: room to add past the frame's end when the region comes to cover it.
   */
  #ensure(n: number, left: number, tail = 0): void {
    const fill = this.#fill;
    const r = this.#region;
    if (r !== null && r.length >= fill + n) return;
    let cap = fill + (left > n ? Math.min(left, Math.max(n, AHEAD)) : n);
    // Doubling keeps many small fragments linear; in a message's last frame it stops at the
    // announced end, and it never passes twice what has arrived or the message limit.
    if (r !== null) cap = Math.max(cap, Math.min(r.length * 2, this.#frameFin ? fill + Math.max(left, n) : this.#maxBytes));
    if (tail > 0 && cap >= fill + left) cap = fill + left + tail;
    const next = this.#slab.alloc(cap);
    if (r !== null && fill > 0) copyBytes(r, 0, fill, next, 0);
    this.#region = next;
  }

  #take(): Buffer {
    const r = this.#region;
    const fill = this.#fill;
    this.#region = null;
    this.#fill = 0;
    if (r === null) return EMPTY;
    return fill === r.length ? r : r.subarray(0, fill);
  }

  #appendPlain(part: Buffer): void {
    const n = part.length;
    if (n === 0) return;
    const need = this.#plainFill + n;
    let p = this.#plain;
    if (p === null || p.length < need) {
      const next = this.#slab.alloc(p === null ? need : Math.max(need, p.length * 2));
      if (p !== null && this.#plainFill > 0) copyBytes(p, 0, this.#plainFill, next, 0);
      this.#plain = p = next;
    }
    copyBytes(part, 0, n, p, this.#plainFill);
    this.#plainFill = need;
  }

  #copy(buf: Buffer, start: number, end: number): Buffer {
    const out = this.#slab.alloc(end - start);
    copyBytes(buf, start, end, out, 0);
    return out;
  }

  /** UTF-8 of decompressed text, part by part from the message's start (`first`). */
  #validateText(part: Buffer, first: boolean, end: boolean): ProtocolError | null {
    const v = (this.#utf8 ??= new Utf8Validator());
    if (first) v.reset();
    return (end ? v.end(part) : v.feed(part)) ? null : invalidUtf8('invalid UTF-8 in text message');
  }
}

function view(buf: Buffer, start: number, end: number): Buffer {
  return start === 0 && end === buf.length ? buf : buf.subarray(start, end);
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
