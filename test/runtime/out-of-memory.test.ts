// A process-isolated unit that runs out of heap is restarted. The dying child's V8 report
// (FATAL ERROR: Reached heap limit, a native stack) is expected: the case runs in a process
// of its own whose output the test keeps, and shows only when the test fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DEADLINE_MS } from '../helpers/wait.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/oom-supervisor.js', import.meta.url));

test("process isolation: restarts after 'oom' (out-of-memory) and serves again", async () => {
  const child = spawn(process.execPath, [FIXTURE], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (t: string) => void (out += t));
  child.stderr.setEncoding('utf8').on('data', (t: string) => void (err += t));
  const timer = setTimeout(() => child.kill('SIGKILL'), DEADLINE_MS);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(timer);
  const shown = `exit code ${code}\nstdout:\n${out}\nstderr of the supervisor and its child:\n${err}`;
  assert.equal(code, 0, shown);
  const seen = JSON.parse(out) as { reason: string; restartInMs?: number; restarts: number; echoed: unknown };
  assert.equal(seen.reason, 'out-of-memory', shown);
  assert.ok(seen.restartInMs !== undefined && seen.restartInMs >= 20, shown);
  assert.equal(seen.restarts, 1, shown);
  assert.deepEqual(seen.echoed, ['again'], shown);
  assert.match(err, /heap/i, 'the child did run out of heap (V8 reported it)');
});
