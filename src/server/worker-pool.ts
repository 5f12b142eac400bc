/**
 * `--workers N`: the primary process. It forks N server processes with node:cluster (they
 * share the listening port; Linux hands connections out round-robin, and plain WebSockets
 * need no sticky sessions), serves their broker from one IpcHub unless an external broker is
 * configured, restarts a worker that dies (its clients resume on the others), and is the
 * runtime's app: status, reload, restart and stop go to every worker and are merged here.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '../app/logger.js';
import { IpcHub } from '../cluster/ipc-hub.js';
import type { IpcEndpoint } from '../cluster/ipc-messages.js';
import { batchingEndpoint } from '../cluster/ipc-batching.js';
import type { ReloadResult, ServerStatus, ServiceStatus } from '../runtime/control-protocol.js';
import { ControlError } from '../runtime/control-protocol.js';
import type { RuntimeApp } from '../runtime/server-runtime.js';
import type { DrainWindow } from '../runtime/shutdown.js';
import type { NodeFigures } from '../runtime/live-figures.js';
import type { MetricsSnapshot } from '../runtime/server-metrics.js';
import { WORKER_TAG, type PrimaryOp, type PrimaryToWorker, type WorkerControlOp, type WorkerToPrimary } from './worker-messages.js';

export interface WorkerPoolOptions {
  count: number;
  /** Serve the workers' broker from this process (broker: memory). */
  hub: IpcHub | null;
  log: Logger;
  /** How long a stopping worker may take before it is killed. */
  stopTimeoutMs: number;
  /** Backoff of a worker that keeps dying. */
  restartDelayMs: number;
  maxRestartDelayMs: number;
  /** Answers a worker's questions to the primary (`ask`). */
  answer?: (op: PrimaryOp) => Promise<unknown>;
}

interface Slot {
  readonly index: number;
  worker: Worker | null;
  node: string;
  listening: string[];
  routes: string[];
  restarts: number;
  detach: (() => void) | null;
}

export class WorkerPool implements RuntimeApp {
  readonly #o: WorkerPoolOptions;
  readonly #slots: Slot[] = [];
  readonly #pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
  #seq = 0;
  #stopping = false;
  /** The drain window of the stop under way: each worker staggers its own connections over it. */
  #window: DrainWindow = { windowMs: 0 };
  #lastConnections = 0;
  readonly #startedAt = Date.now();
  readonly nodeId: string;

  constructor(nodeId: string, options: WorkerPoolOptions) {
    this.nodeId = nodeId;
    this.#o = options;
  }

