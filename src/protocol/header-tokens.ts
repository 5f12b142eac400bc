import type { ExtensionOffer, ExtensionParams } from './extensions/extension.js';

// RFC 7230 tchar, as a lookup table: one pass, no regular expressions, so hostile headers
// cost linear time.
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TCHAR[c] === 0) return false;
  }
  return true;
}

/** Split a `1#token` list (Connection, Upgrade, Sec-WebSocket-Protocol). Null when malformed. */
export function parseTokenList(value: string): string[] | null {
  const out: string[] = [];
  let start = -1;
  let end = -1;
  for (let i = 0; i <= value.length; i++) {
    const c = i < value.length ? value.charCodeAt(i) : 0x2c;
    if (c === 0x2c) {
      if (start !== -1) out.push(value.slice(start, end + 1));
      start = -1;
    } else if (c === 0x20 || c === 0x09) {
      if (start !== -1 && end !== i - 1) return null; // space inside a token
    } else if (c < 128 && TCHAR[c] === 1) {
      if (start === -1) start = i;
      else if (end !== i - 1) return null; // "a b"
      end = i;
    } else {
      return null;
    }
  }
  return out;
}

/** Does a comma-separated header contain `token` (case-insensitive)? */
export function hasToken(value: string | undefined, token: string): boolean {
  if (!value) return false;
  const list = parseTokenList(value);
  if (!list) return false;
  for (const t of list) if (t.toLowerCase() === token) return true;
  return false;
}

/**
 * Parse Sec-WebSocket-Extensions (RFC 6455 section 9.1):
 * `name *( ";" param [ "=" ( token / quoted-string ) ] )`, comma-separated. Null when
 * malformed; an element whose parameter repeats is kept but marked `invalid`.
 */
export function parseExtensions(value: string): ExtensionOffer[] | null {
  const out: ExtensionOffer[] = [];
  const n = value.length;
  let i = 0;
  const skipWs = () => {
    while (i < n && (value.charCodeAt(i) === 0x20 || value.charCodeAt(i) === 0x09)) i++;
  };
  const token = (): string | null => {
    const s = i;
    while (i < n) {
      const c = value.charCodeAt(i);
      if (c >= 128 || TCHAR[c] === 0) break;
      i++;
    }
    return i > s ? value.slice(s, i) : null;
  };
  while (true) {
    skipWs();
    if (i >= n) break;
    if (value.charCodeAt(i) === 0x2c) { i++; continue; }
    const name = token();
    if (name === null) return null;
    const params: ExtensionParams = Object.create(null);
    let invalid = false;
    skipWs();
    while (i < n && value.charCodeAt(i) === 0x3b) {
      i++;
      skipWs();
      const key = token();
      if (key === null) return null;
      // A repeated parameter makes this element invalid (to be declined), not the header.
      if (key in params) invalid = true;
      skipWs();
      if (i < n && value.charCodeAt(i) === 0x3d) {
        i++;
        skipWs();
        let v: string | null;
        if (value.charCodeAt(i) === 0x22) {
          i++;
          let s = '';
          let closed = false;
          while (i < n) {
            const c = value.charCodeAt(i++);
            if (c === 0x22) { closed = true; break; }
            if (c === 0x5c) { if (i >= n) return null; s += value[i++]; } else s += String.fromCharCode(c);
          }
          if (!closed) return null;
          v = s;
          if (!isToken(v)) return null; // RFC 6455 9.1: a quoted value must still be a token
        } else {
          v = token();
        }
        if (v === null) return null;
        params[key] = v;
      } else {
        params[key] = true;
      }
      skipWs();
    }
    out.push(invalid ? { name, params, invalid } : { name, params });
    skipWs();
    if (i >= n) break;
    if (value.charCodeAt(i) !== 0x2c) return null;
    i++;
  }
  return out;
}

export function formatExtension(name: string, params: ExtensionParams): string {
  let s = name;
  for (const k of Object.keys(params)) {
    const v = params[k];
    s += v === true ? `; ${k}` : `; ${k}=${v}`;
  }
  return s;
}
