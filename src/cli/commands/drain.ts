// `switchboard drain --over 60s`: a staggered stop for rolling restarts; waits until the server exited.
import { controlRequest } from '../../runtime/control-client.js';
import { CommandLineError } from '../../runtime/command-line.js';
import type { CliCommand } from './command.js';
import { parseControlArgs, withControlErrors } from './control-command.js';
import { WAIT_TIMEOUT_TAKES, lockHolder, parseWaitTimeout, waitForExit } from './wait-for-exit.js';

const usage = `Usage: switchboard drain --over DURATION [--batches N] [--run-dir DIR] [--no-wait] [--timeout-ms N]

A staggered stop, for rolling restarts: the server stops accepting (new handshakes
get 503, so a balancer sends them elsewhere), then closes its connections in N
batches spread over DURATION with 1012 Service Restart. Each connection's in-flight
commands first finish, or are cancelled after the grace period (shutdown.graceMs)
counted from its batch. Then the usual stop follows and the server exits. Clients
reconnect (the command client after a random delay, and rejoins its rooms from
their last position).

  --over DURATION   the window: 60s, 90000ms, 2m (a bare number is seconds)
  --batches N       how many batches (default: one per second of the window)
  --no-wait         return once the drain has begun
  --timeout-ms N    how long to wait for the exit (default: the window + 120000 ms)
`;

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

/** "60s", "1500ms", "2m" or a bare number of seconds, in ms; undefined when it is none of those. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) return undefined;
  const ms = Math.round(Number(m[1]) * UNITS[m[2] ?? 's']!);
  return ms > 0 && Number.isSafeInteger(ms) ? ms : undefined;
}

export const drainCommand: CliCommand = {
  name: 'drain',
  summary: 'staggered stop: close connections in batches with 1012 over a window, then exit',
  usage,
  run: (argv, io) =>
    withControlErrors(io, 'drain', async () => {
      const { runDir, values } = parseControlArgs('drain', argv, io, {
        over: { type: 'string', takes: 'a duration such as 60s, 90000ms or 2m' },
        batches: { type: 'string', takes: 'a whole number, 1 or more' },
        'no-wait': { type: 'boolean' },
        'timeout-ms': { type: 'string', takes: WAIT_TIMEOUT_TAKES },
      });
      if (values.help) return io.stdout(usage), 0;
      const over = values.over as string | undefined;
      if (over === undefined) throw new CommandLineError('--over DURATION is required (e.g. --over 60s)');
      const windowMs = parseDuration(over);
      if (windowMs === undefined) throw new CommandLineError(`--over ${over}: expected a duration such as 60s, 90000ms or 2m`);
      const rawBatches = values.batches as string | undefined;
      const batches = rawBatches === undefined ? undefined : Number(rawBatches);
      if (batches !== undefined && (!Number.isInteger(batches) || batches < 1)) throw new CommandLineError(`--batches ${rawBatches}: expected a whole number, 1 or more`);
      const timeoutMs = parseWaitTimeout('drain', values['timeout-ms'] as string | undefined, windowMs + 120_000, io);
      if (timeoutMs === undefined) return 2;
      const holder = lockHolder(runDir);
      await controlRequest(runDir, { type: 'drain', windowMs, ...(batches !== undefined ? { batches } : {}) });
      if (values['no-wait'] || !holder) {
        io.stdout(`draining over ${windowMs} ms\n`);
        return 0;
      }
      return waitForExit('drain', runDir, holder, timeoutMs, io);
    }),
};
