import { Buffer } from 'node:buffer';
import crypto from 'node:crypto';
import { UsageError } from './errors.js';
import { hasToken, isToken, parseExtensions, parseTokenList } from './header-tokens.js';
import type { Extension, ExtensionFactory, ExtensionOffer, ExtensionParams } from './extensions/extension.js';

/** RFC 6455 section 1.3. */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

// crypto.hash (Node >= 20.12) is a one-shot digest: no Hash object per handshake.
const oneShot = (crypto as { hash?: (alg: string, data: string, enc: 'base64') => string }).hash;

/** Sec-WebSocket-Accept for a Sec-WebSocket-Key (section 4.2.2): base64(SHA-1(key + GUID)). */
export function acceptKey(key: string): string {
  const input = key + WEBSOCKET_GUID;
  return oneShot ? oneShot('sha1', input, 'base64') : crypto.createHash('sha1').update(input, 'latin1').digest('base64');
}

export interface HttpHead {
  /** Request: method; response: "HTTP/1.1". */
  start: [string, string, string];
  /** Lower-case names; repeated headers joined with ", " (cookies with "; "). */
  headers: Record<string, string>;
}

export type HeadResult =
  | { kind: 'complete'; head: HttpHead; length: number }
  | { kind: 'incomplete'; searchFrom: number }
  | { kind: 'error'; status: number; reason: string };

/**
 * Parse an HTTP/1.1 message head (request or response) from the start of `buf`. Linear
 * time on any input: one indexOf for the blank line (resumable through `searchFrom`),
 * then one pass per line; no regular expressions.
 */
export function parseHead(buf: Buffer, maxBytes: number, searchFrom = 0): HeadResult {
  const end = buf.indexOf('\r\n\r\n', searchFrom > 3 ? searchFrom - 3 : 0, 'latin1');
  if (end === -1) {
    if (buf.length > maxBytes) return { kind: 'error', status: 431, reason: 'Request Header Fields Too Large' };
    return { kind: 'incomplete', searchFrom: buf.length };
  }
  if (end + 4 > maxBytes) return { kind: 'error', status: 431, reason: 'Request Header Fields Too Large' };
  const text = buf.toString('latin1', 0, end);
  // RFC 9110 section 5.5: CR, LF or NUL inside a line must be refused, not passed on in a value.
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0 || (c === 0x0d && text.charCodeAt(i + 1) !== 0x0a) || (c === 0x0a && text.charCodeAt(i - 1) !== 0x0d)) {
      return { kind: 'error', status: 400, reason: 'Bad Request: CR, LF or NUL inside a line' };
    }
  }
  let lineEnd = text.indexOf('\r\n');
  if (lineEnd === -1) lineEnd = text.length;
  const first = text.slice(0, lineEnd);
  const s1 = first.indexOf(' ');
  const s2 = s1 === -1 ? -1 : first.indexOf(' ', s1 + 1);
  if (s1 <= 0 || s2 === -1) return { kind: 'error', status: 400, reason: 'Bad Request: malformed start line' };
  const start: [string, string, string] = [first.slice(0, s1), first.slice(s1 + 1, s2), first.slice(s2 + 1)];
  // An ordinary object, so the request is plain data that structuredClone reproduces exactly;
  // own-property checks below keep inherited names (constructor, toString) out of it.
  const headers: Record<string, string> = {};
  let p = lineEnd + 2;
  while (p < text.length) {
    let e = text.indexOf('\r\n', p);
    if (e === -1) e = text.length;
    const c0 = text.charCodeAt(p);
    if (c0 === 0x20 || c0 === 0x09) return { kind: 'error', status: 400, reason: 'Bad Request: obsolete line folding' };
    const colon = text.indexOf(':', p);
    if (colon === -1 || colon > e) return { kind: 'error', status: 400, reason: 'Bad Request: malformed header line' };
    const name = text.slice(p, colon).toLowerCase();
    if (!isToken(name)) return { kind: 'error', status: 400, reason: 'Bad Request: invalid header name' };
    let vs = colon + 1;
    let ve = e;
    while (vs < ve && (text.charCodeAt(vs) === 0x20 || text.charCodeAt(vs) === 0x09)) vs++;
    while (ve > vs && (text.charCodeAt(ve - 1) === 0x20 || text.charCodeAt(ve - 1) === 0x09)) ve--;
    const value = text.slice(vs, ve);
    if (name !== '__proto__') {
      const prev = Object.hasOwn(headers, name) ? headers[name] : undefined;
      headers[name] = prev === undefined ? value : prev + (name === 'cookie' ? '; ' : ', ') + value;
    }
    p = e + 2;
  }
  return { kind: 'complete', head: { start, headers }, length: end + 4 };
}

export interface UpgradeOffer {
  key: string;
  protocols: string[];
  extensions: ExtensionOffer[];
}

export interface Rejection {
  status: number;
  reason: string;
  headers?: Record<string, string>;
}

