// The server's metrics on prom-client: the documented names and labels, the per-route tallies
// rendered as counters, prom-client's default process metrics, and the merge of several
// processes' metrics (what the primary of --workers N serves).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeMetrics, ServerMetrics } from '../../src/runtime/server-metrics.js';

test('renders every metric with its labels, the tallies as counters, and the default process metrics', async () => {
  const m = new ServerMetrics();
  m.connections.inc({ service: '/chat' });
  m.messagesIn.add('/chat');
  m.messagesIn.add('/chat', 2);
  m.bytesOut.add('/chat', 40);
  m.commandDuration.observe({ service: '/chat', command: 'say', outcome: 'ok' }, 0.003);
  m.handshakeRejections.inc({ status: 404, reason: 'no service at this path' });
  const text = await m.render();
  assert.match(text, /^# TYPE switchboard_messages_received_total counter$/m);
  assert.match(text, /^switchboard_messages_received_total\{service="\/chat"\} 3$/m);
  assert.match(text, /^switchboard_sent_bytes_total\{service="\/chat"\} 40$/m);
  assert.match(text, /^switchboard_connections\{service="\/chat"\} 1$/m);
  assert.match(text, /^switchboard_command_duration_seconds_bucket\{le="0.005",service="\/chat",command="say",outcome="ok"\} 1$/m);
  assert.match(text, /^switchboard_handshake_rejections_total\{status="404",reason="no service at this path"\} 1$/m);
  assert.match(text, /^switchboard_room_memberships 0$/m);
  for (const name of ['nodejs_heap_used_bytes', 'process_resident_memory_bytes', 'process_start_time_seconds', 'nodejs_eventloop_lag_seconds', 'nodejs_active_handles_total', 'nodejs_gc_duration_seconds']) {
    assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
  }
  // a later scrape sees later traffic (the tallies are read at each collect, never doubled)
  m.messagesIn.add('/chat');
  assert.match(await m.render(), /^switchboard_messages_received_total\{service="\/chat"\} 4$/m);
});

test('merging processes sums counters and connections; a service is up where any process runs it', async () => {
  const a = new ServerMetrics();
  const b = new ServerMetrics();
  a.connections.inc({ service: '/chat' }, 2);
  b.connections.inc({ service: '/chat' }, 3);
  a.messagesIn.add('/chat', 5);
  b.messagesIn.add('/chat', 7);
  a.serviceUp.set({ service: '/render', state: 'running' }, 1);
  b.serviceUp.set({ service: '/render', state: 'running' }, 1);
  a.brokerState.set({ kind: 'ipc', state: 'up' }, 1);
  b.brokerState.set({ kind: 'ipc', state: 'up' }, 1);
  a.commandDuration.observe({ service: '/chat', command: 'say', outcome: 'ok' }, 0.002);
  b.commandDuration.observe({ service: '/chat', command: 'say', outcome: 'ok' }, 0.2);
  const text = await mergeMetrics([await a.snapshot(), await b.snapshot()]);
  assert.match(text, /^switchboard_connections\{service="\/chat"\} 5$/m);
  assert.match(text, /^switchboard_messages_received_total\{service="\/chat"\} 12$/m);
  assert.match(text, /^switchboard_service_up\{service="\/render",state="running"\} 1$/m);
  assert.match(text, /^switchboard_broker_state\{kind="ipc",state="up"\} 1$/m);
  assert.match(text, /^switchboard_command_duration_seconds_count\{service="\/chat",command="say",outcome="ok"\} 2$/m);
  assert.match(text, /^switchboard_command_duration_seconds_bucket\{le="0.005",service="\/chat",command="say",outcome="ok"\} 1$/m);
});
