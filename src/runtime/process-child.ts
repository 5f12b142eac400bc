// Child backed by child_process.fork. Messages cross as frames on an extra stdio pipe
// (frame-pipe.ts), V8-serialized: binary payloads, Maps, Sets, Dates cross intact, but are
// copied (a process boundary cannot transfer). The IPC channel ('advanced' serialization)
// carries only a child's fatal error.
import { fork, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { CHILD_ENTRY_URL, type Child, type ChildExit, type ChildOptions } from './child.js';
import { isChildMessage, type ChildMessage, type ParentMessage, type SerializedError } from './child-messages.js';
import { FrameWriter, readFrames } from './frame-pipe.js';

export class ProcessChild implements Child {
  readonly kind = 'process' as const;
  #child: ChildProcess;
  #exitListeners: Array<(exit: ChildExit) => void> = [];
  #fatal: SerializedError | undefined;
  #exited = false;
  readonly #pipe: FrameWriter;
  #listeners: Array<(message: ChildMessage) => void> = [];

  constructor(options: ChildOptions) {
    const execArgv = [...(options.execArgv ?? [])];
    if (options.maxHeapMb !== undefined) execArgv.push(`--max-old-space-size=${options.maxHeapMb}`);
    this.#child = fork(fileURLToPath(CHILD_ENTRY_URL), [options.name], {
      serialization: 'advanced',
      execArgv,
      env: { ...process.env, ...(options.env ?? {}), SWITCHBOARD_CHILD: options.name },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc', 'pipe'],
    });
    const pipe = this.#child.stdio[4] as Socket;
    // a child that died leaves the pipe broken: its exit reports it
    pipe.on('error', () => undefined);
    this.#pipe = new FrameWriter(pipe);
    readFrames(pipe, (m) => {
      if (!isChildMessage(m)) return;
      for (const l of this.#listeners) l(m);
    });
    this.#child.on('message', (m: unknown) => {
      if (isChildMessage(m) && m.type === 'fatal') this.#fatal = m.error;
    });
    this.#child.on('error', () => {
      /* spawn/IPC errors surface as 'exit' */
    });
    this.#child.on('exit', (code, signal) => {
      if (this.#exited) return;
      this.#exited = true;
      // V8 aborts with a fatal "heap out of memory" (SIGABRT, or code 134 under some shells).
      const outOfMemory = signal === 'SIGABRT' || code === 134;
      const exit: ChildExit = { code, signal, outOfMemory };
      if (this.#fatal) exit.error = this.#fatal;
      for (const l of this.#exitListeners) l(exit);
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  send(message: ParentMessage): void {
    if (this.#exited) return;
    this.#pipe.write([message]);
  }

  onMessage(listener: (message: ChildMessage) => void): void {
    // every message comes on the pipe, but a child's fatal error comes on the IPC channel
    this.#listeners.push(listener);
    this.#child.on('message', (m: unknown) => {
      if (isChildMessage(m)) listener(m);
    });
  }

  onExit(listener: (exit: ChildExit) => void): void {
    this.#exitListeners.push(listener);
  }

  kill(): void {
    if (!this.#exited) this.#child.kill('SIGKILL');
  }
}
