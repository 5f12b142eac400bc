// Switchboard benchmark suite runner: `npm run bench [-- --quick] [--only s1,s3] [--servers ws,raw] [--reps N]`.
// Builds the C load generator, then for every scenario and repetition starts each server
// (fresh process, pinned to CPU 0) in turn — A B C A B C ... — drives it with the generator
// pinned to CPU 1, and records the server's CPU time (utime+stime from /proc/<pid>/stat)
// per unit of work, throughput, latency and memory. See bench/README.md.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SCENARIOS, type GcCounts, type Probe, type Scenario, type Sample } from './scenarios.js';
import { renderReport, updateReadme, type RunInfo } from './report.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BENCH = path.join(ROOT, 'bench');
const BUILD = path.join(BENCH, 'build');
const LOADGEN = path.join(BUILD, 'loadgen');
const DIST_BENCH = path.join(ROOT, 'dist', 'bench');
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim() || 100);

export interface ServerDef {
  key: string;
  label: string;
  script: string;
  /** Arguments before --port/--host (a command and its operands). */
  leadArgs?: string[];
  args: string[];
  /** Give it a fresh --run-dir (removed when it stops). */
  runDir?: boolean;
  env: Record<string, string>;
  deflate: boolean; // supports permessage-deflate
  /** Only these scenarios (ids); all when absent. */
  scenarios?: string[];
}

const SERVERS: ServerDef[] = [
  {
    key: 'switchboard',
    label: 'Switchboard (examples/echo-server)',
    script: path.join(ROOT, 'dist', 'examples', 'echo-server.js'),
    args: [],
    env: {},
    deflate: true,
  },
  {
    key: 'ws',
    label: 'ws (plain)',
    script: path.join(DIST_BENCH, 'servers', 'ws-server.js'),
    args: [],
    env: { WS_NO_BUFFER_UTIL: '1', WS_NO_UTF_8_VALIDATE: '1' },
    deflate: true,
  },
  {
    key: 'ws-native',
    label: 'ws + bufferutil + utf-8-validate',
    script: path.join(DIST_BENCH, 'servers', 'ws-server.js'),
    args: ['--require-native'],
    env: {},
    deflate: true,
  },
  {
    key: 'raw',
    label: 'raw node:net (ceiling)',
    script: path.join(DIST_BENCH, 'servers', 'raw-net-server.js'),
    args: [],
    env: {},
    deflate: false,
  },
];
/**
 * The services-directory server (`switchboard serve`) with the same echo service run inline,
 * in a worker thread and in a child process (bench/fixtures/isolation-services; the service
 * declares no isolation, --isolation decides). They run scenario (8), whose baseline is
 * the inline one, and the memory row (7). Their workers and children inherit the pinning to
 * CPU 0; CPU and RSS are summed over the server's process tree.
 */
export const SERVE_SERVERS: ServerDef[] = (['inline', 'worker', 'process'] as const).map((isolation) => ({
  key: `serve-${isolation}`,
  label: `switchboard serve, echo service ${isolation === 'inline' ? 'inline' : `in a ${isolation === 'worker' ? 'worker thread' : 'child process'}`}`,
  script: path.join(ROOT, 'bin', 'switchboard.js'),
  leadArgs: ['serve', path.join(DIST_BENCH, 'fixtures', 'isolation-services'), '--isolation', isolation, '--no-deflate', '--log-level', 'warn', '--connections-per-ip', '0', '--handshakes-per-second', '0', '--messages-per-second', '0', '--bytes-per-second', '0'],
  args: [],
  runDir: true,
  env: {},
  deflate: false,
  scenarios: ['s7', 's8'],
}));

const ALIASES: Record<string, string> = { a: 'switchboard', b: 'ws', c: 'ws-native', d: 'raw', sb: 'switchboard' };

