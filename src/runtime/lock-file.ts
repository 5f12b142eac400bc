// The run directory's lock/pid file: one server per run directory. A lock left by a dead
// process is stale and is taken over.
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const LOCK_FILE_NAME = 'switchboard.pid';

export interface LockInfo {
  pid: number;
  startedAt: string;
}

export class LockHeldError extends Error {
  readonly code = 'ERR_SWITCHBOARD_LOCKED';
  constructor(
    readonly path: string,
    readonly holder: LockInfo,
  ) {
    super(`another server (pid ${holder.pid}) holds ${path}; stop it first, or use another --run-dir`);
    this.name = 'LockHeldError';
  }
}

export interface AcquiredLock {
  readonly path: string;
  /** Set when a stale lock of a dead process was taken over. */
  readonly tookOverFrom: LockInfo | undefined;
  release(): void;
}

/** True when a process with this pid exists (EPERM: it exists but is not ours). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function readLock(path: string): LockInfo | undefined {
  try {
    const raw = readFileSync(path, 'utf8').trim();
    const parsed = JSON.parse(raw) as Partial<LockInfo>;
    if (typeof parsed.pid === 'number' && Number.isInteger(parsed.pid) && parsed.pid > 0) {
      return { pid: parsed.pid, startedAt: String(parsed.startedAt ?? '') };
    }
    return undefined;
  } catch {
    return undefined;
  }
}

/** Create the run directory (mode 0700) and take its lock, or throw LockHeldError. */
export function acquireLock(runDir: string, pid = process.pid): AcquiredLock {
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const path = join(runDir, LOCK_FILE_NAME);
  let tookOverFrom: LockInfo | undefined;
  const info: LockInfo = { pid, startedAt: new Date().toISOString() };
  // Write the whole file first, then link it into place: link() is atomic and fails if the
  // lock exists, so nobody ever reads a half-written lock.
  const tmp = `${path}.${pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(info) + '\n', { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        linkSync(tmp, path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const holder = readLock(path);
        if (holder && holder.pid !== pid && isProcessAlive(holder.pid)) throw new LockHeldError(path, holder);
        tookOverFrom = holder ?? { pid: 0, startedAt: '' };
        try {
          unlinkSync(path);
        } catch {
          /* raced with another taker: retry */
        }
        continue;
      }
      let released = false;
      return {
        path,
        tookOverFrom,
        release() {
          if (released) return;
          released = true;
          if (readLock(path)?.pid === pid) {
            try {
              unlinkSync(path);
            } catch {
              /* already gone */
            }
          }
        },
      };
    }
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      /* gone */
    }
  }
  throw new Error(`could not take the lock ${path}`);
}
