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

export function renderReport(info: RunInfo, scenarios: Scenario[], samples: Sample[]): string {
  const L: string[] = [];
  L.push(`# Switchboard benchmarks — ${info.date.slice(0, 10)}`, '');
  L.push(`- Command: \`${info.command}\` (${info.reps} repetition${info.reps > 1 ? 's' : ''}${info.quick ? ', quick mode: shorter runs, fewer connections' : ''}; took ${info.seconds} s)`);
  L.push(`- Machine: ${info.machine}`);
  L.push(`- Node ${info.node}; ws ${info.ws}; Switchboard at commit ${info.commit}; run at ${info.date}`);
  L.push(`- Servers: ${info.servers.map((s) => `\`${s.key}\` = ${s.label}`).join('; ')}`);
  if (info.natives) L.push(`- Native helpers as loaded: ${info.natives}`);
  for (const s of info.skipped) L.push(`- Not run: ${s}`);
  L.push(
    '- Method: each server is a fresh process pinned to CPU 0 (`taskset -c 0`), the C load generator (bench/loadgen.c) is pinned to CPU 1; servers interleaved per repetition; the figure is the server\'s CPU time (utime+stime, /proc/<pid>/stat) per unit of work over the measured phase (after connect and a warm-up). Cells: median (min–max) over repetitions; "vs ws" is the ratio to plain `ws` from the same repetition (median of the per-repetition ratios). "srv CPU" / "gen CPU" are the CPU utilisation (CPU s / wall s) of the server and of the generator during the measured phase, and "gen <unit>" is the generator\'s own CPU per unit of work: when it is well below the server\'s figure, the generator could drive the server faster than the server can go, i.e. it is not the limit. (Other jobs share this machine, so utilisation below 100% can mean CPU contention; CPU per unit is not affected by that.)',
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
      const wsBy = new Map<number, number>();
      for (const r of rows) if (r.server === 'ws' && r.value !== undefined && !r.failed) wsBy.set(r.rep, r.value);
      const extras = part.extras ?? [];
      if (part.kind === 'cpu') {
        L.push(
          `| server | CPU ${part.unit} | vs ws | ${part.rate} | p50 µs | p99 µs | srv CPU | gen CPU | gen ${part.unit} |${extras.map((e) => ` ${e.label} |`).join('')}`,
          `|---|---:|---:|---:|---:|---:|---:|---:|---:|${extras.map(() => '---:|').join('')}`,
        );
      } else {
        L.push(`| server | ${part.unit} | vs ws | conns | baseline RSS MiB | RSS after MiB |`, '|---|---:|---:|---:|---:|---:|');
      }
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
        if (part.kind === 'cpu') {
          const ex = extras.map((e) => ` ${f(median(num(ok.map((r) => r.extra?.[e.key]))))} |`).join('');
          L.push(
            `| ${srv}${note} | ${f(median(vals))}${range(vals)} | ${ratio} | ${f(median(num(ok.map((r) => r.rate))), 0)} | ` +
              `${f(median(num(ok.map((r) => r.p50))), 0)} | ${f(median(num(ok.map((r) => r.p99))), 0)} | ` +
              `${f(100 * median(num(ok.map((r) => r.srvUtil))), 0)}% | ${f(100 * median(num(ok.map((r) => r.genUtil))), 0)}% | ` +
              `${f(median(num(ok.map((r) => r.genUnit))))} |${ex}`,
          );
        } else {
          L.push(
            `| ${srv}${note} | ${f(median(vals))}${range(vals)} | ${ratio} | ${f(median(num(ok.map((r) => r.extra?.conns))), 0)} | ` +
              `${f(median(num(ok.map((r) => r.extra?.baseMiB))), 1)} | ${f(median(num(ok.map((r) => r.extra?.afterMiB))), 1)} |`,
          );
        }
      }
      L.push('');
    }
  }
  return L.join('\n');
}

/** Issue 5's targets: Switchboard's figure as a ratio to plain ws from the same repetition (median). */
const TARGETS: { scenario: string; part: string; what: string; max: number; absolute?: boolean }[] = [
  { scenario: 's1', part: 'cpu', what: 'echo 32 B, CPU/msg vs ws', max: 0.15 },
  { scenario: 's2', part: 'cpu', what: 'echo 64 KiB, CPU/msg vs ws', max: 0.15 },
  { scenario: 's3', part: 'cpu', what: 'fan-out to 5000, CPU/delivery vs ws', max: 0.2 },
  { scenario: 's4', part: 'mem', what: 'idle memory/conn vs ws', max: 0.88 },
  { scenario: 's5', part: 'cpu', what: 'handshakes, CPU/handshake vs ws', max: 0.5 },
  { scenario: 's6', part: 'cpu', what: 'permessage-deflate, CPU/msg vs ws', max: 0.8 },
  { scenario: 's6', part: 'mem', what: 'permessage-deflate, KiB per compressed conn (absolute)', max: 64, absolute: true },
];

function targets(scenarios: Scenario[], samples: Sample[]): string[] {
  const ids = new Set(scenarios.map((s) => s.id));
  const sb = samples.filter((s) => s.server === 'switchboard' && !s.failed && s.value !== undefined);
  if (!sb.length) return [];
  const L = ['## Targets (issue 5): Switchboard vs plain ws, same repetition', '', '| figure | target | measured (median, min–max) | met |', '|---|---:|---:|---|'];
  for (const t of TARGETS) {
    if (!ids.has(t.scenario)) continue;
    const mine = sb.filter((s) => s.scenario === t.scenario && s.part.key === t.part);
    const ws = samples.filter((s) => s.server === 'ws' && s.scenario === t.scenario && s.part.key === t.part && !s.failed);
    const xs = num(
      mine.map((m) => {
        if (t.absolute) return m.value;
        const w = ws.find((x) => x.rep === m.rep);
        return w?.value ? m.value! / w.value : undefined;
      }),
    );
    if (!xs.length) continue;
    const med = median(xs);
    L.push(`| ${t.what} | <= ${f(t.max, 2)} | ${f(med, 2)}${range(xs, 2)} | ${med <= t.max ? 'yes' : `no (${f(med / t.max, 2)}x the target)`} |`);
  }
  // compressed size: no worse than ws's
  if (ids.has('s6')) {
    const size = (srv: string) => median(num(samples.filter((s) => s.server === srv && s.scenario === 's6' && s.part.key === 'cpu' && !s.failed).map((s) => s.extra?.replyBytes)));
    const a = size('switchboard');
    const b = size('ws');
    if (Number.isFinite(a) && Number.isFinite(b)) L.push(`| permessage-deflate, reply size vs ws | <= 1.00 | ${f(a / b, 2)} (${f(a, 0)} B vs ${f(b, 0)} B) | ${a <= b ? 'yes' : 'no'} |`);
  }
  L.push('');
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
