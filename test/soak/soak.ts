// The soak: a `switchboard serve` process under thousands of command clients (this process
// is the load generator) joining and leaving rooms, calling, publishing and announcing,
// dropped at random or resuming with `since`, slow consumers that stop reading, and an
// isolated service crashed on a schedule. At the end it accounts for every reply and room
// message and compares the server's RSS, file descriptors and active handles with the start.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createClient } from '../../src/client/index.js';
import { connect } from '../../src/transport/index.js';
import { controlRequest } from '../../src/runtime/control-client.js';
import type { ServerStatus } from '../../src/runtime/control-protocol.js';
import { BIN, freePort } from '../cluster/harness.js';
import { ServerProcess } from '../runtime/server-process.js';
import { crashOnce, crashyUser, live, slowConsumer, sleep, type Clock } from './clients.js';
import { Ledger } from './ledger.js';

export interface SoakOptions {
  durationMs: number;
  /** Command clients kept connected (witnesses included). */
  connections: number;
  /** The isolated service is crashed this often. */
  crashEveryMs: number;
  /** Mean pause between one client's actions. */
  actionEveryMs?: number;
  /** A slow consumer starts this often (at most 5 at a time, each kept 20 s). */
  slowEveryMs?: number;
  /** Lifetime of a client, ms: uniform between these. */
  lifetimeMs?: [number, number];
  /** Progress lines. */
  log?: (line: string) => void;
}

const MiB = 1024 * 1024;
/**
 * After the connections closed, the JS heap in use must be back near the start: what a leak
 * of connections, rooms, timers or replies would grow. RSS is held to a looser bound: the
 * heap's pages V8 keeps for reuse and what glibc's allocator keeps of the sockets' native
 * buffers after hours of churn are not a leak, and grow with the run's peak, not its length
 * (10-minute run, 3,000 connections: heap used 29.6 -> 28.0 MiB, RSS 147 -> 260 MiB of a
 * 359 MiB peak). Both measured in the README's soak figures.
 */
export const HEAP_BOUND = { bytes: 16 * MiB, ratio: 0.25 };
export const RSS_BOUND = { bytes: 128 * MiB, ratio: 1 };

export interface ResourceFigures {
  rss: number;
  heapUsed: number;
  fds: number;
  active: Record<string, number>;
  connections: number;
}

export interface SoakReport {
  durationMs: number;
  ledger: Ledger;
  start: ResourceFigures;
  peak: ResourceFigures;
  end: ResourceFigures;
  crashRestarts: number;
  exitCode: number | null;
  checks: Array<{ name: string; ok: boolean; detail: string }>;
}

const SERVICE = pathToFileURL(fileURLToPath(new URL('../../src/app/service.js', import.meta.url))).href;

function writeServices(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sb-soak-services-'));
  writeFileSync(
    join(dir, 'soak.ts'),
    `import { defineService } from '${SERVICE}';
export default defineService({
  rooms: { volatile: (room) => room === 'firehose' },
  commands: {
    echo: { handler: (d) => d },
    slow: { handler: (d: any) => new Promise((r) => setTimeout(() => r(d), d.ms)) },
    say: { handler: (d: any, { service }) => service.publish(d.room, d.text) },
    announce: { handler: (d: any, { service }) => { service.broadcast('announce', d); return true; } },
    blast: { handler: async (d: any, { service }) => { await service.publish('firehose', 'x'.repeat(d.size)); return true; } },
  },
});
`,
  );
  writeFileSync(
    join(dir, 'crashy.ts'),
    `import { defineService } from '${SERVICE}';
export default defineService({
  isolation: 'process',
  commands: {
    work: { handler: (d: any) => ({ pid: process.pid, n: d.n }) },
    // later than the reply, which must leave the process first
    crash: { handler: () => { setTimeout(() => { throw new Error('soak: crashed on purpose'); }, 200); return 'crashing'; } },
  },
});
`,
  );
  return dir;
}

async function status(runDir: string): Promise<ServerStatus> {
  return (await controlRequest(runDir, { type: 'status' })) as ServerStatus;
}

function figures(s: ServerStatus): ResourceFigures {
  return { rss: s.memory.rss, heapUsed: s.memory.heapUsed, fds: s.resources?.fds ?? -1, active: s.resources?.active ?? {}, connections: s.connections };
}

async function waitFor(cond: () => Promise<boolean>, ms: number, every = 250): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await cond().catch(() => false)) return true;
    if (Date.now() > end) return false;
    await sleep(every);
  }
}

