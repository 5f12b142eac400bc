/**
 * A token bucket: `rate` tokens a second, at most `burst` saved up. Refilled lazily from the
 * clock on each take, so an idle bucket costs no timer. A take larger than the whole bucket
 * can never pass, which is what a limit on bytes wants.
 */
export class TokenBucket {
  #tokens: number;
  #at: number;

  constructor(
    readonly rate: number,
    readonly burst: number,
    now: number,
  ) {
    this.#tokens = burst;
    this.#at = now;
  }

  /** Takes `n` tokens if there are that many; false (and nothing taken) otherwise. */
  take(n: number, now: number): boolean {
    this.#refill(now);
    if (this.#tokens < n) return false;
    this.#tokens -= n;
    return true;
  }

  /** Milliseconds until `n` tokens will be there (0 when they are now). */
  waitMs(n: number, now: number): number {
    this.#refill(now);
    return this.#tokens >= n ? 0 : Math.ceil(((n - this.#tokens) / this.rate) * 1000);
  }

  /** Back to full: nothing is remembered about this peer any more. */
  full(now: number): boolean {
    this.#refill(now);
    return this.#tokens >= this.burst;
  }

  #refill(now: number): void {
    const elapsed = now - this.#at;
    if (elapsed <= 0) return;
    this.#at = now;
    this.#tokens = Math.min(this.burst, this.#tokens + (elapsed / 1000) * this.rate);
  }
}