interface Options {
  quick: boolean;
  only: string[] | null;
  servers: string[] | null;
  reps: number;
  out: string | null;
  /** Run the cluster suite (bench/cluster.ts) after these scenarios. */
  cluster: boolean;
  /** Another Switchboard build (a checkout's root, built) measured beside this one. */
  compare: string | null;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { quick: false, only: null, servers: null, reps: 3, out: null, cluster: true, compare: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') o.quick = true;
    else if (a === '--only') o.only = argv[++i].split(',').map((s) => s.trim());
    else if (a === '--servers') o.servers = argv[++i].split(',').map((s) => ALIASES[s.trim()] ?? s.trim());
    else if (a === '--reps') o.reps = Math.max(1, Number(argv[++i]));
    else if (a === '--out') o.out = argv[++i];
    else if (a === '--no-cluster') o.cluster = false;
    else if (a === '--compare') o.compare = path.resolve(argv[++i]);
    else if (a === '--help' || a === '-h') {
      console.log(
        'usage: npm run bench -- [--quick] [--only s1,s2,...|echo32,...|cluster] [--servers a,b,c,d|switchboard,ws,ws-native,raw,serve-inline,serve-worker,serve-process] [--reps N] [--out file.md] [--no-cluster] [--compare DIR]',
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (o.quick && !argv.includes('--reps')) o.reps = 1;
  if (o.only !== null) {
    o.cluster &&= o.only.includes('cluster');
    o.only = o.only.filter((s) => s !== 'cluster');
  }
  return o;
}

/**
 * The cluster suite (bench/cluster.ts), after the servers' scenarios: one repetition at full
 * size unless --quick or --reps says otherwise (`npm run bench:cluster` makes the 3-repetition
 * record on its own), so that `npm run bench` stays within about 15 minutes.
 */
function runClusterSuite(opts: Options): Promise<number> {
  const args = opts.quick ? ['--quick'] : ['--reps', String(process.argv.includes('--reps') ? opts.reps : 1)];
  console.log(`\ncluster suite: npm run bench:cluster -- ${args.join(' ')}`);
  const p = spawn(process.execPath, ['--enable-source-maps', path.join(DIST_BENCH, 'cluster.js'), ...args], { stdio: 'inherit' });
  live.add(p);
  return new Promise((resolve) =>
    p.once('exit', (code) => {
      live.delete(p);
      resolve(code ?? 1);
    }),
  );
}

// ---------- processes ----------

export interface Running {
  def: ServerDef;
  pid: number;
  port: number;
  proc: ChildProcess;
  output: string;
  /** Collections so far, counted from the server's --trace-gc lines. */
  gc: GcCounts;
  /** The reason of each mark-compact so far. */
  reasons: string[];
  runDir: string | null;
}

/** Count --trace-gc lines (whole lines only; a partial one waits for the next chunk). */
function countGc(r: Running, text: string, carry: { rest: string }): void {
  const all = carry.rest + text;
  const cut = all.lastIndexOf('\n');
  carry.rest = all.slice(cut + 1);
  if (cut < 0) return;
  for (const line of all.slice(0, cut).split('\n')) {
    if (line.includes(': Scavenge')) r.gc.scavenge++;
    else if (line.includes(': Mark-Compact')) {
      r.gc.markCompact++;
      r.reasons.push(line.slice(line.lastIndexOf(')') + 1).replace(/;\s*$/, '').trim());
    } else continue;
    if (line.includes('external memory pressure')) r.gc.external++;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const live = new Set<ChildProcess>();

async function startServer(def: ServerDef, deflate: boolean): Promise<Running> {
  const port = await freePort();
  const hook = pathToFileURL(path.join(DIST_BENCH, 'servers', 'gc-hook.js')).href;
  // --trace-gc for every server alike: each sample says how many collections its phase had.
  const args = ['-c', '0', process.execPath, '--expose-gc', '--trace-gc', '--import', hook, def.script, ...(def.leadArgs ?? []), '--port', String(port), '--host', '127.0.0.1', ...def.args];
  const runDir = def.runDir ? mkdtempSync(path.join(os.tmpdir(), 'sb-bench-run-')) : null;
  if (runDir !== null) args.push('--run-dir', runDir);
  // Switchboard's example negotiates permessage-deflate whenever it is offered.
  if (deflate && !def.key.startsWith('switchboard')) args.push('--deflate');
  const proc = spawn('taskset', args, { env: { ...process.env, ...def.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  const r: Running = { def, pid: proc.pid ?? -1, port, proc, output: '', gc: { scavenge: 0, markCompact: 0, external: 0 }, reasons: [], runDir };
  const carry = { rest: '' };
  proc.stdout?.on('data', (d: Buffer) => {
    const text = d.toString();
    countGc(r, text, carry);
    // GC lines are counted, not kept: the output is for error messages.
    if (r.output.length < 65536) r.output += text;
  });
  proc.stderr?.on('data', (d: Buffer) => (r.output += d.toString()));
  let exited = false;
  proc.once('exit', () => {
    exited = true;
    live.delete(proc);
  });
  const until = Date.now() + 15000;
  while (Date.now() < until) {
    if (exited) throw new Error(`${def.key} exited during start: ${r.output.trim()}`);
    if (await canConnect(port)) {
      await sleep(200);
      return r;
    }
    await sleep(50);
  }
  await stopServer(r);
  throw new Error(`${def.key} did not listen on ${port} within 15 s: ${r.output.trim()}`);
}

async function stopServer(r: Running): Promise<void> {
  const p = r.proc;
  if (p.exitCode === null && p.signalCode === null) {
    const done = new Promise<void>((res) => p.once('exit', () => res()));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 3000);
    await done;
    clearTimeout(t);
  }
  if (r.runDir !== null) rmSync(r.runDir, { recursive: true, force: true });
}

/** The server and its descendants (a process-isolated service's child). Threads count with their process. */
function processTree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) {
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${all[i]}/task`);
    } catch {
      continue; // gone meanwhile
    }
    for (const t of tasks) {
      try {
        for (const c of readFileSync(`/proc/${all[i]}/task/${t}/children`, 'utf8').trim().split(/\s+/)) if (c) all.push(Number(c));
      } catch {
        /* gone meanwhile */
      }
    }
  }
  return all;
}

/** CPU seconds (utime + stime, all threads) of the server's process tree. */
export function serverCpu(pid: number): number {
  let ticks = 0;
  for (const p of processTree(pid)) {
    try {
      const s = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
    } catch {
      /* a child that exited meanwhile */
    }
  }
  return ticks / CLK_TCK;
}

/** Involuntary context switches of the server's main thread: the kernel gave its CPU to someone else. */
export function preempted(pid: number): number {
  const m = /nonvoluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

export function probe(r: Running): Probe {
  return { gc: { ...r.gc }, reasons: r.reasons, preempted: preempted(r.pid), at: performance.now() };
}

/** Resident memory of the server's process tree. */
export function serverRssKiB(pid: number): number {
  let kib = 0;
  for (const p of processTree(pid)) {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
    if (!m) return NaN;
    kib += Number(m[1]);
  }
  return kib;
}

export async function settleAndGc(pid: number, ms: number): Promise<void> {
  await sleep(ms);
  process.kill(pid, 'SIGUSR2');
  await sleep(500);
  process.kill(pid, 'SIGUSR2');
  await sleep(300);
}

export interface GenResult {
  ready: Record<string, number>;
  done: Record<string, number>;
}

/** Runs the generator on CPU 1. onReady runs after connect+warm-up (before the measured
 * phase), onDone after the measured phase while the connections are still open. */
export function runLoadgen(
  mode: string,
  args: (string | number)[],
  hooks: { onReady?: () => Promise<void> | void; onDone?: () => Promise<void> | void },
  timeoutMs: number,
): Promise<GenResult> {
  return new Promise((resolve, reject) => {
    const full = ['-c', '1', LOADGEN, mode, ...args.map(String), '--timeout-ms', String(timeoutMs)];
    const p = spawn('taskset', full, { stdio: ['pipe', 'pipe', 'pipe'] });
    live.add(p);
    let buf = '';
    let err = '';
    const res: GenResult = { ready: {}, done: {} };
    const killer = setTimeout(() => p.kill('SIGKILL'), timeoutMs + 5000);
    let chain = Promise.resolve();
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith('READY ')) {
          res.ready = JSON.parse(line.slice(6));
          chain = chain.then(async () => {
            await hooks.onReady?.();
            p.stdin.write('GO\n');
          });
        } else if (line.startsWith('DONE ')) {
          res.done = JSON.parse(line.slice(5));
          chain = chain.then(async () => {
            await hooks.onDone?.();
            p.stdin.end('EXIT\n');
          });
        }
      }
    });
    p.stdin.on('error', () => {});
    p.on('exit', (code) => {
      clearTimeout(killer);
      live.delete(p);
      chain
        .then(() => {
          if (code !== 0) reject(new Error(`loadgen ${mode} exited ${code}: ${err.trim()}`));
          else resolve(res);
        })
        .catch(reject);
    });
  });
}

// ---------- main ----------

function buildLoadgen(): void {
  mkdirSync(BUILD, { recursive: true });
  const src = path.join(BENCH, 'loadgen.c');
  if (existsSync(LOADGEN) && statSync(LOADGEN).mtimeMs > statSync(src).mtimeMs) return;
  console.log(`building ${path.relative(ROOT, LOADGEN)}: cc -O2 -o bench/build/loadgen bench/loadgen.c`);
  const r = spawnSync('cc', ['-O2', '-Wall', '-o', LOADGEN, src], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('building the load generator failed');
}

function gitCommit(): string {
  const head = spawnSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']).stdout?.toString().trim() || 'unknown';
  const dirty = spawnSync('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no', 'src', 'examples']).stdout?.toString().trim();
  return dirty ? `${head} (+ uncommitted changes in src/ or examples/)` : head;
}

function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${cpu}, ${os.cpus().length} CPUs, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, Linux ${os.release()}`;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  if (opts.only?.length === 0) {
    if (opts.cluster) process.exitCode = await runClusterSuite(opts);
    return;
  }
  const load0 = os.loadavg()[0];
  buildLoadgen();
  const scenarios = SCENARIOS.filter(
    (s) => !opts.only || opts.only.includes(s.id) || opts.only.includes(s.key),
  );
  const all = [...SERVERS, ...SERVE_SERVERS];
  if (opts.compare) {
    all.splice(1, 0, {
      ...SERVERS[0]!,
      key: 'switchboard-compare',
      label: `Switchboard built in ${opts.compare}`,
      script: path.join(opts.compare, 'dist', 'examples', 'echo-server.js'),
    });
  }
  const runs = (def: ServerDef, sc: Scenario): boolean => (!sc.servers || sc.servers.includes(def.key)) && (!def.scenarios || def.scenarios.includes(sc.id));
  let servers = all.filter(
    (s) =>
      (!opts.servers || opts.servers.includes(s.key) || (s.key === 'switchboard-compare' && opts.servers.includes('switchboard'))) &&
      scenarios.some((sc) => runs(s, sc)),
  );
  const skipped: string[] = [];
  servers = servers.filter((s) => {
    if (existsSync(s.script)) return true;
    skipped.push(`${s.key}: ${path.relative(ROOT, s.script)} not found (not built yet)`);
    return false;
  });
  for (const s of skipped) console.log(`skipping ${s}`);
  if (!servers.length || !scenarios.length) throw new Error('nothing to run');
  const natives = await checkNative(servers);
  const samples: Sample[] = [];
  const wsVersion = (JSON.parse(readFileSync(path.join(ROOT, 'node_modules', 'ws', 'package.json'), 'utf8')) as { version: string }).version;
  console.log(`${machine()}; node ${process.version}; ws ${wsVersion}; reps ${opts.reps}${opts.quick ? ' (quick)' : ''}`);

  for (const sc of scenarios) {
    for (let rep = 1; rep <= opts.reps; rep++) {
      for (const def of servers) {
        if ((sc.deflate && !def.deflate) || !runs(def, sc)) continue;
        const tag = `[${sc.id} ${sc.key}] rep ${rep}/${opts.reps} ${def.key}`;
        let running: Running | null = null;
        try {
          running = await startServer(def, sc.deflate);
          const rows = await sc.run(running, { quick: opts.quick, runLoadgen, serverCpu, serverRssKiB, settleAndGc, probe });
          for (const row of rows) {
            samples.push({ ...row, scenario: sc.id, server: def.key, rep });
            console.log(`${tag}: ${row.summary}`);
          }
        } catch (e) {
          console.log(`${tag}: FAILED ${(e as Error).message}`);
          samples.push({ scenario: sc.id, server: def.key, rep, part: sc.parts[0], failed: (e as Error).message, summary: '' });
        } finally {
          if (running) await stopServer(running);
        }
      }
    }
  }

  const partial = opts.quick || opts.only !== null || opts.servers !== null || opts.reps < 3 || opts.compare !== null;
  const date = new Date().toISOString().slice(0, 10);
  const cmd = ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ');
  const info: RunInfo = {
    date: new Date().toISOString(),
    machine: machine(),
    node: process.version,
    ws: wsVersion,
    commit: gitCommit(),
    command: cmd,
    reps: opts.reps,
    quick: opts.quick,
    servers: servers.map((s) => ({ key: s.key, label: s.label })),
    skipped,
    natives,
    seconds: Math.round((Date.now() - t0) / 1000),
    load: [load0, os.loadavg()[0]],
  };
  const md = renderReport(info, SCENARIOS.filter((s) => scenarios.includes(s)), samples);
  const out = opts.out
    ? path.resolve(opts.out)
    : partial
      ? path.join(BUILD, `results-${date}-partial.md`)
      : path.join(BENCH, 'results', `${date}.md`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, md);
  writeFileSync(out.replace(/\.md$/, '.json'), JSON.stringify({ info, samples }, null, 1) + '\n');
  if (!partial) updateReadme(path.join(BENCH, 'README.md'), md, path.relative(BENCH, out));
  console.log('\n' + md);
  console.log(`wrote ${path.relative(ROOT, out)} in ${info.seconds} s`);
  if (opts.cluster) process.exitCode = await runClusterSuite(opts);
}

/** Confirms which native helpers the ws-native server really loads (not the JS fallback). */
async function checkNative(servers: ServerDef[]): Promise<string> {
  const lines: string[] = [];
  for (const def of servers.filter((s) => s.key === 'ws' || s.key === 'ws-native')) {
    const r = await startServer(def, false);
    await sleep(100);
    await stopServer(r);
    const line = r.output.split('\n').find((l) => l.startsWith('listening')) ?? r.output.trim();
    lines.push(`${def.key}: ${line}`);
    console.log(`${def.key}: ${line}`);
  }
  return lines.join('; ');
}

function cleanup(): void {
  for (const p of live) p.kill('SIGKILL');
}
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});
process.on('SIGTERM', () => {
  cleanup();
  process.exit(143);
});

main().catch((e: unknown) => {
  console.error(e);
  cleanup();
  process.exit(1);
});

export type { Scenario };
