// The three cluster scenarios of issue 10. Each run starts its own server side (fresh
// processes, fresh broker), drives it with the room generator and returns one sample.
import { cpuSeconds, syscalls, type Syscalls } from './processes.js';
import { runGenerator } from './generator.js';
import { startServerSide, type GcCount, type Layout, type Paths, type ServerSide } from './topology.js';

export type ScenarioKey = 'fanout' | 'history' | 'resume';

export interface Sample {
  scenario: ScenarioKey;
  layout: Layout;
  /** history scenario: which room kind */
  variant?: 'history' | 'volatile';
  rep: number;
  failed?: string;
  /** The figure compared: fanout µs/delivery on the receiving node, history µs/message (all server processes), resume p99 ms. */
  value?: number;
  figures: Record<string, number | string>;
  summary: string;
}

export interface Settings {
  /** Members of the fan-out room per node. */
  members: number;
  /** Members of the history room per node. */
  historyMembers: number;
  /** Messages per second offered in the history scenario (both variants). */
  historyRate: number;
  /** Clients of the killed node in the resume scenario. */
  resumeClients: number;
  warmupMs: number;
  durationMs: number;
  /** Messages per second published during the resume scenario. */
  resumeRate: number;
}

export interface Ctx {
  paths: Paths;
  generator: string;
  clkTck: number;
  settings: Settings;
  /** Node options of every server node (e.g. --cpu-prof). */
  nodeArgs: string[];
}

const fmt = (n: number, d = 2): string => (Number.isFinite(n) ? n.toFixed(d) : '-');

/** Every server-side process: the serving nodes, then the broker or primary. */
function pidsOf(side: ServerSide): number[] {
  return [...[...side.nodes.values()].map((n) => n.pid), ...side.others.map((o) => o.pid)];
}

/** CPU seconds of every server-side process, read together. */
function cpuOf(side: ServerSide, ctx: Ctx): Map<number, number> {
  return new Map(pidsOf(side).map((pid) => [pid, cpuSeconds(pid, ctx.clkTck)]));
}

function checkFanout(done: Record<string, any>): void {
  if (done['timeout']) throw new Error('the generator hit its hard timeout');
  for (const k of ['lost', 'errors', 'failed', 'pub_errors', 'resets']) if (done[k]) throw new Error(`${k}: ${done[k]}`);
  if (!done['units']) throw new Error('no deliveries');
}

/** Publisher and subscribers: on one port for single and ipc, N on each node's port otherwise. */
function fanoutArgs(side: ServerSide, perNode: number): (string | number)[] {
  const [a, b] = side.ports;
  if (side.ports.length === 1) return ['--pub', a!, '--subs', `${a}:${perNode * 2}`];
  return ['--pub', a!, '--subs', `${a}:${perNode},${b}:${perNode}`];
}

interface Measured {
  done: Record<string, any>;
  cpu: Map<number, number>;
  wall: number;
  util: Map<number, number>;
  /** Collections over the measured phase, by pid. */
  gc: Map<number, GcCount>;
  /** Read and write system calls over the measured phase, by pid. */
  sys: Map<number, Syscalls>;
}

async function measure(side: ServerSide, ctx: Ctx, args: (string | number)[], expectOpen: number): Promise<Measured> {
  let c0 = new Map<number, number>();
  let c1 = new Map<number, number>();
  let w0 = 0;
  let w1 = 0;
  let g0 = new Map<number, GcCount>();
  let g1 = new Map<number, GcCount>();
  let s0 = new Map<number, Syscalls>();
  let s1 = new Map<number, Syscalls>();
  const sysOf = (): Map<number, Syscalls> => new Map(pidsOf(side).map((pid) => [pid, syscalls(pid)]));
  const out = await runGenerator(
    ctx.generator,
    'fanout',
    [...args, '--warmup-ms', ctx.settings.warmupMs, '--duration-ms', ctx.settings.durationMs],
    {
      onReady: (ready) => {
        if (ready['open'] !== expectOpen) throw new Error(`${ready['open']}/${expectOpen} members joined (failed ${ready['failed']}, errors ${ready['errors']})`);
        c0 = cpuOf(side, ctx);
        s0 = sysOf();
        g0 = side.gc();
        w0 = performance.now();
      },
      onDone: () => {
        c1 = cpuOf(side, ctx);
        s1 = sysOf();
        g1 = side.gc();
        w1 = performance.now();
      },
    },
    120000,
  );
  checkFanout(out.done);
  const cpu = new Map<number, number>();
  const util = new Map<number, number>();
  const wall = (w1 - w0) / 1000;
  for (const [pid, v] of c1) {
    cpu.set(pid, v - (c0.get(pid) ?? NaN));
    util.set(pid, (v - (c0.get(pid) ?? NaN)) / wall);
  }
  const gc = new Map<number, GcCount>();
  for (const [pid, c] of g1) gc.set(pid, { scavenge: c.scavenge - (g0.get(pid)?.scavenge ?? 0), markCompact: c.markCompact - (g0.get(pid)?.markCompact ?? 0) });
  const sys = new Map<number, Syscalls>();
  for (const [pid, c] of s1) sys.set(pid, { reads: c.reads - (s0.get(pid)?.reads ?? NaN), writes: c.writes - (s0.get(pid)?.writes ?? NaN) });
  return { done: out.done, cpu, wall, util, gc, sys };
}

