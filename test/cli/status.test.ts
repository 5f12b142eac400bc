// `switchboard status` against the real CLI serving a project of its own: the version is
// Switchboard's (not the project's), and a service's last crash says how the process ended.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commands, type CliIO } from '../../src/cli/commands/index.js';
import { formatCrash } from '../../src/cli/commands/status.js';
import type { ServerStatus, ServiceStatus } from '../../src/runtime/control-protocol.js';
import { REPO } from '../app/helpers.js';
import { until } from '../helpers/wait.js';
import { ServerProcess } from '../runtime/server-process.js';
import { TestClient } from '../runtime/ws-client.js';

const OWN_VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const SERVICE_MODULE = new URL('../../src/app/service.js', import.meta.url).href;

// a user's project: its own package.json with another version, and one process-isolated service
const project = mkdtempSync(join(tmpdir(), 'sb-status-'));
writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'my-app', version: '9.9.9', type: 'module' }));
mkdirSync(join(project, 'services'));
writeFileSync(
  join(project, 'services', 'quitter.js'),
  `import { defineService } from '${SERVICE_MODULE}';
export default defineService({
  isolation: 'process',
  commands: {
    pid: { handler: () => process.pid },
    quit: { handler: (code) => { setImmediate(() => process.exit(code)); return 'quitting'; } },
  },
});
`,
);
const servers: ServerProcess[] = [];
const clients: TestClient[] = [];
after(async () => {
  for (const c of clients) c.close();
  for (const s of servers) await s.kill();
  rmSync(project, { recursive: true, force: true });
});

async function status(runDir: string): Promise<{ json: ServerStatus; text: string }> {
  const run = async (args: string[]): Promise<string> => {
    let out = '';
    const io: CliIO = { stdout: (t) => void (out += t), stderr: (t) => assert.fail(t), cwd: project, env: {} };
    assert.equal(await commands.find((c) => c.name === 'status')!.run(args, io), 0);
    return out;
  };
  return { json: JSON.parse(await run(['--run-dir', runDir, '--json'])) as ServerStatus, text: await run(['--run-dir', runDir]) };
}

const quitter = (s: ServerStatus): ServiceStatus => s.services.find((x) => x.name === '/quitter')!;

test('status: Switchboard own version; the last crash with its exit code, then its signal (text and --json)', async () => {
  const runDir = join(project, '.switchboard');
  const server = new ServerProcess(
    join(REPO, 'bin/switchboard.js'),
    ['serve', 'services', '--port', '0', '--restart-delay-ms', '20'],
    { npm_package_version: '9.9.9' }, // what `npm run` sets: the project's version
    project,
  );
  servers.push(server);
  const started = await server.waitForLog((l) => l.msg === 'switchboard started');
  const url = `${(started.listening as string[])[0]}/quitter`;

  const first = await status(runDir);
  assert.equal(first.json.version, OWN_VERSION);
  // every service of the directory is listed before any client reached it
  assert.deepEqual({ ...quitter(first.json), memory: undefined }, { name: '/quitter', path: '/quitter', kind: 'endpoint', isolation: 'process', state: 'not loaded', restarts: 0, connections: 0, messagesIn: 0, messagesOut: 0, memory: undefined });
  assert.match(first.text, /^\/quitter\s+endpoint\s+process\s+not loaded\s/m);
  assert.match(first.text, new RegExp(`, version ${OWN_VERSION.replace(/\./g, '\\.')}\\n`));

  const a = await TestClient.open(url);
  clients.push(a);
  assert.equal(await a.call('quit', 3), 'quitting');
  assert.equal((await a.whenClosed()).code, 1011);
  await until(async () => quitter((await status(runDir)).json).lastCrash !== undefined, 'the crash in status');
  const crashed = await status(runDir);
  assert.deepEqual({ ...quitter(crashed.json).lastCrash, at: undefined }, { reason: 'exit', at: undefined, code: 3, signal: null });
  assert.match(crashed.text, /^last crash of \/quitter: exit \(exit code 3\) at \d{4}-/m);

  const b = await TestClient.openWhenAvailable(url);
  clients.push(b);
  process.kill((await b.call('pid')) as number, 'SIGKILL');
  assert.equal((await b.whenClosed()).code, 1011);
  await until(async () => quitter((await status(runDir)).json).lastCrash?.signal === 'SIGKILL', 'the second crash in status');
  const killed = await status(runDir);
  assert.equal(quitter(killed.json).lastCrash?.code, null);
  assert.match(killed.text, /^last crash of \/quitter: exit \(signal SIGKILL\) at /m);

  server.child.kill('SIGTERM');
  assert.deepEqual(await server.exited(), { code: 0, signal: null });
});

test('formatCrash: message, exit code and signal, each when known', () => {
  assert.equal(formatCrash({ reason: 'uncaught-exception', message: 'boom', code: 1, signal: null, at: 'T' }), 'uncaught-exception (boom; exit code 1) at T');
  assert.equal(formatCrash({ reason: 'hang', code: null, signal: 'SIGKILL' }), 'hang (signal SIGKILL)');
  assert.equal(formatCrash({ reason: 'start-timeout' }), 'start-timeout');
});
