// `switchboard serve <dir>`: serves every service file below <dir>, and the console at GET /.
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { AppServer } from '../app/app-server.js';
import type { CliCommand, CliIO } from './commands/command.js';

const usage = `Usage: switchboard serve <dir> [--host HOST] [--port PORT] [--watch] [--log-level LEVEL]

Serves every service file below <dir>: ws://HOST:PORT/chat -> <dir>/chat.ts (or .mts/.js/.mjs),
ws://HOST:PORT/foo/bar -> <dir>/foo/bar.ts or <dir>/foo/bar/index.ts. TypeScript loads without a
build step. The browser console is at http://HOST:PORT/.

  --host HOST        interface to listen on (default 127.0.0.1)
  --port PORT        port (default $PORT or 8080; 0 = any free port)
  --watch            reload a changed service file for new connections
  --log-level LEVEL  trace|debug|info|warn|error|silent (default info)
  --origin ORIGIN    accept browser handshakes only from this Origin (repeatable; default: any)
  --no-deflate       do not offer permessage-deflate
`;

export interface ServeHandle {
  server: AppServer;
  url: string;
}

/** Parses the arguments and starts the server; resolves once it listens. */
export async function startServe(argv: string[], io: CliIO): Promise<ServeHandle | number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        watch: { type: 'boolean' },
        'log-level': { type: 'string' },
        'no-deflate': { type: 'boolean' },
        origin: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    io.stderr(`switchboard serve: ${err instanceof Error ? err.message : String(err)}\n\n${usage}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) return io.stdout(usage), 0;
  if (positionals.length !== 1) {
    io.stderr(`switchboard serve: expected one directory\n\n${usage}`);
    return 2;
  }
  const portText = values.port ?? io.env['PORT'] ?? '8080';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) {
    io.stderr(`switchboard serve: --port must be a number from 0 to 65535, got "${portText}"\n`);
    return 2;
  }
  const level = values['log-level'] ?? 'info';
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(level)) {
    io.stderr(`switchboard serve: unknown --log-level "${level}"\n`);
    return 2;
  }
  const dir = resolve(io.cwd, positionals[0]!);
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
    io.stderr(`switchboard serve: ${dir} is not a directory\n`);
    return 2;
  }
  const host = values.host ?? '127.0.0.1';
  const log = pino({ level, base: null }, pino.destination({ fd: 2, sync: true }));
  const server = new AppServer({ dir, host, port, watch: values.watch === true, log, transport: { perMessageDeflate: values['no-deflate'] !== true, ...(values.origin ? { origins: values.origin } : {}) } });
  let address;
  try {
    address = await server.listen();
  } catch (err) {
    io.stderr(`switchboard serve: cannot listen on ${host}:${port}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${shown}:${address.port}/`;
  const routes = await server.core.resolver.listRoutes();
  io.stdout(`switchboard serving ${dir}${values.watch ? ' (watching)' : ''}\n`);
  for (const route of routes) io.stdout(`  service:  ws://${shown}:${address.port}${route}\n`);
  if (routes.length === 0) io.stdout(`  (no service files yet: add ${dir}/echo.ts)\n`);
  io.stdout(`  console:  ${url}\n`);
  return { server, url };
}

export const serveCommand: CliCommand = {
  name: 'serve',
  summary: 'serve a directory of services (and the console page)',
  usage,
  async run(argv, io) {
    const started = await startServe(argv, io);
    if (typeof started === 'number') return started;
    // serve until the server closes (the runtime adds graceful stop on signals)
    await new Promise<void>((resolveClosed) => started.server.http.once('close', () => resolveClosed()));
    return 0;
  },
};
