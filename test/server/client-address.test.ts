// The client address limits count by: forwarding headers believed only from trusted proxies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientAddress, trustedProxies } from '../../src/server/client-address.js';

const none = trustedProxies([]);
const loopback = trustedProxies(['loopback']);

test('without trusted proxies the peer address is the client, whatever the headers say', () => {
  assert.equal(clientAddress('198.51.100.4', { 'x-forwarded-for': '203.0.113.9' }, none), '198.51.100.4');
  assert.equal(clientAddress('::ffff:198.51.100.4', {}, none), '198.51.100.4');
});

test('a trusted proxy: the nearest untrusted address of the chain, from the right', () => {
  const chain = trustedProxies(['10.0.0.0/8', 'loopback']);
  // a client that prepends a fake entry cannot choose what the proxies appended after it
  assert.equal(clientAddress('127.0.0.1', { 'x-forwarded-for': '1.2.3.4, 203.0.113.9, 10.1.1.1' }, chain), '203.0.113.9');
  assert.equal(clientAddress('127.0.0.1', { 'x-forwarded-for': ['203.0.113.9', '10.1.1.1'] }, chain), '203.0.113.9');
  assert.equal(clientAddress('127.0.0.1', { 'x-forwarded-for': '10.2.2.2' }, chain), '10.2.2.2', 'only proxies: the first one');
  assert.equal(clientAddress('127.0.0.1', {}, chain), '127.0.0.1', 'no header: the peer');
});

test('Forwarded (RFC 7239) wins over X-Forwarded-For: quoted, bracketed, with ports', () => {
  assert.equal(clientAddress('127.0.0.1', { forwarded: 'for=192.0.2.60;proto=http;by=203.0.113.43', 'x-forwarded-for': '1.1.1.1' }, loopback), '192.0.2.60');
  assert.equal(clientAddress('::1', { forwarded: 'for="[2001:db8:cafe::17]:4711"' }, loopback), '2001:db8:cafe::17');
  assert.equal(clientAddress('127.0.0.1', { forwarded: 'for=192.0.2.43:80, for=127.0.0.1' }, loopback), '192.0.2.43');
  assert.equal(clientAddress('127.0.0.1', { forwarded: 'for=unknown' }, loopback), 'unknown');
});

test('trusted proxy lists: addresses, CIDRs, names; anything else is refused by name', () => {
  const t = trustedProxies(['192.0.2.1', 'fd00::/8', 'private']);
  assert.equal(t.trusts('192.0.2.1'), true);
  assert.equal(t.trusts('192.0.2.2'), false);
  assert.equal(t.trusts('fd12::1'), true);
  assert.equal(t.trusts('172.20.1.1'), true);
  assert.equal(t.trusts('::ffff:10.0.0.1'), true);
  assert.equal(t.trusts('8.8.8.8'), false);
  assert.throws(() => trustedProxies(['10.0.0.0/33']), /10\.0\.0\.0\/33/);
  assert.throws(() => trustedProxies(['proxy.example']), /proxy\.example/);
});
