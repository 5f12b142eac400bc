// `switchboard status`: uptime, per-service state, restarts, connections, messages, memory.
import { controlRequest } from '../../runtime/control-client.js';
import type { CrashStatus, ServerStatus, ServiceStatus } from '../../runtime/control-protocol.js';
import type { CliCommand } from './command.js';
import { parseControlArgs, withControlErrors } from './control-command.js';

const usage = `Usage: switchboard status [--run-dir DIR] [--json]

Shows the running server's uptime, memory and, per service: state, restarts,
connections and messages in/out. --json prints the raw status object.
`;

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

export function duration(seconds: number): string {
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return [d ? `${d}d` : '', h ? `${h}h` : '', m ? `${m}m` : '', `${s % 60}s`].filter(Boolean).join(' ');
}

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

export function formatStatus(s: ServerStatus): string {
  let out = `pid ${s.pid}, up ${duration(s.uptimeSeconds)} (since ${s.startedAt}), version ${s.version}\n`;
  if (s.listening.length > 0) out += `listening: ${s.listening.join(', ')}\n`;
  if (s.node) out += `node: ${s.node}; broker: ${s.broker.kind} ${s.broker.state} since ${s.broker.since}${s.broker.lastError ? ` (${s.broker.lastError})` : ''}\n`;
  if (s.nodes.length > 1 || (s.nodes.length === 1 && s.nodes[0]!.id !== s.node)) out += `nodes: ${s.nodes.map((n) => n.id).join(', ')}\n`;
  out += `connections: ${s.connections}; memory: rss ${mb(s.memory.rss)}, heap ${mb(s.memory.heapUsed)} / ${mb(s.memory.heapTotal)}\n`;
  if (s.services.length === 0) return out + 'no services\n';
  const rows = [['SERVICE', 'KIND', 'ISOLATION', 'STATE', 'RESTARTS', 'CONNS', 'MSG IN', 'MSG OUT', 'MEMORY']];
  for (const x of s.services as ServiceStatus[]) {
    rows.push([
      x.path ?? x.name,
      x.kind,
      x.isolation,
      x.state,
      String(x.restarts),
      String(x.connections),
      String(x.messagesIn),
      String(x.messagesOut),
      x.memory ? mb(x.memory.heapUsed) : '-',
    ]);
  }
  out += '\n' + table(rows);
  for (const x of s.services) if (x.lastCrash) out += `last crash of ${x.path ?? x.name}: ${formatCrash(x.lastCrash)}\n`;
  return out;
}

/** "exit (exit code 3) at ...", "out-of-memory (signal SIGKILL) at ...", "uncaught-exception (boom; exit code 1) at ..." */
export function formatCrash(c: CrashStatus): string {
  const facts = [
    c.message,
    // a server from before code and signal were reported sends neither
    c.code !== null && c.code !== undefined ? `exit code ${c.code}` : undefined,
    c.signal ? `signal ${c.signal}` : undefined,
  ].filter((f): f is string => f !== undefined && f !== '');
  return `${c.reason}${facts.length > 0 ? ` (${facts.join('; ')})` : ''}${c.at ? ` at ${c.at}` : ''}`;
}

export const statusCommand: CliCommand = {
  name: 'status',
  summary: 'show uptime, services (state, restarts, connections, messages) and memory',
  usage,
  run: (argv, io) =>
    withControlErrors(io, 'status', async () => {
      const { runDir, values } = parseControlArgs('status', argv, io, { json: { type: 'boolean' } });
      if (values.help) return io.stdout(usage), 0;
      const status = (await controlRequest(runDir, { type: 'status' })) as ServerStatus;
      io.stdout(values.json ? JSON.stringify(status, null, 2) + '\n' : formatStatus(status));
      return 0;
    }),
};
