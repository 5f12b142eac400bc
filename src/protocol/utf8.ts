import { isUtf8 } from 'node:buffer';

const NATIVE_FROM = 128;

/**
 * Streaming UTF-8 validator (RFC 3629). State is carried across calls so a text message can
 * be validated fragment by fragment, and a connection fails on the first invalid byte
 * rather than at the end of the message (Autobahn 6.4.x "fail fast").
 */
export class Utf8Validator {
  #need = 0;
  #lo = 0x80;
  #hi = 0xbf;

  /** Feed bytes; false as soon as an invalid sequence is seen. */
  feed(bytes: Uint8Array, start = 0, end = bytes.length): boolean {
    let i = start;
    let need = this.#need;
    if (need === 0) while (i < end && bytes[i]! < 0x80) i++;
    let lo = this.#lo;
    let hi = this.#hi;
    for (; i < end; i++) {
      const b = bytes[i]!;
      if (need === 0) {
        if (b < 0x80) continue;
        if (b >= 0xc2 && b <= 0xdf) { need = 1; lo = 0x80; hi = 0xbf; }
        else if (b === 0xe0) { need = 2; lo = 0xa0; hi = 0xbf; }
        else if ((b >= 0xe1 && b <= 0xec) || b === 0xee || b === 0xef) { need = 2; lo = 0x80; hi = 0xbf; }
        else if (b === 0xed) { need = 2; lo = 0x80; hi = 0x9f; } // no UTF-16 surrogates
        else if (b === 0xf0) { need = 3; lo = 0x90; hi = 0xbf; } // no overlong 4-byte forms
        else if (b >= 0xf1 && b <= 0xf3) { need = 3; lo = 0x80; hi = 0xbf; }
        else if (b === 0xf4) { need = 3; lo = 0x80; hi = 0x8f; } // nothing above U+10FFFF
        else return false;
      } else {
        if (b < lo || b > hi) return false;
        lo = 0x80;
        hi = 0xbf;
        need--;
      }
    }
    this.#need = need;
    this.#lo = lo;
    this.#hi = hi;
    return true;
  }

  /**
   * Feed the last bytes of a message: true when everything fed is valid and complete.
   * From a character boundary a longer rest is checked natively (SIMD; a 4 KiB text costs
   * about a twentieth of the byte loop), since what came before cannot change its validity.
   * Below NATIVE_FROM bytes the call into C++ costs more than the loop (measured).
   */
  end(bytes: Uint8Array, start = 0, end = bytes.length): boolean {
    if (this.#need !== 0 || end - start < NATIVE_FROM) return this.feed(bytes, start, end) && this.#need === 0;
    return isUtf8(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end));
  }

  /** True when the bytes fed so far end on a character boundary. */
  get complete(): boolean {
    return this.#need === 0;
  }

  reset(): void {
    this.#need = 0;
    this.#lo = 0x80;
    this.#hi = 0xbf;
  }
}

/** Validate a whole buffer. */
export function isValidUtf8(bytes: Uint8Array): boolean {
  return isUtf8(bytes);
}
