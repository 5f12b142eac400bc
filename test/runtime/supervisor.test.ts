import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { Supervisor, type CrashInfo, type SupervisedUnitOptions } from '../../src/runtime/supervisor.js';
import type { ChildIsolation } from '../../src/runtime/child.js';
import { next, until } from '../helpers/wait.js';

const PROBE = new URL('./fixtures/probe-entry.js', import.meta.url).href;
const fast = { initialDelayMs: 20, maxDelayMs: 200, factor: 2, maxRestarts: 10, windowMs: 60_000 };

for (const isolation of ['worker', 'process'] as ChildIsolation[]) {
  describe(`supervisor with isolation '${isolation}'`, () => {
    const supervisor = new Supervisor();
    let n = 0;
    const add = (extra: Partial<SupervisedUnitOptions> = {}) =>
      supervisor.add({
        name: `probe-${isolation}-${++n}`,
        isolation,
        entry: PROBE,
        restart: fast,
        // only the hang case needs a heartbeat: elsewhere a busy machine must not turn a crash into a "hang"
        heartbeat: false,
        ...extra,
      });
    after(() => supervisor.stopAll());

    test('runs the entry out of the server thread and answers calls', async () => {
      const unit = add();
      await unit.start();
      assert.equal(unit.state, 'running');
      assert.deepEqual(await unit.call('echo', [1, 'two', { three: 3 }]), [1, 'two', { three: 3 }]);
      const who = (await unit.call('whoami')) as { pid: number; threadId: number };
      if (isolation === 'process') assert.notEqual(who.pid, process.pid);
      else assert.ok(who.pid === process.pid && who.threadId > 0);
      await assert.rejects(unit.call('throw'), /probe: call failed/);
      await unit.stop();
      assert.equal(unit.state, 'stopped');
    });

    test('binary payloads cross the channel (moved for workers, copied for processes)', async () => {
      const unit = add();
      await unit.start();
      const bytes = new Uint8Array(1024).fill(7);
      const reply = next<[unknown]>(unit, 'message');
      assert.ok(unit.post({ bytes }, 'auto'));
      const [payload] = await reply;
      if (isolation === 'worker') assert.equal(bytes.byteLength, 0, 'transferred: the sender view is detached');
      else assert.equal(bytes.byteLength, 1024, 'copied');
      const echoed = (payload as { echoed: { bytes: Uint8Array } }).echoed.bytes;
      assert.ok(echoed instanceof Uint8Array);
      assert.equal(echoed.byteLength, 1024);
      assert.equal(echoed[1023], 7);
      assert.equal(await unit.call('byteLength', [new Uint8Array(10)]), 10);
      await unit.stop();
    });

    test('packed records and posted messages cross in the order they were sent, both ways', async () => {
      const unit = add();
      await unit.start();
      const got: unknown[] = [];
      unit.onPacked((tag, slot, data, binary) => got.push({ tag, slot, data: typeof data === 'string' ? data : [...data], binary }));
      unit.on('message', (payload) => got.push(payload));
      const bytes = Uint8Array.of(0, 1, 2, 255);
      const text = 'héllo ✓ 𝄞';
      assert.ok(unit.postPacked(1, 1, text, false));
      assert.ok(unit.postPacked(1, 2, bytes.subarray(1), true));
      assert.ok(unit.post({ between: true }));
      assert.ok(unit.postPacked(1, 0, '', false));
      assert.ok(unit.postPacked(1, 1, new Uint8Array(0), true));
      // text given as its bytes: the probe takes it as bytes and sends it back as they are; it is text all the way
      assert.ok(unit.postPacked(1, 0xffff_ffff, Buffer.from(text), false));
      await until(() => got.length === 6, 'the six echoes');
      assert.deepEqual(got, [
        { tag: 2, slot: 1, data: text, binary: false },
        { tag: 2, slot: 2, data: [1, 2, 255], binary: true },
        { echoed: { between: true } },
        { tag: 2, slot: 0, data: '', binary: false },
        { tag: 2, slot: 1, data: [], binary: true },
        { tag: 2, slot: 0xffff_ffff, data: text, binary: false },
      ]);
      assert.deepEqual([...bytes], [0, 1, 2, 255], 'packed data is copied, never moved');
      await unit.stop();
    });

    test('a segment read goes back to be written in again only when the handler keeps no view of it', async () => {
      const unit = add();
      await unit.start();
      // the handler keeps every view it is given, as if it had promised to copy the short ones
      const kept: Array<{ round: number; view: Uint8Array; want: number }> = [];
      let round = 0;
      unit.onPacked((_tag, _slot, data) => kept.push({ round, view: data as Uint8Array, want: (data as Uint8Array)[0]! }), 'bytes', 'sent', 1024);
      for (round = 0; round < 6; round++) {
        // odd rounds carry a long record: their segments must stay the handler's
        const fill = 10 + round;
        for (let i = 0; i < 20; i++) unit.postPacked(1, i, new Uint8Array(round % 2 === 1 && i === 7 ? 2000 : 30).fill(fill), true);
        await until(() => kept.length === 20 * (round + 1), `the echoes of round ${round}`);
      }
      // what goes back leaves with the next flush of this side
      await new Promise((r) => setImmediate(r));
      for (const { round: r, view, want } of kept) {
        // a process's segments are read in place from the pipe's read buffer, which the next read
        // writes over: a long record is handed on as a copy, a short one is the handler's to copy
        if (isolation === 'process' && view.byteLength < 1024) continue;
        if (r % 2 === 1 || isolation === 'process') {
          assert.equal(view.byteLength === 2000 || view.byteLength === 30, true, `round ${r}: the view still holds its record`);
          assert.ok(view.every((b) => b === want), `round ${r}: nothing was written over its record`);
        } else assert.equal(view.byteLength, 0, `round ${r}: the segment went back to the worker (moved: the view is detached)`);
      }
      if (isolation === 'process') assert.equal(kept.filter((k) => k.view.byteLength === 2000).length, 3, 'the long records, copied');
      await unit.stop();
    });

    if (isolation === 'process') {
      test('a process that dies in the middle of a frame: the part is dropped with it, the next process is read from its first byte', async () => {
        const unit = add();
        await unit.start();
        const got: string[] = [];
        unit.onPacked((_tag, slot, data) => got.push(`${slot}:${String(data)}`));
        const crashed = next<[CrashInfo]>(unit, 'crash');
        await unit.call('halfFrame');
        assert.equal((await crashed)[0].code, 5);
        await unit.whenState('running');
        for (let i = 0; i < 3; i++) unit.postPacked(1, i, `after ${i}`, false);
        await until(() => got.length >= 3, 'the echoes of the new process');
        assert.deepEqual(got, ['0:after 0', '1:after 1', '2:after 2']);
        await unit.stop();
      });
    }

    const crashes: Array<[string, string, Partial<SupervisedUnitOptions>]> = [
      ['crash', 'uncaught-exception', {}],
      ['exit', 'exit', {}],
      ['hang', 'hang', { heartbeat: { intervalMs: 100, timeoutMs: 3_000 } }],
      ['oom', 'out-of-memory', { maxHeapMb: 32 }],
    ];
    // a process that runs out of heap makes V8 print a report: that case is out-of-memory.test.ts
    for (const [method, reason, extra] of crashes.filter(([m]) => !(m === 'oom' && isolation === 'process'))) {
      test(`restarts after '${method}' (${reason}) and serves again`, async () => {
        const unit = add(extra);
        await unit.start();
        const crashed = next<[CrashInfo]>(unit, 'crash');
        await unit.call(method);
        const [info] = await crashed;
        assert.equal(info.reason, reason);
        assert.ok(info.restartInMs !== undefined && info.restartInMs >= 20);
        await unit.whenState('running');
        assert.equal(unit.status().restarts, 1);
        assert.deepEqual(await unit.call('echo', ['again']), ['again']);
        await unit.stop();
      });
    }

    test('a pending call is rejected when the unit crashes', async () => {
      // the blocked child is found by its silence: a heartbeat is what ends it
      const unit = add({ heartbeat: { intervalMs: 100, timeoutMs: 3_000 } });
      await unit.start();
      const pending = unit.call('echo', ['x']).then(() => unit.call('block'));
      await assert.rejects(pending, /crashed/);
      await unit.whenState('running');
      await unit.stop();
    });

    test('restart budget: failing N+1 times within the window marks the unit failed', async () => {
      const unit = add({ data: { failOnStart: true }, restart: { ...fast, maxRestarts: 2 } });
      const seen: CrashInfo[] = [];
      unit.on('crash', (c) => seen.push(c));
      await assert.rejects(unit.start(), /failed/);
      assert.equal(unit.state, 'failed');
      assert.equal(seen.length, 3);
      assert.deepEqual(
        seen.map((c) => c.restartInMs),
        [20, 40, undefined],
        'exponential backoff, then no restart',
      );
      assert.match(seen[2]!.error?.message ?? '', /failing on start/);
      assert.equal(unit.status().restarts, 2);
    });

    test('a failed unit can be restarted by hand', async () => {
      const unit = add({ restart: { ...fast, maxRestarts: 0 } });
      await unit.start();
      await unit.call('crash');
      await unit.whenState('failed');
      await unit.restart();
      assert.equal(unit.state, 'running');
      assert.deepEqual(await unit.call('echo', [1]), [1]);
      await unit.stop();
    });

    test('units call each other through the supervisor', async () => {
      const a = add();
      const b = add();
      await Promise.all([a.start(), b.start()]);
      assert.deepEqual(await a.call('callOther', [b.name, 'echo', ['via a']]), ['via a']);
      await assert.rejects(a.call('callOther', ['nobody', 'echo', []]), /no service named "nobody"/);
      await Promise.all([a.stop(), b.stop()]);
    });

    test('stop is graceful and is not a crash', async () => {
      const unit = add();
      await unit.start();
      let crashed = false;
      unit.on('crash', () => (crashed = true));
      await unit.stop();
      await until(() => unit.state === 'stopped', 'stopped');
      assert.equal(crashed, false);
    });
  });
}
