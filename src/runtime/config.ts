// Loads the configuration: defaults < config file < SWITCHBOARD_* environment < flags,
// validated at start with messages that name the bad key and where it came from.
import { existsSync, readFileSync } from 'node:fs';
import { extname, isAbsolute, resolve } from 'node:path';
import { importModule } from '../app/module-import.js';
import { CommandLineError, parseCommandLine, type ArgSpecs } from './command-line.js';
import { ACROSS_KEYS, CONFIG_FILE_NAMES, CONFIG_KEYS, configSchema, type ConfigKey, type ConfigValueType, type SwitchboardConfig } from './config-schema.js';

export type { SwitchboardConfig, ConfigInput } from './config-schema.js';
export { CONFIG_KEYS, configSchema } from './config-schema.js';

/** Invalid configuration: `problems` has one line per mistake (where it is, what is allowed). */
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

/** Command-line options of every config flag (plus --config), for the CLI. */
export function configFlagOptions(): ArgSpecs {
  const options: ArgSpecs = { config: { type: 'string', takes: 'a config file' } };
  for (const k of CONFIG_KEYS) {
    options[k.flag] = { type: k.type === 'boolean' ? 'boolean' : 'string', takes: k.takes };
    if (k.type === 'boolean') options[`no-${k.flag}`] = { type: 'boolean' };
  }
  return options;
}

/**
 * Parse argv for config flags, plus `extra` options of the command. Positional arguments are
 * returned. A mistake (unknown flag, missing value) throws a ConfigError with one line.
 */
export function parseConfigFlags(
  argv: string[],
  extra: ArgSpecs = {},
  command = 'switchboard serve',
): { flags: Record<string, string | boolean | undefined>; extra: Record<string, string | boolean | string[] | undefined>; positionals: string[] } {
  let parsed;
  try {
    parsed = parseCommandLine(argv, { ...configFlagOptions(), ...extra }, command);
  } catch (err) {
    if (err instanceof CommandLineError) throw new ConfigError([err.message]);
    throw err;
  }
  const flags: Record<string, string | boolean | undefined> = {};
  const extraValues: Record<string, string | boolean | string[] | undefined> = {};
  for (const [name, value] of Object.entries(parsed.values)) {
    if (Object.hasOwn(extra, name)) extraValues[name] = value;
    else flags[name] = value as string | boolean;
  }
  // --no-<flag> turns a boolean off
  for (const k of CONFIG_KEYS) {
    if (k.type === 'boolean' && flags[`no-${k.flag}`] === true) flags[k.flag] = false;
    delete flags[`no-${k.flag}`];
  }
  return { flags, extra: extraValues, positionals: parsed.positionals };
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

/** A key path as the user can find it in the file: odd or empty names quoted. */
function keyPath(segments: ReadonlyArray<PropertyKey>): string {
  return segments.map((k) => (typeof k === 'string' && /^[A-Za-z_$][\w$-]*$/.test(k) ? k : JSON.stringify(String(k)))).join('.');
}

function valueAt(obj: Record<string, unknown>, path: string): unknown {
  let v: unknown = obj;
  for (const p of path.split('.')) {
    if (typeof v !== 'object' || v === null || !Object.hasOwn(v, p)) return undefined;
    v = (v as Record<string, unknown>)[p];
  }
  return v;
}

/** A typed value as it can be pasted back into a shell. */
function quoteIfNeeded(raw: string): string {
  return raw === '' || /[\s"'\\$`]/.test(raw) ? JSON.stringify(raw) : raw;
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
  // what the user typed, by key path, to quote it back in an error
  const typed: Record<string, { where: string; raw: string }> = {};

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
    typed['port'] = { where: 'PORT=', raw: env.PORT };
  }
  for (const key of CONFIG_KEYS) {
    const raw = env[key.env];
    if (raw === undefined) continue;
    setPath(merged, key.path, coerce(raw, key.type));
    sources[key.path] = `environment variable ${key.env}`;
    typed[key.path] = { where: `${key.env}=`, raw };
  }
  for (const key of CONFIG_KEYS) {
    const raw = flags[key.flag];
    if (raw === undefined) continue;
    setPath(merged, key.path, coerce(raw, key.type));
    sources[key.path] = `flag --${key.flag}`;
    if (typeof raw === 'string') typed[key.path] = { where: `--${key.flag} `, raw };
  }

  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const problems = parsed.error.issues.flatMap((issue) => {
      if (issue.code === 'unrecognized_keys') {
        return issue.keys.map((k) => `${keyPath([...issue.path, k])}${file ? ` in config file ${file}` : ''}: unknown key`);
      }
      return [issue.path.join('.')].map((key) => {
        const known: ConfigKey | undefined = CONFIG_KEYS.find((k) => k.path === key);
        // a rule across keys says itself what is wrong; a bad value is told what it may be
        if (issue.code === 'custom' && issue.params?.acrossKeys === ACROSS_KEYS.acrossKeys) return issue.message;
        const expected = known ? `expected ${known.takes}` : issue.message;
        const t = typed[key];
        if (t) return `${t.where}${quoteIfNeeded(t.raw)}: ${expected}`;
        const from = Object.entries(sources).find(([p]) => p === key || p.startsWith(`${key}.`) || key.startsWith(`${p}.`))?.[1];
        const value = valueAt(merged, key);
        return `${key || '(root)'}${value !== undefined ? ` = ${JSON.stringify(value)}` : ''}${from ? ` in ${from}` : ''}: ${expected}`;
      });
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
  for (const k of ['cert', 'key', 'ca'] as const) {
    const file = config.tls[k];
    if (file !== undefined) config.tls[k] = resolve(cwd, file);
  }
  return { config, file, sources };
}
