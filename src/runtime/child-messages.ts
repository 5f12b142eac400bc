// Typed, versioned messages between a supervisor (parent) and a supervised child
// (worker thread or child process). Everything here is plain, structured-clone-able data.
import { PackedWriter } from './packed-records.js';

export const IPC_VERSION = 1 as const;

export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
}

export interface ChildMemory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/** Messages the parent sends to a child. */
export type ParentMessage =
  | { v: typeof IPC_VERSION; type: 'init'; name: string; entry: string; data: unknown }
  | { v: typeof IPC_VERSION; type: 'ping'; seq: number }
  | { v: typeof IPC_VERSION; type: 'stop'; reason: string }
  | { v: typeof IPC_VERSION; type: 'call'; id: number; method: string; args: unknown[] }
  | ReplyMessage
  | { v: typeof IPC_VERSION; type: 'message'; payload: unknown }
  | PackedMessage
  | ReuseMessage
  | { v: typeof IPC_VERSION; type: 'batch'; messages: ParentMessage[] };

/** Messages a child sends to its parent. */
export type ChildMessage =
  | { v: typeof IPC_VERSION; type: 'ready' }
  | { v: typeof IPC_VERSION; type: 'pong'; seq: number; memory: ChildMemory }
  | { v: typeof IPC_VERSION; type: 'call'; id: number; target: string; method: string; args: unknown[] }
  | ReplyMessage
  | { v: typeof IPC_VERSION; type: 'message'; payload: unknown }
  | { v: typeof IPC_VERSION; type: 'log'; level: LogLevel; msg: string; fields?: Record<string, unknown> }
  | { v: typeof IPC_VERSION; type: 'fatal'; error: SerializedError }
  | PackedMessage
  | ReuseMessage
  | { v: typeof IPC_VERSION; type: 'batch'; messages: ChildMessage[] };

/** Records written by a PackedWriter (see packed-records.ts), in order with the messages around them. */
export interface PackedMessage {
  v: typeof IPC_VERSION;
  type: 'packed';
  bytes: Uint8Array;
  /** The bytes are a pipe's read buffer, valid only during the call (see frame-pipe.ts). */
  transient?: boolean;
}

/** Memory of packed segments the sender has read, moved back to their writer (worker only; see PackedWriter.reuse). */
export interface ReuseMessage {
  v: typeof IPC_VERSION;
  type: 'reuse';
  memory: ArrayBuffer[];
}

export type ReplyMessage =
  | { v: typeof IPC_VERSION; type: 'reply'; id: number; ok: true; value: unknown }
  | { v: typeof IPC_VERSION; type: 'reply'; id: number; ok: false; error: SerializedError };

const PARENT_TYPES = new Set(['init', 'ping', 'stop', 'call', 'reply', 'message', 'packed', 'reuse', 'batch']);
const CHILD_TYPES = new Set(['ready', 'pong', 'call', 'reply', 'message', 'log', 'fatal', 'packed', 'reuse', 'batch']);

function isEnvelope(value: unknown, types: Set<string>): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { v?: unknown; type?: unknown };
  return v.v === IPC_VERSION && typeof v.type === 'string' && types.has(v.type);
}

export function isParentMessage(value: unknown): value is ParentMessage {
  return isEnvelope(value, PARENT_TYPES);
}

export function isChildMessage(value: unknown): value is ChildMessage {
  return isEnvelope(value, CHILD_TYPES);
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) {
    const out: SerializedError = { name: err.name, message: err.message };
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string') out.code = code;
    if (err.stack !== undefined) out.stack = err.stack;
    return out;
  }
  return { name: 'Error', message: String(err) };
}

/** An error rebuilt on the receiving side of the channel. */
export class RemoteError extends Error {
  readonly code: string | undefined;
  readonly remoteStack: string | undefined;
  constructor(e: SerializedError) {
    super(e.message);
    this.name = e.name;
    this.code = e.code;
    this.remoteStack = e.stack;
  }
}

/**
 * The ArrayBuffers that can be transferred (moved, not copied) with `value`: every
 * ArrayBuffer, and every view that spans its whole (non-shared) buffer. Views into a
 * larger buffer (e.g. Node's pooled Buffers) are left to be copied, since transferring
 * would detach memory the caller does not own.
 */
export function collectTransferables(value: unknown, limit = 10_000): ArrayBuffer[] {
  const found = new Set<ArrayBuffer>();
  const seen = new Set<object>();
  const stack: unknown[] = [value];
  let visited = 0;
  while (stack.length > 0 && visited < limit) {
    const item = stack.pop();
    visited++;
    if (typeof item !== 'object' || item === null || seen.has(item)) continue;
    seen.add(item);
    if (item instanceof ArrayBuffer) {
      found.add(item);
    } else if (ArrayBuffer.isView(item)) {
      const buf = item.buffer;
      if (buf instanceof ArrayBuffer && item.byteOffset === 0 && item.byteLength === buf.byteLength) found.add(buf);
    } else if (Array.isArray(item)) {
      for (const x of item) stack.push(x);
    } else if (item instanceof Map) {
      for (const [k, x] of item) stack.push(k, x);
    } else if (item instanceof Set) {
      for (const x of item) stack.push(x);
    } else if (Object.getPrototypeOf(item) === Object.prototype || Object.getPrototypeOf(item) === null) {
      for (const k of Object.keys(item)) stack.push((item as Record<string, unknown>)[k]);
    }
  }
  return [...found];
}

