// Cluster benchmarks (issue 10): `npm run bench:cluster [-- --quick] [--only fanout,history,resume]
// [--brokers ipc,redis,nats] [--reps N] [--out file.md] [--cpu-prof DIR]`. Cross-node room fan-out against the
// single process, the cost of history, and resume after a node is killed, for each broker.
// Servers on CPU 0, the room generator (bench/room-loadgen.c) on CPU 1. See bench/README.md.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildGenerator } from './cluster/generator.js';
import { killAll } from './cluster/processes.js';
import { renderReport, updateBenchReadme, type RunInfo } from './cluster/report.js';
import { fanout, history, resume, type Ctx, type Sample, type ScenarioKey, type Settings } from './cluster/scenarios.js';
import type { Layout } from './cluster/topology.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SCENARIOS: ScenarioKey[] = ['fanout', 'history', 'resume'];
const BROKERS: Layout[] = ['ipc', 'redis', 'nats'];

interface Options {
  quick: boolean;
  only: ScenarioKey[];
  brokers: Layout[];
  reps: number;
  out: string | null;
  cpuProf: string | null;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { quick: false, only: SCENARIOS, brokers: BROKERS, reps: 3, out: null, cpuProf: null };
  const list = <T extends string>(v: string | undefined, allowed: readonly T[], what: string): T[] => {
    const xs = (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    for (const x of xs) if (!allowed.includes(x as T)) throw new Error(`unknown ${what} ${x} (${allowed.join(', ')})`);
    return xs as T[];
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') o.quick = true;
    else if (a === '--only') o.only = list(argv[++i], SCENARIOS, 'scenario');
    else if (a === '--brokers') o.brokers = list(argv[++i], BROKERS, 'broker');
    else if (a === '--reps') o.reps = Math.max(1, Math.min(10, Number(argv[++i]) || 1));
    else if (a === '--out') o.out = argv[++i] ?? null;
    else if (a === '--cpu-prof') o.cpuProf = path.resolve(argv[++i] ?? 'bench/build/cpu-prof');
    else if (a === '--help' || a === '-h') {
      console.log('usage: npm run bench:cluster -- [--quick] [--only fanout,history,resume] [--brokers ipc,redis,nats] [--reps N] [--out file.md] [--cpu-prof DIR]');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (o.quick && !argv.includes('--reps')) o.reps = 1;
  return o;
}

function settings(quick: boolean): Settings {
  return quick
    ? { members: 200, historyMembers: 10, historyRate: 300, resumeClients: 200, warmupMs: 300, durationMs: 1000, resumeRate: 20 }
    : { members: 1000, historyMembers: 10, historyRate: 300, resumeClients: 1000, warmupMs: 1000, durationMs: 3000, resumeRate: 20 };
}

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? `${r.stdout}${r.stderr}`.trim() : '';
}

function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${cpu}, ${os.cpus().length} CPUs, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, Linux ${os.release()}`;
}

function gitCommit(): string {
  const head = sh('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']) || 'unknown';
  const dirty = sh('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no', 'src', 'examples', 'bench']);
  return dirty ? `${head} (+ uncommitted changes)` : head;
}

const uptime = (): string => sh('uptime', []).replace(/^.*?up/, 'up');

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  for (const tool of ['taskset', 'cc']) if (!sh('which', [tool])) throw new Error(`${tool} is needed`);
  if (os.cpus().length < 2) throw new Error('two CPUs are needed (servers on CPU 0, the generator on CPU 1)');
  const skipped: string[] = [];
  const brokers = opts.brokers.filter((b) => {
    if (b === 'ipc' || sh('which', [`${b}-server`])) return true;
    skipped.push(`${b}: ${b}-server is not installed`);
    return false;
  });
  const bin = path.join(ROOT, 'bin', 'switchboard.js');
  const services = path.join(ROOT, 'dist', 'bench', 'fixtures', 'cluster-services');
  if (!existsSync(path.join(services, 'bench.js'))) throw new Error(`${path.relative(ROOT, services)} is not built: npm run build`);
  const ctx: Ctx = {
    paths: { bin, services },
    generator: buildGenerator(ROOT),
    clkTck: Number(sh('getconf', ['CLK_TCK']) || 100),
    settings: settings(opts.quick),
    // profiles of the server nodes, written when they stop (a SIGKILLed node writes none)
    nodeArgs: opts.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', opts.cpuProf] : [],
  };
  const versions = [
    brokers.includes('redis') ? `redis-server ${/v=(\S+)/.exec(sh('redis-server', ['--version']))?.[1] ?? '?'}` : '',
    brokers.includes('nats') ? `nats-server ${sh('nats-server', ['--version']).replace(/^nats-server:\s*/, '')}` : '',
  ].filter(Boolean);
  const load = { before: uptime(), after: '', samples: [] as number[] };
  const sampler = setInterval(() => load.samples.push(os.loadavg()[0]!), 5000);
  console.log(`${machine()}; node ${process.version}; ${versions.join(', ')}; reps ${opts.reps}${opts.quick ? ' (quick)' : ''}; load ${load.before}`);

  const samples: Sample[] = [];
  const record = (tag: string, s: Sample): void => {
    samples.push(s);
    console.log(`${tag}${s.variant ? ` ${s.variant}` : ''}: ${s.failed ? `FAILED ${s.failed}` : s.summary}`);
  };
  const failed = (scenario: ScenarioKey, layout: Layout, rep: number, e: unknown): Sample => ({ scenario, layout, rep, failed: (e as Error).message, figures: {}, summary: '' });
  for (const sc of opts.only) {
    const layouts: Layout[] = sc === 'resume' ? brokers : ['single', ...brokers];
    for (let rep = 1; rep <= opts.reps; rep++) {
      for (const layout of layouts) {
        const tag = `[${sc}] rep ${rep}/${opts.reps} ${layout}`;
        console.log(`${tag} ... (load ${os.loadavg()[0]!.toFixed(2)})`);
        try {
          if (sc === 'fanout') record(tag, await fanout(layout, rep, ctx));
          else if (sc === 'history') for (const s of await history(layout, rep, ctx)) record(tag, s);
          else record(tag, await resume(layout, rep, ctx));
        } catch (e) {
          record(tag, failed(sc, layout, rep, e));
        }
      }
    }
  }
  clearInterval(sampler);
  load.after = uptime();

  const full = !opts.quick && opts.only.length === SCENARIOS.length && brokers.length === BROKERS.length && opts.reps >= 3;
  const date = new Date().toISOString().slice(0, 10);
  const info: RunInfo = {
    date: new Date().toISOString(),
    command: ['npm run bench:cluster', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
    seconds: Math.round((Date.now() - t0) / 1000),
    reps: opts.reps,
    quick: opts.quick,
    machine: machine(),
    node: process.version,
    commit: gitCommit(),
    brokers: versions.join(', ') || 'no external broker',
    layouts: ['single', ...brokers],
    settings: ctx.settings,
    load,
    skipped,
  };
  const { md, verdicts } = renderReport(info, samples);
  const out = opts.out ? path.resolve(opts.out) : full ? path.join(ROOT, 'bench', 'results', `${date}-cluster.md`) : path.join(ROOT, 'bench', 'build', `results-${date}-cluster-partial.md`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, md + '\n');
  writeFileSync(out.replace(/\.md$/, '.json'), JSON.stringify({ info, samples }, null, 1) + '\n');
  if (full) updateBenchReadme(path.join(ROOT, 'bench', 'README.md'), info, verdicts, path.relative(path.join(ROOT, 'bench'), out));
  console.log('\n' + md);
  console.log(`wrote ${path.relative(ROOT, out)} in ${info.seconds} s`);
  if (samples.some((s) => s.failed)) process.exitCode = 1;
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    killAll();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  });
}

main()
  .catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => killAll());
