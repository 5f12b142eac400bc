// The shape of a CLI subcommand module. src/cli/main.ts dispatches argv[0] to one of these.

export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
  cwd: string;
  env: NodeJS.ProcessEnv;
}

export interface CliCommand {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Usage text, shown by --help (a mistake gets one line, not the usage). */
  usage: string;
  /** Runs with the arguments after the command name; resolves with the exit code. */
  run(argv: string[], io: CliIO): Promise<number>;
}

export const processIO = (): CliIO => ({
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
  cwd: process.cwd(),
  env: process.env,
});
