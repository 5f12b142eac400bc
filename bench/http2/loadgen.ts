// Load generator of the HTTP/2 bench, in Node (the C generator speaks no TLS): C WebSockets,
// as C TLS connections with an HTTP/1.1 Upgrade, or as C extended CONNECT streams on ONE
// HTTP/2 connection (what a browser page does). Each keeps W small text messages in flight
// (frames masked once up front), counts echoes by bytes (the servers answer each 32-byte text
// with one 34-byte frame), and prints a JSON line for each phase. Bounded: at most
// `--messages` per phase and a hard deadline.
import { Buffer } from 'node:buffer';
import http2 from 'node:http2';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
};
const port = Number(arg('port', '0'));
const ca = arg('ca', '');
const mode = arg('mode', 'http1');
const conns = Number(arg('connections', '64'));
const window = Number(arg('window', '16'));
const perPhase = Number(arg('messages', '200000'));
const deadlineMs = Number(arg('deadline-ms', '60000'));
const PAYLOAD = 32;
const FRAME = Buffer.concat([Buffer.from([0x81, 0x80 | PAYLOAD, 1, 2, 3, 4]), Buffer.from(Buffer.alloc(PAYLOAD, 0x61).map((b, i) => b ^ [1, 2, 3, 4][i % 4]!))]);
const REPLY = 2 + PAYLOAD;
const hard = setTimeout(() => {
  console.error('loadgen: hard deadline');
  process.exit(2);
}, deadlineMs * 3);
hard.unref();

async function openHttp1(): Promise<Duplex> {
  const s = tls.connect({ host: '127.0.0.1', port, ca, ALPNProtocols: ['http/1.1'] });
  await new Promise((r, j) => s.once('secureConnect', r).once('error', j));
  s.setNoDelay(true);
  s.write(`GET /echo HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  let head = Buffer.alloc(0);
  await new Promise<void>((resolve, reject) => {
    const on = (d: Buffer): void => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      s.off('data', on);
      if (!head.subarray(0, 12).toString().includes('101')) return reject(new Error(head.toString()));
      if (head.length > end + 4) s.unshift(head.subarray(end + 4));
      resolve();
    };
    s.on('data', on);
  });
  return s;
}

async function openHttp2(): Promise<Duplex[]> {
  const session = http2.connect(`https://127.0.0.1:${port}`, { ca, settings: { initialWindowSize: 1 << 20 } });
  await new Promise((r, j) => session.once('remoteSettings', r).once('error', j));
  const streams: Duplex[] = [];
  for (let i = 0; i < conns; i++) {
    const st = session.request({ ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'https', ':authority': `127.0.0.1:${port}`, ':path': '/echo', 'sec-websocket-version': '13' }, { endStream: false });
    const [h] = await new Promise<[http2.IncomingHttpHeaders]>((r, j) => st.once('response', (x) => r([x])).once('error', j));
    if (Number(h[':status']) !== 200) throw new Error(`CONNECT refused: ${h[':status']}`);
    streams.push(st);
  }
  return streams;
}

const carriers = mode === 'h2' ? await openHttp2() : await Promise.all(Array.from({ length: conns }, openHttp1));

/** Send `total` messages over all carriers, `window` in flight each; resolves with the elapsed ms. */
function phase(total: number): Promise<{ messages: number; ms: number }> {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    let sent = 0;
    let done = 0;
    const finish = (): void => {
      for (const c of carriers) c.removeAllListeners('data');
      clearTimeout(timer);
      resolve({ messages: done, ms: Number(process.hrtime.bigint() - started) / 1e6 });
    };
    const timer = setTimeout(finish, deadlineMs);
    for (const c of carriers) {
      let pending = 0;
      const fill = (n: number): void => {
        const k = Math.min(n, total - sent);
        if (k <= 0) return;
        sent += k;
        c.write(k === 1 ? FRAME : Buffer.concat(Array.from({ length: k }, () => FRAME)));
      };
      c.on('data', (d: Buffer) => {
        pending += d.length;
        const n = Math.floor(pending / REPLY);
        pending -= n * REPLY;
        done += n;
        if (done >= total) return finish();
        fill(n);
      });
      fill(window);
    }
  });
}

console.log(JSON.stringify({ phase: 'ready', connections: carriers.length, mode }));
const warm = await phase(Math.floor(perPhase / 5));
console.log(JSON.stringify({ phase: 'warm', ...warm }));
// the runner reads the server's CPU, then says go
await new Promise<void>((r) => process.stdin.once('data', () => r()));
const measured = await phase(perPhase);
console.log(JSON.stringify({ phase: 'measured', ...measured }));
process.exit(0);
