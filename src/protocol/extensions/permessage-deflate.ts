import { Buffer } from 'node:buffer';
import { CloseCode } from '../opcodes.js';
import { ProtocolError } from '../errors.js';
import { RSV1 } from '../frame-writer.js';
import { formatExtension } from '../header-tokens.js';
import type { DeflateCodec, DeflateCodecFactory, Extension, ExtensionFactory, ExtensionParams } from './extension.js';

export interface PerMessageDeflateOptions {
  /** Server: always answer with server_no_context_takeover. Client: ask for it. */
  serverNoContextTakeover?: boolean;
  /** Server: always answer with client_no_context_takeover. Client: offer it. */
  clientNoContextTakeover?: boolean;
  /** Server: cap our compression window (9-15). Client: ask the server for this cap. */
  serverMaxWindowBits?: number;
  /** Server: cap the client's window when it offered client_max_window_bits. Client: offer this cap (true = no value). */
  clientMaxWindowBits?: number | boolean;
  /** Messages smaller than this are sent uncompressed (bytes; default 1024). */
  threshold?: number;
}

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const KNOWN = new Set(['server_no_context_takeover', 'client_no_context_takeover', 'server_max_window_bits', 'client_max_window_bits']);

/** Parse a window-bits value: decimal 8..15, no sign, no leading zeros. */
function windowBits(v: string | true): number | null {
  if (v === true || !/^(8|9|1[0-5])$/.test(v)) return null;
  return Number(v);
}

/**
 * permessage-deflate (RFC 7692) on top of the extension API. The zlib work is done by an
 * injected codec so this file stays I/O-free and testable with a synchronous fake.
 */
export class PerMessageDeflate implements ExtensionFactory {
  readonly name = 'permessage-deflate';
  #codec: DeflateCodecFactory;
  #opts: PerMessageDeflateOptions;

  constructor(codec: DeflateCodecFactory, options: PerMessageDeflateOptions = {}) {
    this.#codec = codec;
    this.#opts = options;
    for (const k of ['serverMaxWindowBits', 'clientMaxWindowBits'] as const) {
      const v = options[k];
      if (typeof v === 'number' && !(Number.isInteger(v) && v >= 9 && v <= 15)) {
        throw new RangeError(`perMessageDeflate.${k} must be an integer from 9 to 15 (zlib cannot deflate with 8)`);
      }
    }
  }

  get threshold(): number {
    return this.#opts.threshold ?? 1024;
  }