  /** Forks every worker; resolves when all of them listen. */
  async start(): Promise<void> {
    cluster.setupPrimary({ serialization: 'advanced' });
    const ready: Array<Promise<void>> = [];
    for (let index = 0; index < this.#o.count; index++) {
      const slot: Slot = { index, worker: null, node: '', listening: [], routes: [], restarts: 0, detach: null };
      this.#slots.push(slot);
      ready.push(this.#fork(slot));
    }
    await Promise.all(ready);
  }

  /** The worker processes' pids, by index. */
  pids(): Array<number | undefined> {
    return this.#slots.map((s) => s.worker?.process.pid);
  }

  // ------------------------------------------------------------ RuntimeApp

  /** Endpoint routes, as the first worker found them. */
  routes(): string[] {
    return this.#slots[0]?.routes ?? [];
  }

  listening(): string[] {
    return this.#slots[0]?.listening ?? [];
  }

  connectionCount(): number {
    return this.#lastConnections;
  }

  node(): string {
    return this.nodeId;
  }

  broker(): { kind: string; state: string; since: number } {
    return { kind: this.#o.hub ? 'ipc' : 'external', state: 'up', since: this.#startedAt };
  }

  async nodes(): Promise<Array<{ id: string; since: number }>> {
    if (this.#o.hub) return this.#o.hub.nodes();
    return this.#slots.filter((s) => s.node).map((s) => ({ id: s.node, since: this.#startedAt }));
  }

  async services(): Promise<ServiceStatus[]> {
    const statuses = await this.#statuses();
    this.#lastConnections = statuses.reduce((n, s) => n + s.connections, 0);
    const merged = new Map<string, ServiceStatus>();
    for (const st of statuses) {
      for (const svc of st.services) {
        const m = merged.get(svc.name);
        if (!m) merged.set(svc.name, { ...svc });
        else {
          m.connections += svc.connections;
          m.messagesIn += svc.messagesIn;
          m.messagesOut += svc.messagesOut;
          m.restarts += svc.restarts;
          if (m.state !== svc.state && svc.state !== 'not loaded' && svc.state !== 'running') m.state = svc.state;
          else if (m.state === 'not loaded') m.state = svc.state;
        }
      }
    }
    return [...merged.values()];
  }

  /** Every worker's own status, for `status --json` under `workers`. */
  async workerStatuses(): Promise<ServerStatus[]> {
    return this.#statuses();
  }

  /** Every live worker's live figures (each worker is a node). */
  async figures(): Promise<NodeFigures[]> {
    return (await this.#all('figures')) as NodeFigures[];
  }

  /** Every live worker's own metrics, for the primary to merge into one scrape. */
  async metricsSnapshots(): Promise<MetricsSnapshot[]> {
    return (await this.#all('metrics')) as MetricsSnapshot[];
  }

  async reload(): Promise<ReloadResult> {
    const results = (await this.#all('reload')) as ReloadResult[];
    return results[0] ?? { added: [], removed: [], restarted: [], unchanged: [] };
  }

  async restartService(route: string): Promise<boolean> {
    const results = (await this.#all('restart', route)) as boolean[];
    return results.some(Boolean);
  }

  stopAccepting(window: DrainWindow = { windowMs: 0 }): void {
    this.#stopping = true;
    this.#window = window;
    for (const slot of this.#slots) if (slot.node !== '') this.#send(slot, this.#stopMessage());
  }

  #stopMessage(): PrimaryToWorker {
    return { [WORKER_TAG]: 'stop', ...(this.#window.windowMs > 0 ? { window: this.#window } : {}) };
  }

  /** Each worker drains on its own (it got the stop); this waits for them to finish, up to the deadline. */
  async drain(deadline: AbortSignal): Promise<void> {
    await Promise.race([this.#allExited(), new Promise<void>((r) => (deadline.aborted ? r() : deadline.addEventListener('abort', () => r(), { once: true })))]);
  }

  async closeConnections(): Promise<void> {
    const timer = setTimeout(() => {
      for (const slot of this.#slots) slot.worker?.process.kill('SIGKILL');
    }, this.#o.stopTimeoutMs + this.#window.windowMs);
    await this.#allExited();
    clearTimeout(timer);
  }

  // ------------------------------------------------------------ workers

  #fork(slot: Slot): Promise<void> {
    const worker = cluster.fork({ SWITCHBOARD_WORKER_INDEX: String(slot.index) });
    slot.worker = worker;
    // a send to a worker that just died fails asynchronously: its exit is what matters
    worker.on('error', (err) => this.#o.log.debug({ worker: slot.index, err: String(err) }, 'worker channel error'));
    if (this.#o.hub) slot.detach = this.#o.hub.attach(batchingEndpoint(workerEndpoint(worker)));
    const ready = new Promise<void>((resolve, reject) => {
      const onMessage = (m: unknown): void => {
        if (!isFromWorker(m)) return;
        if (m[WORKER_TAG] === 'ready') {
          slot.node = m.node;
          slot.listening = m.listening;
          slot.routes = m.routes;
          // a worker forked during a stop hears it only once it can act on it
          if (this.#stopping) this.#send(slot, this.#stopMessage());
          resolve();
        } else if (m[WORKER_TAG] === 'ask') {
          const answer = this.#o.answer?.(m.op) ?? Promise.reject(new Error(`the primary does not answer ${m.op}`));
          answer.then(
            (value) => this.#send(slot, { [WORKER_TAG]: 'told', id: m.id, ok: true, value }),
            (err: unknown) => this.#send(slot, { [WORKER_TAG]: 'told', id: m.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
          );
        } else if (m[WORKER_TAG] === 'res') {
          const p = this.#pending.get(m.id);
          if (!p) return;
          this.#pending.delete(m.id);
          if (m.ok) p.resolve(m.value);
          else p.reject(new ControlError(m.code ?? 'WORKER_ERROR', m.error));
        }
      };
      worker.on('message', onMessage);
      worker.once('exit', (code, signal) => {
        slot.detach?.();
        slot.detach = null;
        reject(new Error(`worker ${slot.index} exited before it was ready (${signal ?? `code ${code}`})`));
        this.#exited(slot, worker, code, signal);
      });
    });
    ready.catch(() => undefined);
    return ready;
  }

  #exited(slot: Slot, worker: Worker, code: number | null, signal: string | null): void {
    if (slot.worker !== worker) return;
    slot.worker = null;
    const node = slot.node;
    slot.node = '';
    if (this.#stopping) {
      this.#o.log.info({ worker: slot.index, workerNode: node, code, signal }, `worker ${slot.index} stopped`);
      return;
    }
    slot.restarts += 1;
    const delay = Math.min(this.#o.maxRestartDelayMs, this.#o.restartDelayMs * 2 ** Math.min(slot.restarts - 1, 16));
    this.#o.log.error({ worker: slot.index, workerNode: node, code, signal, restartInMs: delay }, `worker ${slot.index} (node ${node}) exited; restarting in ${delay} ms`);
    setTimeout(() => {
      if (!this.#stopping) void this.#fork(slot).catch((err: unknown) => this.#o.log.error({ worker: slot.index, err: String(err) }, 'worker failed to start'));
    }, delay).unref();
  }

  async #statuses(): Promise<ServerStatus[]> {
    return ((await this.#all('status')) as ServerStatus[]).filter(Boolean);
  }

  /** Asks every live worker; a worker that dies meanwhile answers nothing. */
  async #all(op: WorkerControlOp, arg?: string): Promise<unknown[]> {
    const live = this.#slots.filter((s) => s.worker !== null && s.node !== '');
    const answers = await Promise.allSettled(live.map((s) => this.#ask(s, op, arg)));
    const failed = answers.find((a) => a.status === 'rejected');
    if (failed && answers.every((a) => a.status === 'rejected')) throw (failed as PromiseRejectedResult).reason;
    // a worker dying meanwhile leaves a gap in a status or a scrape, not an error
    if (failed && op !== 'status' && op !== 'metrics' && op !== 'figures') throw (failed as PromiseRejectedResult).reason;
    return answers.filter((a) => a.status === 'fulfilled').map((a) => (a as PromiseFulfilledResult<unknown>).value);
  }

  #ask(slot: Slot, op: WorkerControlOp, arg?: string): Promise<unknown> {
    const id = ++this.#seq;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      const worker = slot.worker;
      worker?.once('exit', () => {
        if (this.#pending.delete(id)) reject(new Error(`worker ${slot.index} exited`));
      });
      if (!this.#send(slot, { [WORKER_TAG]: 'req', id, op, ...(arg !== undefined ? { arg } : {}) })) {
        this.#pending.delete(id);
        reject(new Error(`worker ${slot.index} is not running`));
      }
    });
  }

  #send(slot: Slot, m: PrimaryToWorker): boolean {
    const w = slot.worker;
    if (!w || !w.isConnected()) return false;
    try {
      w.send(m);
      return true;
    } catch {
      return false;
    }
  }

  #allExited(): Promise<void> {
    return Promise.all(this.#slots.map((s) => (s.worker === null ? undefined : new Promise<void>((r) => s.worker!.once('exit', () => r()))))).then(() => undefined);
  }
}

function workerEndpoint(worker: Worker): IpcEndpoint {
  return {
    send: (m) => {
      if (worker.isConnected()) worker.send(m as never, undefined, () => undefined);
    },
    on: (_e, l) => void worker.on('message', l),
    off: (_e, l) => void worker.off('message', l),
  };
}

function isFromWorker(m: unknown): m is WorkerToPrimary {
  return typeof m === 'object' && m !== null && typeof (m as Record<string, unknown>)[WORKER_TAG] === 'string';
}
