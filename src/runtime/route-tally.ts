/**
 * Running totals per service route, kept in plain numbers: the per-message counters are
 * summed here on the hot path and handed to prom-client only when it collects (a scrape),
 * and the live figures (`switchboard top`, the admin page) read the same totals.
 */
export class RouteTally {
  readonly #byRoute = new Map<string, number>();
  #total = 0;

  add(route: string, n = 1): void {
    this.#byRoute.set(route, (this.#byRoute.get(route) ?? 0) + n);
    this.#total += n;
  }

  get(route: string): number {
    return this.#byRoute.get(route) ?? 0;
  }

  total(): number {
    return this.#total;
  }

  entries(): IterableIterator<[string, number]> {
    return this.#byRoute.entries();
  }
}