  /** Server side (section 7.1): take the first offer we can honour. */
  accept(offers: ExtensionParams[]): Extension | null {
    const o = this.#opts;
    for (const offer of offers) {
      if (Object.keys(offer).some((k) => !KNOWN.has(k))) continue;
      const res: ExtensionParams = {};
      if (offer.server_no_context_takeover !== undefined && offer.server_no_context_takeover !== true) continue;
      if (offer.client_no_context_takeover !== undefined && offer.client_no_context_takeover !== true) continue;
      if (offer.server_no_context_takeover || o.serverNoContextTakeover) res.server_no_context_takeover = true;
      if (offer.client_no_context_takeover || o.clientNoContextTakeover) res.client_no_context_takeover = true;
      let serverBits = 15;
      if (offer.server_max_window_bits !== undefined) {
        const v = windowBits(offer.server_max_window_bits);
        if (v === null) continue;
        serverBits = Math.min(v, o.serverMaxWindowBits ?? 15);
        if (serverBits === 8) continue; // zlib cannot honour a 256-byte window when compressing
        res.server_max_window_bits = String(serverBits);
      } else if (o.serverMaxWindowBits !== undefined) {
        serverBits = o.serverMaxWindowBits;
        res.server_max_window_bits = String(serverBits);
      }
      let clientBits = 15;
      if (offer.client_max_window_bits !== undefined) {
        const v = offer.client_max_window_bits === true ? 15 : windowBits(offer.client_max_window_bits);
        if (v === null) continue;
        clientBits = v;
        if (typeof o.clientMaxWindowBits === 'number') {
          clientBits = Math.min(clientBits, o.clientMaxWindowBits);
          res.client_max_window_bits = String(clientBits);
        } else if (offer.client_max_window_bits !== true) {
          res.client_max_window_bits = String(clientBits);
        }
      }
      const codec = this.#codec({
        deflateWindowBits: serverBits,
        deflateNoContextTakeover: res.server_no_context_takeover === true,
        inflateWindowBits: clientBits,
        inflateNoContextTakeover: res.client_no_context_takeover === true,
      });
      return new DeflateMessages(formatExtension(this.name, res), codec, res.server_no_context_takeover === true, this.threshold);
    }
    return null;
  }

  offer(): string {
    const o = this.#opts;
    const p: ExtensionParams = {};
    if (o.serverNoContextTakeover) p.server_no_context_takeover = true;
    if (o.clientNoContextTakeover) p.client_no_context_takeover = true;
    if (o.serverMaxWindowBits !== undefined) p.server_max_window_bits = String(o.serverMaxWindowBits);
    const cmw = o.clientMaxWindowBits ?? true;
    if (cmw !== false) p.client_max_window_bits = cmw === true ? true : String(cmw);
    return formatExtension(this.name, p);
  }

  /** Client side (section 7.1): validate the server's answer. Throws a message on a bad response. */
  confirm(params: ExtensionParams): Extension {
    const o = this.#opts;
    for (const k of Object.keys(params)) if (!KNOWN.has(k)) throw new Error(`unknown permessage-deflate parameter ${k}`);
    for (const k of ['server_no_context_takeover', 'client_no_context_takeover']) {
      if (params[k] !== undefined && params[k] !== true) throw new Error(`${k} takes no value`);
    }
    if (o.serverNoContextTakeover && !params.server_no_context_takeover) {
      throw new Error('server did not accept server_no_context_takeover');
    }
    let serverBits = 15;
    if (params.server_max_window_bits !== undefined) {
      const v = windowBits(params.server_max_window_bits);
      if (v === null) throw new Error('invalid server_max_window_bits');
      if (o.serverMaxWindowBits !== undefined && v > o.serverMaxWindowBits) throw new Error('server_max_window_bits above our offer');
      serverBits = v;
    } else if (o.serverMaxWindowBits !== undefined) {
      throw new Error('server ignored server_max_window_bits');
    }
    let clientBits = 15;
    if (params.client_max_window_bits !== undefined) {
      if ((o.clientMaxWindowBits ?? true) === false) throw new Error('client_max_window_bits was not offered');
      const v = windowBits(params.client_max_window_bits);
      if (v === null) throw new Error('invalid client_max_window_bits');
      if (v === 8) throw new Error('client_max_window_bits=8 cannot be honoured by zlib');
      if (typeof o.clientMaxWindowBits === 'number' && v > o.clientMaxWindowBits) throw new Error('client_max_window_bits above our offer');
      clientBits = v;
    } else if (typeof o.clientMaxWindowBits === 'number') {
      clientBits = o.clientMaxWindowBits;
    }
    const noTakeover = params.client_no_context_takeover === true || o.clientNoContextTakeover === true;
    const codec = this.#codec({
      deflateWindowBits: clientBits,
      deflateNoContextTakeover: noTakeover,
      inflateWindowBits: serverBits,
      inflateNoContextTakeover: params.server_no_context_takeover === true,
    });
    return new DeflateMessages(formatExtension(this.name, params), codec, noTakeover, this.threshold);
  }
}

/** A negotiated permessage-deflate: compresses whole messages, RSV1 on the first frame. */
class DeflateMessages implements Extension {
  readonly name = 'permessage-deflate';
  readonly rsvBits = RSV1;
  readonly scope = 'message' as const;
  readonly response: string;
  readonly threshold: number;
  readonly sharedEncodingKey: string | undefined;
  #codec: DeflateCodec;
  #mayDrop: boolean;
  /** Frames of the current fragmented message have fed the inflater. */
  #midMessage = false;

