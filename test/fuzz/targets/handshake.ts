import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { acceptKey, isRejection, parseHead, parseTokenList, validateServerResponse, validateUpgradeRequest, type HeadResult } from '../subjects.js';
import { Prng, randomCuts, seedOf } from '../prng.js';
import type { FuzzTarget } from '../target.js';

/**
 * The HTTP head parser and the opening-handshake checks on its result, for requests (server
 * side) and responses (client side). Input: the bytes the peer sent, head and whatever follows.
 */

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = acceptKey(KEY);
const OFFERED = ['chat', 'superchat'];
const LIMITS = [16_384, 100];
const TCHAR = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

/** Feed growing prefixes, as bytes arrive, resuming the search where the last call stopped. */
function parseIncrementally(input: Buffer, max: number, cuts: readonly number[]): HeadResult {
  let searchFrom = 0;
  let r: HeadResult = { kind: 'incomplete', searchFrom: 0 };
  for (const end of [...cuts, input.length]) {
    r = parseHead(input.subarray(0, end), max, searchFrom);
    if (r.kind !== 'incomplete') return r;
    searchFrom = r.searchFrom;
  }
  return r;
}

function checkHead(input: Buffer, r: HeadResult, max: number): void {
  if (r.kind === 'incomplete') {
    assert.ok(input.length <= max, 'incomplete past the size limit');
    assert.equal(input.indexOf('\r\n\r\n', 0, 'latin1'), -1, 'a whole head reported incomplete');
    return;
  }
  if (r.kind === 'error') {
    assert.ok([400, 431].includes(r.status), `status ${r.status}`);
    assert.ok(r.reason.length > 0);
    return;
  }
  assert.ok(r.length <= input.length && r.length <= max, `head of ${r.length} bytes`);
  assert.equal(input.toString('latin1', r.length - 4, r.length), '\r\n\r\n');
  assert.equal(Object.getPrototypeOf(r.head.headers), Object.prototype);
  for (const [name, value] of Object.entries(r.head.headers)) {
    assert.match(name, TCHAR, `header name ${JSON.stringify(name)}`);
    assert.notEqual(name, '__proto__');
    // RFC 9110 section 5.5: CR, LF and NUL in a field value must be refused (or replaced).
    assert.ok(!/[\r\n\0]/.test(value), `header ${name} keeps CR, LF or NUL: ${JSON.stringify(value)}`);
    const list = parseTokenList(value);
    if (list) for (const t of list) assert.match(t.toLowerCase(), TCHAR);
  }
  for (const part of r.head.start) assert.equal(typeof part, 'string');
}

function checkHandshake(r: HeadResult): void {
  if (r.kind !== 'complete') return;
  const { start, headers } = r.head;
  const offer = validateUpgradeRequest(start[0], start[2], headers);
  if (isRejection(offer)) {
    assert.ok([400, 405, 426].includes(offer.status), `rejected with ${offer.status}`);
    assert.ok(offer.reason.length > 0);
  } else {
    assert.equal(start[0], 'GET');
    assert.match(offer.key, /^[A-Za-z0-9+/]{22}==$/);
    assert.equal(new Set(offer.protocols).size, offer.protocols.length, 'duplicate subprotocols accepted');
    for (const p of offer.protocols) assert.match(p.toLowerCase(), TCHAR);
    for (const e of offer.extensions) assert.match(e.name.toLowerCase(), TCHAR);
  }
  const answer = validateServerResponse(r.head, ACCEPT, OFFERED);
  if (typeof answer === 'string') {
    assert.ok(answer.length > 0);
  } else {
    assert.equal(start[1], '101');
    assert.equal(headers['sec-websocket-accept'], ACCEPT);
    assert.ok(answer.protocol === '' || OFFERED.includes(answer.protocol), `picked ${answer.protocol}`);
  }
}

function run(input: Buffer): void {
  const cuts = randomCuts(input.length, new Prng(seedOf(input)), 12);
  for (const max of LIMITS) {
    const whole = parseHead(input, max);
    checkHead(input, whole, max);
    assert.deepEqual(parseIncrementally(input, max, cuts), whole, 'arrival in pieces changed the result');
    checkHandshake(whole);
  }
}

// ---------------------------------------------------------------- generation

