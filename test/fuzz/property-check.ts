import { after, describe, test } from 'node:test';
import type { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { loadCorpus } from './corpus.js';
import { mutate, type MutationContext } from './mutate.js';
import { Prng } from './prng.js';
import type { FuzzTarget } from './target.js';

/** Fixed unless FUZZ_SEED says otherwise, so `npm test` runs the same inputs every time. */
const SEED = process.env['FUZZ_SEED'] !== undefined ? Number(process.env['FUZZ_SEED']) : 0x5b0a4d;

export interface Budget {
  /** Inputs from the target's structure-aware generator. */
  generated: number;
  /** Seeds and corpus entries run through the byte mutators. */
  mutated: number;
}

/** Mutants of `pool`, as a fast-check arbitrary: a failure shrinks to fewer mutations. */
export function mutants(target: FuzzTarget, pool: readonly Buffer[]): fc.Arbitrary<Buffer> {
  const ctx: MutationContext = { dictionary: target.dictionary, pool, maxLength: target.maxLength };
  return fc
    .tuple(fc.nat(pool.length - 1), fc.nat(), fc.integer({ min: 1, max: 8 }))
    .map(([i, seed, depth]) => mutate(pool[i]!, new Prng(seed), ctx, depth));
}

/** The bounded fuzz tests of one target that `npm test` runs. */
export function fuzzTests(target: FuzzTarget, budget: Budget): void {
  describe(`fuzz ${target.name}`, () => {
    const corpus = loadCorpus(target.name);
    const seeds = target.seeds();
    after(() => target.close?.());

    test(`replays ${seeds.length} built-in seeds and the corpus`, async () => {
      for (const [i, s] of seeds.entries()) {
        try {
          await target.run(s);
        } catch (err) {
          throw new Error(`seed #${i} (${s.toString('hex').slice(0, 80)}): ${(err as Error).message}`, { cause: err });
        }
      }
      for (const e of corpus) {
        try {
          await target.run(e.data);
        } catch (err) {
          throw new Error(`corpus ${target.name}/${e.name}: ${(err as Error).message}`, { cause: err });
        }
      }
    });

    test(`${budget.generated} generated inputs`, async () => {
      await fc.assert(
        fc.asyncProperty(target.generate, async (input) => {
          await target.run(input);
        }),
        { numRuns: budget.generated, seed: SEED, includeErrorInReport: true },
      );
    });

    test(`${budget.mutated} mutated seed and corpus inputs`, async () => {
      const pool = [...seeds, ...corpus.map((e) => e.data)];
      await fc.assert(
        fc.asyncProperty(mutants(target, pool), async (input) => {
          await target.run(input);
        }),
        { numRuns: budget.mutated, seed: SEED, includeErrorInReport: true },
      );
    });
  });
}
