// The cluster benchmark report: bench/results/<date>-cluster.md (+ .json), and its targets
// table copied into bench/README.md between the CLUSTER-RESULTS markers after a full run.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Layout } from './topology.js';
import type { Sample, Settings } from './scenarios.js';
import { cell, disagrees, fmt, median } from './stats.js';

export interface LoadInfo {
  before: string;
  after: string;
  /** 1-minute load averages sampled during the run. */
  samples: number[];
}

export interface RunInfo {
  date: string;
  command: string;
  seconds: number;
  reps: number;
  quick: boolean;
  machine: string;
  node: string;
  commit: string;
  brokers: string;
  layouts: Layout[];
  settings: Settings;
  load: LoadInfo;
  skipped: string[];
}

export const TARGETS = { fanout: 1.3, history: 1.5, resumeP99Ms: 2000 };

const LABEL: Record<Layout, string> = {
  single: 'single process',
  ipc: 'ipc (--workers 2)',
  redis: 'redis',
  nats: 'nats',
};

const ok = (s: Sample): boolean => !s.failed && s.value !== undefined && Number.isFinite(s.value);
const num = (s: Sample, k: string): number => Number(s.figures[k]);

/** Per-repetition ratio of a sample to its baseline from the same repetition. */
function ratios(samples: Sample[], base: (s: Sample) => Sample | undefined): number[] {
  const r: number[] = [];
  for (const s of samples) {
    const b = base(s);
    if (ok(s) && b && ok(b)) r.push(s.value! / b.value!);
  }
  return r;
}

function failures(samples: Sample[]): string {
  const f = samples.filter((s) => s.failed);
  return f.length ? ` — ${f.length} failed: ${f[0]!.failed!.replace(/\|/g, '/').slice(0, 160)}` : '';
}

export interface Verdicts {
  rows: string[];
  all: Array<{ figure: string; met: boolean }>;
}

function targets(samples: Sample[], layouts: Layout[]): Verdicts {
  const rows: string[] = ['| figure | target | measured (median, min–max) | met |', '|---|---:|---:|---|'];
  const all: Verdicts['all'] = [];
  const add = (figure: string, target: string, measured: string, met: boolean | null): void => {
    rows.push(`| ${figure} | ${target} | ${measured} | ${met === null ? 'no data' : met ? 'yes' : 'no'} |`);
    if (met !== null) all.push({ figure, met });
  };
  const fan = samples.filter((s) => s.scenario === 'fanout');
  for (const l of layouts.filter((x) => x !== 'single')) {
    const r = ratios(
      fan.filter((s) => s.layout === l),
      (s) => fan.find((b) => b.layout === 'single' && b.rep === s.rep),
    );
    const m = median(r);
    add(`fan-out, receiving node CPU/delivery vs single process — ${LABEL[l]}`, `<= ${fmt(TARGETS.fanout)}`, r.length ? cell(r, 2) : '-', r.length ? m <= TARGETS.fanout : null);
  }
  const his = samples.filter((s) => s.scenario === 'history');
  for (const l of layouts) {
    const r = ratios(
      his.filter((s) => s.layout === l && s.variant === 'history'),
      (s) => his.find((b) => b.layout === l && b.variant === 'volatile' && b.rep === s.rep),
    );
    const m = median(r);
    const label = l === 'single' ? 'single process (memory, for reference)' : LABEL[l];
    add(`history vs volatile room, server CPU/message — ${label}`, `<= ${fmt(TARGETS.history)}`, r.length ? cell(r, 2) : '-', r.length ? m <= TARGETS.history : null);
  }
  const res = samples.filter((s) => s.scenario === 'resume');
  for (const l of layouts.filter((x) => x !== 'single')) {
    const rs = res.filter((s) => s.layout === l);
    const good = rs.filter(ok);
    if (!rs.length) continue;
    const p99 = good.map((s) => s.value!);
    const complete = good.every((s) => num(s, 'resumed') === num(s, 'clients') && num(s, 'missing') === 0 && num(s, 'gaps') === 0 && num(s, 'unverified') === 0 && !num(s, 'early'));
    const met = good.length === rs.length && complete && p99.every((v) => v <= TARGETS.resumeP99Ms);
    const resumed = good.map((s) => `${s.figures['resumed']}/${s.figures['clients']}`).join(', ');
    const missing = good.reduce((a, s) => a + num(s, 'missing') + num(s, 'gaps'), 0);
    add(
      `resume after SIGKILL, p99 reconnect → resumed (ms) — ${LABEL[l]}`,
      `<= ${fmt(TARGETS.resumeP99Ms, 0)}, all, none missing`,
      good.length ? `${cell(p99, 0)}; resumed ${resumed}; missing ${missing}` : '-',
      good.length ? met : null,
    );
  }
  return { rows, all };
}

