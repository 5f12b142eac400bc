// The CLI's subcommands, for src/cli/main.ts to register by name.
import type { CliCommand } from './command.js';
import { drainCommand } from './drain.js';
import { newCommand } from './new.js';
import { reloadCommand } from './reload.js';
import { restartCommand } from './restart.js';
import { serveCommand } from './serve.js';
import { statusCommand } from './status.js';
import { stopCommand } from './stop.js';
import { topCommand } from './top.js';

export type { CliCommand, CliIO } from './command.js';
export { processIO } from './command.js';

export const commands: readonly CliCommand[] = [serveCommand, statusCommand, topCommand, stopCommand, drainCommand, reloadCommand, restartCommand, newCommand];
