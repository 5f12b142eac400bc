// Turns the samples of a run into the markdown report (bench/results/<date>.md) and
// copies it into bench/README.md between the LATEST-RESULTS markers.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Sample, Scenario } from './scenarios.js';

export interface RunInfo {
  date: string;
  machine: string;
  node: string;
  ws: string;
  commit: string;
  command: string;
  reps: number;
  quick: boolean;
  servers: { key: string; label: string }[];
  skipped: string[];
  natives: string;
  seconds: number;
  /** 1-minute load average at the start and the end of the run. */
  load: [number, number];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
function f(n: number, d?: number): string {
  if (!Number.isFinite(n)) return '-';
  const digits = d ?? (Math.abs(n) >= 100 ? 0 : Math.abs(n) >= 10 ? 1 : 2);
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
function range(xs: number[], d?: number): string {
  if (xs.length < 2) return '';
  return ` (${f(Math.min(...xs), d)}–${f(Math.max(...xs), d)})`;
}
const num = (xs: (number | undefined)[]) => xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));

/** Repetitions that disagree by more than this (either way of the median) are flagged. */
const SPREAD_LIMIT = 0.15;

/** Largest deviation of a repetition from the median, as a fraction of the median. */
function spread(xs: number[]): number {
  if (xs.length < 2) return 0;
  const m = median(xs);
  return m > 0 ? Math.max(...xs.map((x) => Math.abs(x - m))) / m : 0;
}
function spreadCell(xs: number[]): string {
  if (xs.length < 2) return '-';
  const sp = spread(xs);
  return `±${f(100 * sp, 0)}%${sp > SPREAD_LIMIT ? ' ⚠' : ''}`;
}

/**
 * Why the repetitions of a flagged cell disagree, from what each one went through: the
 * server losing its CPU to other jobs (pinning does not keep them off CPU 0), a saturated
 * generator, a different amount of garbage collection, a busy machine.
 */
function diagnose(rows: Sample[]): string {
  const ok = rows.filter((r) => !r.failed && r.value !== undefined);
  if (ok.length < 2) return '';
  const m = median(num(ok.map((r) => r.value)));
  const worst = ok.reduce((a, b) => (Math.abs(b.value! - m) > Math.abs(a.value! - m) ? b : a));
  const others = ok.filter((r) => r !== worst);
  const causes: string[] = [];
  const pre = (r: Sample) => r.preemptPerSec ?? 0;
  const maxOtherPre = Math.max(...others.map(pre));
  if (pre(worst) > 50 && pre(worst) > 1.5 * maxOtherPre) causes.push(`the server lost CPU 0 to other jobs ${f(pre(worst), 0)} times/s (others at most ${f(maxOtherPre, 0)}/s)`);
  const util = (r: Sample) => r.srvUtil ?? 1;
  if (util(worst) < 0.9 && Math.min(...others.map(util)) >= 0.9) causes.push(`server CPU utilisation ${f(100 * util(worst), 0)}% (others ≥ 90%): contention`);
  if ((worst.genUtil ?? 0) >= 0.9) causes.push(`generator saturated (${f(100 * worst.genUtil!, 0)}% of CPU 1)`);
  // a mark-compact weighs like ten scavenges here: it is what makes a repetition slow
  const gcPer = (r: Sample) => (r.gc && r.units ? (1000 * (r.gc.scavenge + 10 * r.gc.markCompact)) / r.units : NaN);
  const g = gcPer(worst);
  const go = median(num(others.map(gcPer)));
  if (Number.isFinite(g) && Number.isFinite(go) && (g > 1.5 * go + 0.01 || (worst.gc?.markCompact ?? 0) > Math.max(...others.map((r) => r.gc?.markCompact ?? 0)))) {
    causes.push(`more garbage collection (${worst.gc!.scavenge} scavenges, ${worst.gc!.markCompact} mark-compacts vs ${others.map((r) => `${r.gc?.scavenge}/${r.gc?.markCompact}`).join(', ')})`);
  }
  const otherLoads = others.map((r) => r.load ?? 0);
  if ((worst.load ?? 0) > 2.5) {
    const busier = (worst.load ?? 0) > Math.max(...otherLoads) + 0.5;
    causes.push(`machine load ${f(worst.load!, 1)} on 2 CPUs (the others: ${otherLoads.map((x) => f(x, 1)).join(', ')})${busier ? '' : ', so not this alone'}`);
  }
  const which = `rep ${worst.rep} (${f(worst.value!)} vs median ${f(m)})`;
  return causes.length ? `${which}: ${causes.join('; ')}` : `${which}: none of the recorded conditions differs (GC, preemption, utilisation, generator, load)`;
}

