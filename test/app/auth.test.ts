import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { httpBasic, jwtBearer, parseBasic, sessionCookie, signSession, verifySession } from '../../src/app/auth/index.js';
import { resolveFromCommand, resolveFromRequest } from '../../src/app/auth/user.js';
import { request } from './helpers.js';

const SECRET = 'a-test-secret-that-is-long-enough-32b';
const basic = (u: string, p: string) => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64');

test('session cookie: valid, expired, forged, malformed, wrong secret', async () => {
  const now = 1_700_000_000_000;
  const value = signSession({ id: 'u1', name: 'Ann' }, { secret: SECRET, expiresIn: 60, now: () => now });
  assert.deepEqual(verifySession(value, SECRET, now), { id: 'u1', name: 'Ann' });
  assert.equal(verifySession(value, SECRET, now + 61_000), null, 'expired');
  const [payload, mac] = value.split('.');
  const forgedPayload = Buffer.from(JSON.stringify({ u: { id: 'admin' }, exp: 9e9 })).toString('base64url');
  assert.equal(verifySession(`${forgedPayload}.${mac}`, SECRET, now), null, 'payload swapped');
  assert.equal(verifySession(`${payload}.${mac!.slice(0, -2)}xx`, SECRET, now), null, 'mac changed');
  assert.equal(verifySession(value, SECRET + 'x', now), null, 'other secret');
  for (const bad of ['', '.', 'abc', 'a.b.c', `${payload}.`]) assert.equal(verifySession(bad, SECRET, now), null, bad);
  const resolver = sessionCookie({ secret: SECRET, now: () => now });
  assert.deepEqual(await resolver.fromRequest!(request('/x', { cookies: { sb_session: encodeURIComponent(value) } })), { id: 'u1', name: 'Ann' });
  assert.equal(await resolver.fromRequest!(request('/x', { cookies: { other: value } })), null);
  assert.deepEqual(await resolver.fromCommand!({ session: value }), { id: 'u1', name: 'Ann' });
  assert.equal(await resolver.fromCommand!({ session: 5 }), null);
  assert.throws(() => sessionCookie({ secret: 'short' }), TypeError);
  const pinned = sessionCookie({ secret: SECRET, now: () => now, origins: ['https://app.example'] });
  const cookies = { sb_session: value };
  assert.deepEqual(await pinned.fromRequest!(request('/x', { cookies, origin: 'https://app.example' })), { id: 'u1', name: 'Ann' });
  assert.equal(await pinned.fromRequest!(request('/x', { cookies, origin: 'https://evil.example' })), null, 'cross-site handshake');
  assert.equal(await pinned.fromRequest!(request('/x', { cookies })), null);
});

test('JWT bearer: header, query and command; expired, forged, wrong audience, alg none', async () => {
  const key = new TextEncoder().encode(SECRET);
  const good = await new SignJWT({ name: 'Bo' }).setProtectedHeader({ alg: 'HS256' }).setSubject('u2').setIssuedAt().setExpirationTime('1h').setAudience('chat').sign(key);
  const expired = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('u2').setExpirationTime(Math.floor(Date.now() / 1000) - 60).setAudience('chat').sign(key);
  const forged = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('admin').setAudience('chat').sign(new TextEncoder().encode(SECRET + 'other'));
  const otherAud = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('u2').setAudience('other').sign(key);
  const none = Buffer.from('{"alg":"none"}').toString('base64url') + '.' + Buffer.from('{"sub":"admin","aud":"chat"}').toString('base64url') + '.';
  const r = jwtBearer({ secret: SECRET, audience: 'chat' });
  const user = await r.fromRequest!(request('/x', { headers: { authorization: `Bearer ${good}` } }));
  assert.equal(user?.id, 'u2');
  assert.equal(user?.name, 'Bo');
  assert.equal((await r.fromRequest!(request('/x', { query: { access_token: good } })))?.id, 'u2');
  assert.equal((await r.fromCommand!({ token: good }))?.id, 'u2');
  for (const bad of [expired, forged, otherAud, none, 'garbage']) {
    await assert.rejects(async () => r.fromCommand!({ token: bad }), Error, 'invalid token must not verify');
    assert.equal(await resolveFromCommand([r], { token: bad }), null);
  }
  assert.equal(await r.fromRequest!(request('/x')), null);
  const noQuery = jwtBearer({ secret: SECRET, queryParam: false });
  assert.equal(await noQuery.fromRequest!(request('/x', { query: { access_token: good } })), null);
  assert.throws(() => jwtBearer({}), TypeError);
});

test('HTTP Basic: valid, invalid, malformed, challenge', async () => {
  const r = httpBasic({ realm: 'test', verify: (u, p) => (u === 'alice' && p === 'pw:with:colons' ? { id: 'alice', name: 'Alice' } : u === 'bob' && p === 'x') });
  assert.deepEqual(await r.fromRequest!(request('/x', { headers: { authorization: basic('alice', 'pw:with:colons') } })), { id: 'alice', name: 'Alice' });
  assert.deepEqual(await r.fromRequest!(request('/x', { headers: { authorization: basic('bob', 'x') } })), { id: 'bob' });
  assert.equal(await r.fromRequest!(request('/x', { headers: { authorization: basic('alice', 'wrong') } })), null);
  assert.equal(await r.fromRequest!(request('/x', { headers: { authorization: 'Basic !!!' } })), null);
  assert.equal(await r.fromRequest!(request('/x', { headers: { authorization: 'Bearer x' } })), null);
  assert.deepEqual(await r.fromCommand!({ username: 'bob', password: 'x' }), { id: 'bob' });
  assert.equal(parseBasic('Basic ' + Buffer.from('nocolon').toString('base64')), null);
  assert.match(r.challenge!()['www-authenticate']!, /^Basic realm="test"/);
});

test('resolvers are tried in order; a throwing resolver counts as no user', async () => {
  const throwing = { name: 't', fromRequest: () => Promise.reject(new Error('boom')) };
  const second = { name: 's', fromRequest: () => ({ id: 'two' }) };
  assert.deepEqual(await resolveFromRequest([throwing, second], request('/x')), { id: 'two' });
  assert.equal(await resolveFromRequest([throwing], request('/x')), null);
});
