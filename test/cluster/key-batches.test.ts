// Requests for one key served in batches (src/cluster/key-batches.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyBatches, type Batched } from '../../src/cluster/key-batches.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

test('the first request runs at once; those that come while it runs are served together by the next batch; other keys do not wait', async () => {
  const batches: Array<[string, number[]]> = [];
  const gate = deferred();
  const b = new KeyBatches<number, number>(async (key, batch) => {
    batches.push([key, batch.map((x) => x.request)]);
    if (batches.length === 1) await gate.promise;
    for (const x of batch) x.resolve(x.request * 10);
  });
  const first = b.run('r', 1);
  const later = [b.run('r', 2), b.run('r', 3)];
  const other = await b.run('s', 7);
  assert.equal(other, 70, 'another key is served while the first batch waits');
  gate.resolve();
  assert.deepEqual(await Promise.all([first, ...later]), [10, 20, 30]);
  assert.deepEqual(batches, [['r', [1]], ['s', [7]], ['r', [2, 3]]]);
  assert.equal(await b.run('r', 4), 40, 'a key whose batches are done starts again');
});

test('a batch that throws rejects what it did not answer; one it leaves open is rejected; the next batch still runs', async () => {
  let calls = 0;
  const b = new KeyBatches<number, number>(async (_key, batch: Array<Batched<number, number>>) => {
    calls++;
    if (calls === 1) {
      batch[0]!.resolve(1);
      throw new Error('the store is gone');
    }
    if (calls === 2) return; // answers nothing
    for (const x of batch) x.resolve(x.request);
  });
  const one = b.run('r', 1);
  const two = b.run('r', 2);
  assert.equal(await one, 1);
  await assert.rejects(two, /left unanswered/);
  assert.equal(await b.run('r', 3), 3);
});
