import { Session } from 'node:inspector';

interface Range {
  startOffset: number;
  endOffset: number;
  count: number;
}
interface ScriptCoverage {
  url: string;
  functions: Array<{ ranges: Range[] }>;
}

/**
 * Block coverage of the code under test, from V8 through the inspector (no instrumentation
 * step, no native addon). V8 leaves out a block whose count equals its enclosing block's, so
 * every block ever reported is remembered and, in later snapshots, takes the count of the
 * innermost block reported around it.
 */
export class BlockCoverage {
  #session = new Session();
  #scope: string;
  /** Per function ("url:offset"): every block ever reported in it. */
  #known = new Map<string, Map<string, [number, number]>>();

  /** `scope`: only scripts whose URL contains it count (the compiled sources under test). */
  constructor(scope: string) {
    this.#scope = scope;
    this.#session.connect();
    this.#post('Profiler.enable');
    this.#post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
  }

  // The in-thread session answers synchronously.
  #post(method: string, params?: object): unknown {
    let result: unknown;
    let error: Error | null = null;
    let answered = false;
    this.#session.post(method, params, (err, res) => {
      error = err;
      result = res;
      answered = true;
    });
    if (!answered) throw new Error(`inspector did not answer ${method} synchronously`);
    if (error) throw error;
    return result;
  }

  /** The blocks run since the last snapshot (the counters restart at each snapshot). */
  snapshot(): Set<string> {
    const { result } = this.#post('Profiler.takePreciseCoverage') as { result: ScriptCoverage[] };
    const covered = new Set<string>();
    for (const script of result) {
      if (!script.url.includes(this.#scope)) continue;
      for (const fn of script.functions) {
        const head = fn.ranges[0];
        if (!head) continue;
        const id = `${script.url}:${head.startOffset}`;
        let known = this.#known.get(id);
        if (!known) this.#known.set(id, (known = new Map()));
        for (const r of fn.ranges) known.set(`${id}:${r.startOffset}-${r.endOffset}`, [r.startOffset, r.endOffset]);
        if (head.count === 0) continue;
        for (const [key, [start, end]] of known) {
          let count = 0;
          let size = Infinity;
          for (const r of fn.ranges) {
            if (r.startOffset <= start && r.endOffset >= end && r.endOffset - r.startOffset < size) {
              size = r.endOffset - r.startOffset;
              count = r.count;
            }
          }
          if (count > 0) covered.add(key);
        }
      }
    }
    return covered;
  }

  close(): void {
    this.#post('Profiler.stopPreciseCoverage');
    this.#session.disconnect();
  }
}
