// The per-connection quotas (rooms, live subscriptions) and the check of a service's limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CONNECTION_LIMITS, Quota, connectionLimitsFor, serviceLimitsProblem } from '../../src/app/connection-limits.js';

test('a quota holds at most its limit of distinct keys; a held key claims again for free; 0 is no limit', () => {
  const q = new Quota(2);
  assert.deepEqual(['a', 'b', 'c', 'a'].map((k) => q.claim(k)), [true, true, false, true]);
  q.release('a');
  assert.equal(q.claim('c'), true);
  assert.equal(q.size, 2);
  const open = new Quota(0);
  for (let i = 0; i < 1000; i++) assert.equal(open.claim(`k${i}`), true);
});

test("a service's limits override the server's one by one", () => {
  assert.deepEqual(connectionLimitsFor(DEFAULT_CONNECTION_LIMITS, { roomsPerConnection: 3 }), { ...DEFAULT_CONNECTION_LIMITS, roomsPerConnection: 3 });
  assert.deepEqual(connectionLimitsFor(DEFAULT_CONNECTION_LIMITS, undefined), DEFAULT_CONNECTION_LIMITS);
});

test('bad service limits are named', () => {
  assert.equal(serviceLimitsProblem(undefined), undefined);
  assert.equal(serviceLimitsProblem({ messagesPerSecond: 10, overRate: 'drop', slowConsumer: 'close' }), undefined);
  assert.equal(serviceLimitsProblem({ messagesPerSecond: -1 }), 'limits.messagesPerSecond must be a whole number, 0 or more');
  assert.equal(serviceLimitsProblem({ overRate: 'ignore' }), "limits.overRate must be 'close' or 'drop'");
  assert.match(serviceLimitsProblem({ handshakesPerSecond: 1 })!, /limits\.handshakesPerSecond is not a limit/);
  assert.equal(serviceLimitsProblem(5), 'limits must be an object');
});
