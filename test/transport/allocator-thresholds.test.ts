// The allocator tuning for large messages: when it happens (the first large message block,
// once per process, unless the server opts out) and what it changes (on glibc, memory the
// collector frees in batches is kept and reused instead of being faulted in again).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { Buffer } from 'node:buffer';
import { MessageSlab } from '../../src/protocol/index.js';
import { connect } from '../../src/transport/index.js';

const READ_MEMORY = new URL('../../src/transport/read-memory.js', import.meta.url).href;

/** Runs `body` (an ES module's text) in a fresh node; returns its JSON output. */
function inChild(body: string): Record<string, unknown> {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', body], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

const TRANSPORT = new URL('../../src/transport/index.js', import.meta.url).href;

/**
 * A server in a child process (keepFreedMemory as given) echoing binary messages; a text
 * message "faults" is answered with the minor page faults the process took since the
 * previous one.
 */
const ECHO_SERVER = (keep: boolean) => `
  import { WebSocketServer } from '${TRANSPORT}';
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', keepFreedMemory: ${keep} });
  let mark = process.resourceUsage().minorPageFault;
  server.on('connection', (ws) => ws.on('message', (data, binary) => {
    if (binary) return void ws.send(data);
    const now = process.resourceUsage().minorPageFault;
    ws.send(String(now - mark));
    mark = now;
  }));
  const { port } = await server.listen();
  console.log(JSON.stringify({ port }));
`;

/** Minor page faults of a served process per 128 KiB message echoed, after a warm-up. */
async function faultsPerMessage(keep: boolean): Promise<number> {
  // On one CPU, as a loaded server runs: the collector's helper threads free the blocks in
  // batches between the main thread's turns (spread over CPUs, the effect is smaller and varies).
  const node = [process.execPath, '--input-type=module', '-e', ECHO_SERVER(keep)];
  const pinned = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
  const child = pinned ? spawn('taskset', ['-c', '0', ...node], { stdio: ['ignore', 'pipe', 'inherit'] }) : spawn(node[0]!, node.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const deadline = AbortSignal.timeout(60_000);
    const [line] = (await once(createInterface({ input: child.stdout! }), 'line', { signal: deadline })) as [string];
    const { port } = JSON.parse(line) as { port: number };
    const sockets = await Promise.all([0, 1, 2, 3].map(() => connect(`ws://127.0.0.1:${port}/`)));
    const payload = Buffer.alloc(128 * 1024, 7);
    const ask = async (): Promise<number> => {
      const reply = once(sockets[0]!, 'message', { signal: deadline });
      sockets[0]!.send('faults');
      return Number(String(((await reply) as [Buffer])[0]));
    };
    // Each connection keeps 4 messages in flight until it has had `n` echoed.
    const echo = (n: number) =>
      Promise.all(
        sockets.map(
          (ws) =>
            new Promise<void>((resolve, reject) => {
              deadline.addEventListener('abort', () => reject(new Error(`${back} of ${n} echoes back before the deadline`)), { once: true });
              let back = 0;
              const onMessage = (_data: Buffer, binary: boolean): void => {
                if (!binary) return;
                if (++back === n) {
                  ws.off('message', onMessage);
                  resolve();
                } else if (back + 3 < n) ws.send(payload);
              };
              ws.on('message', onMessage);
              for (let i = 0; i < 4; i++) ws.send(payload);
            }),
        ),
      );
    await echo(250);
    await ask();
    await echo(3000);
    const faults = await ask();
    for (const ws of sockets) ws.terminate();
    return faults / 12000;
  } finally {
    child.kill();
  }
}

describe('allocator thresholds for large messages', () => {
  test('the slab calls its hook once, before its first large block, never for small ones', () => {
    let calls = 0;
    const slab = new MessageSlab(256 * 1024, 64 * 1024, () => calls++);
    slab.alloc(100);
    slab.alloc(16 * 1024);
    assert.equal(calls, 0, 'small carves do not tune anything');
    slab.alloc(16 * 1024 + 1);
    assert.equal(calls, 1);
    for (let i = 0; i < 20; i++) slab.alloc(64 * 1024);
    assert.equal(calls, 1, 'once, however many large blocks follow');
  });

  test('a server read memory tunes on its first large message; keepFreedMemory: false does not', () => {
    // The child records the sizes of the unpooled buffers allocated after the read memory exists.
    const probe = (keep: string) =>
      inChild(`
        import { Buffer } from 'node:buffer';
        const { ReadMemory } = await import('${READ_MEMORY}');
        const sizes = [];
        const alloc = Buffer.allocUnsafeSlow;
        Buffer.allocUnsafeSlow = (n) => (sizes.push(n), alloc(n));
        const mem = new ReadMemory(${keep});
        mem.slab.alloc(1000);
        const small = sizes.splice(0);
        mem.slab.alloc(64 * 1024);
        mem.slab.alloc(64 * 1024);
        console.log(JSON.stringify({ small, large: sizes }));
      `);
    const block = 32 * 1024 * 1024 - 64 * 1024;
    const tuned = probe('{}');
    assert.deepEqual(tuned.small, [64 * 1024], 'a small message takes a small block and tunes nothing');
    assert.deepEqual(tuned.large, [block, 256 * 1024], 'the first large message drops the 32 MiB block, once');
    const untouched = probe('{ keepFreedMemory: false }');
    assert.deepEqual(untouched.large, [256 * 1024], 'keepFreedMemory: false allocates only the slab block');
  });

  test('on glibc, a 128 KiB echo reuses freed memory instead of faulting it in again', async (t) => {
    const glibc = (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header.glibcVersionRuntime;
    const plain = await faultsPerMessage(false);
    const tuned = await faultsPerMessage(true);
    t.diagnostic(`glibc ${glibc ?? 'absent'}: ${plain.toFixed(2)} minor faults per message untuned, ${tuned.toFixed(2)} tuned`);
    if (glibc === undefined) {
      // Another allocator: the tuning must at least cost nothing.
      assert.ok(tuned <= plain * 1.5 + 0.1, `tuned ${tuned} against ${plain}`);
      return;
    }
    // Untuned, each collection's batch of blocks goes back to the kernel: about a fault per message.
    assert.ok(plain > 0.3, `untuned glibc should fault freed blocks in again (${plain} per message)`);
    assert.ok(tuned < plain / 2, `tuned: ${tuned} faults per message against ${plain}`);
  });
});
