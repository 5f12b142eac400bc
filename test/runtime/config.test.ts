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

test('errors name the bad key and where it came from', () =>
  withDir(async (dir) => {
    writeFileSync(join(dir, 'switchboard.config.json'), JSON.stringify({ log: { levle: 'x' }, supervisor: { maxRestarts: -1 } }));
    await assert.rejects(loadConfig({ cwd: dir, env: { SWITCHBOARD_PORT: 'eighty' } }), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      const text = e.message;
      assert.match(text, /port \(from environment variable SWITCHBOARD_PORT\): /);
      assert.match(text, /log\.levle \(from config file .*switchboard\.config\.json\): unknown key/);
      assert.match(text, /supervisor\.maxRestarts \(from config file .*\): .*>=0/);
      return true;
    });
    await assert.rejects(loadConfig({ cwd: dir, env: {}, flags: { isolation: 'thread' } }), /isolation \(from flag --isolation\)/);
    assert.throws(() => parseConfigFlags(['--nope']), /Unknown option '--nope'/);
    await assert.rejects(loadConfig({ cwd: dir, env: {}, configFile: 'missing.json' }), /missing\.json does not exist/);
  }));
