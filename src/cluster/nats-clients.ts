/**
 * The clients of one NATS connection, as the parts of the NATS adapter use them. The
 * connection outlives server restarts (the client reconnects by itself), so these are made
 * once per broker.
 */
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';

export interface NatsClients {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
}

/** Runs `fn` over `items`, `width` at a time (KV writes of many presence entries). */
export async function inBatches<T>(items: readonly T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(fn));
}
