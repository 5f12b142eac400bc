// Waiting for events with generous deadlines (a deadline only turns a hang into a clear
// failure; nothing asserts on how long anything took).
export const DEADLINE_MS = 20_000;

/** The next `event`'s arguments (the next that passes `filter`, when given), or an error naming the event after `ms`. */
export function next<T extends unknown[] = unknown[]>(emitter: NodeJS.EventEmitter, event: string, ms = DEADLINE_MS, filter?: (...args: T) => boolean): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, on);
      reject(new Error(`no '${event}' event within ${ms} ms`));
    }, ms);
    const on = (...args: unknown[]): void => {
      if (filter !== undefined && !filter(...(args as T))) return;
      clearTimeout(timer);
      emitter.off(event, on);
      resolve(args as T);
    };
    emitter.on(event, on);
  });
}

/** Resolves once `cond` holds (polled), or fails naming `what` after `ms`. */
export function until(cond: () => boolean | Promise<boolean>, what: string, ms = DEADLINE_MS): Promise<void> {
  const end = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tick = async (): Promise<void> => {
      try {
        if (await cond()) return resolve();
      } catch {
        /* not yet: polled again */
      }
      if (Date.now() > end) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(() => void tick(), 25);
    };
    void tick();
  });
}

/** Collect the arguments of the next `n` `event`s. */
export function collect<T extends unknown[] = unknown[]>(emitter: NodeJS.EventEmitter, event: string, n: number, ms = DEADLINE_MS): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const got: T[] = [];
    if (n === 0) return resolve(got);
    const timer = setTimeout(() => {
      emitter.off(event, on);
      reject(new Error(`got ${got.length} of ${n} '${event}' events within ${ms} ms`));
    }, ms);
    const on = (...args: unknown[]) => {
      got.push(args as T);
      if (got.length === n) {
        clearTimeout(timer);
        emitter.off(event, on);
        resolve(got);
      }
    };
    emitter.on(event, on);
  });
}

/** Resolve `p`, or reject with `what` after `ms`. */
export async function within<T>(p: Promise<T>, what: string, ms = DEADLINE_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