export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const say = o.log ?? (() => undefined);
  const actionEveryMs = o.actionEveryMs ?? 4_000;
  const slowEveryMs = o.slowEveryMs ?? 5_000;
  const [lifeMin, lifeMax] = o.lifetimeMs ?? [5_000, Math.max(10_000, Math.min(120_000, o.durationMs / 3))];
  const services = writeServices();
  const runDir = mkdtempSync(join(tmpdir(), 'sb-soak-run-'));
  const port = await freePort();
  const server = new ServerProcess(BIN, [
    'serve', services, '--port', String(port), '--host', '127.0.0.1', '--run-dir', runDir, '--log-level', 'warn',
    '--history-size', '1000', '--max-restarts', '1000000', '--restart-delay-ms', '100', '--restart-max-delay-ms', '1000',
    // every client comes from 127.0.0.1: the per-address abuse limits would refuse the load itself
    '--connections-per-ip', '0', '--handshakes-per-second', '0',
  ]);
  const url = `ws://127.0.0.1:${port}`;
  const ledger = new Ledger();
  const rooms = Array.from({ length: Math.max(4, Math.round(o.connections / 50)) }, (_, i) => `room-${i}`);
  let running = true;
  const clock: Clock = { running: () => running };
  try {
    if (!(await waitFor(async () => (await status(runDir)).listening.length > 0, 30_000))) throw new Error(`the server did not start: ${server.stderr}`);

    // warm-up: every service loaded and every path run once, then everything closed again
    const warm = new Ledger();
    const warmClock: Clock = { running: () => true };
    await Promise.all(Array.from({ length: 50 }, () => live({ url: `${url}/soak`, rooms, ledger: warm, clock: warmClock, lifetimeMs: 2_000, actionEveryMs: 200, kind: 'member' })));
    // the crashed service's process is up before the start is measured (its pipes are part of it)
    if (!(await waitFor(() => crashyUser(`${url}/crashy`, warm, warmClock, 1_000), 60_000))) throw new Error('the crashy service never answered');
    await waitFor(async () => (await status(runDir)).connections === 0, 30_000);
    await sleep(2_000);
    const start = figures(await status(runDir));
    say(`start: rss ${mb(start.rss)}, heap used ${mb(start.heapUsed)}, fds ${start.fds}, active ${JSON.stringify(start.active)}`);

    const t0 = Date.now();
    const lives: Array<Promise<unknown>> = [];
    const announces: Array<Set<number>> = [];
    const witnesses = Math.min(10, Math.max(2, Math.round(o.connections / 200)));
    for (let i = 0; i < witnesses; i++) {
      const got = new Set<number>();
      announces.push(got);
      lives.push(live({ url: `${url}/soak`, rooms, ledger, clock, lifetimeMs: Infinity, actionEveryMs, kind: 'witness', announces: got }));
    }
    const ackedAnnounces: number[] = [];
    const announcer = createClient(`${url}/soak`, { connect, reconnect: false });
    const slow: Array<Promise<boolean>> = [];
    let slowLive = 0;
    let crashyLive = 0;
    let alive = 0;
    let peak = start;
    let nextCrash = t0 + o.crashEveryMs;
    let nextSlow = t0 + slowEveryMs;
    let nextAnnounce = t0 + 1_000;
    let nextReport = t0 + 10_000;
    let n = 0;
    const blaster = createClient(`${url}/soak`, { connect, reconnect: false });
    while (Date.now() - t0 < o.durationMs) {
      const now = Date.now();
      // keep the population up, at most 50 new ones per turn
      for (let launched = 0; alive < o.connections - witnesses && launched < 50; launched++) {
        alive += 1;
        const kind = Math.random() < 0.15 ? 'resumer' : 'member';
        lives.push(live({ url: `${url}/soak`, rooms, ledger, clock, lifetimeMs: lifeMin + Math.random() * (lifeMax - lifeMin), actionEveryMs, kind, dropChance: 0.3 }).finally(() => (alive -= 1)));
      }
      while (crashyLive < 10) {
        crashyLive += 1;
        lives.push(crashyUser(`${url}/crashy`, ledger, clock, 10_000).finally(() => (crashyLive -= 1)));
      }
      if (now >= nextCrash) {
        nextCrash += o.crashEveryMs;
        void crashOnce(`${url}/crashy`, ledger);
      }
      if (now >= nextAnnounce) {
        nextAnnounce += 1_000;
        const k = ++n;
        void announcer.call('announce', { n: k }).then(() => ackedAnnounces.push(k), () => ledger.problem(`announce ${k} failed`));
      }
      if (now >= nextSlow && slowLive < 5) {
        nextSlow += slowEveryMs;
        slowLive += 1;
        ledger.slowConsumers += 1;
        const done = slowConsumer('127.0.0.1', port, '/soak', Promise.race([sleep(20_000), new Promise<void>((r) => void waitFor(async () => !running, Infinity, 200).then(() => r()))]));
        slow.push(done.then((closed) => {
          slowLive -= 1;
          if (closed) ledger.slowClosedByServer += 1;
          return closed;
        }));
      }
      void blaster.call('blast', { size: 32 * 1024 }).catch(() => undefined);
      if (now >= nextReport) {
        nextReport += 10_000;
        const s = figures(await status(runDir));
        if (s.rss > peak.rss) peak = s;
        say(`${Math.round((now - t0) / 1000)} s: ${ledger.live} clients, ${s.connections} server connections, ${ledger.commandsSent} commands, ${ledger.roomMessages} room messages, rss ${mb(s.rss)}, fds ${s.fds}`);
      } else if (now % 2_000 < 100) {
        const s = figures(await status(runDir));
        if (s.rss > peak.rss) peak = s;
      }
      await sleep(100);
    }

    // wind down: lives close cleanly after their rooms reached the last acknowledged offsets
    running = false;
    const witnessesDone = await waitFor(async () => announces.every((got) => ackedAnnounces.every((k) => got.has(k))), 20_000, 50);
    if (!witnessesDone) {
      for (const got of announces) ledger.announceMisses += ackedAnnounces.filter((k) => !got.has(k)).length;
      ledger.problem('a witness missed an acknowledged announce');
    }
    ledger.announces = ackedAnnounces.length;
    await Promise.all(lives);
    await Promise.all(slow);
    announcer.close();
    blaster.close();
    const durationMs = Date.now() - t0;
    say(`load over after ${Math.round(durationMs / 1000)} s; waiting for the server to see every connection closed`);
    const drained = await waitFor(async () => (await status(runDir)).connections === 0, 60_000);
    if (!drained) ledger.problem('the server still counts connections after every client closed');

    // memory, descriptors and handles back to where they were
    const bound = start.rss + Math.max(RSS_BOUND.bytes, RSS_BOUND.ratio * start.rss);
    const heapBound = start.heapUsed + Math.max(HEAP_BOUND.bytes, HEAP_BOUND.ratio * start.heapUsed);
    let end = figures(await status(runDir));
    await waitFor(async () => {
      end = figures(await status(runDir));
      return end.rss <= bound && end.heapUsed <= heapBound && end.fds <= start.fds && handlesBack(start.active, end.active);
    }, 30_000, 1_000);
    say(`end: rss ${mb(end.rss)} (start ${mb(start.rss)}, bound ${mb(bound)}), heap used ${mb(end.heapUsed)} (start ${mb(start.heapUsed)}), fds ${end.fds} (start ${start.fds}), active ${JSON.stringify(end.active)}`);
    const crashy = (await status(runDir)).services.find((s) => s.path === '/crashy');
    const crashRestarts = crashy?.restarts ?? 0;

    server.child.kill('SIGTERM');
    const exit = await server.exited(60_000);
    const checks = [
      check('every acknowledged command had its reply', ledger.repliesMissing === 0 && ledger.repliesWrong === 0, `${ledger.repliesOk} replies, ${ledger.repliesMissing} missing, ${ledger.repliesWrong} wrong, ${ledger.abandoned} abandoned by drops`),
      check('every room message reached every member that stayed', ledger.tailMisses === 0 && ledger.problems.every((p) => !p.startsWith('room gap')), `${ledger.roomMessages} room messages, ${ledger.published} published, ${ledger.tailMisses} members short`),
      check('every announce reached every witness', ledger.announceMisses === 0, `${ledger.announces} announces to ${witnesses} witnesses`),
      check('resumes with since recovered', ledger.resumes === ledger.resumesRecovered, `${ledger.resumesRecovered} of ${ledger.resumes}`),
      check('no unexpected close', Object.keys(ledger.unexpectedCloses).length === 0, JSON.stringify(ledger.unexpectedCloses)),
      check('the crashed service came back each time', crashRestarts >= ledger.crashes && ledger.crashes > 0, `${ledger.crashes} crashes, ${crashRestarts} restarts`),
      check('JS heap back near the start (no leak)', end.heapUsed <= heapBound, `start ${mb(start.heapUsed)}, end ${mb(end.heapUsed)}, bound ${mb(heapBound)}`),
      check('RSS back within the bound', end.rss <= bound, `start ${mb(start.rss)}, peak ${mb(peak.rss)}, end ${mb(end.rss)}, bound ${mb(bound)}`),
      check('no file descriptor leak', end.fds <= start.fds, `start ${start.fds}, peak ${peak.fds}, end ${end.fds}`),
      check('no timer or handle leak', handlesBack(start.active, end.active), `start ${JSON.stringify(start.active)}, end ${JSON.stringify(end.active)}`),
      check('no other problem', ledger.problems.length === 0, ledger.problems.slice(0, 10).join('; ')),
      check('the server stopped cleanly', exit.code === 0, `exit ${exit.code ?? exit.signal}`),
    ];
    return { durationMs, ledger, start, peak, end, crashRestarts, exitCode: exit.code, checks };
  } finally {
    running = false;
    await server.kill();
    rmSync(services, { recursive: true, force: true });
    rmSync(runDir, { recursive: true, force: true });
  }
}

/** No kind of handle is more numerous than at the start (Timeout, TCPSocketWrap, ...). */
function handlesBack(start: Record<string, number>, end: Record<string, number>): boolean {
  return Object.entries(end).every(([kind, count]) => count <= (start[kind] ?? 0));
}

function check(name: string, ok: boolean, detail: string): { name: string; ok: boolean; detail: string } {
  return { name, ok, detail };
}

export function mb(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}
