/**
 * Reading a known set of stored messages in one go: an ephemeral consumer counts them when
 * it is made (num_pending), fetches take them, and the consumer is deleted. Nats-server 2.9
 * has no batched Direct Get, so this is how a room's missed messages and a KV prefix's
 * entries are read without a round trip per message.
 *
 * Last values. KV buckets here keep one message per key (history 1), so the last value of
 * each key is read by walking every message under the prefix in order and keeping the last of
 * each subject. Not with DeliverPolicy.LastPerSubject: nats-server 2.9 skips keys with such a
 * consumer when other keys are written while it runs (a key whose counted message was
 * replaced is delivered, one that was not is passed over), which once left a live node out of
 * the lease list and so its members out of presence.
 *
 * When a scan is done. From a start sequence (a room's messages) every message delivered is
 * a new one, in order: the count made at creation is reached (or a message says nothing is
 * pending behind it). For last values the count says nothing: a key written while the scan
 * runs drops its counted message and adds one behind the others, and a key delivered and then
 * written again comes twice. Such a scan goes on until a message has nothing pending behind
 * it. A fetch can end before either (its deadline passes on a busy server): the next one goes
 * on where it stopped, and the consumer's info says whether anything is left. A scan that
 * cannot finish rejects (ScanIncompleteError): what it holds is not the set asked for, and a
 * caller that took it for one would drop what is missing.
 */
import { randomBytes } from 'node:crypto';
import { AckPolicy, DeliverPolicy, type Consumer, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { BrokerUnavailableError } from './broker.js';

export interface ScanFrom {
  /** Only subjects matching this (one filter: nats-server 2.9 has no filter_subjects). */
  filter: string;
  /** From this stream sequence on; without it, the last message of each subject (of a stream that keeps few per subject). */
  startSeq?: number;
}

/** The scan could not read everything it counted: it has no answer (and must not be taken for one). */
export class ScanIncompleteError extends BrokerUnavailableError {
  constructor(message: string) {
    super(message);
    this.name = 'ScanIncompleteError';
  }
}

const nanos = (ms: number): number => ms * 1_000_000;
/** The smallest fetch deadline the client accepts. */
const MIN_FETCH_MS = 1_000;

export class Scan {
  /** Messages matching when the consumer was made. */
  readonly count: number;
  readonly #consumer: Consumer;
  readonly #lastValues: boolean;
  readonly #timeoutMs: number;

  private constructor(consumer: Consumer, count: number, lastValues: boolean, timeoutMs: number) {
    this.#consumer = consumer;
    this.count = count;
    this.#lastValues = lastValues;
    this.#timeoutMs = timeoutMs;
  }

  /** Makes the consumer, which counts the messages (read() must follow: it deletes it). */
  static async open(js: JetStreamClient, jsm: JetStreamManager, stream: string, from: ScanFrom, timeoutMs: number): Promise<Scan> {
    const ci = await jsm.consumers.add(stream, {
      name: `scan_${randomBytes(8).toString('hex')}`,
      ack_policy: AckPolicy.None,
      ...(from.startSeq === undefined ? { deliver_policy: DeliverPolicy.All } : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from.startSeq }),
      filter_subject: from.filter,
      mem_storage: true,
      num_replicas: 1,
      // a scan cut short by a lost connection is cleaned up by the server
      inactive_threshold: nanos(Math.max(timeoutMs * 2, 5_000)),
    });
    return new Scan(js.consumers.getConsumerFromInfo(ci), ci.num_pending, from.startSeq === undefined, timeoutMs);
  }

  /** The messages (for a last-per-subject scan, one per subject, in stream order), or 'too_many' when more than `max` were counted. */
  async read(max: number): Promise<JsMsg[] | 'too_many'> {
    try {
      if (this.count === 0) return [];
      if (this.count > max) return 'too_many';
      return await this.#take();
    } finally {
      void this.#consumer.delete().catch(() => undefined);
    }
  }

  async #take(): Promise<JsMsg[]> {
    const got: JsMsg[] = [];
    const deadline = Date.now() + 2 * Math.max(this.#timeoutMs, MIN_FETCH_MS);
    const result = (): JsMsg[] => (this.#lastValues ? lastOfEach(got) : got);
    try {
      for (;;) {
        const left = deadline - Date.now();
        if (left < MIN_FETCH_MS) throw new ScanIncompleteError(`a scan read ${got.length} of ${this.count} messages before its deadline`);
        // more than counted may come (keys written meanwhile): the next fetch takes the rest
        const iter = await this.#consumer.fetch({ max_messages: Math.max(this.count - got.length, 64), expires: Math.min(left, Math.max(this.#timeoutMs, MIN_FETCH_MS)) });
        for await (const m of iter) {
          got.push(m);
          if (this.#done(got, m)) return result();
        }
        // the fetch ended first (its deadline, or what it waited for was trimmed or expired): the server says whether more will come
        if ((await this.#consumer.info()).num_pending === 0) return result();
      }
    } catch (err) {
      if (err instanceof ScanIncompleteError) throw err;
      const e = new ScanIncompleteError(`a scan failed after ${got.length} of ${this.count} messages: ${err instanceof Error ? err.message : String(err)}`);
      (e as { cause?: unknown }).cause = err;
      throw e;
    }
  }

  #done(got: JsMsg[], m: JsMsg): boolean {
    // pending 0: nothing after it now (a message counted at creation may have been trimmed since)
    if (m.info.pending === 0) return true;
    return !this.#lastValues && got.length >= this.count;
  }
}

/** The messages of a scan, or 'too_many' when there are more than `max`. */
export async function scan(js: JetStreamClient, jsm: JetStreamManager, stream: string, from: ScanFrom, max: number, timeoutMs: number): Promise<JsMsg[] | 'too_many'> {
  return (await Scan.open(js, jsm, stream, from, timeoutMs)).read(max);
}

/** The last message of each subject, in stream order. */
function lastOfEach(got: JsMsg[]): JsMsg[] {
  const last = new Map<string, JsMsg>();
  for (const m of got) {
    last.delete(m.subject);
    last.set(m.subject, m);
  }
  return [...last.values()];
}
