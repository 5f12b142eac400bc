// Exponential backoff plus a restart budget: at most `maxRestarts` restarts within
// `windowMs`; one more crash inside the window and the unit is failed.

export interface RestartPolicyOptions {
  /** Delay before the first restart. */
  initialDelayMs: number;
  /** Upper bound of the delay. */
  maxDelayMs: number;
  /** Multiplier per restart within the window. */
  factor: number;
  /** Restarts allowed within `windowMs` before the unit is marked failed. */
  maxRestarts: number;
  windowMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicyOptions = {
  initialDelayMs: 100,
  maxDelayMs: 30_000,
  factor: 2,
  maxRestarts: 5,
  windowMs: 60_000,
};

export type RestartDecision = { restart: true; delayMs: number; attempt: number } | { restart: false; attempt: number };

export class RestartPolicy {
  readonly options: RestartPolicyOptions;
  #restarts: number[] = [];

  constructor(options: Partial<RestartPolicyOptions> = {}) {
    this.options = { ...DEFAULT_RESTART_POLICY, ...options };
  }

  /** Record a crash at `now` and decide whether (and when) to restart. */
  onCrash(now: number): RestartDecision {
    const { windowMs, maxRestarts, initialDelayMs, factor, maxDelayMs } = this.options;
    this.#restarts = this.#restarts.filter((t) => now - t < windowMs);
    const attempt = this.#restarts.length + 1;
    if (this.#restarts.length >= maxRestarts) return { restart: false, attempt };
    this.#restarts.push(now);
    const delayMs = Math.min(maxDelayMs, initialDelayMs * factor ** (attempt - 1));
    return { restart: true, delayMs, attempt };
  }

  /** Forget past crashes (after a manual restart of a failed unit). */
  reset(): void {
    this.#restarts = [];
  }
}