const NAMES = ['Host', 'Upgrade', 'Connection', 'Sec-WebSocket-Key', 'Sec-WebSocket-Version', 'Sec-WebSocket-Protocol', 'Sec-WebSocket-Extensions', 'Sec-WebSocket-Accept', 'Origin', 'Cookie', 'Authorization', 'Content-Length'];
const odd = fc.constantFrom('', ' ', '\t', '\r', '\n', '\0', ':', ',', ';', '"', '\x7f', '\xff', '\x01', 'é');

const headerName = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...NAMES) },
  { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'X Y', 'Host ', ' Host', '') },
  { weight: 2, arbitrary: fc.string({ unit: fc.constantFrom(...'abcXYZ-_.!~09'.split('')), minLength: 1, maxLength: 12 }) },
);
const headerValue = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('websocket', 'Upgrade', 'keep-alive, Upgrade', '13', '8', KEY, ACCEPT, 'chat, superchat', 'chat', 'chat, chat', 'permessage-deflate; client_max_window_bits', 'x; a="b", y', 'example.com', 'a=b; c=d') },
  { weight: 2, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 2, arbitrary: fc.tuple(fc.string({ maxLength: 10 }), odd, fc.string({ maxLength: 10 })).map(([a, o, b]) => a + o + b) },
);
const lineEnd = fc.oneof({ weight: 12, arbitrary: fc.constant('\r\n') }, { weight: 1, arbitrary: fc.constantFrom('\n', '\r', '\r\r\n', '\n\r') });

const head = fc.record({
  response: fc.boolean(),
  method: fc.oneof({ weight: 5, arbitrary: fc.constant('GET') }, { weight: 1, arbitrary: fc.constantFrom('POST', 'get', 'GET ', '', 'G\0T') }),
  target: fc.oneof(fc.constantFrom('/', '/chat', '/a?b=c', '*', 'http://x/y', ''), fc.string({ maxLength: 20 })),
  version: fc.oneof({ weight: 5, arbitrary: fc.constant('HTTP/1.1') }, { weight: 1, arbitrary: fc.constantFrom('HTTP/1.0', 'HTTP/2', 'http/1.1', 'HTTP/1.1 ', '') }),
  status: fc.oneof({ weight: 5, arbitrary: fc.constant('101') }, { weight: 1, arbitrary: fc.constantFrom('200', '1010', '', '101 ') }),
  headers: fc.array(fc.record({ name: headerName, value: headerValue, colon: fc.constantFrom(': ', ':', ' : ', ':\t'), end: lineEnd, fold: fc.boolean() }), { maxLength: 12 }),
  tail: fc.oneof(fc.constant(''), fc.constant('\x81\x85abcdhello'), fc.string({ maxLength: 10 })),
});

type Head = typeof head extends fc.Arbitrary<infer T> ? T : never;

function toBytes(h: Head): Buffer {
  let s = h.response ? `HTTP/1.1 ${h.status} Switching Protocols\r\n` : `${h.method} ${h.target} ${h.version}\r\n`;
  for (const x of h.headers) s += `${x.name}${x.colon}${x.value}${x.end}${x.fold ? ' folded' + x.end : ''}`;
  return Buffer.from(s + '\r\n' + h.tail, 'latin1');
}

const REQUEST = `GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nOrigin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n`;
const RESPONSE = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${ACCEPT}\r\nSec-WebSocket-Protocol: chat\r\n\r\n`;

export const handshakeTarget: FuzzTarget = {
  name: 'handshake',
  maxLength: 4096,
  dictionary: ['\r\n', '\r\n\r\n', ': ', ':', ' ', '\t', ',', ';', '=', '"', '\0', '\n', 'GET ', ' HTTP/1.1', 'HTTP/1.1 101 ', 'websocket', 'Upgrade', 'Connection', 'Sec-WebSocket-Key', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Protocol', 'Sec-WebSocket-Extensions', 'permessage-deflate', '__proto__', KEY].map((s) => Buffer.from(s, 'latin1')),
  seeds() {
    return [
      REQUEST,
      RESPONSE,
      REQUEST.replace('\r\n\r\n', '\r\nCookie: a=1\r\nCookie: b=2\r\nX-Empty:\r\n\r\n\x81\x80abcd'),
      REQUEST.replace('Upgrade: websocket', 'upgrade:websocket\r\n folded'),
      'GET / HTTP/1.1\r\nHost: x\r\n\r\n',
      RESPONSE.replace('Sec-WebSocket-Protocol: chat', 'Sec-WebSocket-Protocol: other'),
    ].map((s) => Buffer.from(s, 'latin1'));
  },
  generate: head.map(toBytes),
  run,
};
