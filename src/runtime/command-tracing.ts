/**
 * An OpenTelemetry span per JSON command, made from the app's `commandFinished` event (the
 * same plain event the metrics observe): it covers the command from its arrival to its reply,
 * whatever the service's isolation. Only @opentelemetry/api is used: with no SDK registered its
 * tracer is a no-op; the user's SDK (and exporter) receives the spans.
 */
import { SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import type { AppObserver } from '../app/observer.js';
import { shownCommand } from './app-telemetry.js';

export function commandTracing(tracer: Tracer): AppObserver {
  return {
    commandFinished(e) {
      const command = shownCommand(e.command, e.outcome);
      const end = Date.now();
      const span = tracer.startSpan(`${e.route} ${command}`, {
        kind: SpanKind.SERVER,
        startTime: end - e.durationMs,
        attributes: {
          'rpc.system': 'switchboard',
          'switchboard.service': e.route,
          'switchboard.command': command,
          'switchboard.outcome': e.outcome,
          'switchboard.connection': e.connection,
        },
      });
      if (e.outcome !== 'ok') span.setStatus({ code: SpanStatusCode.ERROR, message: e.outcome });
      span.end(end);
    },
  };
}
