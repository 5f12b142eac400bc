// `switchboard restart <service>`: restart one service (an endpoint path or a background service name).
import { controlRequest } from '../../runtime/control-client.js';
import type { CliCommand } from './command.js';
import { parseControlArgs, withControlErrors } from './control-command.js';

const usage = `Usage: switchboard restart <service> [--run-dir DIR]

Restarts one service: an endpoint service by its path (e.g. /chat) or a
background service by its name. A failed service gets a fresh restart budget.
`;

export const restartCommand: CliCommand = {
  name: 'restart',
  summary: 'restart one service (by path, e.g. /chat, or background service name)',
  usage,
  run: (argv, io) =>
    withControlErrors(io, 'restart', async () => {
      const { runDir, values, positionals } = parseControlArgs('restart', argv, io, {}, 1);
      if (values.help) return io.stdout(usage), 0;
      if (positionals.length !== 1) {
        io.stderr(`switchboard restart: name the service to restart: its path (e.g. /chat) or a background service's name\n`);
        return 2;
      }
      await controlRequest(runDir, { type: 'restart', service: positionals[0]! });
      io.stdout(`restarted ${positionals[0]}\n`);
      return 0;
    }),
};