export function renderReport(info: RunInfo, scenarios: Scenario[], samples: Sample[]): string {
  const L: string[] = [];
  L.push(`# Switchboard benchmarks — ${info.date.slice(0, 10)}`, '');
  L.push(`- Command: \`${info.command}\` (${info.reps} repetition${info.reps > 1 ? 's' : ''}${info.quick ? ', quick mode: shorter runs, fewer connections' : ''}; took ${info.seconds} s)`);
  L.push(`- Machine: ${info.machine}`);
  L.push(`- Node ${info.node}; ws ${info.ws}; Switchboard at commit ${info.commit}; run at ${info.date}`);
  L.push(`- Servers: ${info.servers.map((s) => `\`${s.key}\` = ${s.label}`).join('; ')}`);
  if (info.natives) L.push(`- Native helpers as loaded: ${info.natives}`);
  L.push(`- Machine load (1-minute average, 2 CPUs): ${f(info.load[0], 1)} at the start, ${f(info.load[1], 1)} at the end`);
  for (const s of info.skipped) L.push(`- Not run: ${s}`);
  L.push(
    '- Method: each server is a fresh process pinned to CPU 0 (`taskset -c 0`), the C load generator (bench/loadgen.c) is pinned to CPU 1; servers interleaved per repetition; the figure is the server\'s CPU time (utime+stime, /proc/<pid>/stat) per unit of work over the measured phase (after connect and a warm-up). Cells: median (min–max) over repetitions; "vs ws" is the ratio to plain `ws` from the same repetition (median of the per-repetition ratios). "srv CPU" / "gen CPU" are the CPU utilisation (CPU s / wall s) of the server and of the generator during the measured phase, and "gen <unit>" is the generator\'s own CPU per unit of work: when it is well below the server\'s figure, the generator could drive the server faster than the server can go, i.e. it is not the limit. (Other jobs share this machine, so utilisation below 100% can mean CPU contention; CPU per unit is less affected by that.) "spread" is the largest deviation of a repetition from the median; beyond ±15% the cell is flagged ⚠ and the table is followed by what differed in the deviant repetition. "GC scav/MC" are the server\'s scavenges / mark-compacts during the measured phase of each repetition (every server runs with --trace-gc); "preempt/s" is how often per second the kernel took CPU 0 from the server\'s main thread (involuntary context switches): high values mean other jobs ran on the server\'s CPU.',
    '',
  );
  L.push(...targets(scenarios, samples));
  for (const sc of scenarios) {
    L.push(`## ${sc.title}`, '', sc.description, '');
    for (const part of sc.parts) {
      const rows = samples.filter((s) => s.scenario === sc.id && s.part.key === part.key);
      if (!rows.length) continue;
      if (sc.parts.length > 1) L.push(`**${part.title}**`, '');
      const servers = [...new Set(rows.map((r) => r.server))];
      const baseline = sc.baseline ?? 'ws';
      const wsBy = new Map<number, number>();
      for (const r of rows) if (r.server === baseline && r.value !== undefined && !r.failed) wsBy.set(r.rep, r.value);
      const extras = part.extras ?? [];
      if (part.kind === 'cpu') {
        L.push(
          `| server | CPU ${part.unit} | spread | vs ${baseline} | ${part.rate} | p50 µs | p99 µs | srv CPU | gen CPU | gen ${part.unit} | GC scav/MC | preempt/s |${extras.map((e) => ` ${e.label} |`).join('')}`,
          `|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|${extras.map(() => '---:|').join('')}`,
        );
      } else {
        L.push(`| server | ${part.unit} | spread | vs ${baseline} | conns | baseline RSS MiB | RSS after MiB |`, '|---|---:|---:|---:|---:|---:|---:|');
      }
      const flagged: string[] = [];
      for (const srv of servers) {
        const rs = rows.filter((r) => r.server === srv);
        const ok = rs.filter((r) => !r.failed && r.value !== undefined);
        const failed = rs.filter((r) => r.failed);
        if (!ok.length) {
          L.push(`| ${srv} | failed: ${failed[0]?.failed?.replace(/\|/g, '/').slice(0, 120) ?? '?'} |`);
          continue;
        }
        const vals = num(ok.map((r) => r.value));
        const ratios = num(ok.map((r) => (wsBy.has(r.rep) ? r.value! / wsBy.get(r.rep)! : undefined)));
        const ratio = ratios.length ? `${f(median(ratios), 2)}${range(ratios, 2)}` : '-';
        const note = failed.length ? ` (${failed.length} rep failed)` : '';
        if (spread(vals) > SPREAD_LIMIT) flagged.push(`- ⚠ \`${srv}\` ${f(100 * spread(vals), 0)}% off the median: ${diagnose(rs)}`);
        if (part.kind === 'cpu') {
          const ex = extras.map((e) => ` ${f(median(num(ok.map((r) => r.extra?.[e.key]))))} |`).join('');
          const gc = ok.filter((r) => r.gc).map((r) => `${r.gc!.scavenge}/${r.gc!.markCompact}`).join(', ') || '-';
          L.push(
            `| ${srv}${note} | ${f(median(vals))}${range(vals)} | ${spreadCell(vals)} | ${ratio} | ${f(median(num(ok.map((r) => r.rate))), 0)} | ` +
              `${f(median(num(ok.map((r) => r.p50))), 0)} | ${f(median(num(ok.map((r) => r.p99))), 0)} | ` +
              `${f(100 * median(num(ok.map((r) => r.srvUtil))), 0)}% | ${f(100 * median(num(ok.map((r) => r.genUtil))), 0)}% | ` +
              `${f(median(num(ok.map((r) => r.genUnit))))} | ${gc} | ${f(median(num(ok.map((r) => r.preemptPerSec))), 0)} |${ex}`,
          );
        } else {
          L.push(
            `| ${srv}${note} | ${f(median(vals))}${range(vals)} | ${spreadCell(vals)} | ${ratio} | ${f(median(num(ok.map((r) => r.extra?.conns))), 0)} | ` +
              `${f(median(num(ok.map((r) => r.extra?.baseMiB))), 1)} | ${f(median(num(ok.map((r) => r.extra?.afterMiB))), 1)} |`,
          );
        }
      }
      L.push('');
      if (flagged.length) L.push(`Repetitions more than ±${100 * SPREAD_LIMIT}% apart:`, '', ...flagged, '');
      const whys = rows.filter((r) => r.gc?.markCompactReasons?.length).map((r) => `\`${r.server}\` rep ${r.rep}: ${r.gc!.markCompactReasons!.join('; ')}`);
      if (whys.length) L.push('Mark-compacts in the measured phases, with the reason V8 gave:', '', ...whys.map((w) => `- ${w}`), '');
    }
  }
  return L.join('\n');
}

