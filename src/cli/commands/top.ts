// `switchboard top`: the live figures of a running server (every node it can see), as a
// table refreshed in place; `--once` prints one snapshot and exits.
import { controlRequest } from '../../runtime/control-client.js';
import type { ClusterFigures, NodeFigures } from '../../runtime/live-figures.js';
import { CommandLineError } from '../../runtime/command-line.js';
import type { CliCommand } from './command.js';
import { parseControlArgs, withControlErrors } from './control-command.js';
import { duration, table } from './status.js';

const usage = `Usage: switchboard top [--run-dir DIR] [--once] [--json] [--interval-ms N] [--connections N]

Live figures of the running server, refreshed every second (Ctrl-C quits): per node
(every worker with --workers N, every node with a lease behind a broker) its connections
and message/command rates; services (state, restarts), rooms with their members, and the
newest connections. --once prints one snapshot; --json prints it as JSON.
`;

const CLEAR = '\x1b[H\x1b[2J';

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

const rate = (n: number): string => n.toFixed(1);

export function formatTop(f: ClusterFigures, listed = 10, now = Date.now()): string {
  const byId = new Map(f.nodes.map((n) => [n.node, n]));
  const leased = f.cluster.filter((c) => !byId.has(c.id));
  const total = (k: keyof NodeFigures['rates']): number => f.nodes.reduce((s, n) => s + n.rates[k], 0);
  const conns = f.nodes.reduce((s, n) => s + n.connections, 0);
  let out = `switchboard top: ${f.nodes.length + leased.length} node(s), ${conns} connection(s); messages in ${rate(total('messagesIn'))}/s, out ${rate(total('messagesOut'))}/s; commands ${rate(total('commands'))}/s (${rate(total('commandErrors'))}/s errors)\n\n`;
  const nodes = [['NODE', 'PID', 'UP', 'CONNS', 'MSG IN/s', 'MSG OUT/s', 'CMD/s', 'ERR/s', 'ROOMS']];
  for (const n of f.nodes) {
    nodes.push([n.node, String(n.pid), duration((now - n.startedAt) / 1000), String(n.connections), rate(n.rates.messagesIn), rate(n.rates.messagesOut), rate(n.rates.commands), rate(n.rates.commandErrors), String(n.rooms.length)]);
  }
  // nodes with a lease whose figures this server cannot reach (another machine): named, not measured
  for (const c of leased) nodes.push([c.id, '-', duration((now - c.since) / 1000), '-', '-', '-', '-', '-', '-']);
  out += table(nodes);

  const services = [['SERVICE', 'NODE', 'KIND', 'ISOLATION', 'STATE', 'RESTARTS', 'CONNS']];
  for (const n of f.nodes) for (const s of n.services) services.push([s.name, n.node, s.kind, s.isolation, s.state, String(s.restarts), String(s.connections)]);
  if (services.length > 1) out += '\n' + table(services);

  const rooms = new Map<string, { route: string; room: string; members: number; nodes: number }>();
  for (const n of f.nodes) {
    for (const r of n.rooms) {
      const key = `${r.route}#${r.room}`;
      const seen = rooms.get(key) ?? { route: r.route, room: r.room, members: 0, nodes: 0 };
      seen.members += r.members.length;
      seen.nodes += 1;
      rooms.set(key, seen);
    }
  }
  if (rooms.size > 0) {
    const rows = [['ROOM', 'SERVICE', 'MEMBERS', 'NODES']];
    for (const r of [...rooms.values()].sort((a, b) => b.members - a.members)) rows.push([r.room, r.route, String(r.members), String(r.nodes)]);
    out += '\n' + table(rows);
  }

  const all = f.nodes.flatMap((n) => n.connectionList).sort((a, b) => b.openedAt - a.openedAt);
  if (all.length > 0 && listed > 0) {
    const rows = [['CONNECTION', 'PATH', 'USER', 'ROOMS', 'IN', 'OUT', 'AGE']];
    for (const c of all.slice(0, listed)) rows.push([c.id, c.path, c.user ?? '-', c.rooms.join(',') || '-', size(c.bytesIn), size(c.bytesOut), duration((now - c.openedAt) / 1000)]);
    out += `\n${all.length > listed ? `newest ${listed} of ${conns} connections\n` : ''}` + table(rows);
  }
  return out;
}

export const topCommand: CliCommand = {
  name: 'top',
  summary: 'live figures: connections, message and command rates, services, rooms (refreshing)',
  usage,
  run: (argv, io) =>
    withControlErrors(io, 'top', async () => {
      const { runDir, values } = parseControlArgs('top', argv, io, {
        once: { type: 'boolean' },
        json: { type: 'boolean' },
        'interval-ms': { type: 'string', takes: 'a whole number of milliseconds, 100 or more' },
        connections: { type: 'string', takes: 'a whole number, 0 or more' },
      });
      if (values.help) return io.stdout(usage), 0;
      const interval = Number(values['interval-ms'] ?? 1000);
      if (!Number.isInteger(interval) || interval < 100) throw new CommandLineError(`--interval-ms ${String(values['interval-ms'])}: expected a whole number of milliseconds, 100 or more`);
      const listed = Number(values.connections ?? 10);
      if (!Number.isInteger(listed) || listed < 0) throw new CommandLineError(`--connections ${String(values.connections)}: expected a whole number, 0 or more`);
      if (values.json && !values.once) throw new CommandLineError('--json needs --once');
      const snapshot = async (): Promise<ClusterFigures> => (await controlRequest(runDir, { type: 'figures' })) as ClusterFigures;
      if (values.once) {
        const f = await snapshot();
        io.stdout(values.json ? JSON.stringify(f, null, 2) + '\n' : formatTop(f, listed));
        return 0;
      }
      let quit = false;
      const onInt = (): void => void (quit = true);
      process.once('SIGINT', onInt);
      try {
        while (!quit) {
          io.stdout(CLEAR + formatTop(await snapshot(), listed) + '\n(Ctrl-C quits)\n');
          await new Promise((r) => setTimeout(r, interval));
        }
      } finally {
        process.off('SIGINT', onInt);
      }
      return 0;
    }),
};
