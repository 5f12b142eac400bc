// A Child is a worker thread or a child process running the child entry (child-entry.ts);
// ParentMessage/ChildMessage cross between it and the server. A supervised unit drives it;
// a child never restarts itself.
import type { Isolation } from '../app/service.js';
import type { ChildMessage, ParentMessage, SerializedError } from './child-messages.js';

export type ChildIsolation = Exclude<Isolation, 'inline'>;

export interface ChildExit {
  /** Exit code, when the child exited by itself or was terminated. */
  code: number | null;
  /** Signal that ended a child process. */
  signal: string | null;
  /** The error that ended it (uncaught exception, out of memory), when known. */
  error?: SerializedError;
  /** True when the thread/process ran out of its memory limit. */
  outOfMemory: boolean;
}

export interface ChildOptions {
  /** Name used in thread/process titles and logs. */
  name: string;
  /** Heap limit in MB (worker resourceLimits.maxOldGenerationSizeMb, or --max-old-space-size). */
  maxHeapMb?: number;
  /** Extra environment for a child process (merged over process.env). */
  env?: Record<string, string>;
  /** Extra node flags for a child process / worker execArgv. */
  execArgv?: string[];
}

export interface Child {
  readonly kind: ChildIsolation;
  /** OS pid of a child process; the server's pid for a worker. */
  readonly pid: number | undefined;
  send(message: ParentMessage, transfer?: readonly ArrayBuffer[]): void;
  onMessage(listener: (message: ChildMessage) => void): void;
  /** Called exactly once, when the thread/process is gone. */
  onExit(listener: (exit: ChildExit) => void): void;
  /** Ends the child now (even if its event loop is blocked). */
  kill(): void;
}

export const CHILD_ENTRY_URL = new URL('./child-entry.js', import.meta.url);
