/**
 * Requests for one key served together: the first runs at once; those that arrive while a
 * batch of their key runs wait for the next batch, which starts after they arrived (so what
 * it reads is at least as new as each of them). A thousand clients of a dead node rejoining
 * one room then cost a few reads of that room, not a thousand.
 */
export interface Batched<Q, R> {
  readonly request: Q;
  resolve(result: R): void;
  reject(err: unknown): void;
}

export class KeyBatches<Q, R> {
  readonly #serve: (key: string, batch: Array<Batched<Q, R>>) => Promise<void>;
  readonly #waiting = new Map<string, Array<Batched<Q, R>>>();
  readonly #running = new Set<string>();

  /** `serve` settles every request of the batch it is given (one it leaves open is rejected). */
  constructor(serve: (key: string, batch: Array<Batched<Q, R>>) => Promise<void>) {
    this.#serve = serve;
  }

  run(key: string, request: Q): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      let list = this.#waiting.get(key);
      if (list === undefined) this.#waiting.set(key, (list = []));
      list.push({ request, resolve, reject });
      if (!this.#running.has(key)) void this.#drain(key);
    });
  }

  async #drain(key: string): Promise<void> {
    this.#running.add(key);
    try {
      for (let batch = this.#take(key); batch !== undefined; batch = this.#take(key)) {
        const settled = batch.map((b) => settleOnce(b));
        try {
          await this.#serve(key, settled);
          for (const b of settled) b.reject(new Error('a batched request was left unanswered'));
        } catch (err) {
          for (const b of settled) b.reject(err);
        }
      }
    } finally {
      this.#running.delete(key);
    }
  }

  #take(key: string): Array<Batched<Q, R>> | undefined {
    const batch = this.#waiting.get(key);
    this.#waiting.delete(key);
    return batch;
  }
}

function settleOnce<Q, R>(b: Batched<Q, R>): Batched<Q, R> {
  let done = false;
  return {
    request: b.request,
    resolve: (r) => {
      if (!done) (done = true), b.resolve(r);
    },
    reject: (e) => {
      if (!done) (done = true), b.reject(e);
    },
  };
}
