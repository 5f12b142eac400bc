import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import {
  acceptKey,
  parseHead,
  validateUpgradeRequest,
  isRejection,
  parseExtensions,
  parseTokenList,
  buildRejectResponse,
  buildAcceptResponse,
  validateServerResponse,
  buildClientRequest,
} from '../../src/protocol/index.js';

const base = { host: 'example.com', upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' };

describe('opening handshake (RFC 6455 4.2)', () => {
  test('Sec-WebSocket-Accept of the RFC example', () => {
    assert.equal(acceptKey('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });
  test('a valid request is accepted, with its subprotocols and extensions', () => {
    const r = validateUpgradeRequest('GET', 'HTTP/1.1', { ...base, 'sec-websocket-protocol': 'chat, superchat', 'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits, foo' });
    assert.ok(!isRejection(r));
    assert.deepEqual(r.protocols, ['chat', 'superchat']);
    assert.deepEqual(r.extensions.map((e) => e.name), ['permessage-deflate', 'foo']);
  });
  const cases: [string, Record<string, string | undefined>, string, number][] = [
    ['POST', base, 'HTTP/1.1', 405],
    ['GET', base, 'HTTP/1.0', 400],
    ['GET', { ...base, host: undefined }, 'HTTP/1.1', 400],
    ['GET', { ...base, upgrade: 'h2c' }, 'HTTP/1.1', 426],
    ['GET', { ...base, connection: 'keep-alive' }, 'HTTP/1.1', 400],
    ['GET', { ...base, 'sec-websocket-version': '8' }, 'HTTP/1.1', 426],
    ['GET', { ...base, 'sec-websocket-key': 'short' }, 'HTTP/1.1', 400],
    ['GET', { ...base, 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZR==' }, 'HTTP/1.1', 400],
    ['GET', { ...base, 'sec-websocket-protocol': 'a b' }, 'HTTP/1.1', 400],
    ['GET', { ...base, 'sec-websocket-protocol': 'a, a' }, 'HTTP/1.1', 400],
    ['GET', { ...base, 'sec-websocket-extensions': 'permessage-deflate; =' }, 'HTTP/1.1', 400],
  ];
  for (const [method, headers, version, status] of cases) {
    test(`${method} ${version} ${JSON.stringify(headers).slice(0, 80)} -> ${status}`, () => {
      const r = validateUpgradeRequest(method, version, headers);
      assert.ok(isRejection(r));
      assert.equal(r.status, status);
    });
  }
  test('426 for a wrong version names the version we speak', () => {
    const r = validateUpgradeRequest('GET', 'HTTP/1.1', { ...base, 'sec-websocket-version': '7' });
    assert.ok(isRejection(r));
    assert.equal(r.headers?.['Sec-WebSocket-Version'], '13');
  });
  test('Connection and Upgrade are matched as case-insensitive tokens', () => {
    assert.ok(!isRejection(validateUpgradeRequest('GET', 'HTTP/1.1', { ...base, connection: 'keep-alive, UPGRADE', upgrade: 'WebSocket' })));
  });
});

describe('HTTP head parsing', () => {
  test('complete head with leftover bytes', () => {
    const b = Buffer.from('GET /chat?x=1 HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nx-a: 2\r\nCookie: a=1\r\ncookie: b=2\r\n\r\nEXTRA');
    const r = parseHead(b, 1000);
    assert.equal(r.kind, 'complete');
    if (r.kind !== 'complete') return;
    assert.deepEqual(r.head.start, ['GET', '/chat?x=1', 'HTTP/1.1']);
    assert.equal(r.head.headers['x-a'], '1, 2');
    assert.equal(r.head.headers.cookie, 'a=1; b=2');
    assert.equal(b.subarray(r.length).toString(), 'EXTRA');
  });
  test('header names from Object.prototype are plain headers; __proto__ is dropped', () => {
    const r = parseHead(Buffer.from('GET / HTTP/1.1\r\nconstructor: a\r\ntoString: b\r\n__proto__: c\r\n\r\n'), 1000);
    assert.equal(r.kind, 'complete');
    if (r.kind !== 'complete') return;
    assert.deepEqual({ ...r.head.headers }, { constructor: 'a', tostring: 'b' });
    assert.equal(Object.getPrototypeOf(r.head.headers), Object.prototype);
  });
  test('incomplete, then too large (431)', () => {
    assert.equal(parseHead(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n'), 1000).kind, 'incomplete');
    const r = parseHead(Buffer.alloc(2000, 0x61), 1000);
    assert.equal(r.kind === 'error' && r.status, 431);
  });
  test('malformed lines are 400', () => {
    for (const bad of ['GET\r\n\r\n', 'GET / HTTP/1.1\r\nNoColon\r\n\r\n', 'GET / HTTP/1.1\r\n folded: x\r\n\r\n', 'GET / HTTP/1.1\r\nBad Name: x\r\n\r\n']) {
      const r = parseHead(Buffer.from(bad), 1000);
      assert.equal(r.kind === 'error' && r.status, 400, bad);
    }
  });
  test('hostile input is parsed in one linear pass', () => {
    // 1 MiB of pathological header content: completes (the test would hang on backtracking)
    const hostile = 'GET / HTTP/1.1\r\nSec-WebSocket-Extensions: ' + 'a;'.repeat(200_000) + '\r\nX: ' + ' \t'.repeat(100_000) + 'x\r\n\r\n';
    const r = parseHead(Buffer.from(hostile), 2 << 20);
    assert.equal(r.kind, 'complete');
    if (r.kind === 'complete') assert.equal(parseExtensions(r.head.headers['sec-websocket-extensions']!), null);
    assert.equal(parseTokenList('a,'.repeat(300_000))!.length, 300_000);
  });
  test('resumable search across chunks', () => {
    const full = Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    const first = parseHead(full.subarray(0, 25), 1000);
    assert.equal(first.kind, 'incomplete');
    const r = parseHead(full, 1000, first.kind === 'incomplete' ? first.searchFrom : 0);
    assert.equal(r.kind, 'complete');
  });
});

describe('extension header grammar (9.1)', () => {
  test('parameters, quoted values, several elements', () => {
    assert.deepEqual(parseExtensions('permessage-deflate; client_max_window_bits; server_max_window_bits="10", x-foo')!.map((e) => ({ name: e.name, params: { ...e.params } })), [
      { name: 'permessage-deflate', params: { client_max_window_bits: true, server_max_window_bits: '10' } },
      { name: 'x-foo', params: {} },
    ]);
  });
  test('bad syntax is refused; a repeated parameter only marks its element invalid', () => {
    for (const bad of ['a;', 'a b', 'a; b="c d"', 'a; b="unterminated', '"a"']) assert.equal(parseExtensions(bad), null, bad);
    const r = parseExtensions('a; b; b, c')!;
    assert.equal(r[0]!.invalid, true);
    assert.equal(r[1]!.invalid, undefined);
  });
});

describe('responses', () => {
  test('101 response', () => {
    assert.equal(
      buildAcceptResponse('abc', 'chat', 'permessage-deflate', { 'X-Y': 'z' }),
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: abc\r\nSec-WebSocket-Protocol: chat\r\nSec-WebSocket-Extensions: permessage-deflate\r\nX-Y: z\r\n\r\n',
    );
    assert.throws(() => buildAcceptResponse('abc', undefined, '', { 'X-Y': 'a\r\nInjected: 1' }), /invalid header/);
  });
  test('rejection has a status line, a length and the reason as body', () => {
    const r = buildRejectResponse(404, 'no such service').toString();
    assert.match(r, /^HTTP\/1\.1 404 Not Found\r\n/);
    assert.match(r, /Content-Length: 15\r\n/);
    assert.ok(r.endsWith('\r\n\r\nno such service'));
  });
  test('client validates the server response', () => {
    const head = (h: Record<string, string>, status = '101') => ({ start: ['HTTP/1.1', status, 'x'] as [string, string, string], headers: h });
    const ok = { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-accept': 'K' };
    assert.deepEqual(validateServerResponse(head(ok), 'K', []), { protocol: '' });
    assert.match(validateServerResponse(head(ok), 'other', []) as string, /Accept/);
    assert.match(validateServerResponse(head({ ...ok, 'sec-websocket-protocol': 'x' }), 'K', ['y']) as string, /not offered/);
    assert.match(validateServerResponse(head({ ...ok, upgrade: 'nope' }), 'K', []) as string, /Upgrade/);
    assert.match(validateServerResponse(head(ok, '200'), 'K', []) as string, /status 200/);
  });
  test('client request', () => {
    const s = buildClientRequest({ host: 'h:1', path: '/p?q', key: 'k', protocols: ['a', 'b'] });
    assert.match(s, /^GET \/p\?q HTTP\/1\.1\r\nHost: h:1\r\n/);
    assert.match(s, /Sec-WebSocket-Protocol: a, b\r\n/);
    assert.throws(() => buildClientRequest({ host: 'h', path: '/', key: 'k', protocols: ['a b'] }), /invalid subprotocol/);
  });
});
