// The HTTP/2 row of the bench suite: `npm run bench:http2 [-- --reps N --connections C]`.
// Small-message echo over TLS, server CPU per message (utime+stime from /proc) as a ratio to
// `ws` in the same repetition: ws (HTTP/1.1, its only path), Switchboard over HTTP/1.1, and
// Switchboard over HTTP/2 with every WebSocket a stream of one connection. Servers are pinned
// to CPU 0 and the Node load generator to CPU 1; each run is bounded in count and time; the
// runner kills what it started, by pid. Writes bench/results/<date>-http2.md.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../../..');
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim() || 100);
const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
};
const REPS = Number(arg('reps', '5'));
const CONNECTIONS = Number(arg('connections', '64'));
const MESSAGES = Number(arg('messages', '200000'));

const VARIANTS = [
  { key: 'ws', label: 'ws over HTTP/1.1 (TLS)', server: ['--impl', 'ws'], mode: 'http1' },
  { key: 'sb-h1', label: 'Switchboard over HTTP/1.1 (TLS)', server: ['--impl', 'switchboard', '--http2'], mode: 'http1' },
  { key: 'sb-h2', label: `Switchboard over HTTP/2 (${CONNECTIONS} streams, one connection)`, server: ['--impl', 'switchboard', '--http2'], mode: 'h2' },
] as const;

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]);
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

function lines(proc: ChildProcess, onLine: (l: string) => void): void {
  let buf = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      onLine(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
}

function makeCerts(dir: string): { key: string; cert: string } {
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { key, cert };
}

async function once(v: (typeof VARIANTS)[number], files: { key: string; cert: string }): Promise<{ usPerMsg: number; msgsPerS: number }> {
  const port = await freePort();
  const server = spawn('taskset', ['-c', '0', process.execPath, path.join(HERE, 'tls-echo-server.js'), '--port', String(port), '--key', files.key, '--cert', files.cert, ...v.server], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('server did not start')), 20_000);
      lines(server, (l) => {
        if (l.startsWith('listening')) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    const gen = spawn('taskset', ['-c', '1', process.execPath, path.join(HERE, 'loadgen.js'), '--port', String(port), '--ca', readFileSync(files.cert, 'utf8'), '--mode', v.mode, '--connections', String(CONNECTIONS), '--messages', String(MESSAGES)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    try {
      return await new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('load generator overran its deadline')), 240_000);
        let before = 0;
        lines(gen, (l) => {
          const m = JSON.parse(l) as { phase: string; messages?: number; ms?: number };
          if (m.phase === 'warm') {
            before = cpuTicks(server.pid!);
            gen.stdin!.write('go\n');
          } else if (m.phase === 'measured') {
            const cpuUs = ((cpuTicks(server.pid!) - before) * 1e6) / CLK_TCK;
            clearTimeout(t);
            resolve({ usPerMsg: cpuUs / m.messages!, msgsPerS: (m.messages! * 1000) / m.ms! });
          }
        });
        gen.once('exit', (code) => code !== 0 && reject(new Error(`load generator exited with ${code}`)));
      });
    } finally {
      if (gen.exitCode === null) gen.kill('SIGKILL');
    }
  } finally {
    server.kill('SIGKILL');
    await new Promise((r) => server.once('exit', r));
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-bench-h2-'));
try {
  const files = makeCerts(dir);
  const samples = new Map<string, Array<{ usPerMsg: number; msgsPerS: number; ratio: number }>>();
  for (let rep = 1; rep <= REPS; rep++) {
    const row: Record<string, { usPerMsg: number; msgsPerS: number }> = {};
    for (const v of VARIANTS) {
      row[v.key] = await once(v, files);
      console.error(`rep ${rep}/${REPS} ${v.key}: ${row[v.key]!.usPerMsg.toFixed(2)} µs/msg, ${Math.round(row[v.key]!.msgsPerS)} msg/s`);
    }
    for (const v of VARIANTS) {
      const list = samples.get(v.key) ?? [];
      list.push({ ...row[v.key]!, ratio: row[v.key]!.usPerMsg / row.ws!.usPerMsg });
      samples.set(v.key, list);
    }
  }
  const command = `npm run bench:http2 -- --reps ${REPS} --connections ${CONNECTIONS} --messages ${MESSAGES}`;
  const table = [
    '| server | server CPU µs/msg (median) | ratio to ws (median of per-rep ratios) | msg/s (median) |',
    '|---|---|---|---|',
    ...VARIANTS.map((v) => {
      const s = samples.get(v.key)!;
      return `| ${v.label} | ${median(s.map((x) => x.usPerMsg)).toFixed(2)} | ${median(s.map((x) => x.ratio)).toFixed(2)} | ${Math.round(median(s.map((x) => x.msgsPerS)))} |`;
    }),
  ].join('\n');
  const report = `# HTTP/2 bench, ${new Date().toISOString().slice(0, 10)}\n\nSmall-message echo (32-byte text, ${CONNECTIONS} WebSockets, 16 in flight each, ${MESSAGES} measured messages per run) over TLS on ${os.cpus()[0]?.model ?? 'this machine'}, Node ${process.version}; ${REPS} repetitions, servers on CPU 0, the Node load generator on CPU 1.\n\n\`${command}\`\n\n${table}\n\nRaw samples (µs/msg per repetition): ${VARIANTS.map((v) => `${v.key} ${samples.get(v.key)!.map((x) => x.usPerMsg.toFixed(2)).join(' ')}`).join('; ')}\n`;
  const out = path.join(ROOT, 'bench', 'results', `${new Date().toISOString().slice(0, 10)}-http2.md`);
  writeFileSync(out, report);
  console.log(report);
  console.error(`written to ${out}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
