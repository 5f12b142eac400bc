// Waiting for events with generous deadlines (a deadline only turns a hang into a clear
// failure; nothing asserts on how long anything took).
import { once } from 'node:events';

export const DEADLINE_MS = 20_000;

/** The next `event`'s arguments, or an error naming the event after `ms`. */
export async function next<T extends unknown[] = unknown[]>(emitter: NodeJS.EventEmitter, event: string, ms = DEADLINE_MS): Promise<T> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  try {
    return (await once(emitter, event, { signal: ac.signal })) as T;
  } catch (err) {
    if (ac.signal.aborted) throw new Error(`no '${event}' event within ${ms} ms`);
    throw err;
  } finally {
    clearTimeout(timer);
  }
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
