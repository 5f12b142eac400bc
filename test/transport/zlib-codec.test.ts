import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { History, ZlibCodecPool } from '../../src/transport/zlib-codec.js';

test('history keeps exactly the last window of bytes, whatever the appends', () => {
  fc.assert(
    fc.property(fc.integer({ min: 9, max: 12 }), fc.array(fc.uint8Array({ maxLength: 3000 }), { maxLength: 30 }), (bits, chunks) => {
      const cap = 1 << bits;
      const h = new History(cap);
      for (const c of chunks) h.append(Buffer.from(c));
      const all = Buffer.concat(chunks.map((c) => Buffer.from(c)));
      const expected = all.subarray(Math.max(0, all.length - cap));
      assert.deepEqual(h.contiguous() ?? Buffer.alloc(0), expected);
    }),
    { numRuns: 500 },
  );
});

test('codecs survive eviction in both directions (cap 1) and stay in step', () => {
  const pool = new ZlibCodecPool({ maxDeflateContexts: 1, maxInflateContexts: 1 });
  const params = { deflateWindowBits: 10, deflateNoContextTakeover: false, inflateWindowBits: 10, inflateNoContextTakeover: false };
  const a = [pool.factory(params), pool.factory(params)];
  const b = [pool.factory(params), pool.factory(params)];
  for (let i = 0; i < 50; i++) {
    const k = i % 2;
    const msg = Buffer.from(`message ${i} `.repeat(30) + `message ${i - 2} `.repeat(30));
    const out = b[k]!.inflate(a[k]!.deflate(msg), 1 << 20);
    assert.deepEqual(out, msg, `message ${i}`);
  }
  assert.equal(pool.liveDeflateContexts, 1);
  assert.equal(pool.liveInflateContexts, 1);
  for (const c of [...a, ...b]) c.dispose();
  assert.equal(pool.liveDeflateContexts, 0);
});

test('a compression bomb stops at the limit', () => {
  const pool = new ZlibCodecPool();
  const params = { deflateWindowBits: 15, deflateNoContextTakeover: true, inflateWindowBits: 15, inflateNoContextTakeover: false };
  const bomb = pool.factory(params).deflate(Buffer.alloc(20 << 20));
  assert.equal(pool.factory(params).inflate(bomb, 1 << 16), null);
});
