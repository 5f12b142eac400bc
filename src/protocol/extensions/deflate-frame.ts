import type { Buffer } from 'node:buffer';
import { RSV1 } from '../frame-writer.js';
import { formatExtension } from '../header-tokens.js';
import { deflateWithoutTail, inflateWithTail } from './permessage-deflate.js';
import type { DeflateCodec, DeflateCodecFactory, Extension, ExtensionFactory, ExtensionParams } from './extension.js';

export interface DeflateFrameOptions {
  /** Ask the peer to compress without context takeover. */
  noContextTakeover?: boolean;
  /** Ask the peer to use at most this window (9-15). */
  maxWindowBits?: number;
  threshold?: number;
}

const KNOWN = new Set(['max_window_bits', 'no_context_takeover']);

/**
 * The older per-frame compression (draft-tyoshino-hybi-websocket-perframe-deflate, also
 * offered as x-webkit-deflate-frame) as a second user of the extension API: every data
 * frame with RSV1 is a self-contained deflate block sequence. Each side's parameters
 * constrain the other side's compressor.
 */
export class DeflateFrame implements ExtensionFactory {
  readonly name: string;
  #codec: DeflateCodecFactory;
  #opts: DeflateFrameOptions;

  constructor(codec: DeflateCodecFactory, options: DeflateFrameOptions = {}, name = 'deflate-frame') {
    this.#codec = codec;
    this.#opts = options;
    this.name = name;
  }

  accept(offers: ExtensionParams[]): Extension | null {
    for (const offer of offers) {
      const theirs = parse(offer);
      if (!theirs) continue;
      return this.#bind(theirs);
    }
    return null;
  }

  offer(): string {
    return formatExtension(this.name, this.#params());
  }

  confirm(params: ExtensionParams): Extension {
    const theirs = parse(params);
    if (!theirs) throw new Error('invalid deflate-frame response');
    return this.#bind(theirs);
  }

  #params(): ExtensionParams {
    const p: ExtensionParams = {};
    if (this.#opts.maxWindowBits) p.max_window_bits = String(this.#opts.maxWindowBits);
    if (this.#opts.noContextTakeover) p.no_context_takeover = true;
    return p;
  }

  #bind(theirs: { bits: number; noTakeover: boolean }): Extension {
    const codec = this.#codec({
      deflateWindowBits: Math.max(9, theirs.bits),
      deflateNoContextTakeover: theirs.noTakeover,
      inflateWindowBits: this.#opts.maxWindowBits ?? 15,
      inflateNoContextTakeover: this.#opts.noContextTakeover === true,
    });
    return new DeflateFrames(this.name, formatExtension(this.name, this.#params()), codec, this.#opts.threshold ?? 1024);
  }
}

function parse(p: ExtensionParams): { bits: number; noTakeover: boolean } | null {
  if (Object.keys(p).some((k) => !KNOWN.has(k))) return null;
  let bits = 15;
  if (p.max_window_bits !== undefined) {
    if (p.max_window_bits === true || !/^(8|9|1[0-5])$/.test(p.max_window_bits)) return null;
    bits = Number(p.max_window_bits);
  }
  if (p.no_context_takeover !== undefined && p.no_context_takeover !== true) return null;
  return { bits, noTakeover: p.no_context_takeover === true };
}

class DeflateFrames implements Extension {
  readonly rsvBits = RSV1;
  readonly scope = 'frame' as const;
  readonly name: string;
  readonly response: string;
  readonly threshold: number;
  #codec: DeflateCodec;
  constructor(name: string, response: string, codec: DeflateCodec, threshold: number) {
    this.name = name;
    this.threshold = threshold;
    this.response = response;
    this.#codec = codec;
  }
  decode(payload: Buffer, _rsv: number, maxBytes: number): Buffer {
    return inflateWithTail(this.#codec, payload, maxBytes);
  }
  encode(payload: Buffer): { payload: Buffer; rsv: number } {
    return { payload: deflateWithoutTail(this.#codec, payload), rsv: RSV1 };
  }
  dispose(): void {
    this.#codec.dispose();
  }
}
