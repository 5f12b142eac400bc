// The scan of stored messages (src/cluster/nats-scan.ts) against a real nats-server: what it
// returns is the whole set asked for, also when keys are written while it runs, or it rejects.
// (Linux: a stopped server is recognised in /proc.)
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { BrokerUnavailableError } from '../../src/cluster/broker.js';
import { Scan, ScanIncompleteError } from '../../src/cluster/nats-scan.js';
import { BrokerProcess } from './harness.js';
import { until } from '../helpers/wait.js';

const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

describe('scanning stored messages on nats-server', () => {
  let server: BrokerProcess;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let jsm: JetStreamManager;
  let bucket = 0;

  before(async () => {
    server = await BrokerProcess.nats();
    nc = await connect({ servers: `127.0.0.1:${server.port}` });
    js = jetstream(nc, { timeout: 2_000 });
    jsm = await jetstreamManager(nc);
  });

  after(async () => {
    await nc?.close();
    await server?.teardown();
  });

  async function kv(): Promise<{ kv: KV; stream: string; filter: string }> {
    const name = `scan${++bucket}`;
    return { kv: await new Kvm(js).create(name, { history: 1 }), stream: `KV_${name}`, filter: `$KV.${name}.l.*` };
  }

  const keys = (got: Array<{ subject: string; data: Uint8Array }>): string[] => got.map((m) => `${m.subject.split('.').pop()}=${text(m.data)}`).sort();

  test('last value per key: a key added and a counted key written again while the scan runs are both in the answer, once each', async () => {
    const { kv: bucket, stream, filter } = await kv();
    await bucket.put('l.b', 'b1');
    const scan = await Scan.open(js, jsm, stream, { filter }, 2_000);
    assert.equal(scan.count, 1);
    // the counted b1 is dropped (history 1) and a new key comes before the new b: the count is reached by `a` alone
    await bucket.put('l.a', 'a1');
    await bucket.put('l.b', 'b2');
    const got = await scan.read(Number.MAX_SAFE_INTEGER);
    assert.notEqual(got, 'too_many');
    assert.deepEqual(keys(got as never), ['a=a1', 'b=b2']);
  });

  test('last value per key: a key delivered and then written again comes once, with its newest value, and no key is left out', async () => {
    const { kv: bucket, stream, filter } = await kv();
    for (const k of ['a', 'b', 'c']) await bucket.put(`l.${k}`, `${k}1`);
    const scan = await Scan.open(js, jsm, stream, { filter }, 2_000);
    assert.equal(scan.count, 3);
    for (const k of ['c', 'a', 'a', 'b']) await bucket.put(`l.${k}`, `${k}2`);
    const got = await scan.read(Number.MAX_SAFE_INTEGER);
    assert.deepEqual(keys(got as never), ['a=a2', 'b=b2', 'c=c2']);
  });

  test('many scans while every key is rewritten without pause: each answer holds every key', async () => {
    const { kv: bucket, stream, filter } = await kv();
    const names = ['a', 'b', 'c', 'd'];
    for (const k of names) await bucket.put(`l.${k}`, '0');
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing && i < 20_000; i++) await bucket.put(`l.${names[i % names.length]}`, String(i));
    })();
    try {
      for (let round = 0; round < 10; round++) {
        const answers = await Promise.all(Array.from({ length: 10 }, async () => (await Scan.open(js, jsm, stream, { filter }, 2_000)).read(Number.MAX_SAFE_INTEGER)));
        for (const got of answers) assert.deepEqual((got as Array<{ subject: string }>).map((m) => m.subject.split('.').pop()).sort(), names);
      }
    } finally {
      writing = false;
      await writer;
    }
  });

  test('from a sequence: exactly the messages counted (and what came after them), too_many past the limit', async () => {
    const name = `rooms${++bucket}`;
    await jsm.streams.add({ name, subjects: [`${name}.>`] });
    for (let i = 0; i < 5; i++) await js.publish(`${name}.r`, `m${i}`);
    await js.publish(`${name}.other`, 'x');
    const scan = await Scan.open(js, jsm, name, { filter: `${name}.r`, startSeq: 2 }, 2_000);
    assert.equal(scan.count, 4);
    const got = await scan.read(10);
    assert.deepEqual((got as Array<{ data: Uint8Array }>).map((m) => text(m.data)), ['m1', 'm2', 'm3', 'm4']);
    assert.equal(await (await Scan.open(js, jsm, name, { filter: `${name}.r`, startSeq: 1 }, 2_000)).read(4), 'too_many');
  });

  test('a scan that cannot finish (the server stops answering) rejects as incomplete: no partial list', async () => {
    const { kv: bucket, stream, filter } = await kv();
    for (const k of ['a', 'b']) await bucket.put(`l.${k}`, '1');
    const scan = await Scan.open(js, jsm, stream, { filter }, 1_000);
    server.pause();
    try {
      await until(() => readFileSync(`/proc/${server.pid}/stat`, 'utf8').split(') ')[1]!.startsWith('T'), 'nats-server to be stopped');
      const err = await scan.read(Number.MAX_SAFE_INTEGER).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(err instanceof ScanIncompleteError && err instanceof BrokerUnavailableError, `rejected as incomplete, got ${String(err)}`);
    } finally {
      server.resume();
    }
  });
});
