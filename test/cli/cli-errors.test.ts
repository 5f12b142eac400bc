// Mistakes on the command line get one line on stderr (what is wrong, which flag, what is
// allowed) and exit code 2; the usage is printed only for --help. `reload` of a broken file
// says why it failed.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { REPO } from '../app/helpers.js';
import { ServerProcess } from '../runtime/server-process.js';
import { TestClient } from '../runtime/ws-client.js';

const root = mkdtempSync(join(tmpdir(), 'sb-cli-errors-'));
const servers: ServerProcess[] = [];
after(async () => {
  for (const s of servers) await s.kill();
  rmSync(root, { recursive: true, force: true });
});

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { stdout: (t) => void (out += t), stderr: (t) => void (err += t), cwd: root, env: {} });
  return { code, out, err };
}

/** Runs bin/switchboard.js to its exit. */
function bin(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [join(REPO, 'bin/switchboard.js'), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (t: string) => void (out += t));
  child.stderr!.setEncoding('utf8').on('data', (t: string) => void (err += t));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, out, err })));
}

const mistakes: Array<[string[], string]> = [
  [['serve', '--bogus'], 'switchboard serve: unknown option --bogus (switchboard serve --help lists the options)'],
  [['serve', '--prot', '80'], 'switchboard serve: unknown option --prot (did you mean --port?)'],
  [['serve', '--max-restarts', '-1'], 'switchboard serve: --max-restarts -1: expected a whole number, 0 or more'],
  [['serve', '--port', 'abc'], 'switchboard serve: --port abc: expected a port number from 0 to 65535'],
  [['serve', '--port', '70000'], 'switchboard serve: --port 70000: expected a port number from 0 to 65535'],
  [['serve', '--port'], 'switchboard serve: --port needs a value: a port number from 0 to 65535'],
  [['serve', '--isolation', 'thread'], 'switchboard serve: --isolation thread: expected inline, worker or process'],
  [['serve', '--metrics=yes'], 'switchboard serve: --metrics is a switch and takes no value (--metrics or --no-metrics)'],
  [['serve', 'a', 'b'], 'switchboard serve: one services directory at most, got 2: a b'],
  [['serve', '--origin'], 'switchboard serve: --origin needs a value, e.g. --origin https://app.example'],
  [['status', '--bogus'], 'switchboard status: unknown option --bogus (switchboard status --help lists the options)'],
  [['status', 'extra'], 'switchboard status: unexpected argument "extra"'],
  [['stop', '--timeout-ms', 'soon'], 'switchboard stop: --timeout-ms soon: expected a whole number of milliseconds, 1 or more'],
  [['stop', '--run-dir'], 'switchboard stop: --run-dir needs a value: the run directory of the server'],
  [['reload', '--jsno'], 'switchboard reload: unknown option --jsno (did you mean --json?)'],
  [['restart'], "switchboard restart: name the service to restart: its path (e.g. /chat) or a background service's name"],
  [['new'], 'switchboard new: name the service to create, e.g. switchboard new chat (served at ws://host/chat)'],
  [['new', 'a/../b'], 'switchboard new: invalid service path "a/../b": use segments of letters, digits, - and _ separated by /'],
  [['new', 'chat', '--bogus'], 'switchboard new: unknown option --bogus (switchboard new --help lists the options)'],
  [['drain'], 'switchboard drain: --over DURATION is required (e.g. --over 60s)'],
  [['drain', '--over', 'soon'], 'switchboard drain: --over soon: expected a duration such as 60s, 90000ms or 2m'],
  [['drain', '--over', '60s', '--batches', '0'], 'switchboard drain: --batches 0: expected a whole number, 1 or more'],
  [['frobnicate'], 'switchboard: unknown command "frobnicate" (commands: serve, status, top, stop, drain, reload, restart, new; switchboard --help says more)'],
];

for (const [argv, line] of mistakes) {
  test(`switchboard ${argv.join(' ')}: one line, exit code 2`, async () => {
    const r = await cli(argv);
    assert.deepEqual(r, { code: 2, out: '', err: `${line}\n` });
  });
}

test('the usage is printed for --help (exit 0), for every command', async () => {
  for (const name of ['serve', 'status', 'top', 'stop', 'drain', 'reload', 'restart', 'new']) {
    const r = await cli([name, '--help']);
    assert.equal(r.code, 0);
    assert.match(r.out, new RegExp(`^Usage: switchboard ${name}`));
    assert.equal(r.err, '');
  }
});

test('--version prints Switchboard own version', async () => {
  const { version } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
  assert.deepEqual(await cli(['--version']), { code: 0, out: `${version}\n`, err: '' });
});

test('the real binary: one line on stderr, nothing on stdout, exit code 2', async () => {
  assert.deepEqual(await bin(['serve', '--bogus']), { code: 2, out: '', err: 'switchboard serve: unknown option --bogus (switchboard serve --help lists the options)\n' });
  assert.deepEqual(await bin(['serve', '--max-restarts', '-1']), { code: 2, out: '', err: 'switchboard serve: --max-restarts -1: expected a whole number, 0 or more\n' });
});

test('reload of a changed file that fails to load prints why', async () => {
  const dir = join(root, 'services');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'versioned.js');
  const serviceModule = new URL('../../src/app/service.js', import.meta.url).href;
  writeFileSync(file, `import { defineService } from '${serviceModule}';\nexport default defineService({ commands: { v: { handler: () => 1 } } });\n`);
  const runDir = join(root, 'run');
  const server = new ServerProcess(join(REPO, 'bin/switchboard.js'), ['serve', dir, '--port', '0', '--run-dir', runDir], {}, root);
  servers.push(server);
  const started = await server.waitForLog((l) => l.msg === 'switchboard started');
  const c = await TestClient.open(`${(started.listening as string[])[0]}/versioned`); // loads it
  assert.equal(await c.call('v'), 1);

  writeFileSync(file, 'export default 42;\n');
  const later = new Date(Date.now() + 5_000);
  utimesSync(file, later, later);
  const r = await bin(['reload', '--run-dir', runDir]);
  assert.equal(r.code, 1);
  assert.equal(r.out, '');
  assert.match(r.err, /^switchboard reload: \/versioned: .*the default export was not made by defineService\(\)\n$/);
  c.close();
  server.child.kill('SIGTERM');
  assert.deepEqual(await server.exited(), { code: 0, signal: null });
});
