// `tracing.enabled`: a span per JSON command through @opentelemetry/api, here recorded by a
// minimal TracerProvider written against the api's interfaces (no SDK): its name, kind,
// attributes (service, command, outcome), error status, and times that cover the command.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  SpanKind,
  SpanStatusCode,
  type Attributes,
  type AttributeValue,
  type Span,
  type SpanContext,
  type SpanOptions,
  type SpanStatus,
  type TimeInput,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import { createClient, ClientCommandError } from '../../src/client/index.js';
import { connect } from '../../src/transport/index.js';
import { configSchema } from '../../src/runtime/config-schema.js';
import { startServer, type RunningServer } from '../../src/server/start-server.js';
import { until } from '../helpers/wait.js';

interface Recorded {
  name: string;
  kind: SpanKind | undefined;
  attributes: Attributes;
  status: SpanStatus;
  start: number;
  end: number | undefined;
  tracer: string;
}

const toMs = (t: TimeInput | undefined): number => (t === undefined ? Date.now() : typeof t === 'number' ? t : t instanceof Date ? t.getTime() : t[0] * 1000 + t[1] / 1e6);

class RecordingSpan implements Span {
  constructor(readonly rec: Recorded) {}
  spanContext(): SpanContext {
    return { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 };
  }
  setAttribute(key: string, value: AttributeValue): this {
    this.rec.attributes[key] = value;
    return this;
  }
  setAttributes(attributes: Attributes): this {
    Object.assign(this.rec.attributes, attributes);
    return this;
  }
  addEvent(): this {
    return this;
  }
  addLink(): this {
    return this;
  }
  addLinks(): this {
    return this;
  }
  setStatus(status: SpanStatus): this {
    this.rec.status = status;
    return this;
  }
  updateName(name: string): this {
    this.rec.name = name;
    return this;
  }
  end(endTime?: TimeInput): void {
    this.rec.end = toMs(endTime);
  }
  isRecording(): boolean {
    return this.rec.end === undefined;
  }
  recordException(): void {}
}

class RecordingProvider implements TracerProvider {
  readonly spans: Recorded[] = [];
  getTracer(name: string): Tracer {
    const spans = this.spans;
    const startSpan = (spanName: string, options: SpanOptions = {}): Span => {
      const rec: Recorded = { name: spanName, kind: options.kind, attributes: { ...options.attributes }, status: { code: SpanStatusCode.UNSET }, start: toMs(options.startTime), end: undefined, tracer: name };
      spans.push(rec);
      return new RecordingSpan(rec);
    };
    return {
      startSpan,
      startActiveSpan: ((spanName: string, ...rest: unknown[]) => {
        const fn = rest[rest.length - 1] as (span: Span) => unknown;
        return fn(startSpan(spanName, (typeof rest[0] === 'object' ? rest[0] : {}) as SpanOptions));
      }) as Tracer['startActiveSpan'],
    };
  }
}

const SERVICE = pathToFileURL(fileURLToPath(new URL('../../src/app/index.js', import.meta.url))).href;
const root = mkdtempSync(join(tmpdir(), 'sb-tracing-'));
mkdirSync(join(root, 'services'));
writeFileSync(
  join(root, 'services', 'calc.js'),
  `import { defineService, CommandError } from '${SERVICE}';
export default defineService({
  commands: {
    add: { handler: async (d) => { await new Promise((r) => setTimeout(r, 20)); return d.a + d.b; } },
    divide: { handler: (d) => { if (d.b === 0) throw new CommandError('division_by_zero', 'cannot divide by zero'); return d.a / d.b; } },
  },
});
`,
);

const servers: RunningServer[] = [];
after(async () => {
  for (const s of servers) await s.runtime.shutdown.shutdown('test over');
  rmSync(root, { recursive: true, force: true });
});

async function serve(name: string, tracing: boolean, provider: RecordingProvider): Promise<string> {
  const config = configSchema.parse({ port: 0, servicesDir: join(root, 'services'), runDir: join(root, name), tracing: { enabled: tracing }, log: { level: 'silent' } });
  const running = await startServer({ config, signals: false, exit: () => undefined, tracerProvider: provider, version: '1.2.3' });
  servers.push(running);
  return `ws://127.0.0.1:${running.address.port}/calc`;
}

test('a span per command: name, server kind, service/command/outcome attributes, error status, covering times', async () => {
  const provider = new RecordingProvider();
  const client = createClient(await serve('on', true, provider), { connect });
  const before = Date.now();
  assert.equal(await client.call('add', { a: 2, b: 3 }), 5);
  await assert.rejects(client.call('divide', { a: 1, b: 0 }), (e: unknown) => e instanceof ClientCommandError && e.code === 'division_by_zero');
  await assert.rejects(client.call('made.up.name', {}), (e: unknown) => e instanceof ClientCommandError && e.code === 'unknown_command');
  await until(() => provider.spans.length === 3, 'three spans');
  client.close();
  const [add, divide, unknown] = provider.spans;
  assert.equal(add!.name, '/calc add');
  assert.equal(add!.kind, SpanKind.SERVER);
  assert.equal(add!.tracer, 'switchboard');
  assert.deepEqual(
    { service: add!.attributes['switchboard.service'], command: add!.attributes['switchboard.command'], outcome: add!.attributes['switchboard.outcome'] },
    { service: '/calc', command: 'add', outcome: 'ok' },
  );
  assert.equal(add!.status.code, SpanStatusCode.UNSET);
  assert.ok(add!.end !== undefined && add!.end - add!.start >= 19, `the span covers the handler's 20 ms (${add!.end! - add!.start} ms)`);
  assert.ok(add!.start >= before - 1);
  assert.equal(divide!.name, '/calc divide');
  assert.equal(divide!.attributes['switchboard.outcome'], 'division_by_zero');
  assert.deepEqual(divide!.status, { code: SpanStatusCode.ERROR, message: 'division_by_zero' });
  // a name the client made up never becomes a span name or attribute
  assert.equal(unknown!.name, '/calc (unknown)');
  assert.equal(unknown!.status.code, SpanStatusCode.ERROR);
  assert.doesNotMatch(JSON.stringify(provider.spans), /made\.up\.name/);
});

test('off by default: no spans', async () => {
  const provider = new RecordingProvider();
  const client = createClient(await serve('off', false, provider), { connect });
  assert.equal(await client.call('add', { a: 1, b: 1 }), 2);
  client.close();
  assert.equal(provider.spans.length, 0);
});
