/**
 * A live value as a client sees it: the server's value, kept current from its versioned
 * patches. A patch applies only to the version before it; a gap (a skipped version) or a
 * reconnect resubscribes with `since`, and the server answers with the patches missed or
 * the whole value. Served to browsers beside the command client.
 */
import { applyPatch, type Json, type PatchOp } from './json-patch.js';

/** What a `live.subscribe` reply holds: the whole value, or the patches since the asked version. */
export type LiveReply = { name: string; v: number; value: unknown } | { name: string; v: number; patches: Array<{ v: number; patch: unknown }> };

/** One change as listeners get it. */
export interface LiveChange<T> {
  name: string;
  v: number;
  value: T;
  /** The patch that made it, or null when the whole value came (first value, gap, resync). */
  patch: unknown;
}

/** How a LiveValue reaches its client: the subscribe and unsubscribe calls. */
export interface LiveTransport {
  subscribe(name: string, since: number | null, onReply: (reply: LiveReply) => void): Promise<unknown>;
  unsubscribe(name: string): Promise<unknown>;
  /** The value is closed: the client forgets it. */
  forget(name: string): void;
}

/** Changes an async iterator holds for a slow reader before it skips to the newest. */
const ITERATOR_BACKLOG = 256;

export class LiveValue<T = unknown> {
  readonly name: string;
  readonly #transport: LiveTransport;
  #v: number | null = null;
  // held as unknown, so that LiveValue<T> stays covariant in T (a LiveValue<Sub> is a LiveValue<Super>)
  #value: unknown = undefined;
  #closed = false;
  #resyncing = false;
  /** The latest subscribe call: only its end may clear `#resyncing`. */
  #call = 0;
  readonly #listeners = new Set<(value: any, change: LiveChange<any>) => void>();
  readonly #ready: Promise<unknown>;
  #readyResolve!: (value: unknown) => void;
  #readyReject!: (err: unknown) => void;

  constructor(name: string, transport: LiveTransport) {
    this.name = name;
    this.#transport = transport;
    this.#ready = new Promise<unknown>((resolve, reject) => {
      this.#readyResolve = resolve;
      this.#readyReject = reject;
    });
    this.#ready.catch(() => {});
  }

  /** Resolves with the first value (rejects when the subscription is refused). */
  get ready(): Promise<T> {
    return this.#ready as Promise<T>;
  }

  /** The current value (undefined until the first one arrives). */
  get(): T | undefined {
    return this.#value as T | undefined;
  }

  /** The current version (null until the first value arrives). */
  get version(): number | null {
    return this.#v;
  }

  /** Calls `fn` with the current value (if any) and after every change; returns the unsubscribe function. */
  subscribe(fn: (value: T, change: LiveChange<T>) => void): () => void {
    this.#listeners.add(fn);
    if (this.#v !== null) call(fn, this.#value, { name: this.name, v: this.#v, value: this.#value, patch: null });
    return () => this.#listeners.delete(fn);
  }

  /** Like subscribe, without the immediate call: only changes from now on. */
  on(event: 'change', fn: (value: T, change: LiveChange<T>) => void): () => void {
    if (event !== 'change') throw new TypeError(`LiveValue has no "${String(event)}" event`);
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Every value from the current one on; a reader that falls far behind skips to the newest. */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    const queue: T[] = [];
    let wake: (() => void) | null = null;
    const off = this.subscribe((value) => {
      if (queue.length >= ITERATOR_BACKLOG) queue.splice(0, queue.length - 1);
      queue.push(value);
      wake?.();
    });
    try {
      while (!this.#closed) {
        if (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
        while (queue.length > 0) yield queue.shift()!;
      }
    } finally {
      off();
    }
  }

  /** Stops following the value (and tells the server). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#transport.forget(this.name);
    for (const fn of [...this.#listeners]) this.#listeners.delete(fn);
    this.#readyReject(new Error(`live value "${this.name}" closed`));
    await this.#transport.unsubscribe(this.name).catch(() => undefined);
  }

  // ---------------------------------------------------------------- the client's side

  /** Subscribes, or resubscribes from the version held (after a reconnect or a gap). */
  async resubscribe(): Promise<void> {
    if (this.#closed) return;
    const call = ++this.#call;
    try {
      await this.#transport.subscribe(this.name, this.#v, (reply) => this.#onReply(reply));
    } catch (err) {
      if (this.#v === null) this.#readyReject(err);
      throw err;
    } finally {
      if (call === this.#call) this.#resyncing = false;
    }
  }

  /** A `live.patch` push (ignored while a resubscribe is on its way: its reply covers it). */
  patch(v: number, patch: unknown): void {
    if (this.#closed || this.#resyncing) return;
    if (!this.#apply(v, patch)) this.#resync();
  }

  /** A `live.value` push: the whole value (the server's node took it up after a gap). */
  whole(v: number, value: unknown): void {
    if (this.#closed || (this.#v !== null && v <= this.#v)) return;
    this.#set(v, value, null);
  }

  /** False when the patch does not follow the version held (a gap) or does not apply. */
  #apply(v: number, patch: unknown): boolean {
    if (this.#v === null) return false;
    if (v <= this.#v) return true; // already held
    if (v !== this.#v + 1) return false;
    let next: unknown;
    try {
      next = applyPatch(this.#value as Json, patch as Json | PatchOp[]);
    } catch {
      return false;
    }
    this.#set(v, next, patch);
    return true;
  }

  #onReply(reply: LiveReply): void {
    if (this.#closed) return;
    if ('value' in reply) {
      // the server's word, even behind ours (its log was lost and started again)
      if (reply.v !== this.#v) this.#set(reply.v, reply.value, null);
      return;
    }
    for (const p of reply.patches) {
      if (!this.#apply(p.v, p.patch)) {
        // patches that do not lead on from ours: ask for the whole value
        this.#v = null;
        this.#resyncing = true;
        queueMicrotask(() => void this.resubscribe().catch(() => undefined));
        return;
      }
    }
  }

  #resync(): void {
    if (this.#resyncing) return;
    this.#resyncing = true;
    void this.resubscribe().catch(() => undefined);
  }

  #set(v: number, value: unknown, patch: unknown): void {
    const first = this.#v === null;
    this.#v = v;
    this.#value = value;
    if (first) this.#readyResolve(value);
    const change: LiveChange<unknown> = { name: this.name, v, value, patch };
    for (const fn of [...this.#listeners]) call(fn, value, change);
  }
}

function call(fn: (value: any, change: LiveChange<any>) => void, value: unknown, change: LiveChange<unknown>): void {
  try {
    fn(value, change);
  } catch {
    // a listener's error must not break the value
  }
}
