// A small metrics registry rendered in the Prometheus text exposition format (0.0.4):
// counters, gauges and histograms, each with optional labels.

export type Labels = Record<string, string | number>;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function labelKey(names: readonly string[], labels: Labels | undefined, metric: string): string {
  const given = labels ? Object.keys(labels) : [];
  for (const k of given) if (!names.includes(k)) throw new Error(`${metric}: unknown label "${k}"`);
  return names.map((n) => String(labels?.[n] ?? '')).join('\u0000');
}

function renderLabels(names: readonly string[], key: string, extra?: [string, string]): string {
  const values = names.length > 0 ? key.split('\u0000') : [];
  const parts = names.map((n, i) => `${n}="${escapeLabelValue(values[i] ?? '')}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
  return parts.length > 0 ? `{${parts.join(',')}}` : '';
}

interface MetricOptions {
  name: string;
  help: string;
  labelNames?: readonly string[];
}

abstract class Metric {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  abstract readonly type: 'counter' | 'gauge' | 'histogram';

  constructor(o: MetricOptions) {
    if (!METRIC_NAME.test(o.name)) throw new Error(`invalid metric name "${o.name}"`);
    for (const l of o.labelNames ?? []) {
      if (!LABEL_NAME.test(l) || l.startsWith('__') || l === 'le') throw new Error(`${o.name}: invalid label name "${l}"`);
    }
    this.name = o.name;
    this.help = o.help;
    this.labelNames = o.labelNames ?? [];
  }

  header(): string {
    return `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.type}\n`;
  }

  abstract render(): string;
}

export class Counter extends Metric {
  readonly type = 'counter' as const;
  #values = new Map<string, number>();

  inc(labels?: Labels, by = 1): void {
    if (by < 0 || !Number.isFinite(by)) throw new Error(`${this.name}: a counter only goes up`);
    const k = labelKey(this.labelNames, labels, this.name);
    this.#values.set(k, (this.#values.get(k) ?? 0) + by);
  }

  get(labels?: Labels): number {
    return this.#values.get(labelKey(this.labelNames, labels, this.name)) ?? 0;
  }

  render(): string {
    let out = this.header();
    if (this.#values.size === 0 && this.labelNames.length === 0) out += `${this.name} 0\n`;
    for (const [k, v] of this.#values) out += `${this.name}${renderLabels(this.labelNames, k)} ${formatValue(v)}\n`;
    return out;
  }
}

export class Gauge extends Metric {
  readonly type = 'gauge' as const;
  #values = new Map<string, number>();
  #collect: (() => void) | undefined;

  /** Refresh values right before each render (for values read from elsewhere). */
  onCollect(fn: () => void): this {
    this.#collect = fn;
    return this;
  }

  set(labels: Labels | undefined, value: number): void {
    this.#values.set(labelKey(this.labelNames, labels, this.name), value);
  }

  inc(labels?: Labels, by = 1): void {
    const k = labelKey(this.labelNames, labels, this.name);
    this.#values.set(k, (this.#values.get(k) ?? 0) + by);
  }

  dec(labels?: Labels, by = 1): void {
    this.inc(labels, -by);
  }

  get(labels?: Labels): number {
    return this.#values.get(labelKey(this.labelNames, labels, this.name)) ?? 0;
  }

  reset(): void {
    this.#values.clear();
  }

  render(): string {
    this.#collect?.();
    let out = this.header();
    if (this.#values.size === 0 && this.labelNames.length === 0) out += `${this.name} 0\n`;
    for (const [k, v] of this.#values) out += `${this.name}${renderLabels(this.labelNames, k)} ${formatValue(v)}\n`;
    return out;
  }
}

export const DEFAULT_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface HistogramSeries {
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Metric {
  readonly type = 'histogram' as const;
  readonly buckets: readonly number[];
  #series = new Map<string, HistogramSeries>();

  constructor(o: MetricOptions & { buckets?: readonly number[] }) {
    super(o);
    const b = [...(o.buckets ?? DEFAULT_BUCKETS)].sort((x, y) => x - y);
    if (b.some((x, i) => i > 0 && x === b[i - 1])) throw new Error(`${o.name}: duplicate bucket bounds`);
    this.buckets = b.filter((x) => x !== Infinity);
  }

  observe(labels: Labels | undefined, value: number): void {
    const k = labelKey(this.labelNames, labels, this.name);
    let s = this.#series.get(k);
    if (!s) {
      s = { counts: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 };
      this.#series.set(k, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  /** Start a timer; call the result to observe the elapsed seconds. */
  startTimer(labels?: Labels): (extra?: Labels) => number {
    const t0 = process.hrtime.bigint();
    return (extra) => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      this.observe({ ...labels, ...extra }, seconds);
      return seconds;
    };
  }

  render(): string {
    let out = this.header();
    for (const [k, s] of this.#series) {
      this.buckets.forEach((le, i) => {
        out += `${this.name}_bucket${renderLabels(this.labelNames, k, ['le', formatValue(le)])} ${s.counts[i]}\n`;
      });
      out += `${this.name}_bucket${renderLabels(this.labelNames, k, ['le', '+Inf'])} ${s.count}\n`;
      out += `${this.name}_sum${renderLabels(this.labelNames, k)} ${formatValue(s.sum)}\n`;
      out += `${this.name}_count${renderLabels(this.labelNames, k)} ${s.count}\n`;
    }
    return out;
  }
}

export class MetricsRegistry {
  #metrics = new Map<string, Metric>();

  #register<M extends Metric>(m: M): M {
    const existing = this.#metrics.get(m.name);
    if (existing) {
      if (existing.type !== m.type) throw new Error(`metric "${m.name}" already registered as a ${existing.type}`);
      return existing as M;
    }
    this.#metrics.set(m.name, m);
    return m;
  }

  counter(o: MetricOptions): Counter {
    return this.#register(new Counter(o));
  }

  gauge(o: MetricOptions): Gauge {
    return this.#register(new Gauge(o));
  }

  histogram(o: MetricOptions & { buckets?: readonly number[] }): Histogram {
    return this.#register(new Histogram(o));
  }

  /** The Prometheus text exposition of every metric. */
  render(): string {
    let out = '';
    for (const m of this.#metrics.values()) out += m.render();
    return out;
  }
}
