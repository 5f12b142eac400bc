// Real brokers and real server nodes for the cluster tests: Debian's redis-server and
// nats-server on free ports of 127.0.0.1 with their own data directories, Switchboard nodes
// as `switchboard serve` processes. Everything is stopped by the PID this file started.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServerProcess } from '../runtime/server-process.js';
import { DEADLINE_MS, until } from '../helpers/wait.js';

export const BIN = fileURLToPath(new URL('../../../bin/switchboard.js', import.meta.url));

/** A port nothing listens on right now (listen on 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** A broker server process on a port of its own, restartable on the same port and data directory. */
export class BrokerProcess {
  readonly port: number;
  readonly dir: string;
  child: ChildProcess | null = null;
  readonly #command: string;
  readonly #args: (port: number, dir: string) => string[];
  readonly #ready: (out: string) => boolean;
  output = '';

  private constructor(command: string, port: number, args: (port: number, dir: string) => string[], ready: (out: string) => boolean) {
    this.#command = command;
    this.port = port;
    this.dir = mkdtempSync(join(tmpdir(), `sb-${command}-`));
    this.#args = args;
    this.#ready = ready;
  }

  /** redis-server without persistence, or with AOF fsynced on every write. */
  static async redis(options: { persistent?: boolean } = {}): Promise<BrokerProcess> {
    const b = new BrokerProcess(
      'redis-server',
      await freePort(),
      (port, dir) => ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', ...(options.persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']), '--loglevel', 'notice'],
      (out) => out.includes('Ready to accept connections'),
    );
    await b.start();
    return b;
  }

  /** nats-server with JetStream, its store in its own directory (kept across restarts). */
  static async nats(): Promise<BrokerProcess> {
    const b = new BrokerProcess('nats-server', await freePort(), (port, dir) => ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], (out) => out.includes('Server is ready'));
    await b.start();
    return b;
  }

  get url(): string {
    return `${this.#command === 'redis-server' ? 'redis' : 'nats'}://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    this.output = '';
    const child = spawn(this.#command, this.#args(this.port, this.dir), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.output += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.output += d));
    await until(() => {
      if (child.exitCode !== null) throw new Error(`${this.#command} exited: ${this.output}`);
      return this.#ready(this.output);
    }, `${this.#command} to be ready`);
  }

  /** SIGKILL (a crash) or SIGTERM; resolves once it is gone. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await gone;
    this.child = null;
  }

  /** SIGSTOP / SIGCONT. */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  async teardown(): Promise<void> {
    this.resume();
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface Node {
  process: ServerProcess;
  /** ws://127.0.0.1:PORT */
  url: string;
  /** The node id (prefix of its connection ids). */
  id: string;
  runDir: string;
}

/** A `switchboard serve` node, started and ready. */
export async function startNode(servicesDir: string, extra: string[] = [], env: Record<string, string> = {}): Promise<Node> {
  const runDir = mkdtempSync(join(tmpdir(), 'sb-node-'));
  const process = new ServerProcess(BIN, ['serve', servicesDir, '--port', '0', '--host', '127.0.0.1', '--run-dir', runDir, ...extra], env);
  const started = await process.waitForLog((l) => l.msg === 'switchboard started', DEADLINE_MS);
  const url = (started.listening as string[])[0]!;
  const id = String(started.node ?? '');
  return { process, url, id, runDir };
}
