// The runtime's CLI subcommands, for src/cli/main.ts to register by name.
import type { CliCommand } from './command.js';
import { newCommand } from './new.js';
import { reloadCommand } from './reload.js';
import { restartCommand } from './restart.js';
import { statusCommand } from './status.js';
import { stopCommand } from './stop.js';

export type { CliCommand, CliIO } from './command.js';
export { processIO } from './command.js';

export const runtimeCommands: readonly CliCommand[] = [statusCommand, stopCommand, reloadCommand, restartCommand, newCommand];
