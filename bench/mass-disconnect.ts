// Memory given back after a mass disconnect: a `switchboard serve` process takes N connections
// (each joins a room and runs a command), they all close, and its RSS is sampled until it
// settles. Figures go to bench/results/mass-disconnect-<date>.json.
//   npm run bench:mass-disconnect [-- --connections 10000 --runs 3]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { connect, type WebSocket } from '../src/transport/index.js';
import { controlRequest } from '../src/runtime/control-client.js';
import type { ServerStatus } from '../src/runtime/control-protocol.js';
import { BIN, freePort } from '../test/cluster/harness.js';
import { ServerProcess } from '../test/runtime/server-process.js';

const { values } = parseArgs({ options: { connections: { type: 'string', default: '10000' }, runs: { type: 'string', default: '3' }, out: { type: 'string' }, 'no-release': { type: 'boolean', default: false } } });
const N = Number(values.connections);
const RUNS = Number(values.runs);
const MiB = 1024 * 1024;
const SERVICE = pathToFileURL(fileURLToPath(new URL('../src/app/service.js', import.meta.url))).href;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function status(runDir: string): Promise<ServerStatus> {
  return (await controlRequest(runDir, { type: 'status' })) as ServerStatus;
}

/** Opens `n` connections, 200 at a time; each joins a room and gets a reply to one command. */
async function openMany(url: string, n: number): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      const ws = await connect(url, { handshakeTimeoutMs: 60_000 });
      ws.on('error', () => undefined);
      const replied = new Promise<void>((resolve) => {
        let seen = 0;
        ws.on('message', () => ++seen === 2 && resolve());
      });
      ws.send(JSON.stringify({ id: 1, cmd: 'room.join', data: { room: `r${i % 100}` } }));
      ws.send(JSON.stringify({ id: 2, cmd: 'echo', data: { i, pad: 'x'.repeat(64) } }));
      await replied;
      sockets.push(ws);
    }
  };
  await Promise.all(Array.from({ length: 200 }, worker));
  return sockets;
}

interface Run {
  before: number;
  peak: number;
  /** RSS when the server counts no connection any more, then 1, 2, 5 and 10 s later. */
  after: Array<{ atMs: number; rss: number }>;
  heapBefore: number;
  heapPeak: number;
  heapAfter: number;
}

async function oneRun(): Promise<Run> {
  const services = mkdtempSync(join(tmpdir(), 'sb-massd-'));
  writeFileSync(join(services, 'svc.ts'), `import { defineService } from '${SERVICE}';\nexport default defineService({ rooms: true, commands: { echo: { handler: (d) => d } } });\n`);
  const runDir = mkdtempSync(join(tmpdir(), 'sb-massd-run-'));
  const port = await freePort();
  const server = new ServerProcess(BIN, ['serve', services, '--port', String(port), '--run-dir', runDir, '--log-level', 'warn', '--no-deflate', '--connections-per-ip', '0', '--handshakes-per-second', '0', ...(values['no-release'] ? ['--no-memory-release'] : [])]);
  try {
    for (let i = 0; i < 300; i++) {
      if ((await status(runDir).catch(() => null))?.listening.length) break;
      await sleep(100);
    }
    const url = `ws://127.0.0.1:${port}/svc`;
    // warm-up: the service loaded, every path run once
    for (const ws of await openMany(url, 200)) ws.close();
    while ((await status(runDir)).connections > 0) await sleep(100);
    await sleep(2_000);
    const s0 = await status(runDir);
    const sockets = await openMany(url, N);
    const s1 = await status(runDir);
    for (const ws of sockets) ws.close();
    while ((await status(runDir)).connections > 0) await sleep(50);
    const t0 = Date.now();
    const after: Run['after'] = [];
    let last = s1;
    for (const at of [0, 1_000, 2_000, 5_000, 10_000]) {
      await sleep(Math.max(0, t0 + at - Date.now()));
      last = await status(runDir);
      after.push({ atMs: at, rss: last.memory.rss });
    }
    return { before: s0.memory.rss, peak: s1.memory.rss, after, heapBefore: s0.memory.heapUsed, heapPeak: s1.memory.heapUsed, heapAfter: last.memory.heapUsed };
  } finally {
    server.child.kill('SIGTERM');
    await server.exited(60_000).catch(() => server.kill());
    rmSync(services, { recursive: true, force: true });
    rmSync(runDir, { recursive: true, force: true });
  }
}

const runs: Run[] = [];
for (let r = 0; r < RUNS; r++) {
  const run = await oneRun();
  runs.push(run);
  const at = run.after.map((a) => `${a.atMs / 1000}s ${(a.rss / MiB).toFixed(1)}`).join(', ');
  console.log(`run ${r + 1}: before ${(run.before / MiB).toFixed(1)} MiB, with ${N} connections ${(run.peak / MiB).toFixed(1)} MiB, after closing: ${at} MiB`);
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const summary = {
  command: `npm run bench:mass-disconnect -- --connections ${N} --runs ${RUNS}${values['no-release'] ? ' --no-release' : ''}`,
  memoryRelease: !values['no-release'],
  node: process.version,
  connections: N,
  medianMiB: {
    before: +(median(runs.map((r) => r.before)) / MiB).toFixed(1),
    peak: +(median(runs.map((r) => r.peak)) / MiB).toFixed(1),
    after: Object.fromEntries(runs[0]!.after.map((a, i) => [`${a.atMs / 1000}s`, +(median(runs.map((r) => r.after[i]!.rss)) / MiB).toFixed(1)])),
  },
  runs,
};
console.log(JSON.stringify(summary.medianMiB));
const out = values.out ?? join(fileURLToPath(new URL('../../bench/results/', import.meta.url)), `mass-disconnect-${new Date().toISOString().slice(0, 10)}${values['no-release'] ? '-no-release' : ''}.json`);
mkdirSync(join(out, '..'), { recursive: true });
writeFileSync(out, JSON.stringify(summary, null, 2) + '\n');
console.log(`written to ${out}`);
