import type { Buffer } from 'node:buffer';
import { encodeFrame, prepareFrame } from './frame-writer.js';
import type { Extension } from './extensions/extension.js';

/**
 * A message framed once, to be written as the same bytes to many connections (fan-out).
 * For connections whose message extension encodes without carried state (permessage-deflate
 * without server context takeover), the encoded frame is also made once per parameter set
 * (`Extension.sharedEncodingKey`) and shared by every such connection; connections that
 * carry state between messages get the plain frame, which RFC 7692 allows (an uncompressed
 * message needs no RSV1), since encoding it for each of them would cost what framing once
 * saves.
 */
export class PreparedMessage {
  readonly frame: Buffer;
  readonly data: string | Uint8Array;
  readonly binary: boolean;
  /** Encoded frames by sharedEncodingKey (the plain frame when encoding did not pay). */
  #encoded: Map<string, Buffer> | null = null;

  constructor(data: string | Uint8Array, binary: boolean) {
    this.data = data;
    this.binary = binary;
    this.frame = prepareFrame(data, binary);
  }

  /** Payload length in bytes. */
  get length(): number {
    const b1 = this.frame[1]! & 0x7f;
    return this.frame.length - (b1 < 126 ? 2 : b1 === 126 ? 4 : 10);
  }

  /** The frame for a connection whose extension `ext` has a sharedEncodingKey. */
  encodedFor(ext: Extension): Buffer {
    const key = ext.sharedEncodingKey!;
    const cache = (this.#encoded ??= new Map());
    let frame = cache.get(key);
    if (frame === undefined) {
      const payload = this.frame.subarray(this.frame.length - this.length);
      const enc = ext.encode(payload, !this.binary);
      frame = enc ? encodeFrame(this.binary ? 0x2 : 0x1, enc.payload, true, enc.rsv) : this.frame;
      cache.set(key, frame);
    }
    return frame;
  }
}

export function prepareMessage(data: string | Uint8Array, binary = typeof data !== 'string'): PreparedMessage {
  return new PreparedMessage(data, binary);
}
