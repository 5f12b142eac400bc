/**
 * A staggered drain: the connections of a node leave in batches spread over a window, so a
 * rolling restart moves its clients elsewhere a few at a time instead of in one storm.
 * This module plans the batches and paces them; App retires each connection of a batch.
 */

/** Close code of a drained connection: 1012 Service Restart (reconnect, possibly elsewhere). */
export const SERVICE_RESTART = 1012;

export interface StaggerOptions {
  /** The batches are spread over this window: batch i (from 0) starts at i × windowMs / batches. */
  windowMs: number;
  /** How many batches (default: one per second of the window); never more than there are connections. */
  batches?: number;
  /** How long a connection's in-flight commands may run on after its batch starts; then they are cancelled. */
  graceMs: number;
  /** Close code (default 1012 Service Restart) and reason. */
  code?: number;
  reason?: string;
  /** Aborting it starts every batch still waiting at once (the window is cut short). */
  signal?: AbortSignal;
}

/** One batch as it starts: its index (from 0), how many batches in all, and its connections. */
export interface StaggerBatch {
  index: number;
  of: number;
  ids: string[];
}

/** Batches for `count` connections: the asked number, else one per second of the window; at least 1, at most `count`. */
export function batchCount(count: number, windowMs: number, batches?: number): number {
  if (count === 0) return 0;
  const wanted = batches !== undefined && batches > 0 ? Math.floor(batches) : Math.ceil(windowMs / 1000);
  return Math.max(1, Math.min(count, wanted));
}

/** `count` split into `batches` sizes as even as can be (the first ones take the remainder). */
export function batchSizes(count: number, batches: number): number[] {
  if (batches <= 0) return [];
  const base = Math.floor(count / batches);
  const extra = count % batches;
  return Array.from({ length: batches }, (_, i) => base + (i < extra ? 1 : 0));
}

/**
 * Calls `start` for each batch of `ids`, the first at once and each next one windowMs/batches
 * later (all at once after `signal` aborts); resolves once every batch has started.
 */
export async function paceBatches(
  ids: readonly string[],
  o: StaggerOptions,
  start: (batch: StaggerBatch) => void,
  wait: (ms: number, signal: AbortSignal | undefined) => Promise<void> = pause,
): Promise<number[]> {
  const sizes = batchSizes(ids.length, batchCount(ids.length, o.windowMs, o.batches));
  const step = sizes.length > 0 ? o.windowMs / sizes.length : 0;
  let from = 0;
  for (let index = 0; index < sizes.length; index++) {
    if (index > 0) await wait(step, o.signal);
    const to = from + sizes[index]!;
    start({ index, of: sizes.length, ids: ids.slice(from, to) });
    from = to;
  }
  return sizes;
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Resolves true when `p` settles within `ms`, false otherwise (the timer never outlives it). */
export async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([p.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}