function fanoutTable(samples: Sample[], layouts: Layout[]): string[] {
  const fan = samples.filter((s) => s.scenario === 'fanout');
  const L = [
    '| layout | receiving node µs/delivery | vs single | deliveries/s | members on receiving node | publishing node µs/delivery | broker/hub µs/msg | total µs/delivery | receiving node CPU | gen µs/delivery | gen CPU | deliveries per read | receiving node: deliveries per write | receiving node: reads per message | p50 ms | p99 ms | receiving node GC scav/MC per rep |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const l of layouts) {
    const rs = fan.filter((s) => s.layout === l);
    const good = rs.filter(ok);
    if (!good.length) {
      if (rs.length) L.push(`| ${LABEL[l]} | failed${failures(rs)} |`);
      continue;
    }
    const col = (k: string, d?: number): string => cell(good.map((s) => num(s, k)), d);
    const pct = (k: string): string => `${fmt(100 * median(good.map((s) => num(s, k))), 0)}%`;
    const r = ratios(rs, (s) => fan.find((b) => b.layout === 'single' && b.rep === s.rep));
    L.push(
      `| ${LABEL[l]} | ${col('recvUs')} | ${l === 'single' ? '1.00' : cell(r, 2)} | ${fmt(median(good.map((s) => num(s, 'deliveriesPerSec'))), 0)} | ${fmt(median(good.map((s) => num(s, 'recvSubs'))), 0)} | ${col('pubUs')} | ${l === 'single' ? '-' : col('brokerUsPerMsg', 1)} | ${col('totalUs')} | ${pct('recvUtil')} | ${col('genUs')} | ${pct('genUtil')} | ${fmt(median(good.map((s) => num(s, 'deliveriesPerRead'))), 2)} | ${fmt(median(good.map((s) => num(s, 'recvDeliveriesPerWrite'))), 2)} | ${fmt(median(good.map((s) => num(s, 'recvReadsPerMsg'))), 2)} | ${fmt(median(good.map((s) => num(s, 'p50ms'))), 0)} | ${fmt(median(good.map((s) => num(s, 'p99ms'))), 0)} | ${good.map((s) => `${s.figures['recvScavenges'] ?? '-'}/${s.figures['recvMarkCompacts'] ?? '-'}`).join(', ')} |${failures(rs)}`,
    );
  }
  return L;
}

function historyTable(samples: Sample[], layouts: Layout[]): string[] {
  const his = samples.filter((s) => s.scenario === 'history');
  const L = [
    '| layout | room | server µs/msg | with history vs volatile | msg/s | nodes µs/msg | publishing node µs/msg | broker/hub µs/msg | server CPU | gen µs/msg | p50 ms |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const l of layouts) {
    for (const variant of ['history', 'volatile'] as const) {
      const rs = his.filter((s) => s.layout === l && s.variant === variant);
      const good = rs.filter(ok);
      if (!good.length) {
        if (rs.length) L.push(`| ${LABEL[l]} | ${variant} | failed${failures(rs)} |`);
        continue;
      }
      const col = (k: string, d?: number): string => cell(good.map((s) => num(s, k)), d);
      const r =
        variant === 'history'
          ? cell(
              ratios(rs, (s) => his.find((b) => b.layout === l && b.variant === 'volatile' && b.rep === s.rep)),
              2,
            )
          : '1.00';
      L.push(
        `| ${LABEL[l]} | ${variant} | ${col('usPerMsg', 1)} | ${r} | ${fmt(median(good.map((s) => num(s, 'msgsPerSec'))), 0)} | ${col('nodesUsPerMsg', 1)} | ${col('pubNodeUsPerMsg', 1)} | ${l === 'single' ? '-' : col('brokerUsPerMsg', 1)} | ${fmt(100 * median(good.map((s) => num(s, 'serverUtil'))), 0)}% | ${col('genUsPerMsg', 1)} | ${fmt(median(good.map((s) => num(s, 'p50ms'))), 1)} |${failures(rs)}`,
      );
    }
  }
  return L;
}

