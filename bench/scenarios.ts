// The scenarios of issues 5 and 13. Each runs against one freshly started server process and
// returns one sample per part (a part is one measured figure: CPU per unit, or memory).
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import zlib from 'node:zlib';
import type { GenResult, Running } from './run.js';

const BUILD = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/build');

export interface Part {
  key: string;
  title: string;
  kind: 'cpu' | 'memory';
  unit: string; // e.g. 'µs/msg'
  rate?: string; // e.g. 'msg/s'
  latency?: string; // what p50/p99 measure
  extras?: { key: string; label: string }[];
}

/** Garbage collections of the server (from its --trace-gc lines) during the measured phase. */
export interface GcCounts {
  scavenge: number;
  markCompact: number;
  /** Collections V8 started because of external (ArrayBuffer) memory. */
  external: number;
  /** Why each mark-compact ran, as --trace-gc gave it (e.g. "allocation failure; GC in old space requested"). */
  markCompactReasons?: string[];
}

/** What the server process went through during the measured phase, to explain a deviant repetition. */
export interface Conditions {
  gc?: GcCounts;
  /** Times per second the kernel took CPU 0 away from the server (other jobs pinned or scheduled there). */
  preemptPerSec?: number;
  /** 1-minute load average of the machine when the phase ended. */
  load?: number;
  /** Units of work done in the phase. */
  units?: number;
}

export interface Sample extends Conditions {
  scenario: string;
  server: string;
  rep: number;
  part: Part;
  summary: string;
  failed?: string;
  value?: number; // the figure compared (CPU µs per unit, or KiB per connection)
  rate?: number;
  p50?: number;
  p99?: number;
  srvUtil?: number; // server CPU seconds / wall seconds of the measured phase
  genUtil?: number; // generator CPU seconds / wall seconds
  genUnit?: number; // generator CPU µs per unit: far below the server's figure = the generator is not the limit
  extra?: Record<string, number>;
}

export type PartSample = Omit<Sample, 'scenario' | 'server' | 'rep'>;

export interface Ctx {
  quick: boolean;
  runLoadgen(
    mode: string,
    args: (string | number)[],
    hooks: { onReady?: () => Promise<void> | void; onDone?: () => Promise<void> | void },
    timeoutMs: number,
  ): Promise<GenResult>;
  serverCpu(pid: number): number;
  serverRssKiB(pid: number): number;
  settleAndGc(pid: number, ms: number): Promise<void>;
  /** Snapshot of GC counts and involuntary context switches so far; diff two with `conditions`. */
  probe(r: Running): Probe;
}

export interface Probe {
  gc: GcCounts;
  /** Reasons of every mark-compact so far (the phase's are those after the first probe's count). */
  reasons: string[];
  preempted: number;
  at: number;
}

export function conditions(a: Probe, b: Probe): Conditions {
  const secs = (b.at - a.at) / 1000;
  return {
    gc: {
      scavenge: b.gc.scavenge - a.gc.scavenge,
      markCompact: b.gc.markCompact - a.gc.markCompact,
      external: b.gc.external - a.gc.external,
      markCompactReasons: b.reasons.slice(a.gc.markCompact, b.gc.markCompact),
    },
    preemptPerSec: secs > 0 ? (b.preempted - a.preempted) / secs : 0,
    load: os.loadavg()[0],
  };
}

export interface Scenario {
  id: string;
  key: string;
  title: string;
  description: string;
  deflate: boolean;
  /** Only these servers run it (all when absent). */
  servers?: string[];
  /** The server its ratios are taken to (default ws). */
  baseline?: string;
  parts: Part[];
  run(r: Running, ctx: Ctx): Promise<PartSample[]>;
}

// ---------- payloads ----------

function payloadFile(name: string, payloads: Buffer[]): string {
  mkdirSync(BUILD, { recursive: true });
  const file = path.join(BUILD, `payload-${name}.bin`);
  const parts: Buffer[] = [u32(payloads.length)];
  for (const p of payloads) parts.push(u32(p.length), p);
  writeFileSync(file, Buffer.concat(parts));
  return file;
}
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

const WORDS = 'the of and to in is you that it he was for on are as with his they at be this have from or one had by word but not what all were we when your can said there use an each which she do how their if will up other about out many then them these so some her would make like him into time has look two more write go see number no way could people my than first water been call who oil its now find long down day did get come made may part'.split(' ');

