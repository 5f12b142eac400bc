// `switchboard new` end to end: scaffold a project in an empty directory, "install" it (the
// package and its dependencies linked in, as npm would), then its own test and typecheck
// pass, and the served service answers the command client as the README teaches: typed
// input checked by its schema, refusals with a code.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, ClientCommandError } from '../../src/client/index.js';
import { connect } from '../../src/transport/client.js';
import { REPO } from '../app/helpers.js';
import { ServerProcess } from '../runtime/server-process.js';

const roots: string[] = [];
const servers: ServerProcess[] = [];
after(async () => {
  for (const s of servers) await s.kill();
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function run(command: string, args: string[], cwd: string): Promise<{ code: number | null; out: string }> {
  // the project's own test run is not a subtest of this one (node:test tells by this variable)
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const child = spawn(command, args, { cwd, env: { ...env, npm_config_update_notifier: 'false' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (t: string) => void (out += t));
  child.stderr!.setEncoding('utf8').on('data', (t: string) => void (out += t));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, out })));
}

const switchboard = (args: string[], cwd: string) => run(process.execPath, [join(REPO, 'bin/switchboard.js'), ...args], cwd);

/** What `npm install` leaves behind, linked from this checkout: the package, its dependencies and bins. */
function install(project: string): void {
  const nm = join(project, 'node_modules');
  mkdirSync(join(nm, '@types'), { recursive: true });
  mkdirSync(join(nm, '.bin'));
  symlinkSync(REPO, join(nm, 'switchboard'), 'dir');
  for (const dep of ['zod', 'tsx', 'typescript', '@types/node']) symlinkSync(join(REPO, 'node_modules', dep), join(nm, dep), 'dir');
  symlinkSync('../tsx/dist/cli.mjs', join(nm, '.bin', 'tsx'));
  symlinkSync('../typescript/bin/tsc', join(nm, '.bin', 'tsc'));
}

function tempProject(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sb-new-'));
  roots.push(dir);
  return dir;
}

async function serve(project: string): Promise<string> {
  const server = new ServerProcess(join(REPO, 'bin/switchboard.js'), ['serve', 'services', '--port', '0', '--run-dir', join(project, '.run')], {}, project);
  servers.push(server);
  const started = await server.waitForLog((l) => l.msg === 'switchboard started');
  return (started.listening as string[])[0]!;
}

test('new chat in an empty directory: service, test, package.json, tsconfig; npm test, tsc and the served service work', async () => {
  const project = tempProject();
  const made = await switchboard(['new', 'chat'], project);
  assert.equal(made.code, 0, made.out);
  assert.equal(
    made.out,
    'created services/chat.ts\ncreated test/services/chat.test.ts\ncreated package.json\ncreated tsconfig.json\nserved at ws://<host>/chat by `switchboard serve services`\n',
  );
  const pkg = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as { type: string; scripts: Record<string, string>; dependencies: Record<string, string> };
  assert.equal(pkg.type, 'module');
  assert.deepEqual(Object.keys(pkg.dependencies), ['switchboard', 'zod']);
  assert.equal(pkg.scripts.start, 'switchboard serve services');
  const service = readFileSync(join(project, 'services/chat.ts'), 'utf8');
  assert.match(service, /import \{ z \} from 'zod';/);
  assert.match(service, /throw new CommandError\('not_in_room'/);
  assert.doesNotMatch(service, /new Error\(/);

  assert.equal((await switchboard(['new', 'rooms/lobby'], project)).code, 0);
  assert.equal(
    (JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as typeof pkg).scripts.test,
    'tsx --test test/services/chat.test.ts test/services/rooms/lobby.test.ts',
    'a second service joins the test script',
  );

  install(project);
  const tests = await run('npm', ['test'], project);
  assert.equal(tests.code, 0, tests.out);
  assert.match(tests.out, /^# pass 4$/m);
  const typecheck = await run(process.execPath, [join(project, 'node_modules/typescript/bin/tsc'), '-p', project], project);
  assert.equal(typecheck.code, 0, typecheck.out);

  const url = await serve(project);
  const client = createClient(`${url}/chat`, { connect, reconnect: false });
  try {
    assert.deepEqual(await client.call('echo', { text: 'hi' }), { text: 'hi' });
    await assert.rejects(client.call('echo', { text: 42 }), (e: unknown) => e instanceof ClientCommandError && e.code === 'invalid_input');
    await assert.rejects(
      client.call('say', { room: 'lobby', text: 'early' }),
      (e: unknown) => e instanceof ClientCommandError && e.code === 'not_in_room' && e.message === 'join "lobby" first (room.join)',
    );
    const got = new Promise((resolve) => void client.join('lobby', (data) => resolve(data)));
    const reply = (await client.call('say', { room: 'lobby', text: 'hello' })) as { pos: { o: number } };
    assert.equal(reply.pos.o, 1);
    assert.equal((await got as { text: string }).text, 'hello');
  } finally {
    client.close();
  }
});

test('new echo --js: a JavaScript service whose test runs with node --test', async () => {
  const project = tempProject();
  assert.equal((await switchboard(['new', 'echo', '--js'], project)).code, 0);
  assert.equal(existsSync(join(project, 'tsconfig.json')), false);
  assert.equal((JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.test, 'node --test test/');
  install(project);
  const tests = await run('npm', ['test'], project);
  assert.equal(tests.code, 0, tests.out);
  assert.match(tests.out, /^# pass 2$/m);
  const url = await serve(project);
  const client = createClient(`${url}/echo`, { connect, reconnect: false });
  assert.deepEqual(await client.call('echo', { text: 'js' }), { text: 'js' });
  client.close();
});

test('new in a project that has a package.json: left alone, with a note about missing dependencies', async () => {
  const project = tempProject();
  const own = JSON.stringify({ name: 'mine', scripts: { test: 'vitest' }, dependencies: { zod: '^4.0.0' } });
  writeFileSync(join(project, 'package.json'), own);
  const made = await switchboard(['new', 'chat'], project);
  assert.equal(made.code, 0);
  assert.match(made.out, /^note: the service imports switchboard: npm install switchboard$/m);
  assert.equal(readFileSync(join(project, 'package.json'), 'utf8'), own);
});
