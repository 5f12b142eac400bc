// The `switchboard` command: argv[0] names a subcommand from one table; each lives in its own module.
import type { CliIO } from './commands/command.js';
import { processIO } from './commands/command.js';
import { commands } from './commands/index.js';
import { switchboardVersion } from './own-package.js';

export { commands };

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return `Usage: switchboard <command> [options]\n\nCommands:\n${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}\n\nRun \`switchboard <command> --help\` for its options; \`switchboard --version\` prints the version.\n`;
}

export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(help());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    io.stdout(`${switchboardVersion()}\n`);
    return 0;
  }
  const command = commands.find((c) => c.name === name);
  if (command === undefined) {
    const what = name.startsWith('-') ? `unknown option ${name}` : `unknown command "${name}"`;
    io.stderr(`switchboard: ${what} (commands: ${commands.map((c) => c.name).join(', ')}; switchboard --help says more)\n`);
    return 2;
  }
  return command.run(rest, io);
}
