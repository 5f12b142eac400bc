// Test helpers: wait for events/conditions with generous, bounded deadlines.
import type { EventEmitter } from 'node:events';

export const DEADLINE_MS = 20_000;

export function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = DEADLINE_MS): Promise<void> {
  const end = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = async (): Promise<void> => {
      try {
        if (await cond()) return resolve();
      } catch {
        /* retry */
      }
      if (Date.now() > end) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(() => void tick(), 25);
    };
    void tick();
  });
}

export function once<T extends unknown[]>(
  emitter: EventEmitter,
  event: string,
  filter: (...args: T) => boolean = () => true,
  timeoutMs = DEADLINE_MS,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, on);
      reject(new Error(`timed out waiting for event "${event}"`));
    }, timeoutMs);
    const on = (...args: unknown[]): void => {
      if (!filter(...(args as T))) return;
      clearTimeout(timer);
      emitter.off(event, on);
      resolve(args as T);
    };
    emitter.on(event, on);
  });
}
