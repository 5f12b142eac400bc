// `switchboard serve [<dir>]`: serves every service file below <dir>, and the console at GET /,
// inside the runtime (lock, logs, supervisor, control socket for status/stop/reload/restart,
// metrics, graceful shutdown on signals). Adds the app server's own flags to the runtime's.
import type { CliCommand, CliIO } from './commands/command.js';
import { runtimeServe, serveUsage } from './commands/serve-runtime.js';

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
