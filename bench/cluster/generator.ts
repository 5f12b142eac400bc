// The room load generator (bench/room-loadgen.c): built when its source is newer than the
// binary, run on CPU 1, driven over stdin/stdout (READY, the runner's line, DONE, the last
// line). A hard deadline is passed to it and enforced here as well.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';

export const GENERATOR_CPU = '1';

export interface GenOutput {
  ready: Record<string, any>;
  done: Record<string, any>;
  /** What the generator said on stderr (e.g. the first gaps it saw). */
  stderr: string;
}

export function buildGenerator(root: string): string {
  const src = path.join(root, 'bench', 'room-loadgen.c');
  const bin = path.join(root, 'bench', 'build', 'room-loadgen');
  mkdirSync(path.dirname(bin), { recursive: true });
  if (existsSync(bin) && statSync(bin).mtimeMs > statSync(src).mtimeMs) return bin;
  console.log('building bench/build/room-loadgen: cc -O2 -o bench/build/room-loadgen bench/room-loadgen.c');
  const r = spawnSync('cc', ['-O2', '-Wall', '-o', bin, src], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('building the room load generator failed');
  return bin;
}

/**
 * Runs the generator. `onReady` runs after connect and warm-up, before the line that lets it
 * go on; `onDone` after its DONE line, while its connections are still open.
 */
export function runGenerator(
  bin: string,
  mode: 'fanout' | 'resume',
  args: (string | number)[],
  hooks: {
    onReady?: (ready: Record<string, any>) => Promise<void> | void;
    /** resume mode: every subscriber resumed (or gave up); the tail follows */
    onResumed?: (resumed: Record<string, any>) => void;
    onDone?: (done: Record<string, any>) => Promise<void> | void;
  },
  timeoutMs: number,
): Promise<GenOutput> {
  return new Promise((resolve, reject) => {
    const p = spawn('taskset', ['-c', GENERATOR_CPU, bin, mode, ...args.map(String), '--timeout-ms', String(timeoutMs)], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: GenOutput = { ready: {}, done: {}, stderr: '' };
    let buf = '';
    let err = '';
    let chain = Promise.resolve();
    let hookFailed: { error: unknown } | undefined;
    // a hook that fails ends the generator at once (it would wait for its line until the deadline)
    const step = (fn: () => Promise<void>): void => {
      chain = chain.then(async () => {
        if (hookFailed) return;
        try {
          await fn();
        } catch (e) {
          hookFailed = { error: e };
          p.kill('SIGKILL');
        }
      });
    };
    const killer = setTimeout(() => p.kill('SIGKILL'), timeoutMs + 5000);
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.stdin.on('error', () => undefined);
    p.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith('READY ')) {
          out.ready = JSON.parse(line.slice(6)) as Record<string, any>;
          step(async () => {
            await hooks.onReady?.(out.ready);
            p.stdin.write('GO\n');
          });
        } else if (line.startsWith('RESUMED ')) {
          hooks.onResumed?.(JSON.parse(line.slice(8)) as Record<string, any>);
        } else if (line.startsWith('DONE ')) {
          out.done = JSON.parse(line.slice(5)) as Record<string, any>;
          step(async () => {
            await hooks.onDone?.(out.done);
            p.stdin.end('EXIT\n');
          });
        }
      }
    });
    // 'close': stdout and stderr have ended too
    p.on('close', (code) => {
      out.stderr = err.trim();
      clearTimeout(killer);
      chain
        .then(() => {
          if (hookFailed) reject(hookFailed.error);
          else if (code !== 0) reject(new Error(`room-loadgen ${mode} exited ${code}: ${err.trim() || JSON.stringify(out.ready)}`));
          else resolve(out);
        })
        .catch(reject);
    });
  });
}
