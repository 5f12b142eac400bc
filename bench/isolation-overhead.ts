// Measures the cost of isolation: the same raw echo service served inline, in a worker
// thread and in a child process, driven by the bench load generator (bench/build/loadgen,
// built by `npm run bench`). `npm run bench:isolation -- [--reps 3] [--duration-ms 3000]`.
// Server on CPU 0, generator on CPU 1 (taskset), 64 connections x 32 in flight, 32-byte text.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { reps: { type: 'string' }, 'duration-ms': { type: 'string' } } });
const reps = Number(values.reps ?? 3);
const durationMs = Number(values['duration-ms'] ?? 3000);
const repo = fileURLToPath(new URL('../../', import.meta.url));
const LOADGEN = join(repo, 'bench/build/loadgen');
const PAYLOAD = join(repo, 'bench/build/payload-text32.bin');
const SWITCHBOARD = join(repo, 'bin/switchboard.js');
const SERVICES = fileURLToPath(new URL('./fixtures/isolation-services', import.meta.url));

function cpuTicks(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]); // utime stime cutime cstime
  } catch {
    return 0;
  }
}

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function runOnce(isolation: string): Promise<{ rate: number; cpuUsPerMsg: number }> {
  const runDir = mkdtempSync(join(tmpdir(), 'sb-bench-'));
  const server = spawn('taskset', ['-c', '0', process.execPath, SWITCHBOARD, 'serve', SERVICES, '--port', '0', '--run-dir', runDir, '--isolation', isolation, '--log-level', 'warn', '--no-deflate'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let err = '';
      server.stderr!.setEncoding('utf8').on('data', (d: string) => {
        err += d;
        const m = /console: +http:\/\/[^:]+:(\d+)\//.exec(err);
        if (m) resolve(Number(m[1]));
      });
      server.on('exit', () => reject(new Error(`server exited: ${err}`)));
    });
    const pids = () => [server.pid!, ...childPids(server.pid!)];
    let cpu0 = 0;
    const gen = spawn('taskset', ['-c', '1', LOADGEN, 'echo', '--port', String(port), '--path', '/echo', '--conns', '64', '--window', '32', '--payload', PAYLOAD, '--opcode', '1', '--warmup-ms', '1000', '--duration-ms', String(durationMs), '--timeout-ms', '60000'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const done = await new Promise<Record<string, number>>((resolve, reject) => {
      let buf = '';
      gen.stdout!.setEncoding('utf8').on('data', (d: string) => {
        buf += d;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.startsWith('READY ')) {
            cpu0 = pids().reduce((a, p) => a + cpuTicks(p), 0);
            gen.stdin!.write('GO\n');
          } else if (line.startsWith('DONE ')) {
            resolve(JSON.parse(line.slice(5)) as Record<string, number>);
            gen.stdin!.end('EXIT\n');
          }
        }
      });
      gen.on('exit', (code) => code !== 0 && reject(new Error(`loadgen exited ${code}`)));
    });
    const cpu1 = pids().reduce((a, p) => a + cpuTicks(p), 0);
    const msgs = done.msgs ?? done.messages ?? 0;
    const seconds = done.seconds ?? done.elapsed_s ?? durationMs / 1000;
    return { rate: msgs / seconds, cpuUsPerMsg: msgs > 0 ? ((cpu1 - cpu0) * 10_000) / msgs : NaN };
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    rmSync(runDir, { recursive: true, force: true });
  }
}

const results: Record<string, Array<{ rate: number; cpuUsPerMsg: number }>> = { inline: [], worker: [], process: [] };
for (let r = 0; r < reps; r++) {
  for (const isolation of Object.keys(results)) results[isolation]!.push(await runOnce(isolation));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const base = median(results.inline!.map((x) => x.rate));
console.log(`| isolation | msg/s (median of ${reps}) | vs inline | server CPU µs/msg |`);
console.log('|---|---|---|---|');
for (const [k, xs] of Object.entries(results)) {
  const rate = median(xs.map((x) => x.rate));
  console.log(`| ${k} | ${Math.round(rate)} | ${(rate / base).toFixed(2)} | ${median(xs.map((x) => x.cpuUsPerMsg)).toFixed(1)} |`);
}
