import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { ContextLru, History, ZlibCodecPool, type LruEntry } from '../../src/transport/zlib-codec.js';

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

test('the context list evicts the least recently used unpinned context, like a reference model', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 5 }),
      fc.array(fc.record({ op: fc.constantFrom('touch', 'touch', 'forget', 'pin', 'unpin'), k: fc.integer({ min: 0, max: 7 }) }), { maxLength: 80 }),
      (cap, steps) => {
        const released: number[] = [];
        const entries = Array.from({ length: 8 }, (_, k): LruEntry => ({ pinned: false, listed: false, older: null, newer: null, release: () => released.push(k) }));
        const lru = new ContextLru(cap);
        let model: number[] = []; // least recent first
        for (const { op, k } of steps) {
          const e = entries[k]!;
          released.length = 0;
          if (op === 'pin') e.pinned = true;
          else if (op === 'unpin') e.pinned = false;
          else if (op === 'forget') {
            lru.forget(e);
            model = model.filter((x) => x !== k);
          } else {
            lru.touch(e);
            model = [...model.filter((x) => x !== k), k];
            if (model.length > cap) {
              const victim = model.find((x) => x !== k && !entries[x]!.pinned);
              if (victim !== undefined) model = model.filter((x) => x !== victim);
              assert.deepEqual(released, victim === undefined ? [] : [victim]);
            }
          }
          assert.equal(lru.size, model.length);
        }
        lru.clear();
        assert.equal(lru.size, 0);
      },
    ),
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

test('outputs of every size stay intact while later ones are produced (in slab memory, past the scratch, past a block)', () => {
  // chunkSize 64: almost every output outgrows the rest of the slab block or the scratch
  for (const chunkSize of [64, 16 * 1024]) {
    const pool = new ZlibCodecPool({ chunkSize });
    const params = { deflateWindowBits: 15, deflateNoContextTakeover: false, inflateWindowBits: 15, inflateNoContextTakeover: false };
    const a = pool.factory(params);
    const b = pool.factory(params);
    const sizes = [0, 1, 100, 4096, 20_000, 70_000, 300_000, 2_000_000, 5, 4096, 9000];
    const sent: Buffer[] = [];
    const got: Buffer[] = [];
    sizes.forEach((n, i) => {
      const msg = Buffer.alloc(n);
      for (let j = 0; j < n; j++) msg[j] = (j * 7 + i) % 251 < 200 ? 97 + ((j >> 3) % 26) : (j * 31 + i) & 0xff;
      sent.push(msg);
      got.push(b.inflate(a.deflate(msg), 1 << 22)!);
    });
    got.forEach((g, i) => assert.ok(g.equals(sent[i]!), `chunkSize ${chunkSize}: message ${i} (${sizes[i]} B) changed`));
    a.dispose();
    b.dispose();
  }
});

test('a compression bomb stops at the limit', () => {
  const pool = new ZlibCodecPool();
  const params = { deflateWindowBits: 15, deflateNoContextTakeover: true, inflateWindowBits: 15, inflateNoContextTakeover: false };
  const bomb = pool.factory(params).deflate(Buffer.alloc(20 << 20));
  assert.equal(pool.factory(params).inflate(bomb, 1 << 16), null);
});

test('a fragmented message inflates part by part, with and without context takeover, pinned against eviction', () => {
  for (const noTakeover of [false, true]) {
    const pool = new ZlibCodecPool({ maxInflateContexts: 1 });
    const params = { deflateWindowBits: 15, deflateNoContextTakeover: noTakeover, inflateWindowBits: 15, inflateNoContextTakeover: noTakeover };
    const sender = pool.factory(params);
    const receiver = pool.factory(params);
    const other = [pool.factory(params), pool.factory(params)];
    for (let round = 0; round < 3; round++) {
      const msg = Buffer.from(`round ${round} `.repeat(2000));
      const c = sender.deflate(msg);
      const body = c.subarray(0, c.length - 4); // what goes on the wire
      const cut = [Math.floor(body.length / 3), Math.floor((2 * body.length) / 3)];
      const out: Buffer[] = [];
      out.push(receiver.inflate(body.subarray(0, cut[0]), 1 << 20, true)!);
      // other connections inflate in between: with one live context allowed, ours must stay
      for (const o of other) {
        const m = Buffer.from('interleaved '.repeat(50));
        assert.deepEqual(o.inflate(pool.factory(params).deflate(m), 1 << 20), m);
      }
      out.push(receiver.inflate(body.subarray(cut[0], cut[1]), 1 << 20, true)!);
      out.push(receiver.inflate(Buffer.concat([body.subarray(cut[1]), Buffer.from([0, 0, 0xff, 0xff])]), 1 << 20, false)!);
      assert.deepEqual(Buffer.concat(out), msg, `round ${round}, no_context_takeover=${noTakeover}`);
    }
  }
});
