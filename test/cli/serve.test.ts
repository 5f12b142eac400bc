// `switchboard serve` end to end: the bin shim in a child process, and argument handling in process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { main } from '../../src/cli/main.js';
import { takeOrigins } from '../../src/cli/commands/serve.js';
import { connect } from '../../src/transport/client.js';
import { REPO } from '../app/helpers.js';
import { until } from '../helpers/wait.js';

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { stdout: (t: string) => void out.push(t), stderr: (t: string) => void err.push(t), cwd: REPO, env: {} } };
}

/** Starts the CLI with its own run directory; resolves with the child and the console URL it printed. */
function serve(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; url: string; lines: string[] }> {
  const runDir = mkdtempSync(join(tmpdir(), 'sb-cli-run-'));
  const child = spawn(process.execPath, [join(REPO, 'bin/switchboard.js'), 'serve', ...args, '--run-dir', runDir, '--log-level', 'warn'], { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${lines.join('\n')}`)));
    const onLine = (line: string) => {
      lines.push(line);
      const m = /console:\s+(http:\/\/\S+)/.exec(line);
      if (m) resolve({ child, url: m[1]!, lines });
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

test('serve examples/services on an ephemeral port: prints the console URL and the services; echo works', async () => {
  const { child, url, lines } = await serve(['examples/services', '--port', '0']);
  try {
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.ok(lines.some((l) => /switchboard serving .*examples\/services/.test(l)));
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.deepEqual(((await (await fetch(url + 'services.json')).json()) as { services: string[] }).services, ['/broadcast', '/chat', '/echo']);
    const ws = await connect(url.replace('http:', 'ws:') + 'echo');
    const got = new Promise<string>((resolve) => ws.once('message', (d) => resolve(d.toString())));
    ws.send('from the cli test');
    assert.equal(await got, 'from the cli test');
    ws.close();
  } finally {
    await stop(child);
  }
});

test('PORT from the environment is used when --port is absent', async () => {
  // find a free port by letting the OS pick one for a throwaway server first
  const { createServer } = await import('node:net');
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const { child, url } = await serve(['examples/services'], { PORT: String(port) });
  try {
    assert.equal(url, `http://127.0.0.1:${port}/`);
  } finally {
    await stop(child);
  }
});

test('--origin restricts browser handshakes to the listed origins', async () => {
  const { child, url } = await serve(['examples/services', '--port', '0', '--origin', 'http://good.example']);
  try {
    const ws = url.replace('http:', 'ws:') + 'echo';
    const ok = await connect(ws, { origin: 'http://good.example' });
    ok.close();
    await assert.rejects(connect(ws, { origin: 'http://evil.example' }), (err: unknown) => (err as { status?: number }).status === 403);
  } finally {
    await stop(child);
  }
});

test('argument errors exit 2 with usage; --help exits 0; unknown commands are refused', async () => {
  let t = io();
  assert.equal(await main(['serve', 'examples/services', '--port', 'abc'], t.io), 2);
  assert.match(t.err.join(''), /port/);
  t = io();
  assert.equal(await main(['serve', 'a', 'b'], t.io), 2);
  t = io();
  assert.equal(await main(['serve', 'examples/services', '--origin'], t.io), 2);
  assert.match(t.err.join(''), /--origin needs a value/);
  t = io();
  assert.equal(await main(['serve', '--help'], t.io), 0);
  assert.match(t.out.join(''), /Usage: switchboard serve/);
  assert.match(t.out.join(''), /--origin ORIGIN/);
  t = io();
  assert.equal(await main(['frobnicate'], t.io), 2);
  assert.match(t.err.join(''), /unknown command "frobnicate"/);
  t = io();
  assert.equal(await main(['--help'], t.io), 0);
  for (const name of ['serve', 'status', 'stop', 'reload', 'restart', 'new']) assert.match(t.out.join(''), new RegExp(`\\b${name}\\b`));
});

test('takeOrigins', () => {
  assert.deepEqual(takeOrigins(['d', '--origin', 'http://a', '--port', '1', '--origin=http://b']), { rest: ['d', '--port', '1'], origins: ['http://a', 'http://b'] });
});

/** Runs the CLI to its exit. */
function run(args: string[], cwd = REPO): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(REPO, 'bin/switchboard.js'), ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (t: string) => void (stdout += t));
  child.stderr!.setEncoding('utf8').on('data', (t: string) => void (stderr += t));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

test('serve on a missing directory, or on a file, fails at once with one line and exit code 2', async () => {
  const root = mkdtempSync(join(tmpdir(), 'sb-cli-dir-'));
  const missing = await run(['serve', join(root, 'nope'), '--port', '0', '--run-dir', join(root, 'run')]);
  assert.equal(missing.code, 2);
  assert.equal(missing.stderr, `switchboard serve: the services directory ${join(root, 'nope')} does not exist (give the directory of your service files: switchboard serve <dir>)\n`);
  assert.equal(missing.stdout, '');

  const file = join(root, 'echo.ts');
  writeFileSync(file, 'export default {};\n');
  const onFile = await run(['serve', file, '--port', '0', '--run-dir', join(root, 'run')]);
  assert.equal(onFile.code, 2);
  assert.equal(onFile.stderr, `switchboard serve: ${file} is not a directory: serve the directory that holds the service files (switchboard serve <dir>)\n`);

  // the default directory (./services) missing in the working directory: the same message
  const byDefault = await run(['serve', '--port', '0', '--run-dir', join(root, 'run')], root);
  assert.equal(byDefault.code, 2);
  assert.match(byDefault.stderr, /^switchboard serve: the services directory .*\/services does not exist/);
});

test('serve on an empty directory starts, with a warning', async () => {
  const empty = mkdtempSync(join(tmpdir(), 'sb-cli-empty-'));
  const { child, lines } = await serve([empty, '--port', '0']);
  try {
    const warning = `  warning:  no service files in ${empty}: add one (e.g. echo.ts), or scaffold one with \`switchboard new echo --services ${empty}\``;
    await until(() => lines.includes(warning), `the warning among ${JSON.stringify(lines)}`);
  } finally {
    await stop(child);
  }
});
