// Where the server's log lines go, built so that logging can never keep the server from
// stopping. Lines of one event-loop turn leave in one write. stdout and stderr go through
// the process's own streams (a pipe is written without blocking: a stalled reader queues
// data in memory, bounded below, instead of parking the thread); a log file is ours and
// written synchronously (a file does not stall). A destination that fails (EPIPE: the
// reader of the pipe is gone; ENOSPC; a closed descriptor) ends logging at once: no retry
// loop, later lines are discarded. At exit, what is still queued gets a bounded wait.
import { mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Writable } from 'node:stream';

/** Bytes queued for a slow reader above which new lines are dropped (and counted). */
const MAX_QUEUED_BYTES = 8 * 1024 * 1024;
/** How long `flush(cb)` waits for a stalled reader before calling back. */
const LOG_FLUSH_CALLBACK_MS = 2_000;

export interface LogDestinationEvents {
  /** Logging ended because the destination failed; `err.code` is e.g. EPIPE. */
  onEnd?(err: Error): void;
  /** Lines were dropped while the reader was too slow; called once it keeps up again. */
  onDropped?(count: number): void;
}

export class LogDestination {
  readonly name: string;
  #stream: Writable | undefined;
  #fd: number | undefined;
  #lines: string[] = [];
  #scheduled = false;
  #ended: Error | undefined;
  #dropped = 0;
  #writesInFlight = 0;
  #idle: Array<() => void> = [];
  #events: LogDestinationEvents;

  /** `stdout`, `stderr`, or a file path (appended to; its directory is created). Throws when a file cannot be opened. */
  constructor(destination: string, events: LogDestinationEvents = {}) {
    this.name = destination;
    this.#events = events;
    if (destination === 'stdout' || destination === 'stderr') {
      const stream = destination === 'stdout' ? process.stdout : process.stderr;
      // stays attached: a late error of a stream we gave up on must not become an uncaught exception
      stream.on('error', (err) => this.#end(err));
      this.#stream = stream;
    } else {
      mkdirSync(dirname(destination), { recursive: true });
      this.#fd = openSync(destination, 'a');
    }
  }

  /** Why logging ended, if it did. */
  get ended(): Error | undefined {
    return this.#ended;
  }

  /** pino's destination interface: one serialized line. */
  write(line: string): void {
    if (this.#ended) return;
    this.#lines.push(line);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.#writeQueued();
      });
    }
  }

  /**
   * Hand the lines of this turn to the destination now. Never blocks on a pipe, never throws.
   * `done` (pino's `logger.flush(cb)`) is called once they have been taken.
   */
  flush(done?: (err?: Error) => void): void {
    this.#writeQueued();
    if (done) void this.drain(LOG_FLUSH_CALLBACK_MS).then(() => done(this.#ended));
  }

  #writeQueued(): void {
    if (this.#ended || this.#lines.length === 0) return;
    const lines = this.#lines;
    this.#lines = [];
    const chunk = lines.length === 1 ? lines[0]! : lines.join('');
    try {
      if (this.#fd !== undefined) {
        writeFully(this.#fd, Buffer.from(chunk));
        return;
      }
      const stream = this.#stream!;
      if (stream.writableLength > MAX_QUEUED_BYTES) {
        this.#dropped += lines.length;
        return;
      }
      if (this.#dropped > 0) {
        const dropped = this.#dropped;
        this.#dropped = 0;
        this.#events.onDropped?.(dropped);
      }
      this.#writesInFlight++;
      stream.write(chunk, () => {
        if (--this.#writesInFlight === 0) this.#wakeIdle();
      });
    } catch (err) {
      // a synchronous stream (a file or a TTY behind stdout) throws instead of emitting
      this.#end(err as Error);
    }
  }

  /**
   * Flush, then wait until the destination has taken everything, it ended, or `timeoutMs`
   * passed, whichever is first. For the exit path: a reader that stalls costs at most
   * `timeoutMs`, one that is gone costs nothing.
   */
  drain(timeoutMs: number): Promise<void> {
    this.#writeQueued();
    if (this.#ended || this.#writesInFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#idle.push(done);
    });
  }

  #wakeIdle(): void {
    const idle = this.#idle;
    this.#idle = [];
    for (const w of idle) w();
  }

  #end(err: Error): void {
    if (this.#ended) return;
    this.#ended = err;
    this.#lines = [];
    this.#wakeIdle();
    this.#events.onEnd?.(err);
  }
}

function writeFully(fd: number, bytes: Buffer): void {
  let offset = 0;
  while (offset < bytes.length) {
    const n = writeSync(fd, bytes, offset);
    if (n === 0) throw new Error('the log file accepts no more bytes');
    offset += n;
  }
}
