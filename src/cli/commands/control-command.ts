// Shared plumbing of the commands that talk to a running server over its control socket.
import { resolve } from 'node:path';
import { CommandLineError, parseCommandLine, type ArgSpecs } from '../../runtime/command-line.js';
import { ControlClientError } from '../../runtime/control-client.js';
import type { CliIO } from './command.js';

export const DEFAULT_RUN_DIR = '.switchboard';

export interface ParsedControlArgs {
  runDir: string;
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/**
 * Parse `--run-dir` (default ./.switchboard, or SWITCHBOARD_RUN_DIR) plus the command's own
 * options; more than `maxPositionals` arguments is a mistake.
 */
export function parseControlArgs(command: string, argv: string[], io: CliIO, options: ArgSpecs = {}, maxPositionals = 0): ParsedControlArgs {
  const { values, positionals } = parseCommandLine(
    argv,
    { 'run-dir': { type: 'string', takes: 'the run directory of the server' }, help: { type: 'boolean', short: 'h' }, ...options },
    `switchboard ${command}`,
  );
  if (positionals.length > maxPositionals && !values.help) throw new CommandLineError(`unexpected argument ${JSON.stringify(positionals[maxPositionals])}`);
  const runDir = resolve(io.cwd, (values['run-dir'] as string | undefined) ?? io.env.SWITCHBOARD_RUN_DIR ?? DEFAULT_RUN_DIR);
  return { runDir, values, positionals };
}

/** Run `body`, turning argument and control errors into one line and an exit code. */
export async function withControlErrors(io: CliIO, command: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof ControlClientError) {
      io.stderr(`switchboard ${command}: ${err.message}\n`);
      return err.code === 'NOT_RUNNING' ? 3 : 1;
    }
    if (err instanceof CommandLineError) {
      io.stderr(`switchboard ${command}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}
