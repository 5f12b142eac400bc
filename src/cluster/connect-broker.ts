/**
 * The one place that turns a broker setting into an adapter. Adapters are loaded only when
 * chosen, so a server without Redis or NATS never loads their clients.
 */
import type { Logger } from '../app/logger.js';
import type { Broker } from './broker.js';

export interface BrokerOptions {
  /** This node's id (default: random). */
  nodeId?: string;
  /** Room messages kept per room (default 100). */
  historySize?: number;
  historyTtlMs?: number;
  metaTtlMs?: number;
  /** A node's lease; its presence entries go when it lapses (default 15 s). */
  leaseMs?: number;
  /** Prefix of every key, channel and subject (default sb). */
  prefix?: string;
  log?: Logger;
}

/** A broker for `memory`, `redis://…` or `nats://…`, not yet started. */
export async function connectBroker(url: string, options: BrokerOptions = {}): Promise<Broker> {
  if (url === 'memory') {
    const { MemoryBroker } = await import('./memory-broker.js');
    return new MemoryBroker(options);
  }
  if (url.startsWith('nats://')) {
    const { NatsBroker } = await import('./nats-broker.js');
    return new NatsBroker({ ...options, url });
  }
  if (url.startsWith('redis://') || url.startsWith('rediss://')) {
    const { redisBroker } = await import('./redis-broker.js');
    return redisBroker({ ...options, url });
  }
  throw new Error(`unknown broker ${JSON.stringify(url)}: expected memory, redis://HOST:PORT or nats://HOST:PORT`);
}
