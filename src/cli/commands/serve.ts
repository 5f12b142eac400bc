// `switchboard serve [<dir>]`: serves every service file below <dir>, and the console at GET /,
// inside the runtime (lock, logs, supervisor, control socket for status/stop/reload/restart,
// metrics, graceful shutdown on signals).
import cluster from 'node:cluster';
import { statSync } from 'node:fs';
import { CONFIG_KEYS, ConfigError, loadConfig, parseConfigFlags } from '../../runtime/config.js';
import { LockHeldError } from '../../runtime/lock-file.js';
import { startServer, type StartServerOptions } from '../../server/start-server.js';
import { switchboardVersion } from '../own-package.js';
import type { CliCommand, CliIO } from './command.js';

const flagLines = CONFIG_KEYS.map((k) => {
  const flag = k.type === 'boolean' ? `--${k.flag}` : `--${k.flag} ${k.type === 'number' ? 'N' : 'VALUE'}`;
  return `  ${flag.padEnd(32)} ${k.description} [${k.env}]`;
}).join('\n');

export const serveUsage = `Usage: switchboard serve [<dir>] [options]

Serves every service file below <dir> (default ./services, or --services):
ws://HOST:PORT/chat -> <dir>/chat.ts (or .mts/.js/.mjs), ws://HOST:PORT/foo/bar ->
<dir>/foo/bar.ts or <dir>/foo/bar/index.ts. The browser console is at http://HOST:PORT/.
With --tls-cert and --tls-key: https:// and wss:// on the one port, HTTP/2 beside HTTP/1.1
(WebSockets over both); SIGHUP or \`switchboard reload\` reads the files again.
Stop with SIGTERM/SIGINT or \`switchboard stop\`: in-flight commands get --shutdown-grace-ms to finish,
then are cancelled; connections close with 1001; a second signal exits at once.

Options (each also an environment variable; a switchboard.config.{ts,js,json} in the
working directory, or --config FILE, can set them all; flags win over env over file):
  --config FILE                    config file
${flagLines}
  --no-<flag>                      turns a boolean option off (e.g. --no-deflate)
`;

/** Why `dir` cannot be served, or undefined when it is a directory. */
function servicesDirProblem(dir: string): string | undefined {
  let stats;
  try {
    stats = statSync(dir);
  } catch {
    return `the services directory ${dir} does not exist (give the directory of your service files: switchboard serve <dir>)`;
  }
  if (!stats.isDirectory()) return `${dir} is not a directory: serve the directory that holds the service files (switchboard serve <dir>)`;
  return undefined;
}

/** Parse, load config, start; resolves with an exit code only if starting fails or after the server stopped. */
export async function runtimeServe(argv: string[], io: CliIO, transport?: StartServerOptions['transport']): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) return io.stdout(serveUsage), 0;
  let config;
  try {
    const { flags, positionals } = parseConfigFlags(argv);
    if (positionals.length > 1) throw new ConfigError([`one services directory at most, got ${positionals.length}: ${positionals.join(' ')}`]);
    if (positionals[0] !== undefined) flags.services = positionals[0];
    ({ config } = await loadConfig({ flags, env: io.env, cwd: io.cwd }));
  } catch (err) {
    if (err instanceof ConfigError) {
      // one line per mistake; the options are for --help
      for (const problem of err.problems) io.stderr(`switchboard serve: ${problem}\n`);
      return 2;
    }
    throw err;
  }
  const problem = servicesDirProblem(config.servicesDir);
  if (problem) {
    io.stderr(`switchboard serve: ${problem}\n`);
    return 2;
  }
  let running;
  try {
    running = await startServer({ config, version: switchboardVersion(), ...(transport ? { transport } : {}) });
  } catch (err) {
    if (err instanceof LockHeldError) {
      io.stderr(`switchboard serve: ${err.message}\n`);
      return 1;
    }
    io.stderr(`switchboard serve: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  const { address, runtime } = running;
  // the primary of `--workers N` prints the banner; its workers do not
  if (cluster.isWorker) return new Promise<number>((resolve) => runtime.shutdown.once('done', resolve));
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const routes = running.routes;
  const secure = running.server?.secure ?? config.tls.cert !== undefined;
  const [http, ws] = secure ? ['https', 'wss'] : ['http', 'ws'];
  io.stderr(`switchboard serving ${config.servicesDir} (run dir ${config.runDir})\n  console:  ${http}://${shown}:${address.port}/\n`);
  for (const route of routes) io.stderr(`  service:  ${ws}://${shown}:${address.port}${route}\n`);
  if (secure) io.stderr(`  tls:      ${running.server?.certificate ?? config.tls.cert}${running.server?.http2 ?? config.http2.enabled ? '; HTTP/2 and HTTP/1.1' : '; HTTP/1.1'}${config.tls.ca ? '; client certificates required' : ''}\n`);
  if (running.workers) io.stderr(`  workers:  ${config.workers} processes (pids ${running.workers.pids().join(', ')}), broker ${config.broker === 'memory' ? 'in the primary' : config.broker}\n`);
  if (routes.length === 0) {
    const hint = `no service files in ${config.servicesDir}: add one (e.g. echo.ts), or scaffold one with \`switchboard new echo --services ${config.servicesDir}\``;
    io.stderr(`  warning:  ${hint}\n`);
    runtime.log.warn({ servicesDir: config.servicesDir }, hint);
  }
  const metrics = runtime.metricsAddress() ?? (config.metrics.enabled ? `${http}://${shown}:${address.port}${config.metrics.path}` : undefined);
  if (metrics) io.stderr(`  metrics:  ${metrics}\n`);
  if (running.adminUrl) io.stderr(`  admin:    ${running.adminUrl}\n`);
  // the runtime exits the process when the graceful shutdown is done
  return new Promise<number>((resolve) => runtime.shutdown.once('done', resolve));
}

const appFlags = `
App server options:
  --origin ORIGIN                  accept browser handshakes only from this Origin (repeatable; default: any)
`;

/** Takes `--origin X` / `--origin=X` (repeatable) out of argv. */
export function takeOrigins(argv: string[]): { rest: string[]; origins: string[] } | string {
  const rest: string[] = [];
  const origins: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--origin') {
      const value = argv[++i];
      if (value === undefined || value.startsWith('--')) return '--origin needs a value, e.g. --origin https://app.example';
      origins.push(value);
    } else if (arg.startsWith('--origin=')) origins.push(arg.slice('--origin='.length));
    else rest.push(arg);
  }
  return { rest, origins };
}

export const serveCommand: CliCommand = {
  name: 'serve',
  summary: 'serve a directory of services (and the console page)',
  usage: serveUsage + appFlags,
  async run(argv: string[], io: CliIO) {
    if (argv.includes('--help') || argv.includes('-h')) return io.stdout(serveUsage + appFlags), 0;
    const taken = takeOrigins(argv);
    if (typeof taken === 'string') {
      io.stderr(`switchboard serve: ${taken}\n`);
      return 2;
    }
    return runtimeServe(taken.rest, io, taken.origins.length > 0 ? { origins: taken.origins } : undefined);
  },
};