/** Issue 13's targets: Switchboard's figure as a ratio to plain ws from the same repetition (median). */
const TARGETS: { scenario: string; part: string; what: string; max: number; absolute?: boolean }[] = [
  { scenario: 's1', part: 'cpu', what: 'echo 32 B, CPU/msg vs ws', max: 0.1 },
  { scenario: 's2', part: 'cpu', what: 'echo 64 KiB, CPU/msg vs ws', max: 0.2 },
  { scenario: 's3', part: 'cpu', what: 'fan-out to 5000, CPU/delivery vs ws', max: 0.05 },
  { scenario: 's4', part: 'mem', what: 'idle memory/conn (19,000) vs ws', max: 0.85 },
  { scenario: 's7', part: 'mem', what: 'idle memory/conn (10,000) vs ws', max: 0.85 },
  { scenario: 's5', part: 'cpu', what: 'handshakes, CPU/handshake vs ws', max: 0.45 },
  { scenario: 's6', part: 'cpu', what: 'permessage-deflate 4 KiB JSON, CPU/msg vs ws', max: 0.45 },
  { scenario: 's6', part: 'mem', what: 'permessage-deflate, KiB per compressed conn (absolute)', max: 64, absolute: true },
];

/** Per repetition: `server`'s figure over `baseline`'s (field: CPU per unit, or throughput). */
function ratios(samples: Sample[], server: string, scenario: string, part: string, baseline = 'ws', field: 'value' | 'rate' = 'value'): number[] {
  const mine = samples.filter((s) => s.server === server && s.scenario === scenario && s.part.key === part && !s.failed && s[field] !== undefined);
  const base = samples.filter((s) => s.server === baseline && s.scenario === scenario && s.part.key === part && !s.failed);
  return num(
    mine.map((m) => {
      const b = base.find((x) => x.rep === m.rep)?.[field];
      return b ? m[field]! / b : undefined;
    }),
  );
}

