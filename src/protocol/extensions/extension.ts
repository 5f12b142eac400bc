import type { Buffer } from 'node:buffer';

/** Parameters of one extension element, e.g. `client_max_window_bits` -> true or "10". */
export type ExtensionParams = Record<string, string | true>;

/** One element of a Sec-WebSocket-Extensions header. */
export interface ExtensionOffer {
  name: string;
  params: ExtensionParams;
  /** A parameter was repeated: the offer must be declined (RFC 7692 section 7.1). */
  invalid?: true;
}

/**
 * A negotiated extension bound to one connection (RFC 6455 section 9). An extension
 * transforms whole messages (like permessage-deflate) or single frames (like
 * deflate-frame), and may use RSV bits; the core enforces everything else.
 * Transforms are synchronous: a failure is a thrown ProtocolError carrying its close code.
 */
export interface Extension {
  readonly name: string;
  /** RSV bits (RSV1 = 0x40, ...) this extension may set. */
  readonly rsvBits: number;
  /** 'message': RSV bits only on a message's first frame; 'frame': on any data frame. */
  readonly scope: 'message' | 'frame';
  /** Outgoing payloads smaller than this are not transformed (bytes). */
  readonly threshold?: number;
  /**
   * Set when `encode` carries no state from one message to the next: every connection with
   * the same key encodes a given payload to the same bytes, so a message sent to many of
   * them is encoded once (see PreparedMessage).
   */
  readonly sharedEncodingKey?: string;
  /** The element this side sent or accepted, as it appears in the header. */
  readonly response: string;
  /** Undo the transform of a received message (scope 'message') or frame (scope 'frame'). */
  decode(payload: Buffer, rsv: number, maxBytes: number): Buffer;
  /**
   * Scope 'message', optional: undo the transform one frame at a time, so a message in
   * fragments is checked (size, UTF-8) as it arrives. Called for each frame in order;
   * `fin` on the last. Returns that frame's share of the decoded message.
   */
  decodeFragment?(payload: Buffer, fin: boolean, maxBytes: number): Buffer;
  /** Transform an outgoing message or frame; null sends it untransformed. */
  encode(payload: Buffer, isText: boolean): { payload: Buffer; rsv: number } | null;
  /** Release whatever the extension holds (zlib contexts). */
  dispose(): void;
}

/** Knows how to negotiate one extension, on either side of the handshake. */
export interface ExtensionFactory {
  readonly name: string;
  /** Server: pick the first acceptable offer (client's order) or return null to decline. */
  accept(offers: ExtensionParams[]): Extension | null;
  /** Client: the element(s) to offer. */
  offer(): string;
  /** Client: check the server's response; throws a handshake error message string when invalid. */
  confirm(params: ExtensionParams): Extension;
}

/** The zlib operations permessage-deflate and deflate-frame need, injected so the core stays I/O-free. */
export interface DeflateCodec {
  /** Compress and sync-flush; output ends with 00 00 ff ff. Resets the context when `noContextTakeover`. */
  deflate(data: Buffer): Buffer;
  /**
   * Inflate raw deflate data; returns null as soon as the output would exceed `maxBytes`.
   * Throws on corrupt data. `more`: further parts of the same message follow, so the
   * decompressor must keep its state for them (a fragmented message inflated per frame).
   */
  inflate(data: Buffer, maxBytes: number, more?: boolean): Buffer | null;
  /**
   * Optional: `inflate` of a message's last part followed by the 00 00 ff ff tail that
   * RFC 7692 section 7.2.2 appends, supplied by the codec (no copy of `data` to append it).
   */
  inflateMessageEnd?(data: Buffer, maxBytes: number): Buffer | null;
  /**
   * Set when `deflate` keeps no context between calls: codecs with the same key compress a
   * given input to the same bytes.
   */
  readonly sharedKey?: string;
  dispose(): void;
}

export interface DeflateCodecParams {
  /** Window of the compressor we use to send (8 is raised to 9: zlib cannot do raw deflate with 8). */
  deflateWindowBits: number;
  deflateNoContextTakeover: boolean;
  inflateWindowBits: number;
  inflateNoContextTakeover: boolean;
}

export type DeflateCodecFactory = (params: DeflateCodecParams) => DeflateCodec;
