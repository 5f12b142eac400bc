// The `switchboard` command: argv[0] names a subcommand from one table; each lives in its own module.
import type { CliCommand, CliIO } from './commands/command.js';
import { processIO } from './commands/command.js';
import { runtimeCommands } from './commands/index.js';
import { serveCommand } from './serve.js';

export const commands: readonly CliCommand[] = [serveCommand, ...runtimeCommands];

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return `Usage: switchboard <command> [options]\n\nCommands:\n${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}\n\nRun \`switchboard <command> --help\` for its options.\n`;
}

export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(help());
    return name === undefined ? 2 : 0;
  }
  const command = commands.find((c) => c.name === name);
  if (command === undefined) {
    io.stderr(`switchboard: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  return command.run(rest, io);
}
