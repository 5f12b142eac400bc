// After `stop` or `drain`: wait until the server that held the run directory's lock is gone.
import { join } from 'node:path';
import { LOCK_FILE_NAME, isProcessAlive, readLock, type LockInfo } from '../../runtime/lock-file.js';
import type { CliIO } from './command.js';

export const WAIT_TIMEOUT_TAKES = 'a whole number of milliseconds, 1 or more';

/** The server holding the run directory now, if any (read before asking it to stop). */
export function lockHolder(runDir: string): LockInfo | undefined {
  return readLock(join(runDir, LOCK_FILE_NAME));
}

/** --timeout-ms as a number, or undefined after saying what is wrong. */
export function parseWaitTimeout(command: string, raw: string | undefined, fallbackMs: number, io: CliIO): number | undefined {
  const timeoutMs = raw === undefined ? fallbackMs : Number(raw);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    io.stderr(`switchboard ${command}: --timeout-ms ${raw}: expected ${WAIT_TIMEOUT_TAKES}\n`);
    return undefined;
  }
  return timeoutMs;
}

/** Polls until `holder` exited (or left the lock); 0 when it did, 1 after `timeoutMs`. */
export async function waitForExit(command: string, runDir: string, holder: LockInfo, timeoutMs: number, io: CliIO): Promise<number> {
  const end = Date.now() + timeoutMs;
  while (isProcessAlive(holder.pid) && readLock(join(runDir, LOCK_FILE_NAME))?.pid === holder.pid) {
    if (Date.now() > end) {
      io.stderr(`switchboard ${command}: server pid ${holder.pid} still running after ${timeoutMs} ms\n`);
      return 1;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  io.stdout(`stopped (pid ${holder.pid})\n`);
  return 0;
}