function resumeTable(samples: Sample[], layouts: Layout[]): string[] {
  const res = samples.filter((s) => s.scenario === 'resume');
  const L = [
    '| layout | resumed | reconnect → resumed p50 ms | p99 ms | max ms | loss → resumed p99 ms | all resumed after the kill, ms | server CPU s to resume all | server CPU use meanwhile | replayed per client (mean / max) | missing | duplicates | rejoin failures | published | gen CPU |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const l of layouts.filter((x) => x !== 'single')) {
    const rs = res.filter((s) => s.layout === l);
    const good = rs.filter(ok);
    if (!good.length) {
      if (rs.length) L.push(`| ${LABEL[l]} | failed${failures(rs)} |`);
      continue;
    }
    const col = (k: string, d?: number): string => cell(good.map((s) => num(s, k)), d);
    const sum = (k: string): number => good.reduce((a, s) => a + num(s, k), 0);
    L.push(
      `| ${LABEL[l]} | ${good.map((s) => `${s.figures['resumed']}/${s.figures['clients']}`).join(', ')} | ${col('p50ms', 1)} | ${col('p99ms', 1)} | ${col('maxMs', 1)} | ${col('lostP99ms', 1)} | ${col('allResumedMs', 0)} | ${col('resumeCpuS', 2)} | ${fmt(100 * median(good.map((s) => num(s, 'resumeServerUtil'))), 0)}% | ${fmt(median(good.map((s) => num(s, 'replayedMean'))), 1)} / ${Math.max(...good.map((s) => num(s, 'replayedMax')))} | ${sum('missing') + sum('gaps')} (unverified ${sum('unverified')}) | ${sum('duplicates')} | ${sum('rejoinFailed')} | ${fmt(median(good.map((s) => num(s, 'published'))), 0)} | ${fmt(100 * median(good.map((s) => num(s, 'genUtil'))), 0)}% |${failures(rs)}`,
    );
  }
  return L;
}

function loadLine(load: LoadInfo): string {
  const s = load.samples;
  const during = s.length ? `during: 1-min load ${fmt(Math.min(...s))}–${fmt(Math.max(...s))} (mean ${fmt(s.reduce((a, b) => a + b, 0) / s.length)}) on 2 CPUs` : '';
  return `- Machine load: before \`${load.before}\`; after \`${load.after}\`; ${during}. Other jobs share the machine; a load above 2 means they competed with the run for CPU.`;
}

