/**
 * What the app layer reports as it works, for metrics, logs and tracing to observe. Plain
 * events, emitted where the work happens: observers never wrap or re-parse the traffic.
 */
import type { Isolation } from './service.js';

export interface AppObserver {
  connectionOpened?(e: { id: string; route: string; path: string; remoteAddress: string }): void;
  connectionClosed?(e: { id: string; route: string; code: number; durationMs: number }): void;
  /** A message from a client reached its service. */
  messageIn?(route: string, bytes: number): void;
  /** A message went out: to `count` connections, `bytes` each. */
  messageOut?(route: string, count: number, bytes: number): void;
  /** `outcome` is `ok` or the error code of the reply. */
  commandFinished?(e: { route: string; connection: string; command: string; outcome: string; durationMs: number }): void;
  handshakeRejected?(e: { path: string; status: number; reason: string }): void;
  /** A room message was published: `numbered` false when it was not (volatile, or local only because the broker is down). */
  roomPublished?(e: { route: string; durationMs: number; numbered: boolean }): void;
  /** A rejoin with a position: `recovered`, or why not (expired, epoch, too_many). */
  roomResumed?(e: { route: string; outcome: string }): void;
  serviceLoaded?(e: { route: string; file: string; isolation: Isolation; reload: boolean }): void;
  serviceLoadFailed?(e: { route: string; file: string; reason: string; reload: boolean }): void;
}

/** One observer that forwards every event to each of `observers`. */
export function observeAll(...observers: Array<AppObserver | undefined>): AppObserver {
  const list = observers.filter((o): o is AppObserver => o !== undefined);
  if (list.length === 1) return list[0]!;
  const out: AppObserver = {};
  const keys: Array<keyof AppObserver> = ['connectionOpened', 'connectionClosed', 'messageIn', 'messageOut', 'commandFinished', 'handshakeRejected', 'roomPublished', 'roomResumed', 'serviceLoaded', 'serviceLoadFailed'];
  for (const key of keys) {
    const fns = list.map((o) => o[key]?.bind(o)).filter((f) => f !== undefined) as Array<(...a: unknown[]) => void>;
    if (fns.length > 0) (out as Record<string, unknown>)[key] = (...args: unknown[]) => { for (const f of fns) f(...args); };
  }
  return out;
}
