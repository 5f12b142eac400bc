import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MetricsRegistry } from '../../src/runtime/metrics.js';

test('renders counters, gauges and histograms in Prometheus text format', () => {
  const r = new MetricsRegistry();
  const c = r.counter({ name: 'sb_messages_total', help: 'Messages.\nSecond line \\ here', labelNames: ['service', 'direction'] });
  c.inc({ service: '/chat', direction: 'in' });
  c.inc({ service: '/chat', direction: 'in' }, 2);
  c.inc({ service: 'a"b\\c\nd', direction: 'out' });
  const g = r.gauge({ name: 'sb_connections', help: 'Open connections.', labelNames: ['service'] });
  let live = 4;
  g.onCollect(() => g.set({ service: '/chat' }, live));
  const plain = r.counter({ name: 'sb_plain_total', help: 'No labels.' });
  const h = r.histogram({ name: 'sb_latency_seconds', help: 'Latency.', labelNames: ['cmd'], buckets: [0.1, 1, 0.5] });
  h.observe({ cmd: 'x' }, 0.05);
  h.observe({ cmd: 'x' }, 0.7);
  h.observe({ cmd: 'x' }, 3);
  assert.equal(
    r.render(),
    [
      '# HELP sb_messages_total Messages.\\nSecond line \\\\ here',
      '# TYPE sb_messages_total counter',
      'sb_messages_total{service="/chat",direction="in"} 3',
      'sb_messages_total{service="a\\"b\\\\c\\nd",direction="out"} 1',
      '# HELP sb_connections Open connections.',
      '# TYPE sb_connections gauge',
      'sb_connections{service="/chat"} 4',
      '# HELP sb_plain_total No labels.',
      '# TYPE sb_plain_total counter',
      'sb_plain_total 0',
      '# HELP sb_latency_seconds Latency.',
      '# TYPE sb_latency_seconds histogram',
      'sb_latency_seconds_bucket{cmd="x",le="0.1"} 1',
      'sb_latency_seconds_bucket{cmd="x",le="0.5"} 1',
      'sb_latency_seconds_bucket{cmd="x",le="1"} 2',
      'sb_latency_seconds_bucket{cmd="x",le="+Inf"} 3',
      'sb_latency_seconds_sum{cmd="x"} 3.75',
      'sb_latency_seconds_count{cmd="x"} 3',
      '',
    ].join('\n'),
  );
  live = 5;
  plain.inc();
  assert.match(r.render(), /^sb_connections\{service="\/chat"\} 5$/m);
  assert.match(r.render(), /^sb_plain_total 1$/m);
  assert.equal(r.counter({ name: 'sb_plain_total', help: 'again' }), plain, 'same name: same metric');
  assert.throws(() => r.gauge({ name: 'sb_plain_total', help: 'x' }), /already registered as a counter/);
  assert.throws(() => c.inc({ nope: 1 }), /unknown label "nope"/);
  assert.throws(() => c.inc(undefined, -1), /only goes up/);
  assert.throws(() => r.counter({ name: 'bad-name', help: '' }), /invalid metric name/);
  assert.throws(() => r.histogram({ name: 'h', help: '', labelNames: ['le'] }), /invalid label name/);
});