/** Check a client's opening handshake (RFC 6455 section 4.2.1). */
export function validateUpgradeRequest(method: string, httpVersion: string, headers: Record<string, string | undefined>): UpgradeOffer | Rejection {
  if (method !== 'GET') return { status: 405, reason: 'Method Not Allowed: the opening handshake is a GET', headers: { Allow: 'GET' } };
  if (httpVersion !== 'HTTP/1.1' && httpVersion !== '1.1') return { status: 400, reason: 'Bad Request: HTTP/1.1 required' };
  if (!headers.host) return { status: 400, reason: 'Bad Request: missing Host header' };
  if (!hasToken(headers.upgrade, 'websocket')) {
    return { status: 426, reason: 'Upgrade Required: Upgrade header must include websocket', headers: { Upgrade: 'websocket', Connection: 'Upgrade' } };
  }
  if (!hasToken(headers.connection, 'upgrade')) return { status: 400, reason: 'Bad Request: Connection header must include Upgrade' };
  if (headers['sec-websocket-version'] !== '13') {
    return { status: 426, reason: 'Upgrade Required: unsupported WebSocket version', headers: { 'Sec-WebSocket-Version': '13' } };
  }
  const key = headers['sec-websocket-key'];
  if (!key || !isValidKey(key)) return { status: 400, reason: 'Bad Request: invalid Sec-WebSocket-Key' };
  return offerOf(key, headers);
}

/**
 * Check an HTTP/2 extended CONNECT (RFC 8441 sections 4 and 5): `:protocol` websocket,
 * version 13, and the same subprotocol and extension headers as RFC 6455; no key (the
 * offer's `key` is empty). `headers` include the pseudo-headers.
 */
export function validateExtendedConnect(headers: Record<string, string | undefined>): UpgradeOffer | Rejection {
  if (headers[':method'] !== 'CONNECT') return { status: 405, reason: 'Method Not Allowed: a WebSocket over HTTP/2 is an extended CONNECT' };
  if (headers[':protocol'] !== 'websocket') return { status: 400, reason: 'Bad Request: :protocol must be websocket' };
  if (!headers[':path'] || !headers[':scheme']) return { status: 400, reason: 'Bad Request: :path and :scheme are required' };
  if (headers['sec-websocket-version'] !== '13') {
    return { status: 400, reason: 'Bad Request: unsupported WebSocket version', headers: { 'sec-websocket-version': '13' } };
  }
  return offerOf('', headers);
}

/** The subprotocols and extensions a client offers (the same headers over HTTP/1.1 and HTTP/2). */
function offerOf(key: string, headers: Record<string, string | undefined>): UpgradeOffer | Rejection {
  let protocols: string[] = [];
  const protoHeader = headers['sec-websocket-protocol'];
  if (protoHeader !== undefined) {
    const list = parseTokenList(protoHeader);
    if (!list || list.length === 0 || new Set(list).size !== list.length) {
      return { status: 400, reason: 'Bad Request: invalid Sec-WebSocket-Protocol' };
    }
    protocols = list;
  }
  let extensions: ExtensionOffer[] = [];
  const extHeader = headers['sec-websocket-extensions'];
  if (extHeader !== undefined) {
    const parsed = parseExtensions(extHeader);
    if (!parsed) return { status: 400, reason: 'Bad Request: invalid Sec-WebSocket-Extensions' };
    extensions = parsed;
  }
  return { key, protocols, extensions };
}

export function isRejection(r: UpgradeOffer | Rejection): r is Rejection {
  return (r as Rejection).status !== undefined;
}

/** A key is the base64 encoding of 16 bytes: 22 base64 characters and "==". */
function isValidKey(key: string): boolean {
  if (key.length !== 24 || key[22] !== '=' || key[23] !== '=') return false;
  for (let i = 0; i < 22; i++) {
    const c = key.charCodeAt(i);
    const ok = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2f;
    if (!ok) return false;
  }
  // The last character before the padding carries 2 bits: only A, Q, g, w are canonical.
  return 'AQgw'.includes(key[21]!);
}

/** Server side: accept offers with our factories, in the server's order of preference. */
export function negotiateExtensions(offers: ExtensionOffer[], factories: readonly ExtensionFactory[]): Extension[] {
  const accepted: Extension[] = [];
  let rsv = 0;
  for (const factory of factories) {
    const mine: ExtensionParams[] = [];
    for (const o of offers) if (o.name === factory.name && !o.invalid) mine.push(o.params);
    if (mine.length === 0) continue;
    const ext = factory.accept(mine);
    if (!ext) continue;
    if (ext.rsvBits & rsv) {
      ext.dispose();
      continue;
    }
    rsv |= ext.rsvBits;
    accepted.push(ext);
  }
  return accepted;
}