/** Issue 13: an isolated service's throughput against the same service inline, same repetition. */
function isolationTargets(samples: Sample[]): string[] {
  const L: string[] = [];
  for (const isolation of ['worker', 'process']) {
    const xs = ratios(samples, `serve-${isolation}`, 's8', 'cpu', 'serve-inline', 'rate');
    if (!xs.length) continue;
    const med = median(xs);
    L.push(`| isolated service (${isolation}), msg/s vs inline | >= 0.85 | ${f(med, 2)}${range(xs, 2)} | ${spreadCell(xs)} | ${med >= 0.85 ? 'yes' : `no (${f(med / 0.85, 2)}x the target)`} | - |`);
  }
  return L;
}

function targets(scenarios: Scenario[], samples: Sample[]): string[] {
  const ids = new Set(scenarios.map((s) => s.id));
  const sb = samples.filter((s) => s.server === 'switchboard' && !s.failed && s.value !== undefined);
  const isolation = ids.has('s8') ? isolationTargets(samples) : [];
  if (!sb.length && !isolation.length) return [];
  const L = [
    '## Targets (issue 13): Switchboard vs plain ws, same repetition',
    '',
    'The raw node:net server (what Node itself costs for the same work, the ceiling) is given in the same terms. The isolated-service rows compare throughput with the same service inline (scenario 8).',
    '',
    '| figure | target | measured (median, min–max) | spread | met | raw node:net (ceiling) |',
    '|---|---:|---:|---:|---|---:|',
  ];
  for (const t of TARGETS) {
    if (!ids.has(t.scenario)) continue;
    const mine = sb.filter((s) => s.scenario === t.scenario && s.part.key === t.part);
    const xs = t.absolute ? num(mine.map((m) => m.value)) : ratios(samples, 'switchboard', t.scenario, t.part);
    if (!xs.length) continue;
    const med = median(xs);
    const raw = t.absolute ? [] : ratios(samples, 'raw', t.scenario, t.part);
    L.push(
      `| ${t.what} | <= ${f(t.max, 2)} | ${f(med, 2)}${range(xs, 2)} | ${spreadCell(xs)} | ${med <= t.max ? 'yes' : `no (${f(med / t.max, 2)}x the target)`} | ` +
        `${raw.length ? `${f(median(raw), 2)}${range(raw, 2)}` : '-'} |`,
    );
  }
  // compressed size: no worse than ws's
  if (ids.has('s6')) {
    const size = (srv: string) => median(num(samples.filter((s) => s.server === srv && s.scenario === 's6' && s.part.key === 'cpu' && !s.failed).map((s) => s.extra?.replyBytes)));
    const a = size('switchboard');
    const b = size('ws');
    // whole bytes: a mean of 900.5 against 900.2 is the same reply size
    if (Number.isFinite(a) && Number.isFinite(b)) L.push(`| permessage-deflate, reply size vs ws | <= 1.00 | ${f(a / b, 2)} (${f(a, 0)} B vs ${f(b, 0)} B) | - | ${Math.round(a) <= Math.round(b) ? 'yes' : 'no'} | - |`);
  }
  L.push(...isolation, '');
  return L;
}

const BEGIN = '<!-- LATEST-RESULTS:BEGIN (written by bench/run.ts) -->';
const END = '<!-- LATEST-RESULTS:END -->';

export function updateReadme(file: string, md: string, rel: string): void {
  if (!existsSync(file)) return;
  const text = readFileSync(file, 'utf8');
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  if (a < 0 || b < a) return;
  const body = md.replace(/^# .*\n/, `Latest full run, copied from [${rel}](${rel}):\n`).replace(/^## /gm, '#### ');
  writeFileSync(file, text.slice(0, a + BEGIN.length) + '\n' + body + '\n' + text.slice(b));
}

/**
 * `node dist/bench/report.js bench/results/<date>.json [--readme]`: render a run's report
 * again from its samples (after a change to the report), and with --readme copy it into
 * bench/README.md as the latest run.
 */
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href && process.argv[2]) {
  const file = process.argv[2];
  const { info, samples } = JSON.parse(readFileSync(file, 'utf8')) as { info: RunInfo; samples: Sample[] };
  const { SCENARIOS } = await import('./scenarios.js');
  const ids = new Set(samples.map((x) => x.scenario));
  const md = renderReport(info, SCENARIOS.filter((sc) => ids.has(sc.id)), samples);
  const out = file.replace(/\.json$/, '.md');
  writeFileSync(out, md);
  if (process.argv.includes('--readme')) {
    const readme = new URL('../../bench/README.md', import.meta.url).pathname;
    updateReadme(readme, md, out.slice(out.lastIndexOf('results/')));
  }
  console.log(`rendered ${out}`);
}
