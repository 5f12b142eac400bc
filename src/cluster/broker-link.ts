/**
 * Everything but rooms that crosses between nodes, over a Broker: sends and closes for
 * connections of other nodes (on each node's own channel) and cluster events (on a channel
 * per event). All at most once; a node never hears its own `say`.
 */
import { Buffer } from 'node:buffer';
import type { LinkStatus, LocalConnections, NodeLink } from '../app/cluster.js';
import type { Broker } from './broker.js';
import { decodeEnvelope, encodeEnvelope, ENVELOPE_VERSION } from './envelope.js';

const nodeChannel = (node: string): string => `n:${node}`;
const eventChannel = (event: string): string => `ev:${event}`;

/** The node a connection id belongs to (ids are `<node>.<seq>`). */
export function nodeOf(connId: string): string {
  const dot = connId.indexOf('.');
  return dot > 0 ? connId.slice(0, dot) : '';
}

export class BrokerLink implements NodeLink {
  readonly #broker: Broker;
  readonly #local: LocalConnections;
  readonly #events = new Map<string, Promise<() => Promise<void>>>();
  #own: Promise<() => Promise<void>> | null = null;

  constructor(broker: Broker, local: LocalConnections) {
    this.#broker = broker;
    this.#local = local;
  }

  get nodeId(): string {
    return this.#broker.nodeId;
  }

  get kind(): string {
    return this.#broker.kind;
  }

  async start(): Promise<void> {
    this.#own ??= this.#broker.subscribe(nodeChannel(this.nodeId), (payload) => this.#onDirect(payload));
    await this.#own;
  }

  async stop(): Promise<void> {
    const subs = [this.#own, ...this.#events.values()];
    this.#own = null;
    this.#events.clear();
    for (const s of subs) if (s) await (await s)();
  }

  async sendTo(ids: readonly string[], data: string | Uint8Array, binary: boolean): Promise<boolean> {
    const byNode = new Map<string, string[]>();
    for (const id of ids) {
      const node = nodeOf(id);
      let list = byNode.get(node);
      if (!list) byNode.set(node, (list = []));
      list.push(id);
    }
    let all = true;
    for (const [node, to] of byNode) {
      const env = encodeEnvelope({ v: ENVELOPE_VERSION, t: 'direct', n: this.nodeId, to, b: binary }, data);
      if (!(await this.#broker.publish(nodeChannel(node), env))) all = false;
    }
    return all;
  }

  async close(id: string, code: number, reason: string): Promise<boolean> {
    const node = nodeOf(id);
    if (!(await this.#live(node))) return false;
    return this.#broker.publish(nodeChannel(node), encodeEnvelope({ v: ENVELOPE_VERSION, t: 'close', n: this.nodeId, to: [id], c: code, r: reason }, ''));
  }

  async say(event: string, data: unknown): Promise<boolean> {
    const json = data === undefined ? 'null' : JSON.stringify(data);
    return this.#broker.publish(eventChannel(event), encodeEnvelope({ v: ENVELOPE_VERSION, t: 'event', n: this.nodeId, ev: event }, json));
  }

  async listen(event: string): Promise<void> {
    if (!this.#events.has(event)) this.#events.set(event, this.#broker.subscribe(eventChannel(event), (payload) => this.#onEvent(payload)));
    await this.#events.get(event);
  }

  async unlisten(event: string): Promise<void> {
    const sub = this.#events.get(event);
    this.#events.delete(event);
    if (sub) await (await sub)();
  }

  status(): LinkStatus {
    return this.#broker.status();
  }

  nodes(): Promise<Array<{ id: string; since: number }>> {
    return this.#broker.nodes();
  }

  async #live(node: string): Promise<boolean> {
    return (await this.#broker.nodes()).some((n) => n.id === node);
  }

  #onDirect(payload: Uint8Array): void {
    const env = decodeEnvelope(payload);
    if (env === null || env.to === undefined) return;
    if (env.t === 'direct') {
      const data = env.b === true ? env.payload : text(env.payload);
      this.#local.deliver(env.to, data, env.b === true, []);
    } else if (env.t === 'close') {
      for (const id of env.to) this.#local.close(id, env.c ?? 1000, env.r ?? '');
    }
  }

  #onEvent(payload: Uint8Array): void {
    const env = decodeEnvelope(payload);
    if (env === null || env.t !== 'event' || env.n === this.nodeId) return;
    let data: unknown;
    try {
      data = JSON.parse(text(env.payload));
    } catch {
      return;
    }
    this.#local.event(env.ev!, data, env.n);
  }
}

function text(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}
