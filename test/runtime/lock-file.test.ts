import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { acquireLock, LockHeldError, LOCK_FILE_NAME } from '../../src/runtime/lock-file.js';

const tempDir = () => mkdtempSync(join(tmpdir(), 'sb-lock-'));

test('takes the lock, refuses a second holder, releases', () => {
  const dir = tempDir();
  try {
    const runDir = join(dir, 'run');
    const lock = acquireLock(runDir);
    assert.equal(statSync(runDir).mode & 0o777, 0o700);
    assert.equal(JSON.parse(readFileSync(lock.path, 'utf8')).pid, process.pid);
    assert.equal(lock.tookOverFrom, undefined);
    // a live process (our parent) holds it: refused
    writeFileSync(lock.path, JSON.stringify({ pid: process.ppid, startedAt: 'x' }));
    assert.throws(() => acquireLock(runDir), (e: unknown) => e instanceof LockHeldError && e.holder.pid === process.ppid);
    writeFileSync(lock.path, JSON.stringify({ pid: process.pid, startedAt: 'x' }));
    lock.release();
    assert.equal(existsSync(join(runDir, LOCK_FILE_NAME)), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a stale lock from a dead pid is taken over', () => {
  const dir = tempDir();
  try {
    const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    const deadPid = Number(r.stdout.toString());
    writeFileSync(join(dir, LOCK_FILE_NAME), JSON.stringify({ pid: deadPid, startedAt: 'then' }));
    const lock = acquireLock(dir);
    assert.equal(lock.tookOverFrom?.pid, deadPid);
    assert.equal(JSON.parse(readFileSync(lock.path, 'utf8')).pid, process.pid);
    lock.release();
    // garbage in the lock file is stale too
    writeFileSync(join(dir, LOCK_FILE_NAME), 'not json');
    const again = acquireLock(dir);
    assert.equal(again.tookOverFrom?.pid, 0);
    again.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
