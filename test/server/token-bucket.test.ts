// The token buckets behind the rate limits, on a clock the test moves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBucket } from '../../src/server/token-bucket.js';
import { MessageRate } from '../../src/server/message-rate.js';

test('a bucket passes its burst, then its rate; a take larger than the bucket never passes', () => {
  const b = new TokenBucket(2, 3, 0);
  assert.deepEqual([1, 2, 3, 4].map(() => b.take(1, 0)), [true, true, true, false]);
  assert.equal(b.waitMs(1, 0), 500);
  assert.equal(b.take(1, 499), false);
  assert.equal(b.take(1, 500), true);
  assert.equal(b.full(10_000), true);
  assert.equal(b.take(4, 10_000), false);
});

test('message rate: the byte bucket refuses first and takes nothing from the message bucket', () => {
  const r = MessageRate.for({ messagesPerSecond: 10, messageBurst: 2, bytesPerSecond: 100, byteBurst: 100 }, 0)!;
  assert.equal(r.take(101, 0), 'byte_rate');
  assert.equal(r.take(60, 0), undefined);
  assert.equal(r.take(60, 0), 'byte_rate');
  assert.equal(r.take(10, 0), undefined);
  assert.equal(r.take(10, 0), 'message_rate');
  assert.equal(MessageRate.for({ messagesPerSecond: 0, messageBurst: 0, bytesPerSecond: 0, byteBurst: 0 }), null);
});
