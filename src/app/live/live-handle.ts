/**
 * `service.live(name)` inside a service host: reads and writes go through the host's sink
 * (plain data), so the same handle works inline, in a worker and in a child process.
 */
import type { HostSink } from '../service-host.js';
import type { LiveHandle } from '../service.js';

/** Attempts of one update() before it gives up to a storm of concurrent writers. */
const MAX_UPDATE_ATTEMPTS = 50;

export class LiveHandleImpl<T> implements LiveHandle<T> {
  readonly name: string;
  readonly #sink: HostSink;
  readonly #initial: unknown;
  readonly #history: number | undefined;

  constructor(sink: HostSink, name: string, initial: unknown, history: number | undefined) {
    this.#sink = sink;
    this.name = name;
    this.#initial = initial;
    this.#history = history;
  }

  async get(): Promise<T> {
    return (await this.#sink.ask({ type: 'liveGet', name: this.name, initial: this.#initial, ...this.#more() })).value as T;
  }

  async version(): Promise<number> {
    return (await this.#sink.ask({ type: 'liveGet', name: this.name, initial: this.#initial, ...this.#more() })).v;
  }

  async set(value: T): Promise<number> {
    const r = await this.#sink.ask({ type: 'liveSet', name: this.name, value: json(value), initial: this.#initial, ...this.#more() });
    if (!r.ok) throw new Error(`live value "${this.name}": concurrent changes kept winning over this set`);
    return r.v;
  }

  async update(fn: (draft: T) => T | void): Promise<number> {
    let current = await this.#sink.ask({ type: 'liveGet', name: this.name, initial: this.#initial, ...this.#more() });
    for (let attempt = 1; ; attempt++) {
      const draft = structuredClone(current.value) as T;
      const returned = fn(draft);
      const next = json(returned === undefined ? draft : returned);
      const r = await this.#sink.ask({ type: 'liveSet', name: this.name, value: next, initial: this.#initial, base: current.v, ...this.#more() });
      if (r.ok) return r.v;
      if (attempt >= MAX_UPDATE_ATTEMPTS) throw new Error(`live value "${this.name}": ${attempt} concurrent changes in a row won over this update`);
      current = { v: r.v, value: r.value };
    }
  }

  #more(): { history?: number } {
    return this.#history !== undefined ? { history: this.#history } : {};
  }
}

/** A live value is JSON: what JSON.stringify would keep (and throws on what it cannot). */
function json(value: unknown): unknown {
  return value === undefined ? null : JSON.parse(JSON.stringify(value));
}
