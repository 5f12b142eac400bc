// Loads the configuration: defaults < config file < SWITCHBOARD_* environment < flags,
// validated at start with messages that name the bad key and where it came from.
import { existsSync, readFileSync } from 'node:fs';
import { extname, isAbsolute, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { importModule } from '../app/module-import.js';
import { CONFIG_FILE_NAMES, CONFIG_KEYS, configSchema, type ConfigValueType, type SwitchboardConfig } from './config-schema.js';

export type { SwitchboardConfig, ConfigInput } from './config-schema.js';
export { CONFIG_KEYS, configSchema } from './config-schema.js';

export class ConfigError extends Error {
  readonly code = 'ERR_SWITCHBOARD_CONFIG';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadConfigOptions {
  /** Parsed flag values keyed by flag name (e.g. { port: '8080', 'log-level': 'debug' }). */
  flags?: Record<string, string | boolean | undefined>;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Explicit config file (also --config / SWITCHBOARD_CONFIG); otherwise the first of CONFIG_FILE_NAMES in cwd. */
  configFile?: string;
}

export interface LoadedConfig {
  config: SwitchboardConfig;
  /** The config file read, if any. */
  file: string | undefined;
  /** Where each explicitly set key came from, e.g. { 'log.level': 'environment variable SWITCHBOARD_LOG_LEVEL' }. */
  sources: Record<string, string>;
}

/** util.parseArgs options for every config flag (plus --config), for the CLI. */
export function configFlagOptions(): NonNullable<ParseArgsConfig['options']> {
  const options: NonNullable<ParseArgsConfig['options']> = { config: { type: 'string' } };
  for (const k of CONFIG_KEYS) {
    options[k.flag] = { type: k.type === 'boolean' ? 'boolean' : 'string' };
    if (k.type === 'boolean') options[`no-${k.flag}`] = { type: 'boolean' };
  }
  return options;
}

/** Parse argv for config flags (unknown flags are errors). Positional arguments are returned. */
export function parseConfigFlags(argv: string[]): { flags: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: configFlagOptions(), allowPositionals: true, strict: true });
    const flags = values as Record<string, string | boolean | undefined>;
    // --no-<flag> turns a boolean off
    for (const k of CONFIG_KEYS) {
      if (k.type === 'boolean' && flags[`no-${k.flag}`] === true) flags[k.flag] = false;
      delete flags[`no-${k.flag}`];
    }
    return { flags, positionals };
  } catch (err) {
    throw new ConfigError([(err as Error).message]);
  }
}

function coerce(raw: string | boolean, type: ConfigValueType): unknown {
  if (type === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    const v = raw.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(v)) return true;
    if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
    return raw;
  }
  if (type === 'number') {
    if (typeof raw === 'boolean') return raw;
    const v = raw.trim();
    return v !== '' && Number.isFinite(Number(v)) ? Number(v) : raw;
  }
  return raw;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let obj = target;
  for (const p of parts.slice(0, -1)) {
    if (typeof obj[p] !== 'object' || obj[p] === null || Array.isArray(obj[p])) obj[p] = {};
    obj = obj[p] as Record<string, unknown>;
  }
  obj[parts[parts.length - 1]!] = value;
}

// Deeper than any key of the schema: below it is one opaque value (background options), and
// following a file's nesting all the way down overflowed the call stack.
const MAX_SOURCE_DEPTH = 8;

function leafPaths(value: unknown, prefix = '', depth = 0): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || depth >= MAX_SOURCE_DEPTH) return prefix ? [prefix] : [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(value)) out.push(...leafPaths(v, prefix ? `${prefix}.${k}` : k, depth + 1));
  if (out.length === 0 && prefix) out.push(prefix);
  return out;
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = Object.hasOwn(out, k) ? out[k] : undefined;
    const value =
      typeof v === 'object' && v !== null && !Array.isArray(v) && typeof b === 'object' && b !== null && !Array.isArray(b)
        ? deepMerge(b as Record<string, unknown>, v as Record<string, unknown>)
        : v;
    // Defined, not assigned: assigning a "__proto__" key from a file set the prototype, and
    // its values were then read as settings instead of being reported as an unknown key.
    Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

async function readConfigFile(path: string): Promise<Record<string, unknown>> {
  const ext = extname(path);
  let value: unknown;
  try {
    if (ext === '.json') {
      value = JSON.parse(readFileSync(path, 'utf8'));
    } else {
      const mod = await importModule(path);
      value = mod.default ?? mod;
      // a CommonJS-compiled .ts file (no "type": "module" nearby) nests the default export
      const nested = value as { default?: unknown; __esModule?: unknown } | null;
      if (typeof nested === 'object' && nested !== null && 'default' in nested && (nested.__esModule || Object.keys(nested).length === 1)) {
        value = nested.default;
      }
      if (typeof value === 'function') value = await (value as () => unknown)();
    }
  } catch (err) {
    throw new ConfigError([`${path}: cannot be read: ${(err as Error).message}`]);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError([`${path}: must contain (or export default) an object`]);
  }
  return value as Record<string, unknown>;
}

export async function loadConfig(options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const flags = options.flags ?? {};
  const sources: Record<string, string> = {};

  const explicit = (flags.config as string | undefined) ?? options.configFile ?? env.SWITCHBOARD_CONFIG;
  let file: string | undefined;
  if (explicit) {
    file = isAbsolute(explicit) ? explicit : resolve(cwd, explicit);
    if (!existsSync(file)) throw new ConfigError([`config file ${file} does not exist`]);
  } else {
    file = CONFIG_FILE_NAMES.map((n) => resolve(cwd, n)).find((p) => existsSync(p));
  }

  let merged: Record<string, unknown> = {};
  if (file) {
    const fromFile = await readConfigFile(file);
    for (const p of leafPaths(fromFile)) sources[p] = `config file ${file}`;
    merged = deepMerge(merged, fromFile);
  }
  if (env.PORT !== undefined && env.SWITCHBOARD_PORT === undefined) {
    setPath(merged, 'port', coerce(env.PORT, 'number'));
    sources['port'] = 'environment variable PORT';
  }
  for (const key of CONFIG_KEYS) {
    const raw = env[key.env];
    if (raw === undefined) continue;
    setPath(merged, key.path, coerce(raw, key.type));
    sources[key.path] = `environment variable ${key.env}`;
  }
  for (const key of CONFIG_KEYS) {
    const raw = flags[key.flag];
    if (raw === undefined) continue;
    setPath(merged, key.path, coerce(raw, key.type));
    sources[key.path] = `flag --${key.flag}`;
  }

  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const keys = issue.code === 'unrecognized_keys' ? issue.keys.map((k) => [...issue.path, k].join('.')) : [issue.path.join('.')];
      return keys
        .map((key) => {
          const from = Object.entries(sources).find(([p]) => p === key || p.startsWith(`${key}.`) || key.startsWith(`${p}.`))?.[1];
          const what = issue.code === 'unrecognized_keys' ? 'unknown key' : issue.message;
          return `${key || '(root)'}${from ? ` (from ${from})` : ''}: ${what}`;
        })
        .join('\n  ');
    });
    throw new ConfigError(problems);
  }
  const config = parsed.data;
  config.runDir = resolve(cwd, config.runDir);
  config.servicesDir = resolve(cwd, config.servicesDir);
  if (config.log.destination !== 'stdout' && config.log.destination !== 'stderr') {
    config.log.destination = resolve(cwd, config.log.destination);
  }
  for (const b of Object.values(config.background)) b.module = resolve(cwd, b.module);
  return { config, file, sources };
}