/** (1) Cross-node fan-out: CPU per delivered message on the node that did not publish. */
export async function fanout(layout: Layout, rep: number, ctx: Ctx): Promise<Sample> {
  const n = ctx.settings.members;
  const side = await startServerSide(layout, ctx.paths, [], ctx.nodeArgs);
  try {
    const m = await measure(side, ctx, [...fanoutArgs(side, n), '--window', 32, '--size', 64, '--room', 'r'], 2 * n);
    const d = m.done;
    const perNode = d['nodes'] as Record<string, { subs: number; deliveries: number }>;
    const pubNode = String(d['pub_node']);
    const recvId = layout === 'single' ? pubNode : [...side.nodes.keys()].find((id) => id !== pubNode);
    const recv = recvId !== undefined ? side.nodes.get(recvId) : undefined;
    const pub = side.nodes.get(pubNode);
    if (!recv || !pub || !perNode[recv.id]) throw new Error(`unknown nodes: publisher on ${pubNode}, nodes ${[...side.nodes.keys()].join(',')}`);
    const recvDeliveries = perNode[recv.id]!.deliveries;
    const value = (m.cpu.get(recv.pid)! / recvDeliveries) * 1e6;
    const totalCpu = [...m.cpu.values()].reduce((a, b) => a + b, 0);
    const othersCpu = side.others.reduce((a, o) => a + m.cpu.get(o.pid)!, 0);
    const figures: Record<string, number | string> = {
      recvUs: value,
      deliveriesPerSec: d['units'] / d['elapsed_s'],
      msgsPerSec: d['msgs'] / d['elapsed_s'],
      recvSubs: perNode[recv.id]!.subs,
      pubSubs: perNode[pub.id]?.subs ?? 0,
      pubUs: layout === 'single' ? value : (m.cpu.get(pub.pid)! / (perNode[pub.id]?.deliveries || NaN)) * 1e6,
      brokerUsPerMsg: side.others.length ? (othersCpu / d['msgs']) * 1e6 : NaN,
      totalUs: (totalCpu / d['units']) * 1e6,
      recvUtil: m.util.get(recv.pid)!,
      pubUtil: m.util.get(pub.pid)!,
      brokerUtil: side.others.length ? othersCpu / m.wall : NaN,
      p50ms: d['p50_us'] / 1000,
      p99ms: d['p99_us'] / 1000,
      genUtil: d['gen_cpu_s'] / d['elapsed_s'],
      genUs: (d['gen_cpu_s'] / d['units']) * 1e6,
      deliveriesPerRead: d['reads'] ? d['units'] / d['reads'] : NaN,
      recvScavenges: m.gc.get(recv.pid)?.scavenge ?? NaN,
      recvMarkCompacts: m.gc.get(recv.pid)?.markCompact ?? NaN,
      recvDeliveriesPerWrite: recvDeliveries / (m.sys.get(recv.pid)?.writes ?? NaN),
      recvReadsPerMsg: (m.sys.get(recv.pid)?.reads ?? NaN) / d['msgs'],
    };
    const summary =
      `receiving node ${fmt(value)} µs/delivery (${figures['recvSubs']} members, CPU ${fmt(100 * (figures['recvUtil'] as number), 0)}%), ` +
      `${fmt(figures['deliveriesPerSec'] as number, 0)} deliveries/s, publishing node ${fmt(figures['pubUs'] as number)} µs/delivery` +
      (side.others.length ? `, ${side.others.map((o) => o.role).join('+')} ${fmt(figures['brokerUsPerMsg'] as number, 1)} µs/msg` : '') +
      `, generator ${fmt(figures['genUs'] as number)} µs/delivery (CPU ${fmt(100 * (figures['genUtil'] as number), 0)}%)` +
      `, receiving node GC ${figures['recvScavenges']} scavenges / ${figures['recvMarkCompacts']} mark-compacts`;
    // a broker link lost or a gap filled under load shows in the figures: say what the nodes said
    for (const line of side.warnings().slice(0, 10)) console.log(`node: ${line}`);
    return { scenario: 'fanout', layout, rep, value, figures, summary };
  } finally {
    await side.stop();
  }
}

