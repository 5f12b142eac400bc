// Structured logs with pino; level and destination come from config.
import { pino, type Logger, type DestinationStream } from 'pino';

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
  /** Write out buffered lines (call before process.exit). */
  flush(): void;
}

export function createLogger(options: LoggerOptions): RuntimeLogger {
  const dest =
    options.destination === 'stdout'
      ? pino.destination({ dest: 1, sync: false })
      : options.destination === 'stderr'
        ? pino.destination({ dest: 2, sync: false })
        : pino.destination({ dest: options.destination, sync: false, mkdir: true, append: true });
  const logger = pino(
    {
      level: options.level,
      base: options.base ?? { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    dest as DestinationStream,
  );
  return {
    logger,
    flush() {
      try {
        dest.flushSync();
      } catch {
        /* not ready yet / nothing to flush */
      }
    },
  };
}