/** A deterministic ~JSON chat/event batch of exactly `size` bytes. */
export function jsonLike(variant: number, size = 4096): Buffer {
  let seed = 0x9e3779b9 ^ (variant * 7919);
  const rnd = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 2 ** 32;
  };
  const items: unknown[] = [];
  const doc = (extraPad: string) => JSON.stringify({ type: 'batch', seq: variant, items, pad: extraPad });
  for (let i = 0; ; i++) {
    const text = Array.from({ length: 4 + Math.floor(rnd() * 10) }, () => WORDS[Math.floor(rnd() * WORDS.length)]).join(' ');
    const item = {
      id: variant * 1000 + i,
      user: `user${Math.floor(rnd() * 500)}`,
      room: `room-${Math.floor(rnd() * 8)}`,
      ts: 1763780000000 + Math.floor(rnd() * 1e6),
      kind: ['join', 'message', 'leave', 'typing'][Math.floor(rnd() * 4)],
      text,
      score: Math.round(rnd() * 1e4) / 100,
      ok: rnd() < 0.5,
    };
    items.push(item);
    if (doc('').length > size) {
      items.pop();
      break;
    }
  }
  const s = doc('x'.repeat(size - doc('').length));
  const b = Buffer.from(s);
  if (b.length !== size) throw new Error('jsonLike size');
  return b;
}

