// One supervised unit: an entry module running in a worker thread or a child process,
// restarted on crash (exit, uncaught exception, out of memory, missed heartbeats) with
// exponential backoff until its restart budget is spent; then it is 'failed'.
import { EventEmitter } from 'node:events';
import { ProcessChild } from './process-child.js';
import type { Child, ChildExit, ChildOptions, ChildIsolation } from './child.js';
import {
  IPC_VERSION,
  OutboundBatcher,
  RemoteError,
  collectTransferables,
  serializeError,
  type ChildMemory,
  type ChildMessage,
  type LogLevel,
  type ParentMessage,
  type SerializedError,
} from './child-messages.js';
import { readPacked, SlotGroupedReader, type KeptFrom, type PackedHandler, type SegmentMemory, type TextAs } from './packed-records.js';
import { RestartPolicy, type RestartPolicyOptions } from './restart-policy.js';
import { WorkerChild } from './worker-child.js';

export type UnitState = 'idle' | 'starting' | 'running' | 'backoff' | 'failed' | 'stopping' | 'stopped';

export type CrashReason = 'exit' | 'uncaught-exception' | 'out-of-memory' | 'hang' | 'start-timeout';

export interface CrashInfo {
  name: string;
  reason: CrashReason;
  code: number | null;
  signal: string | null;
  error?: SerializedError;
  /** Set when a restart is scheduled. */
  restartInMs?: number;
  /** Crash count within the restart window, this one included. */
  attempt: number;
  /** When it happened (ISO 8601). */
  at: string;
}

export interface HeartbeatOptions {
  intervalMs: number;
  /** No pong for this long: the unit is hung, it is killed and restarted. */
  timeoutMs: number;
}

export interface SupervisedUnitOptions {
  name: string;
  isolation: ChildIsolation;
  /** Path or file: URL of a module exporting `run(ctx: ChildContext)`. */
  entry: string;
  /** Plain data handed to the entry as ctx.data. */
  data?: unknown;
  restart?: Partial<RestartPolicyOptions>;
  heartbeat?: HeartbeatOptions | false;
  /** Time allowed from spawn to 'ready'. */
  startTimeoutMs?: number;
  /** Time allowed for a graceful stop before the unit is killed. */
  stopGraceMs?: number;
  maxHeapMb?: number;
  execArgv?: string[];
  env?: Record<string, string>;
  /** For tests: build the child yourself. */
  createChild?: (kind: ChildIsolation, options: ChildOptions) => Child;
}

export interface LogEntry {
  name: string;
  level: LogLevel;
  msg: string;
  fields?: Record<string, unknown>;
}

export interface UnitStatus {
  name: string;
  isolation: ChildIsolation;
  state: UnitState;
  pid: number | undefined;
  restarts: number;
  startedAt: number | undefined;
  lastCrash: CrashInfo | undefined;
  memory: ChildMemory | undefined;
}

export type CallRouter = (from: string, target: string, method: string, args: unknown[]) => Promise<unknown>;

export interface SupervisedUnitEvents {
  state: [state: UnitState, previous: UnitState];
  ready: [];
  crash: [info: CrashInfo];
  message: [payload: unknown];
  log: [entry: LogEntry];
}

export function createChild(kind: ChildIsolation, options: ChildOptions): Child {
  return kind === 'worker' ? new WorkerChild(options) : new ProcessChild(options);
}

export class SupervisedUnit extends EventEmitter<SupervisedUnitEvents> {
  readonly name: string;
  readonly isolation: ChildIsolation;
  #options: SupervisedUnitOptions;
  #policy: RestartPolicy;
  #state: UnitState = 'idle';
  #child: Child | undefined;
  #out: OutboundBatcher<ParentMessage> | undefined;
  #generation = 0;
  #restarts = 0;
  #startedAt: number | undefined;
  #lastCrash: CrashInfo | undefined;
  #memory: ChildMemory | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #startTimer: NodeJS.Timeout | undefined;
  #backoffTimer: NodeJS.Timeout | undefined;
  #pingSeq = 0;
  #lastPongAt = 0;
  #killReason: CrashReason | undefined;
  #pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void; timer: NodeJS.Timeout | undefined }>();
  #nextCallId = 1;
  #router: CallRouter | undefined;
  #callHandler: ((method: string, args: unknown[]) => unknown) | undefined;
  /** Hands a packed segment's records to the onPacked handler, as it asked for them; true when nothing of the segment is kept. */
  #readPacked: ((bytes: Uint8Array, memory: SegmentMemory) => boolean) | undefined;
  #stopWaiters: Array<() => void> = [];

