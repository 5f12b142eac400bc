import { Buffer } from 'node:buffer';
import net, { type Socket } from 'node:net';

/**
 * Socket reads that land where the reader chooses.
 *
 * By default Node reads every chunk into a fresh 64 KiB buffer, copies a short read once
 * more into an exactly sized ArrayBuffer, and pushes it through the stream machinery to
 * 'data' listeners: per read, an allocation V8 counts as external memory, a copy, and a
 * dozen stream calls. A net.Socket made with the `onread` option instead reads into memory
 * its owner supplies (the same buffer every time, or one chosen after each read) and
 * calls back with the byte count. Node offers `onread` only to sockets the caller
 * constructs, not to a server's accepted ones; this module sets the same three internal
 * slots on any plain TCP socket. The slots are found by identity on probe sockets made
 * with `onread`, and `readDirect` declines (the caller keeps 'data' events) when they are
 * not there, when the socket is TLS, or when it has no stream handle (an HTTP/2 stream).
 *
 * Contract for the reader: a read target may be written by the kernel until the next
 * read callback; everything in it that must outlive the callback is copied (or the target
 * is memory that nothing else will be given).
 */
export interface DirectReader {
  /** Where the next read should land; asked after every read. */
  readTarget(): Buffer;
  /** `n` bytes were read into `buf` (the target in force) from its start. */
  onRead(n: number, buf: Buffer): void;
}

interface Slots {
  buffer: symbol;
  callback: symbol;
  generator: symbol;
}

type Slotted = Socket & Record<symbol, unknown>;
interface StreamHandle {
  useUserBuffer?: (buf: Uint8Array) => void;
}

/**
 * The object reading a socket. Exported so that the owner's other socket handlers find it
 * in the same slot: one property per socket, not one per concern.
 */
export const kReader = Symbol('switchboard.reader');
let slots: Slots | null | undefined;

function probe(): Slots | null {
  const find = (s: Slotted, value: unknown) => Object.getOwnPropertySymbols(s).find((k) => s[k] === value);
  const buf = Buffer.alloc(1);
  const callback = (): boolean => true;
  const generator = (): Buffer => buf;
  // `onread` is a documented option of net.Socket that @types/node lists only for connect().
  const make = (buffer: unknown) => new net.Socket({ onread: { buffer, callback } } as net.SocketConstructorOpts) as Slotted;
  const a = make(buf);
  const b = make(generator);
  const found = { buffer: find(a, buf), callback: find(a, callback), generator: find(b, generator) };
  a.destroy();
  b.destroy();
  if (!found.buffer || !found.callback || !found.generator || found.callback !== find(b, callback)) return null;
  return found as Slots;
}

/**
 * The target chosen by the read callback, for the generator Node calls right after it.
 * Node calls the generator as a plain function (no socket to look the reader up on), and
 * nothing runs between the two calls, so this hands the choice over.
 */
let chosen: Buffer | undefined;

function onDirectRead(this: Slotted, n: number, buf: Buffer): boolean {
  (this[kReader] as DirectReader).onRead(n, buf);
  // Looked up again: the read may have handed the socket to another reader.
  chosen = (this[kReader] as DirectReader).readTarget();
  return true;
}

/** Returning undefined leaves the current target in force. */
function nextTarget(): Buffer | undefined {
  const t = chosen;
  chosen = undefined;
  return t;
}

/**
 * Switch `socket`'s reads to `reader` (its first target is asked now). A socket that
 * already reads this way changes hands: its current target stays in force until its next
 * read, so the new reader must accept reads into what the old one chose. False, and
 * nothing changed, when this socket cannot read that way.
 */
export function readDirect(socket: Socket, reader: DirectReader): boolean {
  if (slots === undefined) slots = probe();
  const k = slots;
  const s = socket as Slotted;
  if (k !== null && s[k.callback] === onDirectRead) {
    s[kReader] = reader;
    return true;
  }
  const handle = (socket as unknown as { _handle?: StreamHandle | null })._handle;
  if (k === null || !handle || typeof handle.useUserBuffer !== 'function') return false;
  if ((socket as Socket & { encrypted?: boolean }).encrypted || s[k.buffer] !== null || s[k.generator] !== null) return false;
  const first = reader.readTarget();
  s[kReader] = reader;
  s[k.buffer] = first;
  s[k.callback] = onDirectRead;
  s[k.generator] = nextTarget;
  handle.useUserBuffer(first);
  // Reads must be flowing for them to land (attached sockets come out of node:http paused).
  socket.resume();
  return true;
}