export function renderReport(info: RunInfo, samples: Sample[]): { md: string; verdicts: Verdicts } {
  const s = info.settings;
  const verdicts = targets(samples, info.layouts);
  const spread = new Set<string>();
  for (const sc of ['fanout', 'history', 'resume'] as const)
    for (const l of info.layouts)
      for (const v of [undefined, 'history', 'volatile'] as const) {
        const xs = samples.filter((x) => x.scenario === sc && x.layout === l && x.variant === v && ok(x)).map((x) => x.value!);
        if (disagrees(xs)) spread.add(`${sc} ${LABEL[l]}${v ? ` (${v})` : ''}`);
      }
  const L: string[] = [];
  L.push(`# Switchboard cluster benchmarks — ${info.date.slice(0, 10)}`, '');
  L.push(`- Command: \`${info.command}\` (${info.reps} repetition${info.reps > 1 ? 's' : ''}${info.quick ? ', quick mode' : ''}; took ${info.seconds} s)`);
  L.push(`- Machine: ${info.machine}; Node ${info.node}; ${info.brokers}; Switchboard at commit ${info.commit}; run at ${info.date}`);
  L.push(loadLine(info.load));
  for (const x of info.skipped) L.push(`- Not run: ${x}`);
  L.push(
    '- Method: every run starts fresh processes (nodes and broker). Server side pinned to CPU 0 (`taskset -c 0`: the nodes, the `--workers` primary, redis-server or nats-server), the generator (`bench/room-loadgen.c`, C, one epoll loop) to CPU 1. The figure is CPU time (utime+stime from /proc/<pid>/stat) per unit of work over the measured phase, read per process; since several server processes share CPU 0, throughput is bounded by their sum, but CPU time per unit is charged to each process separately, and the ratios are taken within one repetition. Cells: median (min–max) over repetitions; ⚠ marks a figure whose repetitions lie more than ±15% from their median.',
    `- Settings: fan-out room ${s.members} members per node (single process: ${2 * s.members}), publisher window 32, 64-byte data; history room ${s.historyMembers} members per node, ${s.historyRate} msg/s offered (at most 64 in flight), phases A B B A; resume ${s.resumeClients} clients, ${s.resumeRate} msg/s published, reconnect ${250} ms after the loss, \`--history-size 1000\`; ${s.warmupMs} ms warm-up, ${s.durationMs} ms measured.`,
    '',
  );
  L.push('## Targets (issue 10)', '', ...verdicts.rows, '');
  if (spread.size) L.push(`Repetitions disagree by more than ±15% in: ${[...spread].join('; ')}.`, '');
  L.push(
    '## (1) Cross-node room fan-out',
    '',
    `One room, ${s.members} members on each of two nodes (the single-process baseline: one node with all ${2 * s.members}); a publisher on the first node calls \`room.publish\` and keeps 32 messages in flight (a message is complete when every member has it). Figure: CPU of the node that did not publish per message delivered on it, as a ratio to the single process's CPU per delivery in the same repetition. "broker/hub µs/msg": redis-server, nats-server or the \`--workers\` primary per published message; "total": every server process per delivery; "deliveries per read": how many pushes the generator found per read(); "deliveries per write": deliveries on the receiving node per write system call it made (/proc/<pid>/io, counting writev), the server's own write batching; "reads per message": its read system calls (sockets of members and of the broker or hub) per published message; "GC": the receiving node's scavenges / mark-compacts in the measured phase of each repetition (every node runs with \`--trace-gc\`).`,
    '',
    ...fanoutTable(samples, info.layouts),
    '',
  );
  L.push(
    '## (2) The cost of history',
    '',
    `The same two nodes, a room of ${s.historyMembers} members per node, a publisher on the first node offering ${s.historyRate} messages/s (at most 64 in flight): in a room with history (numbered and stored: the broker's append) and in a volatile room (\`rooms: { volatile }\`: a plain publish), on the same processes, in four phases A B B A (B A A B on even repetitions) summed per variant, so that warm-up and drift fall on both. The same offered rate keeps the comparison fair: in a closed loop the cheaper path runs faster, batches more writes per syscall and looks cheaper still. Figure: CPU of every server-side process (both nodes and the broker or hub) per published message. The room is small on purpose: with 1000 members per node the per-delivery writes hide the per-message cost. p50 is the worst phase's.`,
    '',
    ...historyTable(samples, info.layouts),
    '',
  );
  L.push(
    '## (3) Resume after a node is killed',
    '',
    `${s.resumeClients} clients in one room on one node, a publisher on the other node publishing ${s.resumeRate} msg/s without pause. The runner kills the clients' node with SIGKILL; each client reconnects ${250} ms after it saw the connection drop (the command client's first backoff), to the other node (under \`--workers 2\`: to the shared port, where the surviving worker or its replacement takes it) and rejoins with \`since\` = the last position it saw. Measured per client: from its reconnect (connect() of the attempt that worked) to the rejoin reply; "loss → resumed" adds the backoff and the time to notice the loss. "server CPU s to resume all": CPU time of every surviving server-side process (node, broker or primary, a replacement worker) from the kill to the last client resumed, and its share of the wall time: far below 100% with long latencies means the server side waited for CPU that other jobs held. The rate (${s.resumeRate} msg/s, ${fmt(s.resumeRate * s.resumeClients, 0)} deliveries/s once all ${s.resumeClients} are on the survivor) is well within what one node delivers (scenario 1), so the figure is the resume and not a growing backlog. Verified: every client sees every message from its first to the last one published, in order (the recovered ones in the reply, then live ones); "missing" counts messages a client never saw, "unverified" clients that ended without a verifiable sequence.`,
    '',
    ...resumeTable(samples, info.layouts),
    '',
  );
  const failed = samples.filter((x) => x.failed);
  if (failed.length) {
    L.push('## Failed runs', '');
    for (const f of failed) L.push(`- ${f.scenario} ${LABEL[f.layout]}${f.variant ? ` (${f.variant})` : ''} rep ${f.rep}: ${f.failed}`);
    L.push('');
  }
  return { md: L.join('\n'), verdicts };
}

/** Copies the targets table of a full run into bench/README.md between its markers. */
export function updateBenchReadme(file: string, info: RunInfo, verdicts: Verdicts, resultsLink: string): void {
  if (!existsSync(file)) return;
  const text = readFileSync(file, 'utf8');
  const begin = '<!-- CLUSTER-RESULTS:BEGIN (written by bench/cluster.ts) -->';
  const end = '<!-- CLUSTER-RESULTS:END -->';
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  if (i < 0 || j < i) return;
  const body = [
    begin,
    `Latest full run, from [${resultsLink}](${resultsLink}) (\`${info.command}\`, ${info.reps} repetitions, ${info.seconds} s; load during the run: ${info.load.samples.length ? `${fmt(Math.min(...info.load.samples))}–${fmt(Math.max(...info.load.samples))}` : '?'} on 2 CPUs):`,
    '',
    ...verdicts.rows,
    end,
  ].join('\n');
  writeFileSync(file, text.slice(0, i) + body + text.slice(j + end.length));
}
