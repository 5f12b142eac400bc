import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, parseConfigFlags } from '../../src/runtime/config.js';

const withDir = async (fn: (dir: string) => Promise<void>) => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-cfg-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

test('defaults, then file < env < flags', () =>
  withDir(async (dir) => {
    const d = await loadConfig({ cwd: dir, env: {} });
    assert.equal(d.config.port, 8080);
    assert.equal(d.config.log.level, 'info');
    assert.equal(d.config.runDir, join(dir, '.switchboard'));
    assert.equal(d.config.supervisor.maxRestarts, 5);
    assert.equal(d.file, undefined);

    writeFileSync(join(dir, 'switchboard.config.json'), JSON.stringify({ port: 9000, log: { level: 'warn' }, metrics: { enabled: true } }));
    const { flags } = parseConfigFlags(['--log-level', 'debug', '--max-restarts', '2']);
    const c = await loadConfig({ cwd: dir, env: { SWITCHBOARD_PORT: '9100', SWITCHBOARD_LOG_LEVEL: 'error', SWITCHBOARD_METRICS: 'false' }, flags });
    assert.equal(c.config.port, 9100);
    assert.equal(c.config.log.level, 'debug');
    assert.equal(c.config.metrics.enabled, false);
    assert.equal(c.config.supervisor.maxRestarts, 2);
    assert.equal(c.sources['port'], 'environment variable SWITCHBOARD_PORT');
    assert.equal(c.sources['log.level'], 'flag --log-level');
  }));

test('a .ts config file is loaded with tsx; a .js one as a module', () =>
  withDir(async (dir) => {
    writeFileSync(join(dir, 'switchboard.config.ts'), `const port: number = 7001;\nexport default { port, isolation: 'worker' as const };\n`);
    const c = await loadConfig({ cwd: dir, env: {} });
    assert.equal(c.config.port, 7001);
    assert.equal(c.config.isolation, 'worker');
    writeFileSync(join(dir, 'other.config.js'), `export default () => ({ port: 7002 });\n`);
    const js = await loadConfig({ cwd: dir, env: { SWITCHBOARD_CONFIG: 'other.config.js' } });
    assert.equal(js.config.port, 7002);
  }));

test('errors: one line each, naming where the value came from (as typed) and what is allowed', () =>
  withDir(async (dir) => {
    const file = join(dir, 'switchboard.config.json');
    writeFileSync(file, JSON.stringify({ log: { levle: 'x' }, supervisor: { maxRestarts: -1 } }));
    await assert.rejects(loadConfig({ cwd: dir, env: { SWITCHBOARD_PORT: 'eighty' } }), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.deepEqual(e.problems.sort(), [
        `SWITCHBOARD_PORT=eighty: expected a port number from 0 to 65535`,
        `log.levle in config file ${file}: unknown key`,
        `supervisor.maxRestarts = -1 in config file ${file}: expected a whole number, 0 or more`,
      ]);
      return true;
    });
    rmSync(file);
    const problems = async (argv: string[]): Promise<string[]> => {
      try {
        await loadConfig({ cwd: dir, env: {}, flags: parseConfigFlags(argv).flags });
      } catch (e) {
        if (e instanceof ConfigError) return e.problems;
        throw e;
      }
      return [];
    };
    assert.deepEqual(await problems(['--isolation', 'thread']), ['--isolation thread: expected inline, worker or process']);
    assert.deepEqual(await problems(['--max-restarts', '-1']), ['--max-restarts -1: expected a whole number, 0 or more']);
    assert.deepEqual(await problems(['--max-restarts=-1', '--log-level', 'loud']), [
      '--log-level loud: expected fatal, error, warn, info, debug, trace or silent',
      '--max-restarts -1: expected a whole number, 0 or more',
    ]);
    assert.deepEqual(await problems(['--host', '']), ['--host "": expected a host name or IP address']);
    assert.deepEqual(await problems(['--nope']), ['unknown option --nope (switchboard serve --help lists the options)']);
    assert.deepEqual(await problems(['--prot', '80']), ['unknown option --prot (did you mean --port?)']);
    assert.deepEqual(await problems(['--port']), ['--port needs a value: a port number from 0 to 65535']);
    assert.deepEqual(await problems(['--port', '--watch']), ['--port needs a value: a port number from 0 to 65535']);
    assert.deepEqual(await problems(['--watch=yes']), ['--watch is a switch and takes no value (--watch or --no-watch)']);
    await assert.rejects(loadConfig({ cwd: dir, env: {}, configFile: 'missing.json' }), /missing\.json does not exist/);
  }));
