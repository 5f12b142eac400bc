// `npm run soak [-- --duration 90s --connections 3000 --crash-every 15s]`: the soak, bounded
// (10 minutes by default), with its figures; exit code 1 when a check failed.
import { parseArgs } from 'node:util';
import { parseDuration } from '../../src/cli/commands/drain.js';
import { mb, runSoak } from './soak.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10m' },
    connections: { type: 'string', default: '3000' },
    'crash-every': { type: 'string', default: '60s' },
  },
});
const durationMs = parseDuration(values.duration!);
const connections = Number(values.connections);
const crashEveryMs = parseDuration(values['crash-every']!);
if (durationMs === undefined || crashEveryMs === undefined || !Number.isInteger(connections) || connections < 10 || connections > 8000) {
  console.error('usage: soak [--duration 10m] [--connections 10..8000] [--crash-every 60s]');
  process.exit(2);
}
const t = (line: string): void => console.log(`soak: ${line}`);
const r = await runSoak({ durationMs, connections, crashEveryMs, log: t });
const l = r.ledger;
t(`connections: ${l.connectionsOpened} opened (peak ${l.peakConnections} at once; server peak ${r.peak.connections}; ${l.connectTimeouts} handshakes timed out), ${l.randomDrops} dropped at random, ${l.resumes} resumed with since, ${l.slowConsumers} slow consumers (${l.slowClosedByServer} closed by the server)`);
t(`messages: ${l.commandsSent} commands (${l.repliesOk} replies), ${l.published} room publishes, ${l.roomMessages} room messages received, ${l.announces} announces, ${l.crashyCalls} calls to the crashed service`);
t(`duration ${Math.round(r.durationMs / 1000)} s; ${l.crashes} crashes, ${r.crashRestarts} restarts`);
t(`RSS start ${mb(r.start.rss)}, peak ${mb(r.peak.rss)}, end ${mb(r.end.rss)}; fds start ${r.start.fds}, peak ${r.peak.fds}, end ${r.end.fds}`);
for (const c of r.checks) t(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
const failed = r.checks.filter((c) => !c.ok).length;
t(`${r.checks.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
