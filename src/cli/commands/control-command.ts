// Shared plumbing of the commands that talk to a running server over its control socket.
import { resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ControlClientError } from '../../runtime/control-client.js';
import type { CliIO } from './command.js';

export const DEFAULT_RUN_DIR = '.switchboard';

export interface ParsedControlArgs {
  runDir: string;
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** Parse `--run-dir` (default ./.switchboard, or SWITCHBOARD_RUN_DIR) plus the command's own options. */
export function parseControlArgs(
  argv: string[],
  io: CliIO,
  options: NonNullable<ParseArgsConfig['options']> = {},
): ParsedControlArgs {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { 'run-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' }, ...options },
    allowPositionals: true,
    strict: true,
  });
  const v = values as Record<string, string | boolean | undefined>;
  const runDir = resolve(io.cwd, (v['run-dir'] as string | undefined) ?? io.env.SWITCHBOARD_RUN_DIR ?? DEFAULT_RUN_DIR);
  return { runDir, values: v, positionals };
}

/** Run `body`, turning argument and control errors into a message and exit code. */
export async function withControlErrors(io: CliIO, usage: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof ControlClientError) {
      io.stderr(`switchboard: ${err.message}\n`);
      return err.code === 'NOT_RUNNING' ? 3 : 1;
    }
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`switchboard: ${(err as Error).message}\n\n${usage}`);
      return 2;
    }
    throw err;
  }
}
