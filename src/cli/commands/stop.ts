// `switchboard stop`: graceful stop of the running server; waits until it has exited.
import { controlRequest } from '../../runtime/control-client.js';
import type { CliCommand } from './command.js';
import { parseControlArgs, withControlErrors } from './control-command.js';
import { WAIT_TIMEOUT_TAKES, lockHolder, parseWaitTimeout, waitForExit } from './wait-for-exit.js';

const usage = `Usage: switchboard stop [--run-dir DIR] [--no-wait] [--timeout-ms N]

Stops the server gracefully: it stops accepting, lets in-flight commands finish
(up to its grace period, then cancels them), closes every connection with 1001 Going Away, stops
background services and exits. With shutdown.drainWindowMs set, connections first leave in
batches over that window, as with \`switchboard drain\`. Waits for the exit unless --no-wait
(default timeout 120000 ms).
`;

export const stopCommand: CliCommand = {
  name: 'stop',
  summary: 'stop the server gracefully (connections are closed with 1001)',
  usage,
  run: (argv, io) =>
    withControlErrors(io, 'stop', async () => {
      const { runDir, values } = parseControlArgs('stop', argv, io, { 'no-wait': { type: 'boolean' }, 'timeout-ms': { type: 'string', takes: WAIT_TIMEOUT_TAKES } });
      if (values.help) return io.stdout(usage), 0;
      const timeoutMs = parseWaitTimeout('stop', values['timeout-ms'] as string | undefined, 120_000, io);
      if (timeoutMs === undefined) return 2;
      const holder = lockHolder(runDir);
      await controlRequest(runDir, { type: 'stop' });
      if (values['no-wait'] || !holder) {
        io.stdout('stopping\n');
        return 0;
      }
      return waitForExit('stop', runDir, holder, timeoutMs, io);
    }),
};
