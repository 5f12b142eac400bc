import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { ConfigError, configSchema, loadConfig, parseConfigFlags } from '../subjects.js';
import type { FuzzTarget } from '../target.js';

/**
 * The config loader: a JSON config file, SWITCHBOARD_* environment variables and CLI flags
 * with any content must give a valid config or a ConfigError with a clear message, never
 * another exception. Input: file content, 0x00, environment lines (NAME=value), 0x00, argv
 * (one argument a line).
 */

const ENV_NAMES = [
  'PORT', 'SWITCHBOARD_PORT', 'SWITCHBOARD_HOST', 'SWITCHBOARD_SERVICES_DIR', 'SWITCHBOARD_RUN_DIR', 'SWITCHBOARD_WATCH', 'SWITCHBOARD_DEFLATE',
  'SWITCHBOARD_ISOLATION', 'SWITCHBOARD_LOG_LEVEL', 'SWITCHBOARD_LOG_DESTINATION', 'SWITCHBOARD_METRICS', 'SWITCHBOARD_METRICS_PORT',
  'SWITCHBOARD_METRICS_PATH', 'SWITCHBOARD_METRICS_TOKEN', 'SWITCHBOARD_SHUTDOWN_GRACE_MS', 'SWITCHBOARD_MAX_RESTARTS', 'SWITCHBOARD_MAX_HEAP_MB', 'SWITCHBOARD_CONFIG',
];
const SCHEMA_KEYS = Object.keys(configSchema.shape);
const PROTOTYPE_KEYS = Object.getOwnPropertyNames(Object.prototype).sort().join();
// Only a JSON file in the fuzz directory may be named as the config: any other would be
// imported, that is, run.
const SAFE_CONFIG_NAME = /^[A-Za-z0-9_-]+\.json$/;

let dir: string | null = null;

