// Interop with python-websockets (Debian's python3-websockets, run by /usr/bin/python3):
// a Python client against our server, and our client against a Python server.
// Needs the system package, so it runs in `npm run test:all` only, and fails (never skips)
// when the peer is missing.
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { WebSocketServer, connect, type WebSocket } from '../../src/index.js';
import { compressibleText, pseudoRandomBytes } from '../helpers/frames.js';
import { next, within } from '../helpers/wait.js';

const PYTHON = '/usr/bin/python3';
const MiB = 1024 * 1024;

function requirePeer(): string {
  const r = spawnSync(PYTHON, ['-c', 'import websockets, sys; sys.stdout.write(websockets.__version__)'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `python3-websockets is missing (${PYTHON} -c "import websockets" failed: ${r.error?.message ?? r.stderr}). Install it: apt-get install -y python3-websockets`);
  return r.stdout.trim();
}

// A Python client: runs a scripted session against URL and prints one JSON result.
const PY_CLIENT = String.raw`
import asyncio, json, sys, websockets
async def main(url, compression):
    out = {}
    async with websockets.connect(url, max_size=64*1024*1024, compression=compression, subprotocols=['chat.v1']) as ws:
        out['subprotocol'] = ws.subprotocol
        out['extensions'] = [type(e).__name__ for e in ws.extensions]
        ok = True
        for n in [0, 1, 125, 126, 65535, 65536, 200000]:
            t = ('abcdefghij' * (n // 10 + 1))[:n]
            await ws.send(t); ok = ok and (await ws.recv()) == t
            b = bytes((i * 7) & 255 for i in range(n))
            await ws.send(b); ok = ok and (await ws.recv()) == b
        out['sizes_ok'] = ok
        big = 'x' * (4 * 1024 * 1024 + 3)
        await ws.send(big); out['large_ok'] = (await ws.recv()) == big
        await ws.send(['κό', 'σμε']); out['fragmented_ok'] = (await ws.recv()) == 'κόσμε'
        pong = await ws.ping(b'py-ping'); await asyncio.wait_for(pong, 20); out['pong_ok'] = True
        await ws.close(4001, 'python says bye')
        out['close_code'] = ws.close_code
    print(json.dumps(out), flush=True)
asyncio.run(main(sys.argv[1], None if sys.argv[2] == 'none' else 'deflate'))
`;

// A Python echo server: prints its port, echoes, reports each close.
const PY_SERVER = String.raw`
import asyncio, json, sys, websockets
async def handler(ws, path=None):
    try:
        async for m in ws:
            await ws.send(m)
    except websockets.ConnectionClosed:
        pass
    print(json.dumps({'closed': ws.close_code, 'reason': ws.close_reason, 'subprotocol': ws.subprotocol, 'extensions': [type(e).__name__ for e in ws.extensions]}), flush=True)
async def main():
    async with websockets.serve(handler, '127.0.0.1', 0, max_size=64*1024*1024, subprotocols=['chat.v1']) as server:
        port = list(server.sockets)[0].getsockname()[1]
        print(json.dumps({'port': port}), flush=True)
        await asyncio.Future()
asyncio.run(main())
`;

function lines(child: ChildProcess): AsyncIterator<string> {
  return createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
}

describe('python-websockets client against our server', () => {
  let server: WebSocketServer;
  let url = '';
  before(async () => {
    requirePeer();
    server = new WebSocketServer({ port: 0, host: '127.0.0.1', protocols: ['chat.v1'], perMessageDeflate: true, limits: { maxMessageBytes: 32 * MiB, maxFrameBytes: 32 * MiB } });
    server.on('connection', (ws) => {
      ws.on('error', () => {});
      ws.on('message', (d, isBinary) => ws.send(d, { binary: isBinary }));
    });
    url = `ws://127.0.0.1:${(await server.listen()).port}/`;
  });
  after(() => server?.close({ timeoutMs: 2000 }));

  for (const compression of ['deflate', 'none']) {
    test(`scripted session (compression: ${compression})`, { timeout: 120_000 }, async () => {
      const closes: number[] = [];
      server.once('connection', (ws) => ws.on('close', (code) => closes.push(code)));
      const child = spawn(PYTHON, ['-c', PY_CLIENT, url, compression], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      let stdout = '';
      child.stderr!.on('data', (d) => (stderr += d));
      child.stdout!.on('data', (d) => (stdout += d));
      const [code] = await within(next<[number]>(child, 'close', 100_000), 'python client');
      assert.equal(code, 0, `python client failed:\n${stderr}`);
      const out = JSON.parse(stdout.trim().split('\n').pop() ?? '{}');
      assert.deepEqual(
        { ...out },
        {
          subprotocol: 'chat.v1',
          extensions: compression === 'deflate' ? ['PerMessageDeflate'] : [],
          sizes_ok: true,
          large_ok: true,
          fragmented_ok: true,
          pong_ok: true,
          close_code: 4001,
        },
      );
      assert.deepEqual(closes, [4001]);
    });
  }
});

describe('our client against a python-websockets server', () => {
  let child: ChildProcess;
  let out: AsyncIterator<string>;
  let url = '';
  before(async () => {
    requirePeer();
    child = spawn(PYTHON, ['-c', PY_SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
    out = lines(child);
    const first = await within(out.next(), 'python server start');
    url = `ws://127.0.0.1:${JSON.parse(String(first.value)).port}/`;
  });
  after(() => {
    child?.kill();
  });

  for (const pmd of [true, false]) {
    test(`echo session (permessage-deflate: ${pmd})`, { timeout: 120_000 }, async () => {
      const ws: WebSocket = await connect(url, { protocols: ['chat.v1'], perMessageDeflate: pmd, limits: { maxMessageBytes: 32 * MiB, maxFrameBytes: 32 * MiB } });
      ws.on('error', () => {});
      assert.equal(ws.protocol, 'chat.v1');
      if (pmd) assert.match(ws.extensions, /permessage-deflate/);
      const roundTrip = async (d: string | Buffer, binary: boolean) => {
        const p = next<[Buffer, boolean]>(ws, 'message');
        ws.send(d, { binary });
        const [got, isBinary] = await p;
        assert.equal(isBinary, binary);
        assert.ok(got.equals(Buffer.from(d)), `${binary ? 'binary' : 'text'} of ${d.length}`);
      };
      for (const n of [0, 1, 125, 126, 65535, 65536, 200_000, 4 * MiB]) {
        await roundTrip(compressibleText(n, n), false);
        await roundTrip(pseudoRandomBytes(n, n), true);
      }
      const pong = next<[Buffer]>(ws, 'pong');
      ws.ping('node-ping');
      assert.equal((await pong)[0].toString(), 'node-ping');
      const closed = next<[number, string]>(ws, 'close');
      ws.close(4002, 'node says bye');
      assert.equal((await closed)[0], 4002);
      const report = JSON.parse(String((await within(out.next(), 'python close report')).value));
      assert.equal(report.closed, 4002);
      assert.equal(report.reason, 'node says bye');
      assert.deepEqual(report.extensions, pmd ? ['PerMessageDeflate'] : []);
    });
  }
});
