// `switchboard stop`: graceful stop of the running server; waits until it has exited.
import { join } from 'node:path';
import { controlRequest } from '../../runtime/control-client.js';
import { LOCK_FILE_NAME, isProcessAlive, readLock } from '../../runtime/lock-file.js';
import type { CliCommand } from './command.js';
import { parseControlArgs, withControlErrors } from './control-command.js';

const usage = `Usage: switchboard stop [--run-dir DIR] [--no-wait] [--timeout-ms N]

Stops the server gracefully: it stops accepting, lets in-flight commands finish
(up to its grace period, then cancels them), closes every connection with 1001 Going Away, stops
background services and exits. Waits for the exit unless --no-wait (default
timeout 120000 ms).
`;

export const stopCommand: CliCommand = {
  name: 'stop',
  summary: 'stop the server gracefully (connections are closed with 1001)',
  usage,
  run: (argv, io) =>
    withControlErrors(io, 'stop', async () => {
      const takes = 'a whole number of milliseconds, 1 or more';
      const { runDir, values } = parseControlArgs('stop', argv, io, { 'no-wait': { type: 'boolean' }, 'timeout-ms': { type: 'string', takes } });
      if (values.help) return io.stdout(usage), 0;
      const raw = values['timeout-ms'] as string | undefined;
      const timeoutMs = Number(raw ?? 120_000);
      if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
        io.stderr(`switchboard stop: --timeout-ms ${raw}: expected ${takes}\n`);
        return 2;
      }
      const holder = readLock(join(runDir, LOCK_FILE_NAME));
      await controlRequest(runDir, { type: 'stop' });
      if (values['no-wait'] || !holder) {
        io.stdout('stopping\n');
        return 0;
      }
      const end = Date.now() + timeoutMs;
      while (isProcessAlive(holder.pid) && readLock(join(runDir, LOCK_FILE_NAME))?.pid === holder.pid) {
        if (Date.now() > end) {
          io.stderr(`switchboard stop: server pid ${holder.pid} still running after ${timeoutMs} ms\n`);
          return 1;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      io.stdout(`stopped (pid ${holder.pid})\n`);
      return 0;
    }),
};