  constructor(response: string, codec: DeflateCodec, noContextTakeover: boolean, threshold: number) {
    this.response = response;
    this.threshold = threshold;
    this.sharedEncodingKey = noContextTakeover && codec.sharedKey !== undefined ? `permessage-deflate ${codec.sharedKey}` : undefined;
    this.#codec = codec;
    // Without context takeover a compressed result we do not send leaves no trace in the
    // peer's window, so we may send the original when compression does not pay.
    this.#mayDrop = noContextTakeover;
  }

  decode(payload: Buffer, _rsv: number, maxBytes: number): Buffer {
    return inflateWithTail(this.#codec, payload, maxBytes);
  }

  decodeFragment(payload: Buffer, fin: boolean, maxBytes: number): Buffer {
    if (!fin) {
      if (payload.length === 0) return EMPTY;
      this.#midMessage = true;
      return inflatePart(this.#codec, payload, maxBytes);
    }
    const midMessage = this.#midMessage;
    this.#midMessage = false;
    return midMessage ? inflateMessageEnd(this.#codec, payload, maxBytes) : inflateWithTail(this.#codec, payload, maxBytes);
  }

  encode(payload: Buffer): { payload: Buffer; rsv: number } | null {
    const out = deflateWithoutTail(this.#codec, payload);
    if (this.#mayDrop && out.length >= payload.length) return null;
    return { payload: out, rsv: RSV1 };
  }

  dispose(): void {
    this.#codec.dispose();
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * Section 7.2.2: append 00 00 ff ff, inflate, stop at `maxBytes` (1009) or corrupt data (1007).
 * An empty payload holds no deflate block (its sender's compressor had nothing to flush) and
 * is not inflated: the tail alone would leave the inflater inside a stored block's header,
 * out of step with the sender's compressor, and the next message would fail or decode wrong.
 */
export function inflateWithTail(codec: DeflateCodec, payload: Buffer, maxBytes: number): Buffer {
  if (payload.length === 0) return EMPTY;
  return inflateMessageEnd(codec, payload, maxBytes);
}

/** The last part of a message and the tail; the codec appends the tail itself when it can (no copy). */
function inflateMessageEnd(codec: DeflateCodec, payload: Buffer, maxBytes: number): Buffer {
  if (codec.inflateMessageEnd) return checkedInflate(codec, payload, maxBytes, false, true);
  return checkedInflate(codec, Buffer.concat([payload, TAIL]), maxBytes, false);
}

/** A non-final frame of a fragmented compressed message: inflate what it carries, keep the state. */
function inflatePart(codec: DeflateCodec, payload: Buffer, maxBytes: number): Buffer {
  return checkedInflate(codec, payload, maxBytes, true);
}

function checkedInflate(codec: DeflateCodec, input: Buffer, maxBytes: number, more: boolean, messageEnd = false): Buffer {
  let out: Buffer | null;
  try {
    out = messageEnd ? codec.inflateMessageEnd!(input, maxBytes) : codec.inflate(input, maxBytes, more);
  } catch (err) {
    throw new ProtocolError(
      'ERR_WS_DECOMPRESSION_FAILED',
      `invalid compressed data: ${(err as Error).message}`,
      CloseCode.INVALID_FRAME_PAYLOAD_DATA,
    );
  }
  if (out === null) {
    throw new ProtocolError('ERR_WS_MESSAGE_TOO_BIG', `inflated message exceeds ${maxBytes} bytes`, CloseCode.MESSAGE_TOO_BIG);
  }
  return out;
}

const EMPTY_BLOCK = Buffer.from([0x00]);

/**
 * Section 7.2.1: compress, sync flush, drop the trailing 00 00 ff ff. When nothing is left
 * (an empty message after earlier ones: zlib has nothing new to flush), send the single
 * 0x00 byte of section 7.2.3.6; an empty payload would desynchronise the peer's inflater.
 */
export function deflateWithoutTail(codec: DeflateCodec, payload: Buffer): Buffer {
  const out = codec.deflate(payload);
  const n = out.length;
  let body = out;
  if (n >= 4 && out[n - 4] === 0 && out[n - 3] === 0 && out[n - 2] === 0xff && out[n - 1] === 0xff) {
    body = out.subarray(0, n - 4);
  }
  return body.length === 0 ? EMPTY_BLOCK : body;
}