/**
 * (2) The cost of history: the same small room, once with history (append) and once volatile
 * (plain publish), on the same server side, both at the same offered rate (so that each path
 * batches its writes alike; a closed loop would let the cheaper path run faster and batch
 * more). Phases in the order A B B A (B A A B on even repetitions), summed per variant, so
 * that warm-up and drift fall on both alike. Figure: CPU of every server-side process (both
 * nodes and the broker or hub) per published message.
 */
export async function history(layout: Layout, rep: number, ctx: Ctx): Promise<Sample[]> {
  const n = ctx.settings.historyMembers;
  const side = await startServerSide(layout, ctx.paths, [], ctx.nodeArgs);
  const [a, b] = rep % 2 ? (['history', 'volatile'] as const) : (['volatile', 'history'] as const);
  const sums = new Map<Variant, PhaseSum>();
  try {
    for (const variant of [a, b, b, a]) {
      const room = variant === 'history' ? `h${rep}` : `v.h${rep}`;
      const m = await measure(side, ctx, [...fanoutArgs(side, n), '--rate', ctx.settings.historyRate, '--window', 64, '--size', 64, '--room', room], 2 * n);
      const sum = sums.get(variant) ?? { msgs: 0, elapsed: 0, wall: 0, nodesCpu: 0, othersCpu: 0, pubNodeCpu: 0, genCpu: 0, p50: [], p99: [] };
      const d = m.done;
      const pubNode = side.nodes.get(String(d['pub_node']));
      sum.msgs += d['msgs'] as number;
      sum.elapsed += d['elapsed_s'] as number;
      sum.wall += m.wall;
      sum.nodesCpu += [...side.nodes.values()].reduce((x, node) => x + m.cpu.get(node.pid)!, 0);
      sum.othersCpu += side.others.reduce((x, o) => x + m.cpu.get(o.pid)!, 0);
      sum.pubNodeCpu += pubNode ? m.cpu.get(pubNode.pid)! : NaN;
      sum.genCpu += d['gen_cpu_s'] as number;
      sum.p50.push(d['p50_us'] / 1000);
      sum.p99.push(d['p99_us'] / 1000);
      sums.set(variant, sum);
    }
  } catch (e) {
    return (['history', 'volatile'] as const).map((variant) => ({ scenario: 'history', layout, variant, rep, failed: (e as Error).message, figures: {}, summary: '' }));
  } finally {
    await side.stop();
  }
  return [...sums].map(([variant, t]) => {
    const value = ((t.nodesCpu + t.othersCpu) / t.msgs) * 1e6;
    const figures: Record<string, number | string> = {
      usPerMsg: value,
      msgsPerSec: t.msgs / t.elapsed,
      nodesUsPerMsg: (t.nodesCpu / t.msgs) * 1e6,
      pubNodeUsPerMsg: (t.pubNodeCpu / t.msgs) * 1e6,
      brokerUsPerMsg: side.others.length ? (t.othersCpu / t.msgs) * 1e6 : NaN,
      serverUtil: (t.nodesCpu + t.othersCpu) / t.wall,
      p50ms: Math.max(...t.p50),
      p99ms: Math.max(...t.p99),
      genUtil: t.genCpu / t.elapsed,
      genUsPerMsg: (t.genCpu / t.msgs) * 1e6,
    };
    const summary =
      `${variant}: ${fmt(value, 1)} µs/msg on the server side (nodes ${fmt(figures['nodesUsPerMsg'] as number, 1)}` +
      (side.others.length ? `, ${side.others.map((o) => o.role).join('+')} ${fmt(figures['brokerUsPerMsg'] as number, 1)}` : '') +
      `), ${fmt(figures['msgsPerSec'] as number, 0)} msg/s, generator ${fmt(figures['genUsPerMsg'] as number, 1)} µs/msg`;
    return { scenario: 'history', layout, variant, rep, value, figures, summary };
  });
}

type Variant = 'history' | 'volatile';

interface PhaseSum {
  msgs: number;
  elapsed: number;
  wall: number;
  nodesCpu: number;
  othersCpu: number;
  pubNodeCpu: number;
  genCpu: number;
  p50: number[];
  p99: number[];
}

/**
 * (3) Resume: clients of a node that is killed with SIGKILL while a publisher on the other
 * node keeps publishing reconnect (to the other node; under --workers to the shared port)
 * and rejoin with `since`. Figure: p99 of reconnect -> rejoin reply, in ms.
 */
