// Graceful shutdown: runs registered steps in phase order once, on SIGTERM/SIGINT or a
// `stop`/`drain` request. A second signal exits at once. Steps get a `deadline` signal that
// fires when the drain window and then the grace period are over (in-flight work must be
// aborted then).
import { EventEmitter } from 'node:events';

export const SHUTDOWN_PHASES = ['stop-accepting', 'stagger', 'drain', 'close-connections', 'stop-services', 'cleanup'] as const;
export type ShutdownPhase = (typeof SHUTDOWN_PHASES)[number];

/** A staggered drain: connections leave in batches over `windowMs` before the usual steps. */
export interface DrainWindow {
  windowMs: number;
  /** How many batches (default: one per second of the window). */
  batches?: number;
}

export interface ShutdownStepContext {
  reason: string;
  /** Aborts when the drain window plus the grace period ends. */
  deadline: AbortSignal;
  /** The drain window of this stop (windowMs 0: none, every connection closes at once). */
  window: DrainWindow;
}

export interface ShutdownOptions {
  /** How long in-flight work may continue before `deadline` aborts. */
  graceMs: number;
  /** Drain window of a stop by signal (default 0: none). */
  window?: DrainWindow;
  /** After window + grace + this, give up waiting for steps and exit with code 1. */
  hardTimeoutMs?: number;
  /** Called with the exit code when the process should end (default process.exit). */
  exit?: (code: number) => void;
  log?: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

export interface ShutdownEvents {
  start: [reason: string];
  done: [code: number];
}

interface Step {
  phase: ShutdownPhase;
  name: string;
  run(ctx: ShutdownStepContext): unknown;
}

/** Exit code of a second signal: 128 + signal number, as shells report it. */
const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

export class ShutdownCoordinator extends EventEmitter<ShutdownEvents> {
  #steps: Step[] = [];
  #options: ShutdownOptions;
  #running: Promise<number> | undefined;
  #signalHandlers: Array<[NodeJS.Signals, () => void]> = [];

  constructor(options: ShutdownOptions) {
    super();
    this.#options = options;
  }

  get stopping(): boolean {
    return this.#running !== undefined;
  }

  add(phase: ShutdownPhase, name: string, run: (ctx: ShutdownStepContext) => unknown): void {
    this.#steps.push({ phase, name, run });
  }

  /**
   * Run the shutdown (once; later calls return the same promise), with `window` or the
   * configured drain window. Resolves with the exit code.
   */
  shutdown(reason: string, window?: DrainWindow): Promise<number> {
    this.#running ??= this.#run(reason, window ?? this.#options.window ?? { windowMs: 0 });
    return this.#running;
  }

  /** Shut down and then call `exit(code)`. */
  shutdownAndExit(reason: string, window?: DrainWindow): Promise<void> {
    return this.shutdown(reason, window).then((code) => (this.#options.exit ?? process.exit)(code));
  }

  installSignalHandlers(signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT']): void {
    for (const sig of signals) {
      const handler = (): void => {
        if (this.stopping) {
          this.#log('warn', `second ${sig}: exiting now`);
          (this.#options.exit ?? process.exit)(SIGNAL_EXIT[sig] ?? 1);
          return;
        }
        this.#log('info', `${sig} received: shutting down gracefully (send it again to exit at once)`);
        void this.shutdownAndExit(sig);
      };
      process.on(sig, handler);
      this.#signalHandlers.push([sig, handler]);
    }
  }

  removeSignalHandlers(): void {
    for (const [sig, h] of this.#signalHandlers) process.off(sig, h);
    this.#signalHandlers = [];
  }

  async #run(reason: string, window: DrainWindow): Promise<number> {
    this.emit('start', reason);
    const { graceMs, hardTimeoutMs = 10_000 } = this.#options;
    const deadline = new AbortController();
    const graceTimer = setTimeout(
      () => deadline.abort(new Error(`shutdown grace period of ${graceMs} ms (after a drain window of ${window.windowMs} ms) is over`)),
      window.windowMs + graceMs,
    );
    let hardTimer: NodeJS.Timeout | undefined;
    const hard = new Promise<'hard'>((resolve) => {
      hardTimer = setTimeout(() => resolve('hard'), window.windowMs + graceMs + hardTimeoutMs);
    });
    let code = 0;
    try {
      for (const phase of SHUTDOWN_PHASES) {
        const steps = this.#steps.filter((s) => s.phase === phase);
        const results = Promise.allSettled(steps.map(async (s) => s.run({ reason, deadline: deadline.signal, window })));
        const outcome = await Promise.race([results, hard]);
        if (outcome === 'hard') {
          this.#log('error', `shutdown step(s) of phase ${phase} did not finish in time; exiting`, { phase });
          code = 1;
          break;
        }
        outcome.forEach((r, i) => {
          if (r.status === 'rejected') {
            code = 1;
            this.#log('error', `shutdown step "${steps[i]!.name}" failed`, { err: String(r.reason) });
          }
        });
      }
    } finally {
      clearTimeout(graceTimer);
      clearTimeout(hardTimer);
    }
    this.emit('done', code);
    return code;
  }

  #log(level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void {
    this.#options.log?.(level, msg, fields);
  }
}