  constructor(options: SupervisedUnitOptions) {
    super();
    this.name = options.name;
    this.isolation = options.isolation;
    this.#options = options;
    this.#policy = new RestartPolicy(options.restart);
  }

  get state(): UnitState {
    return this.#state;
  }

  status(): UnitStatus {
    return {
      name: this.name,
      isolation: this.isolation,
      state: this.#state,
      pid: this.#child?.pid,
      restarts: this.#restarts,
      startedAt: this.#startedAt,
      lastCrash: this.#lastCrash,
      memory: this.#memory,
    };
  }

  /** Route the child's ctx.call(target, ...) (set by the Supervisor). */
  setCallRouter(router: CallRouter): void {
    this.#router = router;
  }

  /** Serve ctx.call(<this unit's name>, ...) made from inside the child... of other units, via the router. */
  setCallHandler(handler: (method: string, args: unknown[]) => unknown): void {
    this.#callHandler = handler;
  }

  /** Start the unit; resolves once it is 'running' (or rejects if it ends up 'failed'/'stopped' first). */
  start(): Promise<void> {
    if (this.#state === 'starting' || this.#state === 'running') return this.whenState('running');
    this.#spawn();
    return this.whenState('running');
  }

  /** Resolve when the unit reaches `state`; reject if it is failed or stopped first. */
  whenState(state: UnitState): Promise<void> {
    if (this.#state === state) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onState = (s: UnitState): void => {
        if (s === state) {
          this.off('state', onState);
          resolve();
        } else if (s === 'failed' || s === 'stopped') {
          this.off('state', onState);
          reject(new Error(`${this.name}: ${s} before reaching ${state}`));
        }
      };
      this.on('state', onState);
    });
  }

  /** Graceful stop: ask the child to stop, kill it after the grace period. */
  async stop(reason = 'stop'): Promise<void> {
    this.#clearBackoff();
    const child = this.#child;
    if (!child) {
      if (this.#state !== 'stopped') this.#setState('stopped');
      return;
    }
    if (this.#state !== 'stopping') {
      this.#setState('stopping');
      this.#out?.send({ v: IPC_VERSION, type: 'stop', reason });
      const grace = setTimeout(() => child.kill(), this.#options.stopGraceMs ?? 5_000);
      grace.unref();
      this.#stopWaiters.push(() => clearTimeout(grace));
    }
    await new Promise<void>((resolve) => this.#stopWaiters.push(resolve));
  }

  /** Manual restart: graceful stop, then start with a fresh restart budget. */
  async restart(): Promise<void> {
    await this.stop('restart');
    this.#policy.reset();
    this.#restarts++;
    await this.start();
  }

  /** Send plain data to the child. Returns false when the unit is not running. */
  post(payload: unknown, transfer?: readonly ArrayBuffer[] | 'auto'): boolean {
    if (!this.#child || (this.#state !== 'running' && this.#state !== 'starting')) return false;
    const list = transfer === 'auto' ? collectTransferables(payload) : transfer;
    this.#out?.send({ v: IPC_VERSION, type: 'message', payload }, this.#child.kind === 'worker' ? list : undefined);
    return true;
  }

  /**
   * Send one record to the child's ctx.onPacked handler: `data` copied with others into one
   * byte segment, in order with everything else posted (see packed-records.ts for `slot`
   * and for bytes sent as text). Returns false when the unit is not running.
   */
  postPacked(tag: number, slot: number, data: string | Uint8Array, binary: boolean): boolean {
    if (!this.#child || (this.#state !== 'running' && this.#state !== 'starting')) return false;
    this.#out?.sendPacked(tag, slot, data, binary);
    return true;
  }

  /**
   * Receive the records the child sends with ctx.postPacked; text as strings or as its UTF-8
   * bytes; in the order sent, or grouped by slot (see SlotGroupedReader) when only each
   * slot's own order matters. A worker's segment goes back to it for reuse once read, unless
   * a view of it that the handler may keep was handed on (see KeptFrom).
   */
  onPacked(handler: PackedHandler, text: TextAs = 'string', order: 'sent' | 'bySlot' = 'sent', keptFrom: KeptFrom = 0): void {
    const grouped = order === 'bySlot' ? new SlotGroupedReader() : null;
    this.#readPacked = grouped ? (bytes, memory) => grouped.read(bytes, handler, text, keptFrom, memory) : (bytes, memory) => readPacked(bytes, handler, text, keptFrom, memory);
  }

  /** Call a method served by the child's ctx.handleCalls. */
  call(method: string, args: unknown[] = [], options: { timeoutMs?: number } = {}): Promise<unknown> {
    if (!this.#child || this.#state !== 'running') {
      return Promise.reject(new Error(`${this.name} is ${this.#state}`));
    }
    const id = this.#nextCallId++;
    const out = this.#out;
    return new Promise((resolve, reject) => {
      const timer =
        options.timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              this.#pending.delete(id);
              reject(new Error(`${this.name}.${method}: timed out after ${options.timeoutMs} ms`));
            }, options.timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      out?.send({ v: IPC_VERSION, type: 'call', id, method, args });
    });
  }

  #setState(state: UnitState): void {
    const previous = this.#state;
    if (previous === state) return;
    this.#state = state;
    this.emit('state', state, previous);
  }

  #spawn(): void {
    const generation = ++this.#generation;
    const opts = this.#options;
    const childOptions: ChildOptions = { name: opts.name };
    if (opts.maxHeapMb !== undefined) childOptions.maxHeapMb = opts.maxHeapMb;
    if (opts.execArgv) childOptions.execArgv = opts.execArgv;
    if (opts.env) childOptions.env = opts.env;
    const child = (opts.createChild ?? createChild)(opts.isolation, childOptions);
    this.#child = child;
    const out = new OutboundBatcher<ParentMessage>((m, t) => child.send(m as ParentMessage, t), 'immediate', child.kind === 'worker');
    this.#out = out;
    this.#killReason = undefined;
    this.#memory = undefined;
    this.#setState('starting');
    child.onMessage((m) => {
      if (generation !== this.#generation) return;
      if (m.type === 'batch') for (const x of m.messages) this.#onMessage(out, x);
      else this.#onMessage(out, m);
    });
    child.onExit((exit) => generation === this.#generation && this.#onExit(exit));
    out.send({ v: IPC_VERSION, type: 'init', name: opts.name, entry: opts.entry, data: opts.data });
    this.#startTimer = setTimeout(() => this.#kill(child, 'start-timeout'), opts.startTimeoutMs ?? 15_000);
    this.#startTimer.unref();
    this.#startHeartbeat(child, out);
  }

  #startHeartbeat(child: Child, out: OutboundBatcher<ParentMessage>): void {
    const hb = this.#options.heartbeat;
    if (hb === false) return;
    const { intervalMs, timeoutMs } = hb ?? { intervalMs: 1_000, timeoutMs: 5_000 };
    this.#lastPongAt = Date.now();
    this.#heartbeat = setInterval(() => {
      if (this.#state === 'stopping') return;
      if (Date.now() - this.#lastPongAt > timeoutMs) {
        this.#kill(child, 'hang');
        return;
      }
      out.send({ v: IPC_VERSION, type: 'ping', seq: ++this.#pingSeq });
    }, intervalMs);
    this.#heartbeat.unref();
  }

  #kill(child: Child, reason: CrashReason): void {
    if (this.#killReason !== undefined) return;
    this.#killReason = reason;
    child.kill();
  }

  #onMessage(out: OutboundBatcher<ParentMessage>, m: ChildMessage): void {
    switch (m.type) {
      case 'ready':
        clearTimeout(this.#startTimer);
        this.#startedAt = Date.now();
        if (this.#state === 'starting') this.#setState('running');
        this.emit('ready');
        break;
      case 'pong':
        this.#lastPongAt = Date.now();
        this.#memory = m.memory;
        break;
      case 'reply': {
        const pending = this.#pending.get(m.id);
        if (!pending) break;
        this.#pending.delete(m.id);
        clearTimeout(pending.timer);
        if (m.ok) pending.resolve(m.value);
        else pending.reject(new RemoteError(m.error));
        break;
      }
      case 'call':
        void this.#routeCall(out, m.id, m.target, m.method, m.args);
        break;
      case 'message':
        this.emit('message', m.payload);
        break;
      case 'packed':
        if (this.#readPacked === undefined || this.#readPacked(m.bytes, m.transient === true ? 'transient' : 'own')) out.giveBack(m.bytes);
        break;
      case 'reuse':
        out.reuse(m.memory);
        break;
      case 'log':
        this.emit('log', { name: this.name, level: m.level, msg: m.msg, ...(m.fields ? { fields: m.fields } : {}) });
        break;
      case 'fatal':
      case 'batch':
        break; // the child attaches 'fatal' to the exit; batches are unpacked above
    }
  }

  async #routeCall(out: OutboundBatcher<ParentMessage>, id: number, target: string, method: string, args: unknown[]): Promise<void> {
    try {
      if (!this.#router) throw new Error(`no route for calls to "${target}"`);
      const value = await this.#router(this.name, target, method, args);
      out.send({ v: IPC_VERSION, type: 'reply', id, ok: true, value });
    } catch (err) {
      out.send({ v: IPC_VERSION, type: 'reply', id, ok: false, error: serializeError(err) });
    }
  }

  /** Handle a call addressed to this unit by another unit (used by the Supervisor's router). */
  handleRoutedCall(method: string, args: unknown[]): Promise<unknown> {
    if (this.#callHandler) return Promise.resolve(this.#callHandler(method, args));
    return this.call(method, args);
  }

  #onExit(exit: ChildExit): void {
    clearTimeout(this.#startTimer);
    clearInterval(this.#heartbeat);
    this.#child = undefined;
    this.#out?.clear();
    this.#out = undefined;
    const wasStopping = this.#state === 'stopping';
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer);
      p.reject(new Error(`${this.name} ${wasStopping ? 'stopped' : 'crashed'} before answering call ${id}`));
    }
    this.#pending.clear();
    if (wasStopping) {
      this.#setState('stopped');
      const waiters = this.#stopWaiters;
      this.#stopWaiters = [];
      for (const w of waiters) w();
      return;
    }
    const reason: CrashReason =
      this.#killReason ?? (exit.outOfMemory ? 'out-of-memory' : exit.error ? 'uncaught-exception' : 'exit');
    const decision = this.#policy.onCrash(Date.now());
    const info: CrashInfo = { name: this.name, reason, code: exit.code, signal: exit.signal, attempt: decision.attempt, at: new Date().toISOString() };
    if (exit.error) info.error = exit.error;
    if (decision.restart) info.restartInMs = decision.delayMs;
    this.#lastCrash = info;
    this.emit('crash', info);
    if (!decision.restart) {
      this.#setState('failed');
      return;
    }
    this.#setState('backoff');
    this.#backoffTimer = setTimeout(() => {
      this.#backoffTimer = undefined;
      if (this.#state !== 'backoff') return;
      this.#restarts++;
      this.#spawn();
    }, decision.delayMs);
  }

  #clearBackoff(): void {
    if (this.#backoffTimer) clearTimeout(this.#backoffTimer);
    this.#backoffTimer = undefined;
  }
}
