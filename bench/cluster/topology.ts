// The server side of one benchmark run: a single node, `--workers 2` (the ipc adapter, the
// hub in the primary), or two nodes over a fresh redis-server or nats-server. Nodes are known
// by the id that prefixes their connection ids (the generator learns it from `hello`).
import { startBroker, ServeProcess, type BrokerServer } from './processes.js';

export type Layout = 'single' | 'ipc' | 'redis' | 'nats';

export interface NodeInfo {
  id: string;
  pid: number;
  port: number;
}

export interface ServerSide {
  layout: Layout;
  /** Serving nodes (under --workers: the workers), by id. */
  nodes: Map<string, NodeInfo>;
  /** The other server-side processes: the primary (ipc hub) or the broker. */
  others: Array<{ role: 'primary' | 'redis' | 'nats'; pid: number }>;
  /** Listening ports: one for single and ipc (the workers share it), one per node otherwise. */
  ports: number[];
  /** The node's id as it is now known (under --workers a restarted worker is a new node). */
  refresh(): void;
  /** Warning and error log lines of the serving processes so far (what they said when something went wrong). */
  warnings(): string[];
  /** Collections each serving process (and --workers worker) has had so far, by pid (the nodes run with --trace-gc). */
  gc(): Map<number, GcCount>;
  stop(): Promise<void>;
}

export interface GcCount {
  scavenge: number;
  markCompact: number;
}

export interface Paths {
  bin: string;
  services: string;
}

export async function startServerSide(layout: Layout, paths: Paths, args: string[] = [], nodeArgs: string[] = []): Promise<ServerSide> {
  if (layout === 'single' || layout === 'ipc') {
    const serve = new ServeProcess(paths.bin, paths.services, layout === 'ipc' ? ['--workers', '2', ...args] : args, nodeArgs);
    try {
      const s = await serve.started();
      const side: ServerSide = {
        layout,
        nodes: new Map(),
        others: layout === 'ipc' ? [{ role: 'primary', pid: s.pid }] : [],
        ports: [s.port],
        refresh() {
          if (layout === 'single') return;
          side.nodes.clear();
          for (const [id, pid] of serve.workers()) side.nodes.set(id, { id, pid, port: s.port });
        },
        stop: () => serve.stop(),
        warnings: () => warningsOf([serve]),
        gc: () => gcOf([serve]),
      };
      if (layout === 'single') side.nodes.set(s.node, { id: s.node, pid: s.pid, port: s.port });
      side.refresh();
      if (side.nodes.size !== (layout === 'ipc' ? 2 : 1)) throw new Error(`expected ${layout === 'ipc' ? 2 : 1} nodes, saw ${side.nodes.size}`);
      return side;
    } catch (err) {
      await serve.stop();
      throw err;
    }
  }
  const broker: BrokerServer = await startBroker(layout);
  const serves = [0, 1].map(() => new ServeProcess(paths.bin, paths.services, ['--broker', broker.url, ...args], nodeArgs));
  const stop = async (): Promise<void> => {
    await Promise.all(serves.map((s) => s.stop()));
    await broker.stop();
  };
  try {
    const started = await Promise.all(serves.map((s) => s.started()));
    return {
      layout,
      nodes: new Map(started.map((s) => [s.node, { id: s.node, pid: s.pid, port: s.port }])),
      others: [{ role: layout, pid: broker.proc.pid }],
      ports: started.map((s) => s.port),
      refresh() {},
      warnings: () => warningsOf(serves),
      gc: () => gcOf(serves),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** V8's --trace-gc lines start with "[pid:isolate]"; a --workers worker writes to the primary's stdout. */
function gcOf(serves: ServeProcess[]): Map<number, GcCount> {
  const counts = new Map<number, GcCount>();
  for (const s of serves) {
    for (const m of s.proc.output.matchAll(/^\[(\d+):0x[0-9a-f]+\]\s+\d+ ms: (Scavenge|Mark-Compact)/gm)) {
      const pid = Number(m[1]);
      let c = counts.get(pid);
      if (c === undefined) counts.set(pid, (c = { scavenge: 0, markCompact: 0 }));
      if (m[2] === 'Scavenge') c.scavenge += 1;
      else c.markCompact += 1;
    }
  }
  return counts;
}

function warningsOf(serves: ServeProcess[]): string[] {
  return serves.flatMap((s) => s.proc.output.split('\n').filter((line) => /"level":(40|50|60)\b/.test(line)));
}
