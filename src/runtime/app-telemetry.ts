// The runtime's view of the app layer: its plain events become Prometheus metrics and log
// lines. Nothing here touches the traffic itself.
import type { Logger } from '../app/logger.js';
import type { AppObserver } from '../app/observer.js';
import type { ServerMetrics } from './server-metrics.js';

/** Outcomes whose command name the client chose freely: never a label value. */
const UNNAMED_OUTCOMES = new Set(['unknown_command', 'bad_request', 'bad_json', 'too_many_commands']);

/** The command's name as metrics and traces show it: `(unknown)` when the client made it up. */
export function shownCommand(command: string, outcome: string): string {
  return UNNAMED_OUTCOMES.has(outcome) ? '(unknown)' : command;
}

/** Refusals of one kind are logged once per window, then counted (a retrying client must not flood the log). */
const REFUSAL_WINDOW_MS = 10_000;

export function appTelemetry(metrics: ServerMetrics, log: Logger, options: { commandMetrics: boolean }): AppObserver {
  const refusals = new ThrottledLog(log, 'info', (n) => `handshake refused ${n} more times`);
  const limits = new ThrottledLog(log, 'warn', (n) => `limit exceeded ${n} more times`);
  return {
    connectionOpened(e) {
      metrics.connections.inc({ service: e.route });
      metrics.connectionsOpened.inc({ service: e.route });
      log.info({ connection: e.id, service: e.route, path: e.path, remoteAddress: e.remoteAddress }, 'connection open');
    },
    connectionClosed(e) {
      metrics.connections.dec({ service: e.route });
      metrics.connectionsClosed.inc({ service: e.route, code: e.code });
      log.info({ connection: e.id, service: e.route, code: e.code, durationMs: e.durationMs }, 'connection closed');
    },
    messageIn(route, bytes) {
      metrics.messagesIn.add(route);
      metrics.bytesIn.add(route, bytes);
    },
    messageOut(route, count, bytes) {
      metrics.messagesOut.add(route, count);
      metrics.bytesOut.add(route, count * bytes);
    },
    commandFinished(e) {
      metrics.commands.add(e.route);
      if (e.outcome !== 'ok') metrics.commandErrors.add(e.route);
      if (options.commandMetrics) metrics.commandDuration.observe({ service: e.route, command: shownCommand(e.command, e.outcome), outcome: e.outcome }, e.durationMs / 1000);
    },
    roomPublished(e) {
      metrics.roomPublish.observe({ service: e.route, numbered: String(e.numbered) }, e.durationMs / 1000);
    },
    roomResumed(e) {
      metrics.roomResumes.inc({ service: e.route, outcome: e.outcome });
    },
    handshakeRejected(e) {
      metrics.handshakeRejections.inc({ status: e.status, reason: e.reason });
      refusals.record(`${e.status} ${e.path}`, { status: e.status, path: e.path, reason: e.reason }, 'handshake refused');
    },
    limitExceeded(e) {
      metrics.limitsExceeded.inc({ limit: e.limit, action: e.action, service: e.route });
      const fields = { limit: e.limit, action: e.action, service: e.route, ...(e.connection !== undefined ? { connection: e.connection } : {}), ...(e.address !== undefined ? { address: e.address } : {}) };
      limits.record(`${e.limit} ${e.action} ${e.route}`, fields, `limit exceeded: ${e.limit} (${e.action})`);
    },
    drainBatch(e) {
      log.info({ batch: e.index + 1, of: e.of, connections: e.connections, remaining: e.remaining }, `drain: batch ${e.index + 1} of ${e.of} closing ${e.connections} connections (1012)`);
    },
    serviceLoaded(e) {
      if (!e.reload) log.info({ service: e.route, file: e.file, isolation: e.isolation }, `service ${e.route} loaded (${e.isolation})`);
    },
  };
}

/**
 * Lines of one kind (a refused handshake, a limit that bit) are logged once per window, then
 * counted: a client retrying or flooding must not flood the log too.
 */
class ThrottledLog {
  readonly #log: Logger;
  readonly #level: 'info' | 'warn';
  readonly #more: (count: number) => string;
  readonly #open = new Map<string, { count: number; fields: Record<string, unknown> }>();
  #timer: NodeJS.Timeout | null = null;

  constructor(log: Logger, level: 'info' | 'warn', more: (count: number) => string) {
    this.#log = log;
    this.#level = level;
    this.#more = more;
  }

  record(key: string, fields: Record<string, unknown>, msg: string): void {
    const seen = this.#open.get(key);
    if (seen !== undefined) {
      seen.count += 1;
      return;
    }
    this.#open.set(key, { count: 0, fields });
    this.#log[this.#level](fields, msg);
    this.#timer ??= setTimeout(() => this.#flush(), REFUSAL_WINDOW_MS).unref();
  }

  #flush(): void {
    this.#timer = null;
    for (const r of this.#open.values()) {
      if (r.count > 0) this.#log[this.#level]({ ...r.fields, count: r.count, windowMs: REFUSAL_WINDOW_MS }, this.#more(r.count));
    }
    this.#open.clear();
  }
}
