/**
 * Reading a known set of stored messages in one go: an ephemeral consumer counts them when
 * it is made (num_pending), one fetch takes exactly that many, and the consumer is deleted.
 * Nats-server 2.9 has no batched Direct Get, so this is how a room's missed messages and a
 * KV prefix's entries are read without a round trip per message.
 */
import { randomBytes } from 'node:crypto';
import { AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';

export interface ScanFrom {
  /** Only subjects matching this (one filter: nats-server 2.9 has no filter_subjects). */
  filter: string;
  /** From this stream sequence on; without it, the last message of each subject. */
  startSeq?: number;
}

const nanos = (ms: number): number => ms * 1_000_000;

/** The messages, or 'too_many' when there are more than `max`. */
export async function scan(js: JetStreamClient, jsm: JetStreamManager, stream: string, from: ScanFrom, max: number, timeoutMs: number): Promise<JsMsg[] | 'too_many'> {
  const ci = await jsm.consumers.add(stream, {
    name: `scan_${randomBytes(8).toString('hex')}`,
    ack_policy: AckPolicy.None,
    ...(from.startSeq === undefined ? { deliver_policy: DeliverPolicy.LastPerSubject } : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from.startSeq }),
    filter_subject: from.filter,
    mem_storage: true,
    num_replicas: 1,
    // a scan cut short by a lost connection is cleaned up by the server
    inactive_threshold: nanos(Math.max(timeoutMs * 2, 5_000)),
  });
  const consumer = js.consumers.getConsumerFromInfo(ci);
  const remove = (): void => void consumer.delete().catch(() => undefined);
  const count = ci.num_pending;
  if (count === 0) return (remove(), []);
  if (count > max) return (remove(), 'too_many');
  const got: JsMsg[] = [];
  try {
    const iter = await consumer.fetch({ max_messages: count, expires: timeoutMs });
    for await (const m of iter) {
      got.push(m);
      // pending 0: nothing after it now (a message counted at creation may have been trimmed since)
      if (got.length >= count || m.info.pending === 0) break;
    }
  } finally {
    remove();
  }
  return got;
}
