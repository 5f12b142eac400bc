// The child side of a supervised unit: answers heartbeats, loads the entry module named
// by the parent's 'init' message and gives it a ChildContext. Runs inside a worker thread
// or a child process (see child-entry.ts); the same code serves both.
import { Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import { parentPort } from 'node:worker_threads';
import type { Logger } from '../app/logger.js';
import { importModule } from '../app/module-import.js';
import {
  IPC_VERSION,
  OutboundBatcher,
  RemoteError,
  collectTransferables,
  isParentMessage,
  serializeError,
  type ChildMessage,
  type LogLevel,
  type ParentMessage,
} from './child-messages.js';
import { CHILD_PIPE_FD, FrameWriter, readFrames } from './frame-pipe.js';
import { readPacked, type KeptFrom, type PackedHandler, type TextAs } from './packed-records.js';

/** What an entry module's `run(ctx)` receives. */
export interface ChildContext {
  readonly name: string;
  readonly data: unknown;
  /** Aborted when the supervisor asks this child to stop. */
  readonly signal: AbortSignal;
  /** Lines go to the server's log, tagged with this unit's name. */
  readonly log: Logger;
  /** Send plain data to the parent. `transfer: 'auto'` moves whole-buffer binaries (worker only). */
  post(payload: unknown, transfer?: readonly ArrayBuffer[] | 'auto'): void;
  onMessage(listener: (payload: unknown) => void): void;
  /**
   * One record for the parent's SupervisedUnit.onPacked handler, copied with others into one
   * byte segment, in order with everything else sent (see packed-records.ts).
   */
  postPacked(tag: number, slot: number, data: string | Uint8Array, binary: boolean): void;
  /**
   * Receive the records the parent sends with SupervisedUnit.postPacked; text as strings or as
   * its UTF-8 bytes. In a worker, a segment's memory goes back to the server once read, unless
   * a view of it that the handler may keep was handed on (see KeptFrom).
   */
  onPacked(handler: PackedHandler, text?: TextAs, keptFrom?: KeptFrom): void;
  /** Serve the parent's calls (`SupervisedUnit.call`). */
  handleCalls(handler: (method: string, args: unknown[]) => unknown): void;
  /** Call a method on another supervised unit (routed by the parent). */
  call(target: string, method: string, args: unknown[]): Promise<unknown>;
  /** Run before the child exits on a graceful stop. */
  onStop(hook: () => unknown): void;
  /** Tell the parent this unit is up. Sent anyway when run() settles without error. */
  ready(): void;
}

/** Shape of a module named as `entry` in the init message. */
export interface ChildEntryModule {
  run(ctx: ChildContext): unknown;
}

interface Channel {
  send(message: ChildMessage, transfer?: ArrayBuffer[]): void;
  onMessage(listener: (message: ParentMessage) => void): void;
  /** Resolves once everything sent has left this process (a pipe's pending writes). */
  drained(): Promise<void>;
  close(): void;
  canTransfer: boolean;
}

function openChannel(): Channel {
  const port = parentPort;
  if (port) {
    return {
      canTransfer: true,
      send: (m, t) => port.postMessage(m, t),
      onMessage: (l) => port.on('message', (m: unknown) => isParentMessage(m) && l(m)),
      drained: () => Promise.resolve(),
      close: () => port.close(),
    };
  }
  if (typeof process.send !== 'function') throw new Error('child-runtime: no parent channel (start me as a Child)');
  // The server is gone (killed, crashed): nobody supervises this process any more and it
  // would hold the server's stdout open, so it ends too.
  process.once('disconnect', () => process.exit(0));
  // messages cross on the data pipe (frame-pipe.ts); the IPC channel carries a fatal error only
  const pipe = new Socket({ fd: CHILD_PIPE_FD, readable: true, writable: true });
  pipe.on('error', () => undefined); // the server is gone: 'disconnect' ends this process
  pipe.unref();
  const writer = new FrameWriter(pipe);
  const listeners: Array<(message: ParentMessage) => void> = [];
  readFrames(pipe, (m) => {
    if (!isParentMessage(m)) return;
    for (const l of listeners) l(m);
  });
  return {
    canTransfer: false,
    send: (m) => writer.write([m]),
    onMessage: (l) => void listeners.push(l),
    drained: () => writer.drained(),
    close: () => {
      pipe.destroy();
      if (process.connected) process.disconnect();
    },
  };
}

export function startChildRuntime(): void {
  const channel = openChannel();
  const controller = new AbortController();
  const messageListeners: Array<(payload: unknown) => void> = [];
  const stopHooks: Array<() => unknown> = [];
  const pendingCalls = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
  let callHandler: ((method: string, args: unknown[]) => unknown) | undefined;
  let packedHandler: PackedHandler | undefined;
  let packedText: TextAs = 'string';
  let packedKeptFrom: KeptFrom = 0;
  let nextCallId = 1;
  let running: Promise<unknown> = Promise.resolve();
  let stopping = false;
  let readySent = false;

  const out = new OutboundBatcher<ChildMessage>((m, t) => channel.send(m as ChildMessage, t), 'settled', channel.canTransfer);
  const send = (m: ChildMessage, transfer?: ArrayBuffer[]): void => out.send(m, transfer);
  const log = (level: LogLevel) => (obj: object | string, msg?: string): void => {
    const fields = typeof obj === 'string' ? undefined : plainFields(obj);
    send({ v: IPC_VERSION, type: 'log', level, msg: typeof obj === 'string' ? obj : (msg ?? ''), ...(fields ? { fields } : {}) });
  };

  // An uncaught exception (or unhandled rejection) ends this child: first deliver what is
  // queued (a reply sent just before the crash), then report the error, then exit 1.
  process.on('uncaughtException', (err) => {
    out.flush();
    const fatal: ChildMessage = { v: IPC_VERSION, type: 'fatal', error: serializeError(err) };
    if (parentPort) {
      parentPort.postMessage(fatal);
      process.exit(1);
    }
    setTimeout(() => process.exit(1), 1000).unref();
    // what the pipe still holds leaves first: the server sees the replies, then the exit
    void channel.drained().then(() => {
      if (process.connected && process.send) process.send(fatal, () => process.exit(1));
      else process.exit(1);
    });
  });

  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    controller.abort(new Error('stopped by supervisor'));
    await Promise.allSettled([running, ...stopHooks.map(async (h) => h())]);
    out.flush();
    await channel.drained();
    process.exit(0);
  };

  const answer = async (id: number, method: string, args: unknown[]): Promise<void> => {
    try {
      if (!callHandler) throw new Error(`no call handler for "${method}"`);
      const value = await callHandler(method, args);
      send({ v: IPC_VERSION, type: 'reply', id, ok: true, value });
    } catch (err) {
      send({ v: IPC_VERSION, type: 'reply', id, ok: false, error: serializeError(err) });
    }
  };

  const init = async (name: string, entry: string, data: unknown): Promise<void> => {
    const ctx: ChildContext = {
      name,
      data,
      signal: controller.signal,
      log: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
      post(payload, transfer) {
        const list = !channel.canTransfer || !transfer ? undefined : transfer === 'auto' ? collectTransferables(payload) : [...transfer];
        send({ v: IPC_VERSION, type: 'message', payload }, list);
      },
      onMessage: (l) => void messageListeners.push(l),
      postPacked: (tag, slot, data, binary) => out.sendPacked(tag, slot, data, binary),
      onPacked: (h, text = 'string', keptFrom = 0) => {
        packedHandler = h;
        packedText = text;
        packedKeptFrom = keptFrom;
      },
      handleCalls: (h) => void (callHandler = h),
      call(target, method, args) {
        const id = nextCallId++;
        return new Promise((resolve, reject) => {
          pendingCalls.set(id, { resolve, reject });
          send({ v: IPC_VERSION, type: 'call', id, target, method, args });
        });
      },
      onStop: (h) => void stopHooks.push(h),
      ready: () => {
        if (readySent) return;
        readySent = true;
        send({ v: IPC_VERSION, type: 'ready' });
      },
    };
    // a JavaScript entry (Switchboard's own) is imported before the service module hooks are
    // registered: its whole module graph then loads without a round trip to the loader thread
    const mod = (/\.(c|m)?js$/.test(entry) ? await import(entry.startsWith('file:') ? entry : pathToFileURL(entry).href) : await importModule(entry)) as Partial<ChildEntryModule>;
    if (typeof mod.run !== 'function') throw new Error(`${entry}: entry module does not export run(ctx)`);
    running = Promise.resolve(mod.run(ctx));
    // A rejected run() is a crash: let it surface as an uncaught error.
    running.then(
      () => ctx.ready(),
      (err: unknown) => {
        if (stopping) return;
        setImmediate(() => {
          throw err;
        });
      },
    );
  };

  const onMessage = (m: ParentMessage): void => {
    switch (m.type) {
      case 'batch':
        for (const x of m.messages) onMessage(x);
        break;
      case 'init':
        init(m.name, m.entry, m.data).catch((err: unknown) =>
          setImmediate(() => {
            throw err;
          }),
        );
        break;
      case 'ping':
        send({ v: IPC_VERSION, type: 'pong', seq: m.seq, memory: process.memoryUsage() });
        break;
      case 'stop':
        void stop();
        break;
      case 'call':
        void answer(m.id, m.method, m.args);
        break;
      case 'reply': {
        const pending = pendingCalls.get(m.id);
        if (!pending) break;
        pendingCalls.delete(m.id);
        if (m.ok) pending.resolve(m.value);
        else pending.reject(new RemoteError(m.error));
        break;
      }
      case 'message':
        for (const l of messageListeners) l(m.payload);
        break;
      case 'packed':
        if (packedHandler === undefined || readPacked(m.bytes, packedHandler, packedText, packedKeptFrom, m.transient === true ? 'transient' : 'own')) out.giveBack(m.bytes);
        break;
      case 'reuse':
        out.reuse(m.memory);
        break;
    }
  };
  channel.onMessage(onMessage);
}

/** Log fields as plain data: errors flattened (with their stack), functions and cycles dropped. */
function plainFields(obj: object): Record<string, unknown> | undefined {
  try {
    return JSON.parse(JSON.stringify(obj, (_k, v: unknown) => (v instanceof Error ? serializeError(v) : v))) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
