/**
 * What one loop turn produced, handed on together when the turn's I/O callbacks are done
 * (setImmediate), in the order it came. The Redis client writes its commands this way; the
 * NATS appends and the `--workers` IPC channel are given the same by the two users below.
 */
export function perTurn<T>(flush: (items: T[]) => void): (item: T) => void {
  let queued: T[] | null = null;
  return (item) => {
    if (queued === null) {
      const turn: T[] = (queued = []);
      setImmediate(() => {
        queued = null;
        flush(turn);
      });
    }
    queued.push(item);
  };
}

/**
 * Calls made during one loop turn, started together at its end, in the order they were made.
 *
 * nats.js writes its buffer after each microtask. A connection's pipelined publishes start one
 * microtask after another, so each JetStream append went out in a write of its own, nats-server
 * stored them one by one and the room's followers got them in small clumps: about 15 messages
 * per member write instead of the 32 the publisher had in flight.
 */
export class TurnBatch {
  readonly #start = perTurn<() => void>((starts) => {
    for (const start of starts) start();
  });

  run<T>(call: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) =>
      this.#start(() => {
        try {
          call().then(resolve, reject);
        } catch (err) {
          reject(err);
        }
      }),
    );
  }
}
