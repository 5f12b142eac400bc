// Summary of a conformance run: per-group counts, the summary line, and a JSON file
// (dist/test/conformance/results-<role>.json) with every case's outcome and detail.
import { writeFileSync } from 'node:fs';
import type { CaseResult, Role } from './types.js';

/** `role` may name the path too ("server over h2"): it names the summary line and the file. */
export function summarize(role: Role | `${Role} over ${string}`, subject: string, results: CaseResult[]): string {
  const groups = new Map<string, { ok: number; non: number; failed: string[] }>();
  for (const r of results) {
    const g = groups.get(r.group) ?? { ok: 0, non: 0, failed: [] };
    if (r.outcome === 'OK') g.ok++;
    else if (r.outcome === 'NON-STRICT') g.non++;
    else g.failed.push(r.id);
    groups.set(r.group, g);
  }
  const ok = results.filter((r) => r.outcome === 'OK').length;
  const non = results.filter((r) => r.outcome === 'NON-STRICT').length;
  const lines = [`conformance: ${role} ${ok + non}/${results.length} (subject ${subject}; OK ${ok}, NON-STRICT ${non}, FAILED ${results.length - ok - non})`];
  for (const [name, g] of groups) {
    lines.push(`  ${name.padEnd(20)} OK ${g.ok}, NON-STRICT ${g.non}, FAILED ${g.failed.length}${g.failed.length ? ` (${g.failed.join(' ')})` : ''}`);
  }
  for (const r of results) if (r.outcome !== 'OK') lines.push(`  ${r.outcome} ${r.id}: ${r.detail}`);
  try {
    writeFileSync(new URL(`./results-${role.replace(/ /g, '-')}.json`, import.meta.url), JSON.stringify({ role, subject, results }, null, 1));
  } catch {
    // reporting only
  }
  return lines.join('\n');
}
