// Medians, ranges and the spread check the cluster report uses.

export function median(xs: number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Repetitions disagree when one lies more than `tolerance` (0.15: ±15%) away from their median. */
export function disagrees(xs: number[], tolerance = 0.15): boolean {
  const s = xs.filter(Number.isFinite);
  if (s.length < 2) return false;
  const m = median(s);
  return s.some((x) => Math.abs(x - m) > tolerance * Math.abs(m));
}

export function fmt(n: number, digits?: number): string {
  if (!Number.isFinite(n)) return '-';
  const d = digits ?? (Math.abs(n) >= 100 ? 0 : Math.abs(n) >= 10 ? 1 : 2);
  return n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

/** "median (min–max)", with a flag when the repetitions disagree. */
export function cell(xs: number[], digits?: number): string {
  const s = xs.filter(Number.isFinite);
  if (!s.length) return '-';
  const range = s.length > 1 ? ` (${fmt(Math.min(...s), digits)}–${fmt(Math.max(...s), digits)})` : '';
  return `${fmt(median(s), digits)}${range}${disagrees(s) ? ' ⚠' : ''}`;
}
