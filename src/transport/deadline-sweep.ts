/** Anything a deadline can end: a socket, an HTTP/2 stream. */
export interface Destroyable {
  readonly destroyed: boolean;
  destroy(): void;
}

/**
 * Deadlines for many sockets with one interval instead of a timer each: arming and
 * disarming are a map insert and delete, which matters when thousands of handshakes and
 * close handshakes start and end every second. A socket past its deadline is destroyed.
 * The interval runs only while something is armed.
 */
export class DeadlineSweep {
  #deadlines = new Map<Destroyable, number>();
  #timer: NodeJS.Timeout | null = null;
  readonly #tickMs: number;

  constructor(tickMs: number) {
    this.#tickMs = Math.max(5, Math.round(tickMs));
  }

  /** The clock as of the last tick: arming costs no clock read while the sweep runs. */
  #now = 0;

  arm(socket: Destroyable, ms: number): void {
    if (!this.#timer) {
      this.#now = Date.now();
      this.#timer = setInterval(() => this.#sweep(), this.#tickMs);
      this.#timer.unref();
    }
    // One tick of slack: the deadline is never early, at most one tick late.
    this.#deadlines.set(socket, this.#now + ms + this.#tickMs);
  }

  disarm(socket: Destroyable): void {
    this.#deadlines.delete(socket);
  }

  get size(): number {
    return this.#deadlines.size;
  }

  /** Destroy everything still armed (server shutdown) and stop. */
  clear(destroy: boolean): void {
    if (destroy) for (const s of this.#deadlines.keys()) s.destroy();
    this.#deadlines.clear();
    this.#stop();
  }

  #sweep(): void {
    const now = (this.#now = Date.now());
    for (const [s, deadline] of this.#deadlines) {
      if (s.destroyed) this.#deadlines.delete(s);
      else if (now >= deadline) {
        this.#deadlines.delete(s);
        s.destroy();
      }
    }
    if (this.#deadlines.size === 0) this.#stop();
  }

  #stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}
