/**
 * The live figures of one node, for `switchboard top` and the admin page: message and command
 * rates sampled once a second from the running totals (with the last minute kept for charts),
 * and the node's services, rooms and connections as they are now.
 */
import type { ConnectionSummary, RoomSummary } from '../app/app.js';
import type { ServiceStatus } from './control-protocol.js';
import type { ServerMetrics } from './server-metrics.js';

export const SAMPLE_MS = 1_000;
/** Samples kept for the charts: a minute. */
export const SERIES_LENGTH = 60;
/** Connections listed per node; the count covers them all. */
export const MAX_LISTED_CONNECTIONS = 500;

export interface Rates {
  messagesIn: number;
  messagesOut: number;
  commands: number;
  commandErrors: number;
}

export interface NodeFigures {
  node: string;
  pid: number;
  startedAt: number;
  /** When these figures were taken (ms since the epoch). */
  at: number;
  connections: number;
  /** Per second, over the last sample. */
  rates: Rates;
  /** The last minute, one sample a second, oldest first. */
  series: { [K in keyof Rates]: number[] };
  services: Array<Pick<ServiceStatus, 'name' | 'kind' | 'isolation' | 'state' | 'restarts' | 'connections'>>;
  rooms: RoomSummary[];
  connectionList: ConnectionSummary[];
}

/** What `figures` answers: every node this server can see, and the cluster's nodes with a live lease. */
export interface ClusterFigures {
  nodes: NodeFigures[];
  cluster: Array<{ id: string; since: number }>;
}

const KEYS = ['messagesIn', 'messagesOut', 'commands', 'commandErrors'] as const;

function totals(m: ServerMetrics): Rates {
  return { messagesIn: m.messagesIn.total(), messagesOut: m.messagesOut.total(), commands: m.commands.total(), commandErrors: m.commandErrors.total() };
}

export class RateSampler {
  readonly #metrics: ServerMetrics;
  #last: { at: number; totals: Rates };
  #rates: Rates = { messagesIn: 0, messagesOut: 0, commands: 0, commandErrors: 0 };
  readonly #series: { [K in keyof Rates]: number[] } = { messagesIn: [], messagesOut: [], commands: [], commandErrors: [] };
  #timer: NodeJS.Timeout | undefined;

  constructor(metrics: ServerMetrics) {
    this.#metrics = metrics;
    this.#last = { at: performance.now(), totals: totals(metrics) };
  }

  start(): void {
    this.#timer ??= setInterval(() => this.sample(), SAMPLE_MS).unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Takes one sample now (the timer does this once a second). */
  sample(): void {
    const now = performance.now();
    const t = totals(this.#metrics);
    const seconds = Math.max((now - this.#last.at) / 1000, 0.001);
    for (const k of KEYS) {
      const rate = Math.round(((t[k] - this.#last.totals[k]) / seconds) * 10) / 10;
      this.#rates[k] = rate;
      const s = this.#series[k];
      s.push(rate);
      if (s.length > SERIES_LENGTH) s.shift();
    }
    this.#last = { at: now, totals: t };
  }

  rates(): Rates {
    return { ...this.#rates };
  }

  series(): { [K in keyof Rates]: number[] } {
    return { messagesIn: [...this.#series.messagesIn], messagesOut: [...this.#series.messagesOut], commands: [...this.#series.commands], commandErrors: [...this.#series.commandErrors] };
  }
}
