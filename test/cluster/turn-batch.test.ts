import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TurnBatch } from '../../src/cluster/turn-batch.js';

test('calls made one microtask after another in one turn all start together at its end, in order', async () => {
  const batch = new TurnBatch();
  const started: number[] = [];
  const results: Array<Promise<number>> = [];
  let startedWhenLastWasMade = -1;
  // like a connection's pipelined commands: each one is made a microtask after the previous one
  let chain = Promise.resolve();
  for (let i = 0; i < 5; i++) {
    chain = chain.then(() => {
      results.push(
        batch.run(async () => {
          started.push(i);
          return i * 10;
        }),
      );
      if (i === 4) startedWhenLastWasMade = started.length;
    });
  }
  await chain;
  assert.equal(startedWhenLastWasMade, 0, 'no call starts before the turn ends');
  assert.deepEqual(await Promise.all(results), [0, 10, 20, 30, 40]);
  assert.deepEqual(started, [0, 1, 2, 3, 4]);
});

test('a call made in a later turn starts in that turn, and failures reach only their own caller', async () => {
  const batch = new TurnBatch();
  const failing = batch.run(() => Promise.reject(new Error('refused')));
  const throwing = batch.run((): Promise<number> => {
    throw new Error('thrown');
  });
  const fine = batch.run(async () => 1);
  await assert.rejects(failing, /refused/);
  await assert.rejects(throwing, /thrown/);
  assert.equal(await fine, 1);
  assert.equal(await batch.run(async () => 2), 2);
});