/** Client side: check the server's Sec-WebSocket-Extensions against what we offered. */
export function confirmExtensions(header: string | undefined, factories: readonly ExtensionFactory[]): Extension[] | string {
  if (header === undefined || header === '') return [];
  const parsed = parseExtensions(header);
  if (!parsed) return 'invalid Sec-WebSocket-Extensions in response';
  const out: Extension[] = [];
  const seen = new Set<string>();
  let rsv = 0;
  for (const element of parsed) {
    if (element.invalid) return `server repeated a parameter of ${element.name}`;
    const factory = factories.find((f) => f.name === element.name);
    if (!factory) return `server accepted extension ${element.name}, which was not offered`;
    if (seen.has(element.name)) return `server accepted extension ${element.name} twice`;
    seen.add(element.name);
    let ext: Extension;
    try {
      ext = factory.confirm(element.params);
    } catch (err) {
      for (const e of out) e.dispose();
      return `server response for ${element.name}: ${(err as Error).message}`;
    }
    if (ext.rsvBits & rsv) return 'server accepted extensions that use the same RSV bits';
    rsv |= ext.rsvBits;
    out.push(ext);
  }
  return out;
}

function checkHeaders(headers: Record<string, string> | undefined): string {
  let s = '';
  if (!headers) return s;
  for (const name of Object.keys(headers)) {
    const value = String(headers[name]);
    if (!isToken(name) || /[\r\n\0]/.test(value)) throw new UsageError('ERR_INVALID_HEADER', `invalid header ${JSON.stringify(name)}`);
    s += `${name}: ${value}\r\n`;
  }
  return s;
}

/** The 101 response (section 4.2.2). */
export function buildAcceptResponse(accept: string, protocol: string | undefined, extensions: string, headers?: Record<string, string>): string {
  let s = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n`;
  if (protocol) s += `Sec-WebSocket-Protocol: ${protocol}\r\n`;
  if (extensions) s += `Sec-WebSocket-Extensions: ${extensions}\r\n`;
  return s + checkHeaders(headers) + '\r\n';
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  408: 'Request Timeout', 409: 'Conflict', 426: 'Upgrade Required', 429: 'Too Many Requests', 431: 'Request Header Fields Too Large',
  500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable',
};

export function statusText(status: number): string {
  return STATUS_TEXT[status] ?? 'Error';
}

/** A plain HTTP error response that refuses the upgrade; the body is the reason. */
export function buildRejectResponse(status: number, reason?: string, headers?: Record<string, string>): Buffer {
  const body = Buffer.from(reason ?? statusText(status));
  const head =
    `HTTP/1.1 ${status} ${statusText(status)}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
    `Content-Length: ${body.length}\r\n` + checkHeaders(headers) + '\r\n';
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/** The client's opening handshake (section 4.1). */
export function buildClientRequest(o: {
  host: string;
  path: string;
  key: string;
  protocols?: string[];
  extensions?: string;
  origin?: string;
  headers?: Record<string, string>;
}): string {
  let s = `GET ${o.path} HTTP/1.1\r\nHost: ${o.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${o.key}\r\nSec-WebSocket-Version: 13\r\n`;
  if (o.protocols && o.protocols.length) {
    for (const p of o.protocols) if (!isToken(p)) throw new UsageError('ERR_INVALID_SUBPROTOCOL', `invalid subprotocol ${JSON.stringify(p)}`);
    if (new Set(o.protocols).size !== o.protocols.length) throw new UsageError('ERR_INVALID_SUBPROTOCOL', 'duplicate subprotocol');
    s += `Sec-WebSocket-Protocol: ${o.protocols.join(', ')}\r\n`;
  }
  if (o.extensions) s += `Sec-WebSocket-Extensions: ${o.extensions}\r\n`;
  if (o.origin) s += `Origin: ${o.origin}\r\n`;
  return s + checkHeaders(o.headers) + '\r\n';
}

/** Check the server's 101 response (section 4.1, "the client MUST validate"). Returns an error message or the subprotocol. */
export function validateServerResponse(
  head: HttpHead,
  expectedAccept: string,
  offeredProtocols: readonly string[],
): { protocol: string } | string {
  const h = head.headers;
  if (head.start[1] !== '101') return `unexpected status ${head.start[1]}`;
  if (!hasToken(h.upgrade, 'websocket')) return 'response lacks Upgrade: websocket';
  if (!hasToken(h.connection, 'upgrade')) return 'response lacks Connection: Upgrade';
  if (h['sec-websocket-accept'] !== expectedAccept) return 'invalid Sec-WebSocket-Accept';
  return chosenProtocol(h['sec-websocket-protocol'], offeredProtocols);
}

/** The subprotocol a server chose, checked against the offer (RFC 6455 section 4.1; RFC 8441 keeps the rule). */
export function chosenProtocol(protocol: string | undefined, offeredProtocols: readonly string[]): { protocol: string } | string {
  if (protocol !== undefined) {
    if (!offeredProtocols.includes(protocol)) return `server chose subprotocol ${JSON.stringify(protocol)}, which was not offered`;
    return { protocol };
  }
  return { protocol: '' };
}
