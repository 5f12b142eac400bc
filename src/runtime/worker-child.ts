// Child backed by a node:worker_threads Worker. Binary payloads can be transferred.
import { Worker } from 'node:worker_threads';
import { CHILD_ENTRY_URL, type Child, type ChildExit, type ChildOptions } from './child.js';
import { isChildMessage, serializeError, type ChildMessage, type ParentMessage, type SerializedError } from './child-messages.js';

export class WorkerChild implements Child {
  readonly kind = 'worker' as const;
  readonly pid = process.pid;
  #worker: Worker;
  #exitListeners: Array<(exit: ChildExit) => void> = [];
  #lastError: SerializedError | undefined;
  #outOfMemory = false;
  #exited = false;

  constructor(options: ChildOptions) {
    this.#worker = new Worker(CHILD_ENTRY_URL, {
      name: options.name,
      stdout: false,
      stderr: false,
      execArgv: options.execArgv ?? [],
      ...(options.env ? { env: { ...process.env, ...options.env } } : {}),
      ...(options.maxHeapMb !== undefined ? { resourceLimits: { maxOldGenerationSizeMb: options.maxHeapMb } } : {}),
    });
    this.#worker.on('error', (err) => {
      this.#lastError = serializeError(err);
      if ((err as { code?: unknown }).code === 'ERR_WORKER_OUT_OF_MEMORY') this.#outOfMemory = true;
    });
    this.#worker.on('exit', (code) => {
      if (this.#exited) return;
      this.#exited = true;
      const exit: ChildExit = { code, signal: null, outOfMemory: this.#outOfMemory };
      if (this.#lastError) exit.error = this.#lastError;
      for (const l of this.#exitListeners) l(exit);
    });
  }

  send(message: ParentMessage, transfer?: readonly ArrayBuffer[]): void {
    if (this.#exited) return;
    this.#worker.postMessage(message, transfer as ArrayBuffer[] | undefined);
  }

  onMessage(listener: (message: ChildMessage) => void): void {
    this.#worker.on('message', (m: unknown) => {
      if (!isChildMessage(m)) return;
      if (m.type === 'fatal') this.#lastError = m.error;
      listener(m);
    });
  }

  onExit(listener: (exit: ChildExit) => void): void {
    this.#exitListeners.push(listener);
  }

  kill(): void {
    if (!this.#exited) void this.#worker.terminate();
  }
}
