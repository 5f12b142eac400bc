// Runs a `switchboard` command in this process with captured output (the CLI's own IO seam).
import { commands, type CliIO } from '../../src/cli/commands/index.js';

export async function runCli(cwd: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = { stdout: (t) => void (out += t), stderr: (t) => void (err += t), cwd, env: {} };
  const code = await commands.find((c) => c.name === args[0])!.run(args.slice(1), io);
  return { code, out, err };
}
