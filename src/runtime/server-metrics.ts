// The server's standard metrics (names are part of the documented interface; see README "Operating Switchboard").
import { MetricsRegistry, type Counter, type Gauge, type Histogram } from './metrics.js';

export class ServerMetrics {
  readonly registry = new MetricsRegistry();
  readonly connections: Gauge;
  readonly connectionsOpened: Counter;
  readonly connectionsClosed: Counter;
  readonly messagesIn: Counter;
  readonly messagesOut: Counter;
  readonly bytesIn: Counter;
  readonly bytesOut: Counter;
  readonly handshakeRejections: Counter;
  readonly restarts: Counter;
  readonly serviceUp: Gauge;
  readonly commandDuration: Histogram;
  readonly brokerState: Gauge;
  readonly roomPublish: Histogram;
  readonly roomResumes: Counter;
  readonly roomMembers: Gauge;

  constructor() {
    const r = this.registry;
    this.connections = r.gauge({ name: 'switchboard_connections', help: 'Open WebSocket connections.', labelNames: ['service'] });
    this.connectionsOpened = r.counter({ name: 'switchboard_connections_opened_total', help: 'Connections opened.', labelNames: ['service'] });
    this.connectionsClosed = r.counter({ name: 'switchboard_connections_closed_total', help: 'Connections closed, by close code.', labelNames: ['service', 'code'] });
    this.messagesIn = r.counter({ name: 'switchboard_messages_received_total', help: 'Messages received from clients.', labelNames: ['service'] });
    this.messagesOut = r.counter({ name: 'switchboard_messages_sent_total', help: 'Messages sent to clients.', labelNames: ['service'] });
    this.bytesIn = r.counter({ name: 'switchboard_received_bytes_total', help: 'Message payload bytes received.', labelNames: ['service'] });
    this.bytesOut = r.counter({ name: 'switchboard_sent_bytes_total', help: 'Message payload bytes sent.', labelNames: ['service'] });
    this.handshakeRejections = r.counter({ name: 'switchboard_handshake_rejections_total', help: 'Handshakes answered with an HTTP error, by status.', labelNames: ['status', 'reason'] });
    this.restarts = r.counter({ name: 'switchboard_service_restarts_total', help: 'Restarts of isolated and background services.', labelNames: ['service', 'reason'] });
    this.serviceUp = r.gauge({ name: 'switchboard_service_up', help: '1 when a supervised service is running, else 0.', labelNames: ['service', 'state'] });
    this.commandDuration = r.histogram({
      name: 'switchboard_command_duration_seconds',
      help: 'JSON command latency, by outcome (ok or an error code).',
      labelNames: ['service', 'command', 'outcome'],
    });
    this.brokerState = r.gauge({ name: 'switchboard_broker_state', help: '1 for the broker\'s current state (up, down or resyncing), by adapter.', labelNames: ['kind', 'state'] });
    this.roomPublish = r.histogram({
      name: 'switchboard_room_publish_seconds',
      help: 'Time to number, store and fan out a room message (numbered: false when it was not: volatile, or local only while the broker is down).',
      labelNames: ['service', 'numbered'],
    });
    this.roomResumes = r.counter({ name: 'switchboard_room_resumes_total', help: 'Rejoins with a position, by outcome: recovered, or the reset reason.', labelNames: ['service', 'outcome'] });
    this.roomMembers = r.gauge({ name: 'switchboard_room_memberships', help: 'Room memberships of this node\'s connections.' });
    const start = Date.now() / 1000;
    r.gauge({ name: 'process_start_time_seconds', help: 'Start time of the process since the unix epoch, in seconds.' }).set(undefined, Math.round(start));
    const rss = r.gauge({ name: 'process_resident_memory_bytes', help: 'Resident memory size in bytes.' });
    const heap = r.gauge({ name: 'nodejs_heap_used_bytes', help: 'V8 heap used, in bytes.' });
    rss.onCollect(() => {
      const m = process.memoryUsage();
      rss.set(undefined, m.rss);
      heap.set(undefined, m.heapUsed);
    });
  }

  render(): string {
    return this.registry.render();
  }
}
