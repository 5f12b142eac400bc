// The server's standard metrics on prom-client (names are part of the documented interface;
// see README "Metrics"). Each has an aggregator: how `--workers N` merges the workers' values.
import { AggregatorRegistry, collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { RouteTally } from './route-tally.js';

export const PROMETHEUS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

/** The JSON form of one registry's metrics (what a worker sends its primary). */
export type MetricsSnapshot = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class ServerMetrics {
  readonly registry = new Registry();
  readonly connections: Gauge<'service'>;
  readonly connectionsOpened: Counter<'service'>;
  readonly connectionsClosed: Counter<'service' | 'code'>;
  /** Messages and bytes per route, summed in plain numbers (hot path), rendered by their counters. */
  readonly messagesIn = new RouteTally();
  readonly messagesOut = new RouteTally();
  readonly bytesIn = new RouteTally();
  readonly bytesOut = new RouteTally();
  /** Commands answered and those answered with an error, per route (live figures). */
  readonly commands = new RouteTally();
  readonly commandErrors = new RouteTally();
  readonly handshakeRejections: Counter<'status' | 'reason'>;
  readonly restarts: Counter<'service' | 'reason'>;
  readonly serviceUp: Gauge<'service' | 'state'>;
  readonly commandDuration: Histogram<'service' | 'command' | 'outcome'>;
  readonly brokerState: Gauge<'kind' | 'state'>;
  readonly roomPublish: Histogram<'service' | 'numbered'>;
  readonly roomResumes: Counter<'service' | 'outcome'>;
  readonly roomMembers: Gauge;
  readonly limitsExceeded: Counter<'limit' | 'action' | 'service'>;

  constructor() {
    const registers = [this.registry];
    this.connections = new Gauge({ name: 'switchboard_connections', help: 'Open WebSocket connections.', labelNames: ['service'], registers });
    this.connectionsOpened = new Counter({ name: 'switchboard_connections_opened_total', help: 'Connections opened.', labelNames: ['service'], registers });
    this.connectionsClosed = new Counter({ name: 'switchboard_connections_closed_total', help: 'Connections closed, by close code.', labelNames: ['service', 'code'], registers });
    tallyCounter(this.registry, 'switchboard_messages_received_total', 'Messages received from clients.', this.messagesIn);
    tallyCounter(this.registry, 'switchboard_messages_sent_total', 'Messages sent to clients.', this.messagesOut);
    tallyCounter(this.registry, 'switchboard_received_bytes_total', 'Message payload bytes received.', this.bytesIn);
    tallyCounter(this.registry, 'switchboard_sent_bytes_total', 'Message payload bytes sent.', this.bytesOut);
    this.handshakeRejections = new Counter({ name: 'switchboard_handshake_rejections_total', help: 'Handshakes answered with an HTTP error, by status.', labelNames: ['status', 'reason'], registers });
    this.restarts = new Counter({ name: 'switchboard_service_restarts_total', help: 'Restarts of isolated and background services.', labelNames: ['service', 'reason'], registers });
    // a service runs in each worker: it is up where any of them runs it
    this.serviceUp = new Gauge({ name: 'switchboard_service_up', help: '1 when a supervised service is running, else 0.', labelNames: ['service', 'state'], aggregator: 'max', registers });
    this.commandDuration = new Histogram({
      name: 'switchboard_command_duration_seconds',
      help: 'JSON command latency, by outcome (ok or an error code).',
      labelNames: ['service', 'command', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.brokerState = new Gauge({ name: 'switchboard_broker_state', help: "1 for the broker's current state (up, down or resyncing), by adapter.", labelNames: ['kind', 'state'], aggregator: 'max', registers });
    this.roomPublish = new Histogram({
      name: 'switchboard_room_publish_seconds',
      help: 'Time to number, store and fan out a room message (numbered: false when it was not: volatile, or local only while the broker is down).',
      labelNames: ['service', 'numbered'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.roomResumes = new Counter({ name: 'switchboard_room_resumes_total', help: 'Rejoins with a position, by outcome: recovered, or the reset reason.', labelNames: ['service', 'outcome'], registers });
    this.roomMembers = new Gauge({ name: 'switchboard_room_memberships', help: "Room memberships of this node's connections.", registers });
    this.limitsExceeded = new Counter({
      name: 'switchboard_limit_exceeded_total',
      help: 'Times an abuse limit bit, by limit and what was done (refused, closed, dropped); service is empty before one was chosen.',
      labelNames: ['limit', 'action', 'service'],
      registers,
    });
    new Gauge({
      name: 'nodejs_heap_used_bytes',
      help: 'V8 heap used, in bytes.',
      registers,
      collect() {
        this.set(process.memoryUsage().heapUsed);
      },
    });
    // event-loop lag, GC, heap spaces, handles, CPU, resident memory, start time ...
    collectDefaultMetrics({ register: this.registry });
  }

  /** The Prometheus text exposition of every metric. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  snapshot(): Promise<MetricsSnapshot> {
    return this.registry.getMetricsAsJSON();
  }
}

/** One exposition of several processes' metrics, merged by each metric's aggregator (sum unless it says). */
export function mergeMetrics(snapshots: MetricsSnapshot[]): Promise<string> {
  return AggregatorRegistry.aggregate(snapshots).metrics();
}

function tallyCounter(registry: Registry, name: string, help: string, tally: RouteTally): void {
  new Counter({
    name,
    help,
    labelNames: ['service'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [service, n] of tally.entries()) this.inc({ service }, n);
    },
  });
}