function deflateMessage(p: Buffer): Buffer {
  const z = zlib.deflateRawSync(p, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  if (!z.subarray(z.length - 4).equals(Buffer.from([0, 0, 0xff, 0xff]))) throw new Error('unexpected deflate tail');
  return z.subarray(0, z.length - 4);
}

// ---------- measurement helpers ----------

const fmt = (n: number | undefined, d = 1) => (n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(d));

function check(res: GenResult, expectOpen?: number): void {
  const d = res.done;
  if (d.timeout) throw new Error('generator hit its hard timeout');
  if (res.ready.failed || d.failed) throw new Error(`${res.ready.failed || d.failed} connections failed`);
  if (d.errors) throw new Error(`${d.errors} connection errors (dropped connection or unexpected frame)`);
  if (d.lost) throw new Error(`${d.lost} messages never completed`);
  if (d.mismatches) throw new Error(`${d.mismatches} echoed messages differ from what was sent`);
  if (expectOpen !== undefined && res.ready.open < expectOpen) throw new Error(`only ${res.ready.open}/${expectOpen} open`);
}

/** A CPU-per-unit run: server CPU read just before the generator's measured phase starts
 * (after connect + warm-up) and just after it has ended and drained. */
async function cpuRun(
  r: Running,
  ctx: Ctx,
  mode: string,
  args: (string | number)[],
  timeoutMs: number,
  part: Part,
  expectOpen: number,
  extra?: (res: GenResult) => Record<string, number>,
): Promise<PartSample> {
  let c0 = 0;
  let c1 = 0;
  let w0 = 0;
  let w1 = 0;
  let p0: Probe | null = null;
  let p1: Probe | null = null;
  const res = await ctx.runLoadgen(
    mode,
    args,
    {
      onReady: () => {
        p0 = ctx.probe(r);
        c0 = ctx.serverCpu(r.pid);
        w0 = performance.now();
      },
      onDone: () => {
        c1 = ctx.serverCpu(r.pid);
        w1 = performance.now();
        p1 = ctx.probe(r);
      },
    },
    timeoutMs,
  );
  check(res, expectOpen);
  const d = res.done;
  if (!d.units) throw new Error('no work completed');
  const cpu = c1 - c0;
  const wall = (w1 - w0) / 1000;
  const s: PartSample = {
    part,
    value: (cpu / d.units) * 1e6,
    rate: d.units / d.elapsed_s,
    p50: d.p50_us,
    p99: d.p99_us,
    srvUtil: cpu / wall,
    genUtil: d.gen_cpu_s / d.elapsed_s,
    genUnit: (d.gen_cpu_s / d.units) * 1e6,
    extra: extra ? extra(res) : {},
    ...(p0 !== null && p1 !== null ? conditions(p0 as Probe, p1 as Probe) : {}),
    units: d.units,
    summary: '',
  };
  s.summary =
    `${fmt(s.value, 2)} ${part.unit}, ${fmt(s.rate, 0)} ${part.rate ?? ''}, p50 ${fmt(s.p50, 0)} µs p99 ${fmt(s.p99, 0)} µs, ` +
    `server CPU ${fmt((s.srvUtil ?? 0) * 100, 0)}%, generator CPU ${fmt((s.genUtil ?? 0) * 100, 0)}% (${fmt(s.genUnit, 2)} ${part.unit}), ` +
    `GC ${s.gc?.scavenge ?? '-'} scavenges ${s.gc?.markCompact ?? '-'} mark-compacts, preempted ${fmt(s.preemptPerSec, 0)}/s ` +
    Object.entries(s.extra ?? {})
      .map(([k, v]) => `${k}=${fmt(v)}`)
      .join(' ');
  return s;
}

/** Memory per connection: warm the server, GC, baseline RSS, open `conns` connections via
 * `mode` (holding them), settle, GC, RSS again. */
async function memoryRun(
  r: Running,
  ctx: Ctx,
  warm: () => Promise<unknown>,
  mode: string,
  args: (string | number)[],
  conns: number,
  timeoutMs: number,
  part: Part,
  settleMs: number,
): Promise<PartSample> {
  await warm();
  await ctx.settleAndGc(r.pid, 300);
  const base = ctx.serverRssKiB(r.pid);
  let after = 0;
  const measure = async () => {
    await ctx.settleAndGc(r.pid, settleMs);
    after = ctx.serverRssKiB(r.pid);
  };
  const res = await ctx.runLoadgen(mode, args, mode === 'idle' ? { onReady: measure } : { onDone: measure }, timeoutMs);
  check(res, conns);
  const open = res.done.open ?? res.ready.open;
  const s: PartSample = {
    part,
    value: (after - base) / open,
    extra: { conns: open, baseMiB: base / 1024, afterMiB: after / 1024, connectPerSec: open / (res.ready.connect_s || 1) },
    summary: '',
  };
  if (args.includes('--deflate') && res.done.ext < open) throw new Error(`permessage-deflate negotiated on ${res.done.ext}/${open}`);
  s.summary = `${fmt(s.value, 2)} KiB/conn (${open} conns, RSS ${fmt(base / 1024)} -> ${fmt(after / 1024)} MiB)`;
  return s;
}

// ---------- scenarios ----------

const P = {
  echo32: { key: 'cpu', title: 'echo 32 B text', kind: 'cpu', unit: 'µs/msg', rate: 'msg/s', latency: 'round trip' },
  echo64k: { key: 'cpu', title: 'echo 64 KiB binary', kind: 'cpu', unit: 'µs/msg', rate: 'msg/s', latency: 'round trip' },
  fanout: { key: 'cpu', title: 'fan-out 64 B', kind: 'cpu', unit: 'µs/delivery', rate: 'deliveries/s', latency: 'publish to delivery' },
  idle: { key: 'mem', title: 'idle memory', kind: 'memory', unit: 'KiB/conn' },
  handshake: { key: 'cpu', title: 'handshakes', kind: 'cpu', unit: 'µs/handshake', rate: 'handshakes/s', latency: 'connect to 101' },
  deflateCpu: {
    key: 'cpu',
    title: 'permessage-deflate echo 4 KiB JSON',
    kind: 'cpu',
    unit: 'µs/msg',
    rate: 'msg/s',
    latency: 'round trip',
    extras: [
      { key: 'replyBytes', label: 'reply payload B' },
      { key: 'compressedPct', label: 'replies compressed %' },
    ],
  },
  deflateMem: { key: 'mem', title: 'permessage-deflate memory', kind: 'memory', unit: 'KiB/conn' },
  isolation: { key: 'cpu', title: 'isolated echo 32 B text', kind: 'cpu', unit: 'µs/msg', rate: 'msg/s', latency: 'round trip' },
} satisfies Record<string, Part>;

const textPayloads = () =>
  payloadFile(
    'text32',
    Array.from({ length: 16 }, (_, i) => Buffer.from(`{"n":${String(10000000 + i * 7919).padStart(8, '0')},"t":"abcdefghijk"}`)),
  );

/** 64 connections x 32 messages of 32 bytes in flight on /echo. */
async function echo32(r: Running, ctx: Ctx, part: Part): Promise<PartSample[]> {
  const file = textPayloads();
  const [w, d] = ctx.quick ? [300, 1000] : [1000, 3000];
  const args = ['--port', r.port, '--path', '/echo', '--conns', 64, '--window', 32, '--payload', file, '--opcode', 1];
  return [await cpuRun(r, ctx, 'echo', [...args, '--warmup-ms', w, '--duration-ms', d], 60000, part, 64)];
}

export const SCENARIOS: Scenario[] = [
  {
    id: 's1',
    key: 'echo32',
    title: '(1) Echo, 32-byte text messages',
    description: '64 connections x 32 messages in flight on /echo; unit = one message echoed.',
    deflate: false,
    parts: [P.echo32],
    run: (r, ctx) => echo32(r, ctx, P.echo32),
  },
  {
    id: 's2',
    key: 'echo64k',
    title: '(2) Echo, 64 KiB binary messages',
    description: '16 connections x 4 messages in flight on /echo; unit = one message echoed.',
    deflate: false,
    parts: [P.echo64k],
    async run(r, ctx) {
      const file = payloadFile('bin64k', [randomBytes(65536), randomBytes(65536)]);
      const [w, d] = ctx.quick ? [300, 1000] : [1000, 3000];
      const args = ['--port', r.port, '--path', '/echo', '--conns', 16, '--window', 4, '--payload', file, '--opcode', 2];
      return [
        await cpuRun(r, ctx, 'echo', [...args, '--warmup-ms', w, '--duration-ms', d], 60000, P.echo64k, 16, (res) => ({
          MiBps: res.done.bytes_in / res.done.elapsed_s / 2 ** 20,
        })),
      ];
    },
  },
  {
    id: 's3',
    key: 'fanout',
    title: '(3) Fan-out to 5000 subscribers',
    description:
      '5000 subscribers + 1 publisher on /broadcast; the publisher keeps 32 64-byte text messages in flight (a message completes when all 5000 subscribers have it); unit = one message delivered to one subscriber. Latency is publish-to-delivery and includes the queue of up to 32 x 5000 deliveries, so it mostly mirrors throughput.',
    deflate: false,
    parts: [P.fanout],
    async run(r, ctx) {
      const subs = ctx.quick ? 1000 : 5000;
      const [w, d] = ctx.quick ? [300, 1000] : [1000, 3000];
      const args = ['--port', r.port, '--path', '/broadcast', '--conns', subs, '--window', 32, '--size', 64];
      return [await cpuRun(r, ctx, 'fanout', [...args, '--warmup-ms', w, '--duration-ms', d], 90000, P.fanout, subs + 1)];
    },
  },
  {
    id: 's4',
    key: 'idle',
    title: '(4) Idle memory, 19000 connections',
    description:
      '19000 open, idle connections on /echo (the machine allows 20000 open files per process, so the server cannot hold 20000 plus its own descriptors); unit = server RSS above its baseline per connection, after a 2 s settle and a forced full GC (all servers are started with --expose-gc and a preloaded SIGUSR2 -> gc() hook). The server is first warmed with 500 connections that open and close.',
    deflate: false,
    parts: [P.idle],
    async run(r, ctx) {
      const n = ctx.quick ? 2000 : 19000;
      const warm = () =>
        ctx.runLoadgen('idle', ['--port', r.port, '--path', '/echo', '--conns', 500, '--connect-concurrency', 64], {}, 30000);
      return [
        await memoryRun(
          r,
          ctx,
          warm,
          'idle',
          ['--port', r.port, '--path', '/echo', '--conns', n, '--connect-concurrency', 128],
          n,
          120000,
          P.idle,
          ctx.quick ? 500 : 2000,
        ),
      ];
    },
  },
  {
    id: 's5',
    key: 'handshake',
    title: '(5) Handshake rate',
    description:
      '32 concurrent workers, each: TCP connect, HTTP upgrade on /echo, send a close frame, wait for the server to close; unit = one full open+close cycle. p50/p99: connect to 101.',
    deflate: false,
    parts: [P.handshake],
    async run(r, ctx) {
      const [w, d] = ctx.quick ? [300, 1000] : [1000, 3000];
      const args = ['--port', r.port, '--path', '/echo', '--workers', 32, '--warmup-ms', w, '--duration-ms', d];
      return [await cpuRun(r, ctx, 'handshake', args, 60000, P.handshake, 0)];
    },
  },
  {
    id: 's6',
    key: 'deflate',
    title: '(6) permessage-deflate',
    description:
      'Servers run with permessage-deflate enabled (ws: perMessageDeflate with its defaults); the generator offers `permessage-deflate; client_max_window_bits` and sends 16 variants of a 4 KiB JSON-like text, each compressed on its own (no client context takeover). CPU: 64 connections x 4 in flight, unit = one message inflated, echoed and deflated; reply size = mean compressed payload the server sent. Memory: on a fresh server, 1000 connections each echo one message, then RSS above baseline per connection after a settle and a forced GC.',
    deflate: true,
    parts: [P.deflateCpu, P.deflateMem],
    async run(r, ctx) {
      const variants = Array.from({ length: 16 }, (_, i) => jsonLike(i));
      const file = payloadFile('json4k-deflated', variants.map(deflateMessage));
      const expect = payloadFile('json4k', variants);
      const base = ['--port', r.port, '--path', '/echo', '--payload', file, '--expect', expect, '--opcode', 1, '--rsv1', '--deflate'];
      const n = ctx.quick ? 200 : 1000;
      const warm = () =>
        ctx.runLoadgen('echo', [...base, '--conns', 4, '--window', 1, '--warmup-ms', 0, '--duration-ms', 300], {}, 30000);
      const mem = await memoryRun(
        r,
        ctx,
        warm,
        'echo',
        [...base, '--conns', n, '--window', 1, '--max-msgs', n, '--warmup-ms', 0, '--duration-ms', 20000, '--connect-concurrency', 64],
        n,
        60000,
        P.deflateMem,
        ctx.quick ? 500 : 1500,
      );
      const [w, d] = ctx.quick ? [300, 1000] : [1000, 3000];
      const cpu = await cpuRun(
        r,
        ctx,
        'echo',
        [...base, '--conns', 64, '--window', 4, '--warmup-ms', w, '--duration-ms', d],
        60000,
        P.deflateCpu,
        64,
        (res) => {
          if (res.done.ext < 64) throw new Error(`permessage-deflate negotiated on ${res.done.ext}/64 connections`);
          return { replyBytes: res.done.bytes_in / res.done.msgs, compressedPct: (100 * res.done.rsv1_msgs) / res.done.msgs };
        },
      );
      return [cpu, mem];
    },
  },
  {
    id: 's7',
    key: 'idle10k',
    title: '(7) Idle memory, 10,000 connections',
    description:
      '10,000 open, idle connections on /echo, measured like (4): the library server, and the services-directory server (`switchboard serve`, echo service of scenario 8) in each isolation mode; the serve rows count the RSS of the whole process tree (server and child process) and collect garbage only in the server\'s main thread.',
    deflate: false,
    parts: [{ ...P.idle, title: 'idle memory, 10,000 connections' }],
    async run(r, ctx) {
      const n = ctx.quick ? 2000 : 10000;
      const warm = () =>
        ctx.runLoadgen('idle', ['--port', r.port, '--path', '/echo', '--conns', 500, '--connect-concurrency', 64], {}, 30000);
      return [
        await memoryRun(
          r,
          ctx,
          warm,
          'idle',
          ['--port', r.port, '--path', '/echo', '--conns', n, '--connect-concurrency', 128],
          n,
          120000,
          { ...P.idle, title: 'idle memory, 10,000 connections' },
          ctx.quick ? 500 : 2000,
        ),
      ];
    },
  },
  {
    id: 's8',
    key: 'isolation',
    title: '(8) Isolated services: echo 32 B inline, in a worker thread, in a child process',
    description:
      'The services-directory server (`switchboard serve bench/fixtures/isolation-services --isolation inline|worker|process`) with one raw echo service, driven like (1): 64 connections x 32 messages in flight on /echo. The server and its worker thread or child process share CPU 0 (the pinning is inherited); CPU is summed over the process tree. "vs serve-inline" compares CPU per message; the targets compare throughput (msg/s), each isolated run to the inline run of the same repetition.',
    deflate: false,
    servers: ['serve-inline', 'serve-worker', 'serve-process'],
    baseline: 'serve-inline',
    parts: [P.isolation],
    run: (r, ctx) => echo32(r, ctx, P.isolation),
  },
];
