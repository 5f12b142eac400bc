// Starts a server process for a test and follows its JSON log lines.
import { spawn, type ChildProcess } from 'node:child_process';
import { DEADLINE_MS } from '../helpers/wait.js';

export interface LogLine {
  level: string;
  msg: string;
  [key: string]: unknown;
}

export class ServerProcess {
  readonly child: ChildProcess;
  readonly lines: LogLine[] = [];
  stderr = '';
  stdoutText = '';
  #exit: Promise<{ code: number | null; signal: string | null }>;
  #waiters: Array<() => void> = [];

  constructor(script: string, args: string[], env: Record<string, string> = {}, cwd?: string) {
    this.child = spawn(process.execPath, [script, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(cwd ? { cwd } : {}),
    });
    let buffered = '';
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdoutText += chunk;
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          this.lines.push(JSON.parse(line) as LogLine);
        } catch {
          /* not a log line */
        }
      }
      for (const w of this.#waiters) w();
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
      for (const w of this.#waiters) w();
    });
    this.#exit = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
    void this.#exit.then(() => {
      for (const w of this.#waiters) w();
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Resolve with the first log line matching `pred` (rejects if the process exits first). */
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs = DEADLINE_MS): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = this.lines.find(pred);
        if (found) {
          done();
          resolve(found);
          return true;
        }
        if (this.child.exitCode !== null || this.child.signalCode !== null) {
          done();
          reject(new Error(`server exited before the expected log line; stderr:\n${this.stderr}\nstdout:\n${this.stdoutText}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for a log line; stderr:\n${this.stderr}\nstdout:\n${this.stdoutText}`));
      }, timeoutMs);
      const waiter = (): void => void check();
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
      };
      this.#waiters.push(waiter);
      check();
    });
  }

  exited(timeoutMs = DEADLINE_MS): Promise<{ code: number | null; signal: string | null }> {
    return Promise.race([
      this.#exit,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timed out waiting for the server to exit')), timeoutMs).unref()),
    ]);
  }

  /** Kill it if it is still running (test cleanup). */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
      await this.#exit;
    }
  }
}
