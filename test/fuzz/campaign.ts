// `npm run fuzz`: a bounded fuzz campaign over every target (or those named), one worker
// thread per target in turn. Bounded in time (FUZZ_SECONDS / --seconds, 60 s in all by
// default) and in executions (FUZZ_RUNS / --runs per target); a run that stops answering is
// stopped by a watchdog and its input saved. Exit code 1 when anything failed.
import { Buffer } from 'node:buffer';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import type { CampaignJob, CampaignReport } from './campaign-job.js';
import { CORPUS_ROOT, saveInput } from './corpus.js';
import { MAX_INPUT_LENGTH, TARGET_NAMES } from './targets/index.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: process.env['FUZZ_SECONDS'] ?? '60' },
    runs: { type: 'string', default: process.env['FUZZ_RUNS'] ?? '1000000' },
    targets: { type: 'string', default: process.env['FUZZ_TARGETS'] ?? '' },
    seed: { type: 'string', default: process.env['FUZZ_SEED'] ?? String(Date.now() % 0x7fffffff) },
    save: { type: 'boolean', default: process.env['FUZZ_SAVE'] === '1' },
    'save-max-bytes': { type: 'string', default: '8192' },
    'hang-seconds': { type: 'string', default: '30' },
  },
});

const seconds = Number(values.seconds);
const maxRuns = Number(values.runs);
const seed = Number(values.seed);
const hangMillis = Number(values['hang-seconds']) * 1000;
const names = values.targets ? values.targets.split(',') : [...TARGET_NAMES];
for (const n of names) if (!TARGET_NAMES.includes(n)) throw new Error(`unknown fuzz target ${n} (known: ${TARGET_NAMES.join(', ')})`);
if (!(seconds > 0) || !(maxRuns > 0)) throw new Error('--seconds and --runs must be positive');
const end = Date.now() + seconds * 1000;

/** Each target gets an equal part of the time left, so an overrun is not carried over. */
function runTarget(name: string, targetsLeft: number): Promise<CampaignReport> {
  const current = new SharedArrayBuffer(4 + MAX_INPUT_LENGTH);
  const share = Math.max(0, end - Date.now()) / targetsLeft;
  const job: CampaignJob = { target: name, deadline: Date.now() + share, maxRuns, seed, save: values.save, saveMaxBytes: Number(values['save-max-bytes']), current };
  const lost = (why: string): CampaignReport => {
    const n = Atomics.load(new Int32Array(current, 0, 1), 0);
    const file = saveInput(name, Buffer.from(new Uint8Array(current, 4, n)), 'hang-');
    return { target: name, executions: 0, millis: share, corpusStart: 0, corpusEnd: 0, newInputs: 0, saved: 0, blocks: 0, failures: [{ file, message: why }] };
  };
  return new Promise((resolve) => {
    const worker = new Worker(new URL('./campaign-worker.js', import.meta.url), { workerData: job });
    let settled = false;
    // A thunk: a lost run's input is saved only if nothing else settled first.
    const settle = (report: () => CampaignReport) => {
      if (settled) return;
      settled = true;
      clearTimeout(watchdog);
      resolve(report());
    };
    const watchdog = setTimeout(() => {
      settle(() => lost(`no answer ${((share + hangMillis) / 1000).toFixed(1)} s after the start: the last input did not finish`));
      void worker.terminate();
    }, share + hangMillis);
    worker.once('message', (r: CampaignReport) => settle(() => r));
    worker.once('error', (err) => settle(() => lost(`the worker died: ${err.message}`)));
    worker.once('exit', (code) => settle(() => lost(`the worker exited with code ${code}`)));
  });
}

console.log(`fuzz: ${names.length} targets, ${seconds} s in all, at most ${maxRuns} runs each, seed ${seed}${values.save ? `, saving new inputs to ${CORPUS_ROOT}` : ''}`);
const reports: CampaignReport[] = [];
for (const [i, name] of names.entries()) {
  const r = await runTarget(name, names.length - i);
  reports.push(r);
  const rate = r.millis > 0 ? Math.round((r.executions * 1000) / r.millis) : 0;
  console.log(
    `${r.target.padEnd(17)} ${String(r.executions).padStart(8)} runs (${rate}/s)  corpus ${r.corpusStart} -> ${r.corpusEnd} (${r.newInputs} new, ${r.saved} saved)  ${r.blocks} blocks  ${r.failures.length} failures`,
  );
  for (const f of r.failures) console.log(`  FAIL ${f.file}: ${f.message}`);
}
const failed = reports.filter((r) => r.failures.length > 0).length;
const total = reports.reduce((n, r) => n + r.executions, 0);
console.log(`fuzz: ${total} runs in ${((Date.now() - end) / 1000 + seconds).toFixed(1)} s`);
if (failed > 0) console.log(`fuzz: failing inputs are in ${CORPUS_ROOT}<target>/ (crash-*, hang-*): npm test replays them`);
console.log(`fuzz: ${reports.length - failed} passed, ${failed} failed`);
process.exitCode = failed > 0 ? 1 : 0;
