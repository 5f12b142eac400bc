// `switchboard reload`: re-scan the services directory and read the TLS files again.
import { controlRequest } from '../../runtime/control-client.js';
import type { ReloadResult } from '../../runtime/control-protocol.js';
import type { CliCommand } from './command.js';
import { parseControlArgs, withControlErrors } from './control-command.js';

const usage = `Usage: switchboard reload [--run-dir DIR] [--json]

Re-scans the services directory: new services are added, removed ones are
closed, changed ones restart; unchanged services keep their connections.
With TLS, reads --tls-cert/--tls-key/--tls-ca again: new connections get the
new certificate, open ones stay. SIGHUP to the server does the same.
`;

export const reloadCommand: CliCommand = {
  name: 'reload',
  summary: 're-scan the services directory (changed services restart) and reload the TLS certificate',
  usage,
  run: (argv, io) =>
    withControlErrors(io, 'reload', async () => {
      const { runDir, values } = parseControlArgs('reload', argv, io, { json: { type: 'boolean' } });
      if (values.help) return io.stdout(usage), 0;
      const r = (await controlRequest(runDir, { type: 'reload' })) as ReloadResult;
      if (values.json) {
        io.stdout(JSON.stringify(r, null, 2) + '\n');
        return 0;
      }
      const line = (label: string, names: string[]) => (names.length > 0 ? `${label}: ${names.join(', ')}\n` : '');
      const text = line('added', r.added) + line('removed', r.removed) + line('restarted', r.restarted) + line('unchanged', r.unchanged);
      io.stdout((text || 'no services\n') + (r.certificate !== undefined ? `tls certificate: ${r.certificate}\n` : ''));
      return 0;
    }),
};
