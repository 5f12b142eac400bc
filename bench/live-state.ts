// Live state to 5,000 subscribers of one value: Switchboard's versioned patches against the
// usual hand-made way with plain `ws` (re-send the whole value to every client on each change).
// The value is a 200-counter scoreboard (~3.5 KB of JSON); each change bumps one counter.
// Server on CPU 0 (taskset), the 5,000 clients and the driver in this process on CPU 1.
// Reported per server: server CPU per delivered change message (µs), delivered messages per
// second, and bytes on the wire per change per subscriber; median of the repetitions, with the
// ratio to `ws` from the same repetition. `npm run bench:live -- [--reps 3] [--changes 300] [--subscribers 5000]`
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connect, type WebSocket } from '../src/transport/index.js';

const { values } = parseArgs({ options: { reps: { type: 'string' }, changes: { type: 'string' }, subscribers: { type: 'string' }, out: { type: 'string' } } });
const reps = Number(values.reps ?? 3);
const changes = Number(values.changes ?? 300);
const subscribers = Number(values.subscribers ?? 5000);
const repo = fileURLToPath(new URL('../../', import.meta.url));
const SWITCHBOARD = join(repo, 'bin/switchboard.js');
// the service source (run through tsx by the server), not its compiled copy
const FIXTURES = join(repo, 'bench/fixtures/live');
const DEADLINE_MS = 120_000;

function cpuTicks(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

function waitForPort(child: ChildProcess, pattern: RegExp): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = '';
    const on = (d: string) => {
      out += d;
      const m = pattern.exec(out);
      if (m) resolve(Number(m[1]));
    };
    child.stdout!.setEncoding('utf8').on('data', on);
    child.stderr!.setEncoding('utf8').on('data', on);
    child.on('exit', () => reject(new Error(`server exited: ${out}`)));
  });
}

interface Sample {
  cpuUsPerDelivery: number;
  deliveriesPerSecond: number;
  bytesPerChange: number;
}

/** Opens `n` sockets in batches (a burst of 5,000 SYNs would overflow the accept queue). */
async function openMany(url: string, n: number): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  for (let i = 0; i < n; i += 250) {
    sockets.push(...(await Promise.all(Array.from({ length: Math.min(250, n - i) }, () => connect(url, { perMessageDeflate: false })))));
  }
  return sockets;
}

async function runOnce(kind: 'switchboard' | 'ws'): Promise<Sample> {
  const runDir = mkdtempSync(join(tmpdir(), 'sb-bench-live-'));
  const args =
    kind === 'switchboard'
      ? [process.execPath, SWITCHBOARD, 'serve', FIXTURES, '--port', '0', '--host', '127.0.0.1', '--run-dir', runDir, '--log-level', 'warn', '--no-deflate']
      : [process.execPath, join(repo, 'dist/bench/fixtures/live-ws-server.js')];
  const server = spawn('taskset', ['-c', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const sockets: WebSocket[] = [];
  try {
    const port = await waitForPort(server, kind === 'switchboard' ? /console: +http:\/\/[^:]+:(\d+)\// : /listening (\d+)/);
    const url = `ws://127.0.0.1:${port}/board`;
    sockets.push(...(await openMany(url, subscribers)));
    let delivered = 0;
    let bytes = 0;
    const last = new Set<WebSocket>();
    let allDone: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (allDone = resolve));
    let subscribed = 0;
    let subscribedAll: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (subscribedAll = resolve));
    for (const ws of sockets) {
      ws.on('message', (data: Buffer) => {
        const text = data.toString('utf8');
        if (text.startsWith('{"id"')) {
          if (++subscribed === sockets.length) subscribedAll();
          return;
        }
        delivered += 1;
        bytes += data.length;
        // the last change: version `changes` (both servers write it as "v":N)
        if (text.includes(`"v":${changes},`) || text.endsWith(`"v":${changes}}`)) {
          last.add(ws);
          if (last.size === sockets.length) allDone();
        }
      });
      ws.send(kind === 'switchboard' ? JSON.stringify({ id: 1, cmd: 'live.subscribe', data: { name: 'board' } }) : '{"id":1,"subscribe":"board"}');
    }
    await ready;
    const driver = await connect(url, { perMessageDeflate: false });
    const t0 = process.hrtime.bigint();
    const cpu0 = cpuTicks(server.pid!);
    for (let i = 0; i < changes; i++) driver.send(kind === 'switchboard' ? JSON.stringify({ id: 100 + i, cmd: 'bump', data: i % 200 }) : JSON.stringify({ bump: i % 200 }));
    const timer = setTimeout(() => allDone(), DEADLINE_MS);
    await done;
    clearTimeout(timer);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpuUs = (cpuTicks(server.pid!) - cpu0) * 10_000;
    driver.terminate();
    if (last.size !== sockets.length) throw new Error(`${kind}: only ${last.size} of ${sockets.length} subscribers got the last change within ${DEADLINE_MS} ms`);
    return { cpuUsPerDelivery: cpuUs / delivered, deliveriesPerSecond: delivered / seconds, bytesPerChange: bytes / delivered };
  } finally {
    for (const ws of sockets) ws.terminate();
    server.kill('SIGKILL');
    rmSync(runDir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const samples: Record<'switchboard' | 'ws', Sample[]> = { switchboard: [], ws: [] };
const ratios: number[] = [];
for (let r = 0; r < reps; r++) {
  // interleaved, so drift on a shared machine hits both
  const w = await runOnce('ws');
  const s = await runOnce('switchboard');
  samples.ws.push(w);
  samples.switchboard.push(s);
  ratios.push(s.cpuUsPerDelivery / w.cpuUsPerDelivery);
  console.error(`rep ${r + 1}/${reps}: ws ${w.cpuUsPerDelivery.toFixed(2)} µs, switchboard ${s.cpuUsPerDelivery.toFixed(2)} µs per delivery`);
}

const row = (k: 'switchboard' | 'ws') => {
  const xs = samples[k];
  const cpu = xs.map((x) => x.cpuUsPerDelivery);
  return `| ${k === 'ws' ? '`ws`, whole value per change' : 'Switchboard live value, patches'} | ${median(cpu).toFixed(2)} (${Math.min(...cpu).toFixed(2)}–${Math.max(...cpu).toFixed(2)}) | ${k === 'ws' ? '1.00' : median(ratios).toFixed(2)} | ${Math.round(median(xs.map((x) => x.deliveriesPerSecond))).toLocaleString('en')} | ${Math.round(median(xs.map((x) => x.bytesPerChange)))} |`;
};
const report = [
  `## Live state: one value, ${subscribers.toLocaleString('en')} subscribers, ${changes} changes (median of ${reps})`,
  '',
  `Command: \`npm run bench:live -- --reps ${reps} --changes ${changes} --subscribers ${subscribers}\``,
  '',
  '| server | server CPU µs per delivered change (min–max) | vs ws | deliveries/s | bytes per change per subscriber |',
  '|---|---|---|---|---|',
  row('ws'),
  row('switchboard'),
  '',
].join('\n');
console.log(report);
if (values.out) {
  mkdirSync(join(values.out, '..'), { recursive: true });
  writeFileSync(values.out, report);
}
