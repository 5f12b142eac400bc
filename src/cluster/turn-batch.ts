/**
 * Calls made during one loop turn, started together at its end, in the order they were made.
 *
 * nats.js writes its buffer after each microtask. A connection's pipelined publishes start one
 * microtask after another, so each JetStream append went out in a write of its own, nats-server
 * stored them one by one and the room's followers got them in small clumps: about 15 messages
 * per member write instead of the 32 the publisher had in flight. The Redis client already
 * writes once per turn (setImmediate), which is what this gives the NATS appends.
 */
export class TurnBatch {
  #turn: Array<() => void> | null = null;

  run<T>(call: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.#turn === null) {
        const turn: Array<() => void> = (this.#turn = []);
        setImmediate(() => {
          this.#turn = null;
          for (const start of turn) start();
        });
      }
      this.#turn.push(() => {
        try {
          call().then(resolve, reject);
        } catch (err) {
          reject(err);
        }
      });
    });
  }
}