export async function resume(layout: Layout, rep: number, ctx: Ctx): Promise<Sample> {
  const n = ctx.settings.resumeClients;
  // history must hold what a client misses between the kill and its rejoin, also on a busy
  // machine: 1000 messages is 50 s at the rate published here
  const side = await startServerSide(layout, ctx.paths, ['--history-size', '1000'], ctx.nodeArgs);
  try {
    const [a, b] = side.ports;
    const args =
      side.ports.length === 1
        ? ['--pub', a!, '--subs', `${a}:${n}`, '--resume-port', a!, '--avoid-pub-node']
        : ['--pub', b!, '--subs', `${a}:${n}`, '--resume-port', b!];
    let killedPid = 0;
    let atKill = new Map<number, number>();
    let wallAtKill = 0;
    let resumeCpu = 0;
    let resumeWall = NaN;
    const out = await runGenerator(
      ctx.generator,
      'resume',
      [...args, '--room', `r${rep}`, '--rate', ctx.settings.resumeRate, '--warmup-ms', ctx.settings.warmupMs, '--tail-ms', 1000, '--reconnect-delay-ms', 250],
      {
        onReady: (ready) => {
          if (ready['open'] !== n) throw new Error(`${ready['open']}/${n} clients joined (failed ${ready['failed']}, errors ${ready['errors']})`);
          const victim = side.nodes.get(String(ready['victim']));
          if (!victim) throw new Error(`the clients' node ${ready['victim']} is not known`);
          killedPid = victim.pid;
          process.kill(victim.pid, 'SIGKILL');
          atKill = cpuOf(side, ctx);
          wallAtKill = performance.now();
        },
        onResumed: () => {
          side.refresh(); // under --workers: the worker started in place of the killed one
          for (const [pid, v] of cpuOf(side, ctx)) if (pid !== killedPid) resumeCpu += v - (atKill.get(pid) ?? 0);
          resumeWall = (performance.now() - wallAtKill) / 1000;
        },
      },
      120000,
    );
    const d = out.done;
    if (d['timeout']) throw new Error('the generator hit its hard timeout');
    if (out.stderr) console.log(out.stderr);
    // a gap: what the nodes said (a broker link lost under load makes publishes local only)
    if (d['gaps'] > 0) for (const line of side.warnings().slice(0, 20)) console.log(`node: ${line}`);
    const value = d['p99_us'] / 1000;
    const figures: Record<string, number | string> = {
      clients: d['subs'],
      resumed: d['resumed'],
      p50ms: d['p50_us'] / 1000,
      p99ms: value,
      maxMs: d['max_us'] / 1000,
      lostP50ms: d['lost_p50_us'] / 1000,
      lostP99ms: d['lost_p99_us'] / 1000,
      allResumedMs: d['all_resumed_us'] / 1000,
      replayedMean: d['resumed'] ? d['replayed'] / d['resumed'] : NaN,
      replayedMax: d['replayed_max'],
      gaps: d['gaps'],
      early: d['early'],
      missing: d['missing'],
      unverified: d['unverified'],
      rejoinFailed: d['rejoin_failed'],
      resets: d['resets'],
      duplicates: d['dups'],
      published: d['published'],
      pubErrors: d['pub_errors'],
      reconnectFailures: d['reconnect_failures'],
      joinErrors: d['join_errors'],
      genUtil: d['gen_cpu_s'] / d['elapsed_s'],
      // every surviving server-side process, from the kill to the last client resumed
      resumeCpuS: resumeCpu,
      resumeServerUtil: resumeCpu / resumeWall,
      killedPid,
    };
    const summary =
      `${d['resumed']}/${d['subs']} resumed, reconnect -> resumed p50 ${fmt(figures['p50ms'] as number, 1)} ms p99 ${fmt(value, 1)} ms ` +
      `(max ${fmt(figures['maxMs'] as number, 1)}; from the loss p99 ${fmt(figures['lostP99ms'] as number, 1)} ms), ` +
      `replayed ${fmt(figures['replayedMean'] as number, 1)} per client (max ${d['replayed_max']}), missing ${d['missing']}, gaps ${d['gaps']}, before the join reply ${d['early']}, ` +
      `unverified ${d['unverified']}, duplicates ${d['dups']}, server side ${fmt(resumeCpu, 2)} CPU s until the last resumed ` +
      `(${fmt(100 * (figures['resumeServerUtil'] as number), 0)}% of a CPU), generator CPU ${fmt(100 * (figures['genUtil'] as number), 0)}%`;
    return { scenario: 'resume', layout, rep, value, figures, summary };
  } finally {
    await side.stop();
  }
}