/** Rounds of the microtask queue without new output before a 'settled' batcher flushes. */
const QUIET_ROUNDS = 4;
/** A 'settled' batcher flushes after this many rounds in any case (a sender busy in every round). */
const MAX_ROUNDS = 256;

type Queued<M> = M | PackedMessage | ReuseMessage;
type Envelope<M> = Queued<M> | { v: typeof IPC_VERSION; type: 'batch'; messages: Array<Queued<M>> };

/**
 * Coalesces messages into one 'batch' envelope: one postMessage/IPC write per flush instead
 * of one per message. Order is kept (everything goes through the same queue). Records sent
 * with sendPacked() go into one byte segment until a structured message comes between them.
 *
 * The server side flushes from setImmediate: everything produced in one event-loop turn
 * (e.g. the messages of many sockets read in one poll phase) leaves in one transfer. The
 * child side flushes once its output has settled: after a few rounds of the microtask queue
 * in which nothing more was sent. Replies of a whole batch (each connection's messages run
 * one after another through promise chains) then leave together, and still before any code
 * a handler scheduled as a task (setImmediate, timers, I/O), which may crash or block.
 */
export class OutboundBatcher<M extends { type: string }> {
  #queue: Array<Queued<M>> = [];
  #transfer: ArrayBuffer[] = [];
  /** Memory of segments read from the other side, to move back with the next flush. */
  #giveBack: ArrayBuffer[] = [];
  readonly #packed: PackedWriter;
  readonly #canTransfer: boolean;
  readonly #settled: boolean;
  #write: (message: Envelope<M>, transfer: ArrayBuffer[] | undefined) => void;
  /** 'immediate': a flush is scheduled. 'settled': a round check is in the microtask queue. */
  #scheduled = false;
  #sentThisRound = false;
  #quiet = 0;
  #rounds = 0;

  constructor(write: (message: Envelope<M>, transfer: ArrayBuffer[] | undefined) => void, flushOn: 'immediate' | 'settled', canTransfer: boolean) {
    this.#write = write;
    this.#settled = flushOn === 'settled';
    this.#canTransfer = canTransfer;
    this.#packed = new PackedWriter(canTransfer);
  }

  send(message: M, transfer?: readonly ArrayBuffer[]): void {
    this.#closeSegment();
    this.#queue.push(message);
    if (transfer) for (const t of transfer) this.#transfer.push(t);
    this.#schedule();
  }

  /** A record for the receiver's packed handler (see packed-records.ts): data is copied at once. */
  sendPacked(tag: number, slot: number, data: string | Uint8Array, binary: boolean): void {
    this.#packed.add(tag, slot, data, binary);
    this.#schedule();
  }

  /**
   * A segment the other side wrote has been read and nothing of it is kept: its memory goes
   * back with the next flush, for its writer's next segments. Only memory that was moved
   * here can go back (a process's segments are copies).
   */
  giveBack(segment: Uint8Array): void {
    if (!this.#canTransfer) return;
    this.#giveBack.push(segment.buffer as ArrayBuffer);
    this.#schedule();
  }

  /** Memory the other side gave back: the next own segments are written in it. */
  reuse(memory: readonly ArrayBuffer[]): void {
    for (const m of memory) this.#packed.reuse(m);
  }

  flush(): void {
    if (!this.#settled) this.#scheduled = false;
    this.#closeSegment();
    if (this.#giveBack.length > 0) {
      const memory = this.#giveBack;
      this.#giveBack = [];
      this.#queue.push({ v: IPC_VERSION, type: 'reuse', memory });
      for (const m of memory) this.#transfer.push(m);
    }
    const queue = this.#queue;
    if (queue.length === 0) return;
    const transfer = this.#transfer.length > 0 ? this.#transfer : undefined;
    this.#queue = [];
    this.#transfer = [];
    this.#write(queue.length === 1 ? queue[0]! : { v: IPC_VERSION, type: 'batch', messages: queue }, transfer);
    this.#packed.release();
  }

  /** Forget what is queued (the receiver is gone). */
  clear(): void {
    this.#packed.release();
    this.#queue = [];
    this.#transfer = [];
    this.#giveBack = [];
  }

  #closeSegment(): void {
    if (this.#packed.empty) return;
    const bytes = this.#packed.take();
    this.#queue.push({ v: IPC_VERSION, type: 'packed', bytes });
    if (this.#canTransfer) this.#transfer.push(bytes.buffer as ArrayBuffer);
  }

  #schedule(): void {
    if (!this.#settled) {
      if (this.#scheduled) return;
      this.#scheduled = true;
      setImmediate(this.#flushNow);
      return;
    }
    this.#sentThisRound = true;
    if (this.#scheduled) return;
    this.#scheduled = true;
    this.#quiet = 0;
    this.#rounds = 0;
    queueMicrotask(this.#round);
  }

  #flushNow = (): void => this.flush();

  #round = (): void => {
    if (this.#sentThisRound) {
      this.#sentThisRound = false;
      this.#quiet = 0;
    } else this.#quiet++;
    if (this.#quiet < QUIET_ROUNDS && ++this.#rounds < MAX_ROUNDS) {
      queueMicrotask(this.#round);
      return;
    }
    this.#scheduled = false;
    this.flush();
  };
}
