// One target's share of a campaign, in its own thread: coverage-guided mutation of its corpus
// plus inputs from its generator, bounded by a count and a deadline.
import { Buffer } from 'node:buffer';
import { parentPort, workerData } from 'node:worker_threads';
import fc from 'fast-check';
import type { CampaignJob, CampaignReport, Failure } from './campaign-job.js';
import { loadCorpus, saveInput } from './corpus.js';
import { BlockCoverage } from './coverage.js';
import { mutate, type MutationContext } from './mutate.js';
import { Prng } from './prng.js';
import { loadTarget } from './targets/index.js';

/** Inputs run between two coverage snapshots: a snapshot costs far more than most runs. */
const BATCH = 32;
const MAX_FAILURES = 20;

const job = workerData as CampaignJob;
const target = await loadTarget(job.target);
const currentLength = new Int32Array(job.current, 0, 1);
const currentBytes = new Uint8Array(job.current, 4);

const coverage = new BlockCoverage('/dist/src/');
const seen = new Set<string>();
const failures: Failure[] = [];
const failureKinds = new Set<string>();
let executions = 0;

async function execute(input: Buffer): Promise<void> {
  const n = Math.min(input.length, currentBytes.length);
  currentBytes.set(input.subarray(0, n));
  Atomics.store(currentLength, 0, n);
  executions++;
  try {
    await target.run(input);
  } catch (err) {
    const message = (err instanceof Error ? err.message : String(err)).split('\n').filter(Boolean).slice(0, 3).join(' / ');
    // One file per kind of failure: the same assertion with other numbers is the same bug.
    const kind = message.replace(/\d+/g, 'N').slice(0, 120);
    if (failureKinds.has(kind) || failures.length >= MAX_FAILURES) return;
    failureKinds.add(kind);
    failures.push({ file: saveInput(target.name, input, 'crash-'), message });
  }
}

function adds(features: Set<string>): boolean {
  for (const f of features) if (!seen.has(f)) return true;
  return false;
}

async function main(): Promise<CampaignReport> {
  const started = performance.now();
  const pool: Buffer[] = [...target.seeds(), ...loadCorpus(target.name).map((e) => e.data)];
  const corpusStart = pool.length;
  coverage.snapshot();
  for (const input of pool) {
    await execute(input);
    for (const f of coverage.snapshot()) seen.add(f);
  }
  const rng = new Prng(job.seed);
  const ctx: MutationContext = { dictionary: target.dictionary, pool, maxLength: target.maxLength };
  let generated: Buffer[] = [];
  let sampleRound = 0;
  let newInputs = 0;
  let saved = 0;
  while (executions < job.maxRuns && Date.now() < job.deadline) {
    const batch: Buffer[] = [];
    for (let i = 0; i < BATCH; i++) {
      if (rng.chance(4)) {
        if (generated.length === 0) generated = fc.sample(target.generate, { numRuns: 64, seed: (job.seed + ++sampleRound) | 0 });
        batch.push(generated.pop()!);
      } else {
        batch.push(mutate(rng.pick(pool), rng, ctx, 6));
      }
    }
    coverage.snapshot();
    for (const input of batch) await execute(input);
    if (!adds(coverage.snapshot())) continue;
    // Something in the batch ran new code: find which inputs, one by one.
    for (const input of batch) {
      await execute(input);
      const features = coverage.snapshot();
      if (!adds(features)) continue;
      for (const f of features) seen.add(f);
      pool.push(input);
      newInputs++;
      if (job.save && input.length <= job.saveMaxBytes) {
        saveInput(target.name, input);
        saved++;
      }
    }
  }
  await target.close?.();
  coverage.close();
  return { target: target.name, executions, millis: performance.now() - started, corpusStart, corpusEnd: pool.length, newInputs, saved, blocks: seen.size, failures };
}

parentPort!.postMessage(await main());