function sections(input: Buffer): { file: Buffer | null; env: Record<string, string>; argv: string[] } {
  const a = input.indexOf(0);
  const b = a === -1 ? -1 : input.indexOf(0, a + 1);
  const file = a === -1 ? input : input.subarray(0, a);
  const envText = a === -1 ? '' : input.toString('utf8', a + 1, b === -1 ? input.length : b);
  const argvText = b === -1 ? '' : input.toString('utf8', b + 1);
  const env: Record<string, string> = {};
  for (const line of envText.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  if (env['SWITCHBOARD_CONFIG'] !== undefined && !SAFE_CONFIG_NAME.test(env['SWITCHBOARD_CONFIG'])) env['SWITCHBOARD_CONFIG'] = 'missing.json';
  const argv = argvText === '' ? [] : argvText.split('\n');
  return { file: file.length ? file : null, env, argv };
}

function checkConfigError(err: unknown, what: string): void {
  assert.ok(err instanceof ConfigError, `${what} threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
  assert.ok(err.message.startsWith('invalid configuration:\n  '), err.message);
  assert.ok(err.problems.length > 0, 'a ConfigError without problems');
  for (const p of err.problems) {
    assert.ok(typeof p === 'string' && p.trim().length > 0 && !/^\s/.test(p), `problem ${JSON.stringify(p)}`);
    assert.ok(!p.includes('[object Object]'), `problem ${JSON.stringify(p)}`);
  }
}

async function run(input: Buffer): Promise<void> {
  const cwd = (dir ??= mkdtempSync(join(tmpdir(), 'switchboard-fuzz-config-')));
  const { file, env, argv } = sections(input);
  const path = join(cwd, 'switchboard.config.json');
  if (file) writeFileSync(path, file);
  else rmSync(path, { force: true });

  let flags: Record<string, string | boolean | undefined> = {};
  try {
    flags = parseConfigFlags(argv).flags;
  } catch (err) {
    checkConfigError(err, 'parseConfigFlags');
  }
  if (flags['config'] !== undefined && !(typeof flags['config'] === 'string' && SAFE_CONFIG_NAME.test(flags['config']))) flags['config'] = 'missing.json';

  let loaded;
  try {
    loaded = await loadConfig({ cwd, env, flags });
  } catch (err) {
    checkConfigError(err, 'loadConfig');
    return;
  } finally {
    assert.equal(Object.getOwnPropertyNames(Object.prototype).sort().join(), PROTOTYPE_KEYS, 'Object.prototype changed');
  }
  const { config, sources } = loaded;
  const reparsed = configSchema.safeParse(config);
  assert.ok(reparsed.success, `the loaded config does not pass its own schema: ${reparsed.success ? '' : reparsed.error.message}`);
  assert.equal(Object.getPrototypeOf(config), Object.prototype, 'the config object has a foreign prototype');
  if (!file || loaded.file !== path) return;
  let fromFile: unknown;
  try {
    fromFile = JSON.parse(file.toString('utf8'));
  } catch {
    assert.fail('a config file that is not JSON was accepted');
  }
  assert.ok(typeof fromFile === 'object' && fromFile !== null && !Array.isArray(fromFile));
  for (const k of Object.keys(fromFile)) assert.ok(SCHEMA_KEYS.includes(k), `the unknown top-level key ${JSON.stringify(k)} was accepted`);
  // A plain value the file sets, and nothing overrides, is the value loaded.
  for (const k of ['port', 'host', 'watch', 'deflate', 'isolation'] as const) {
    const v: unknown = (fromFile as Record<string, unknown>)[k];
    if (v !== undefined && sources[k]?.startsWith('config file')) assert.equal(config[k], v, `${k} from the file`);
  }
}

// ---------------------------------------------------------------- generation

const key = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...SCHEMA_KEYS) },
  { weight: 2, arbitrary: fc.constantFrom('level', 'destination', 'enabled', 'graceMs', 'maxRestarts', 'module', 'options', 'path', 'token', 'windowMs') },
  { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', '', 'a.b') },
);
const leaf = fc.oneof(
  fc.constantFrom('0', '8080', '65535', '65536', '-1', '1.5', '1e400', 'true', 'false', 'null', '""', '"x"', '"/metrics"', '"info"', '"worker"', '"inline"', '"thread"', '[]', '{}', '"stdout"'),
  fc.jsonValue({ maxDepth: 1 }).map((v) => JSON.stringify(v)),
);
const jsonObject: fc.Arbitrary<string> = fc.letrec<{ obj: string }>((tie) => ({
  obj: fc
    .array(fc.tuple(key, fc.oneof({ depthSize: 'small' }, leaf, tie('obj'))), { maxLength: 5 })
    .map((es) => `{${es.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
})).obj;
const deep = fc.tuple(fc.integer({ min: 1, max: 20_000 }), fc.constantFrom('{"log":', '{"background":', '{"a":')).map(([n, open]) => `${open.repeat(n)}1${'}'.repeat(n)}`);
const fileContent = fc.oneof(
  { weight: 6, arbitrary: jsonObject },
  { weight: 1, arbitrary: deep },
  { weight: 1, arbitrary: fc.constantFrom('', '[]', 'null', '1', '"x"', '\ufeff{}', '{', '{"port": 1,}', '// comment\n{}') },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
);
const envValue = fc.oneof(fc.constantFrom('', ' ', '8080', ' 8080 ', '0x1F', '1e3', '-1', '65536', '1.5', 'true', 'yes', 'off', 'NaN', 'Infinity', 'worker', 'thread', 'debug', '/metrics', 'x.json', 'missing.json', 'switchboard.config.json'), fc.string({ maxLength: 8 }));
const argvToken = fc.oneof(
  fc.constantFrom('--port', '--port=8080', '--port=', '8080', '--no-deflate', '--deflate', '--deflate=false', '--watch', '--no-watch', '--log-level', 'debug', '--isolation', 'thread', 'worker', '--config', '--config=x.json', '--nope', '-p', '--', 'serve', '--metrics-port', '--max-restarts', '-1', '--no-port', '--services', '--run-dir='),
  fc.string({ maxLength: 8 }),
);
const configInput = fc
  .record({ file: fileContent, env: fc.array(fc.tuple(fc.constantFrom(...ENV_NAMES), envValue), { maxLength: 4 }), argv: fc.array(argvToken, { maxLength: 6 }) })
  .map(({ file, env, argv }) => Buffer.concat([Buffer.from(file), Buffer.of(0), Buffer.from(env.map(([k, v]) => `${k}=${v}`).join('\n')), Buffer.of(0), Buffer.from(argv.join('\n'))]));

export const configTarget: FuzzTarget = {
  name: 'config',
  maxLength: 1 << 16,
  dictionary: ['{', '}', '"', ':', ',', '\0', '\n', '=', '--', '--port', '"port"', '"log"', '"level"', '"background"', '"module"', '"metrics"', '"__proto__"', 'SWITCHBOARD_PORT=', 'PORT=', 'true', 'null'].map((s) => Buffer.from(s)),
  seeds() {
    return [
      '{"port":9000,"log":{"level":"warn"},"metrics":{"enabled":true}}\0SWITCHBOARD_PORT=9100\nSWITCHBOARD_LOG_LEVEL=error\0--log-level\ndebug',
      '{"background":{"ticker":{"module":"./ticker.js","isolation":"process","options":{"every":5}}}}\0\0',
      '{"log":{"levle":"x"},"supervisor":{"maxRestarts":-1}}\0SWITCHBOARD_PORT=eighty\0',
      '{"__proto__":{"port":1234}}\0\0',
      '{"background":{"__proto__":{"module":"x"}}}\0\0',
      '\0PORT=3000\0--no-deflate\n--isolation=worker',
      '{}\0SWITCHBOARD_CONFIG=missing.json\0',
      '[1]\0\0--nope',
    ].map((s) => Buffer.from(s));
  },
  generate: configInput,
  run,
  close() {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = null;
  },
};
