// The processes a cluster benchmark starts: brokers (Debian's redis-server and nats-server on
// free ports of 127.0.0.1, each with a data directory of its own) and `switchboard serve`
// nodes, all pinned to CPU 0. Everything started is recorded here and stopped by its PID,
// also when the runner is interrupted.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const SERVER_CPU = '0';

const live = new Set<ChildProcess>();
const dirs = new Set<string>();
const serves = new Set<ServeProcess>();

/** SIGKILLs everything still running and removes the data directories (on exit paths). */
export function killAll(): void {
  for (const s of serves) s.killWorkers();
  for (const p of live) if (p.pid !== undefined && p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  live.clear();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function tempDir(prefix: string): string {
  const d = mkdtempSync(path.join(tmpdir(), prefix));
  dirs.add(d);
  return d;
}

function removeDir(d: string): void {
  rmSync(d, { recursive: true, force: true });
  dirs.delete(d);
}

/** A child process pinned with taskset, its output kept, with a wait for a line of it. */
export class Proc {
  readonly child: ChildProcess;
  output = '';
  readonly #waiters = new Set<() => void>();
  readonly exited: Promise<void>;

  constructor(cpu: string, command: string, args: string[], env: Record<string, string> = {}) {
    // taskset execs the command, so the PID is the command's own
    this.child = spawn('taskset', ['-c', cpu, command, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(this.child);
    const take = (d: Buffer): void => {
      this.output += d.toString();
      for (const w of this.#waiters) w();
    };
    this.child.stdout!.on('data', take);
    this.child.stderr!.on('data', take);
    this.exited = new Promise((resolve) =>
      this.child.once('exit', () => {
        live.delete(this.child);
        for (const w of this.#waiters) w();
        resolve();
      }),
    );
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves with the first value `match` finds in the output (checked as output arrives). */
  waitFor<T>(what: string, match: (output: string) => T | undefined, ms = 20000): Promise<T> {
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      const check = (): void => {
        const v = match(this.output);
        if (v !== undefined) {
          done();
          resolve(v);
        } else if (!this.running) {
          done();
          reject(new Error(`${what}: the process exited first: ${this.output.trim().slice(-600)}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${what}: nothing within ${ms} ms: ${this.output.trim().slice(-600)}`));
      }, ms);
      this.#waiters.add(check);
      check();
    });
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.running && this.child.pid !== undefined) process.kill(this.child.pid, signal);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it is gone. */
  async stop(graceMs = 3000): Promise<void> {
    if (!this.running) return;
    this.kill('SIGTERM');
    const t = setTimeout(() => this.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(t);
  }
}

export type BrokerKind = 'redis' | 'nats';

export interface BrokerServer {
  kind: BrokerKind;
  url: string;
  proc: Proc;
  stop(): Promise<void>;
}

export async function startBroker(kind: BrokerKind): Promise<BrokerServer> {
  const port = await freePort();
  const dir = tempDir(`sb-bench-${kind}-`);
  const proc =
    kind === 'redis'
      ? new Proc(SERVER_CPU, 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--loglevel', 'notice'])
      : new Proc(SERVER_CPU, 'nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir]);
  await proc.waitFor(`${kind}-server to start`, (out) =>
    (kind === 'redis' ? /Ready to accept connections/ : /Server is ready/).test(out) ? true : undefined,
  );
  return {
    kind,
    url: `${kind}://127.0.0.1:${port}`,
    proc,
    async stop() {
      await proc.stop(2000);
      removeDir(dir);
    },
  };
}

export interface LogLine {
  msg: string;
  pid?: number;
  node?: string;
  listening?: string[];
  [key: string]: unknown;
}

function logLines(output: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const l of output.split('\n')) {
    if (!l.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(l) as LogLine);
    } catch {
      /* a partial line: read again later */
    }
  }
  return lines;
}

/** A `switchboard serve` process: one node, or the primary of `--workers N`. */
export class ServeProcess {
  readonly proc: Proc;
  readonly runDir: string;

  constructor(bin: string, servicesDir: string, args: string[], nodeArgs: string[] = []) {
    this.runDir = tempDir('sb-bench-node-');
    serves.add(this);
    this.proc = new Proc(SERVER_CPU, process.execPath, [
      // every node's collections are counted over the measured phase (GcCount)
      '--trace-gc',
      ...nodeArgs,
      bin,
      'serve',
      servicesDir,
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--run-dir',
      this.runDir,
      '--no-deflate',
      '--log-level',
      'info',
      // every generator connection comes from 127.0.0.1: the per-address limits are off
      '--connections-per-ip',
      '0',
      '--handshakes-per-second',
      '0',
      ...args,
    ]);
  }

  get logs(): LogLine[] {
    return logLines(this.proc.output);
  }

  /** The started line: its node id, pid and port. */
  async started(): Promise<{ node: string; pid: number; port: number }> {
    const l = await this.proc.waitFor('switchboard to start', (out) => logLines(out).find((x) => x.msg === 'switchboard started'));
    return { node: String(l.node), pid: Number(l.pid), port: Number(new URL(l.listening![0]!).port) };
  }

  /** A worker that outlived its primary (it should not): by PID, if that PID is still ours. */
  killWorkers(): void {
    for (const pid of this.workers().values()) if (this.#ours(pid)) process.kill(pid, 'SIGKILL');
  }

  /** Whether `pid` is still a process of this server (its command line names our run directory). */
  #ours(pid: number): boolean {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(this.runDir);
    } catch {
      return false;
    }
  }

  /** Workers (under --workers) that have started, by node id. */
  workers(): Map<string, number> {
    const m = new Map<string, number>();
    for (const l of this.logs) if (l.msg === 'worker started') m.set(String(l.node), Number(l.pid));
    return m;
  }

  async stop(): Promise<void> {
    await this.proc.stop();
    this.killWorkers();
    serves.delete(this);
    removeDir(this.runDir);
  }
}

/** Read and write system calls the process has made (/proc/<pid>/io: writev and sendmsg count as writes). */
export interface Syscalls {
  reads: number;
  writes: number;
}

export function syscalls(pid: number): Syscalls {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const field = (name: string): number => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)?.[1] ?? NaN);
    return { reads: field('syscr'), writes: field('syscw') };
  } catch {
    return { reads: NaN, writes: NaN };
  }
}

/** utime + stime of a process, in seconds (fields 14 and 15 of /proc/<pid>/stat). */
export function cpuSeconds(pid: number, clkTck: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / clkTck;
  } catch {
    return NaN;
  }
}
