// The runtime's view of the app layer: its plain events become Prometheus metrics and log
// lines. Nothing here touches the traffic itself.
import type { Logger } from '../app/logger.js';
import type { AppObserver } from '../app/observer.js';
import type { ServerMetrics } from './server-metrics.js';

/** Outcomes whose command name the client chose freely: never a label value. */
const UNNAMED_OUTCOMES = new Set(['unknown_command', 'bad_request', 'bad_json']);

/** The command's name as metrics and traces show it: `(unknown)` when the client made it up. */
export function shownCommand(command: string, outcome: string): string {
  return UNNAMED_OUTCOMES.has(outcome) ? '(unknown)' : command;
}

/** Refusals of one kind are logged once per window, then counted (a retrying client must not flood the log). */
const REFUSAL_WINDOW_MS = 10_000;

export function appTelemetry(metrics: ServerMetrics, log: Logger, options: { commandMetrics: boolean }): AppObserver {
  const refusals = new RefusalLog(log);
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
      refusals.record(e.status, e.path, e.reason);
    },
    serviceLoaded(e) {
      if (!e.reload) log.info({ service: e.route, file: e.file, isolation: e.isolation }, `service ${e.route} loaded (${e.isolation})`);
    },
  };
}

class RefusalLog {
  readonly #log: Logger;
  readonly #open = new Map<string, { count: number; status: number; path: string; reason: string }>();
  #timer: NodeJS.Timeout | null = null;

  constructor(log: Logger) {
    this.#log = log;
  }

  record(status: number, path: string, reason: string): void {
    const key = `${status} ${path}`;
    const seen = this.#open.get(key);
    if (seen !== undefined) {
      seen.count += 1;
      return;
    }
    this.#open.set(key, { count: 0, status, path, reason });
    this.#log.info({ status, path, reason }, 'handshake refused');
    this.#timer ??= setTimeout(() => this.#flush(), REFUSAL_WINDOW_MS).unref();
  }

  #flush(): void {
    this.#timer = null;
    for (const r of this.#open.values()) {
      if (r.count > 0) this.#log.info({ status: r.status, path: r.path, reason: r.reason, count: r.count, windowMs: REFUSAL_WINDOW_MS }, `handshake refused ${r.count} more times`);
    }
    this.#open.clear();
  }
}
