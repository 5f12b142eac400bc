// Structured logs with pino; level and destination come from config. The destination
// (log-destination.ts) is what keeps logging from ever blocking a shutdown.
import { pino, type Logger } from 'pino';
import { LogDestination } from './log-destination.js';

export type LogLevelName = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface LoggerOptions {
  level: LogLevelName;
  /** 'stdout', 'stderr' or a file path (appended to; its directory is created). */
  destination: string;
  /** Fields on every line (e.g. { pid }). */
  base?: Record<string, unknown>;
}

export interface RuntimeLogger {
  logger: Logger;
  /** Hand buffered lines to the destination now; never blocks, never throws. */
  flush(): void;
  /** Flush and wait (at most `timeoutMs`) until the destination has taken every line. */
  drain(timeoutMs: number): Promise<void>;
}

export function createLogger(options: LoggerOptions): RuntimeLogger {
  let logger: Logger | undefined;
  const dest = new LogDestination(options.destination, {
    onEnd(err) {
      // the reader has gone (e.g. `switchboard serve | head`); say so where a person may see it
      if (process.stderr.isTTY && options.destination !== 'stderr') {
        process.stderr.write(`switchboard: logging stopped: ${options.destination} failed (${(err as NodeJS.ErrnoException).code ?? err.message})\n`);
      }
    },
    onDropped(count) {
      logger?.warn({ dropped: count }, `${count} log lines dropped: the log destination was not reading fast enough`);
    },
  });
  logger = pino(
    {
      level: options.level,
      base: options.base ?? { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    dest,
  );
  return { logger, flush: () => dest.flush(), drain: (timeoutMs) => dest.drain(timeoutMs) };
}
