// How long an isolated TypeScript service takes to answer: the first connection after the
// server started, and again after `switchboard restart <route>`, for a worker and a process
// service. `npm run bench:restart -- [--reps 5]` (builds first).
//
// Each figure is the wall time from the request (connect, or the restart on the control
// socket) to the first command reply on a fresh connection; handshakes answered 503 while
// the service restarts are retried at once. The services import zod, `switchboard` and a
// relative helper through a `.js` specifier that names a `.ts` file, as real ones do, in
// a "type": "module" package (this repository's).
//
// The compile cache starts empty (a fresh SWITCHBOARD_COMPILE_CACHE per run), so the first
// connection compiles and the restarts find the cache warm; --keep-cache uses the default
// cache instead. SWITCHBOARD_TS_LOADER=tsx in the environment measures the tsx path.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connect, HandshakeError } from '../src/index.js';
import { controlRequest } from '../src/runtime/control-client.js';
import { servedPort } from './served-port.js';

const { values } = parseArgs({ options: { reps: { type: 'string' }, 'keep-cache': { type: 'boolean' } } });
const reps = Number(values.reps ?? 5);
const repo = fileURLToPath(new URL('../../', import.meta.url));
const SWITCHBOARD = join(repo, 'bin/switchboard.js');

const helper = `export function greet(name: string): string {\n  return \`hello \${name}\`;\n}\n`;
const service = (isolation: string): string => `import { z } from 'zod';
import { defineService } from 'switchboard';
import { greet } from './_lib/greet.js';

interface Shared { calls: number }

export default defineService<Record<string, never>, Shared>({
  isolation: '${isolation}',
  state: () => ({ calls: 0 }),
  commands: {
    hello: {
      input: z.object({ name: z.string() }),
      handler: ({ name }, { service }): string => {
        service.state.calls += 1;
        return greet(name);
      },
    },
  },
});
`;

/** Connects and runs one command; retries while the service is restarting (503). */
async function answerOnce(port: number, route: string): Promise<void> {
  for (;;) {
    let ws;
    try {
      ws = await connect(`ws://127.0.0.1:${port}${route}`);
    } catch (err) {
      if (err instanceof HandshakeError && err.status === 503) continue;
      throw err;
    }
    const reply = await new Promise<string>((resolve, reject) => {
      ws.once('message', (data) => resolve(data.toString()));
      ws.once('close', (code) => reject(new Error(`closed ${code}`)));
      ws.send(JSON.stringify({ id: 1, cmd: 'hello', data: { name: 'x' } }));
    }).catch(() => '');
    ws.close();
    if (reply.includes('"ok":true')) return;
  }
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

function summary(samples: number[]): string {
  const s = [...samples].sort((a, b) => a - b);
  const median = s[Math.floor(s.length / 2)]!;
  return `median ${median.toFixed(0)} ms (min ${s[0]!.toFixed(0)}, max ${s[s.length - 1]!.toFixed(0)}, n=${s.length})`;
}

async function main(): Promise<void> {
  mkdirSync(join(repo, 'bench/build'), { recursive: true });
  const base = mkdtempSync(join(repo, 'bench/build/restart-'));
  const dir = join(base, 'services');
  mkdirSync(join(dir, '_lib'), { recursive: true });
  writeFileSync(join(dir, '_lib/greet.ts'), helper);
  writeFileSync(join(dir, 'w.ts'), service('worker'));
  writeFileSync(join(dir, 'p.ts'), service('process'));
  const runDir = join(base, 'run');
  const env = values['keep-cache'] === true ? process.env : { ...process.env, SWITCHBOARD_COMPILE_CACHE: join(base, 'compile-cache') };
  const server = spawn(process.execPath, [SWITCHBOARD, 'serve', dir, '--port', '0', '--run-dir', runDir, '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'pipe'], env });
  try {
    const port = await servedPort(server);
    const rows: Array<[string, string]> = [];
    for (const route of ['/w', '/p']) {
      const first = await timed(() => answerOnce(port, route));
      const restarts: number[] = [];
      for (let i = 0; i < reps; i++) {
        restarts.push(await timed(async () => {
          await controlRequest(runDir, { type: 'restart', service: route });
          await answerOnce(port, route);
        }));
      }
      rows.push([`${route === '/w' ? 'worker' : 'process'} first connection`, `${first.toFixed(0)} ms`]);
      rows.push([`${route === '/w' ? 'worker' : 'process'} restart`, summary(restarts)]);
    }
    for (const [what, figure] of rows) process.stdout.write(`${what.padEnd(28)} ${figure}\n`);
  } finally {
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
    rmSync(base, { recursive: true, force: true });
  }
}

await main();
