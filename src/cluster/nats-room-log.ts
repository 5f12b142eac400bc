/**
 * Room logs on one JetStream stream: a room's messages are the stream's messages on the room's
 * subject, numbered by the stream sequence (so offsets grow but are not dense), with the
 * epoch `<stream>@<created>`: a stream that is lost and made again has a new creation time.
 *
 * Completeness: every limit of the stream (max_msgs_per_subject, max_age) drops the oldest
 * messages of a subject first, so what is kept of a room is always a suffix of it. If the
 * message at a client's offset is still kept, then everything after it is too. The stream
 * keeps historySize + 1 messages per room: the message at the offset of a client that missed
 * at most historySize is then always kept, which makes the window the same as the other
 * adapters' (they can tell a gap from the offsets, which are dense there).
 */
import { DiscardPolicy, JetStreamApiError, JetStreamApiCodes, RetentionPolicy, StorageType, type JsMsg, type StoredMsg, type StreamConfig, type StreamInfo } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { BrokerUnavailableError, type Position, type ReadResult, type RoomMessage } from './broker.js';
import type { NatsClients } from './nats-clients.js';
import { token, type NatsNames } from './nats-names.js';
import { KeyBatches, type Batched } from './key-batches.js';
import { scan } from './nats-scan.js';
import { TurnBatch } from './turn-batch.js';

/** Marks the message `top()` writes into a room that has none, so every position names a real message. */
export const OPEN_MARK = 'Sb-Open';

export interface RoomLogOptions {
  historySize: number;
  historyTtlMs: number;
  metaTtlMs: number;
  timeoutMs: number;
}

const nanos = (ms: number): number => ms * 1_000_000;
const EMPTY = new Uint8Array(0);

interface ReadRequest {
  after: Position;
  limit: number;
}

export function isOpenMark(m: { headers?: { has(k: string): boolean } | undefined }): boolean {
  return m.headers?.has(OPEN_MARK) === true;
}

export function isWrongLastSequence(err: unknown): boolean {
  return err instanceof JetStreamApiError && (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);
}

function isStreamNotFound(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound;
}

export function epochOf(info: StreamInfo): string {
  return `${info.config.name}@${info.created}`;
}

export class RoomLog {
  readonly #names: NatsNames;
  readonly #o: RoomLogOptions;
  readonly #conn: () => NatsClients;
  #stream: string | null = null;
  #epoch: string | null = null;
  /** See TurnBatch: appends go out in one write per turn. */
  readonly #appends = new TurnBatch();
  /**
   * A sequence known to exist in the stream of the current epoch (its last one when the epoch
   * was read, or since seen): an append acknowledged at or below it went to another stream.
   */
  #floor = 0;
  #checking: Promise<boolean> | null = null;
  readonly #reads = new KeyBatches<ReadRequest, ReadResult>((room, batch) => this.#readBatch(room, batch));

  /** `conn` throws BrokerUnavailableError while there is no connection. */
  constructor(names: NatsNames, options: RoomLogOptions, conn: () => NatsClients) {
    this.#names = names;
    this.#o = options;
    this.#conn = conn;
  }

  get epoch(): string | null {
    return this.#epoch;
  }

  /** The name of the current stream (check() must have found it). */
  get stream(): string {
    if (this.#stream === null) throw new BrokerUnavailableError('the room stream is not ready');
    return this.#stream;
  }

  /** Messages the stream keeps per room: the history, and the one before it. */
  get keptPerRoom(): number {
    return this.#o.historySize + 1;
  }

  config(name: string): StreamConfig {
    return {
      name,
      subjects: [this.#names.roomWildcard],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_msgs_per_subject: this.keptPerRoom,
      max_age: nanos(this.#o.metaTtlMs),
      duplicate_window: nanos(Math.min(120_000, this.#o.metaTtlMs)),
      allow_direct: true,
      num_replicas: 1,
    } as StreamConfig;
  }

  /**
   * Makes the stream if it is missing (or adapts its limits when `adapt`) and reads its epoch.
   * Resolves true when the epoch changed from a known one. Concurrent calls share one check.
   */
  check(adapt = false): Promise<boolean> {
    this.#checking ??= this.#check(adapt).finally(() => (this.#checking = null));
    return this.#checking;
  }

  async #check(adapt: boolean): Promise<boolean> {
    const { jsm } = this.#conn();
    let info: StreamInfo;
    try {
      info = await jsm.streams.info(await jsm.streams.find(this.#names.roomProbe));
      const c = info.config;
      const want = this.config(c.name);
      if (adapt && (c.max_msgs_per_subject !== want.max_msgs_per_subject || c.max_age !== want.max_age || c.allow_direct !== true || c.duplicate_window !== want.duplicate_window)) {
        info = await jsm.streams.update(c.name, { ...c, max_msgs_per_subject: want.max_msgs_per_subject, max_age: want.max_age, allow_direct: true, duplicate_window: want.duplicate_window });
      }
    } catch (err) {
      if (!isStreamNotFound(err)) throw err;
      // a replacement gets a name of its own (see NatsNames.stream)
      const name = this.#stream === null ? this.#names.stream : `${this.#names.stream}_${Date.now().toString(36)}`;
      try {
        info = await jsm.streams.add(this.config(name));
      } catch {
        // another node made one first: its subjects are taken
        info = await jsm.streams.info(await jsm.streams.find(this.#names.roomProbe));
      }
    }
    this.#stream = info.config.name;
    const epoch = epochOf(info);
    const changed = this.#epoch !== null && this.#epoch !== epoch;
    this.#epoch = epoch;
    this.#floor = info.state.last_seq;
    return changed;
  }

  /** The stream's current state, for consumers that start at its end. */
  async info(): Promise<StreamInfo> {
    return this.#conn().jsm.streams.info(this.stream);
  }

  /** The epoch, which check() must have read. */
  #knownEpoch(): string {
    if (this.#epoch === null) throw new BrokerUnavailableError('the room stream is not ready');
    return this.#epoch;
  }

  async append(room: string, payload: Uint8Array): Promise<Position> {
    const { js } = this.#conn();
    const subject = this.#names.roomSubject(room);
    const floor = this.#floor;
    let ack;
    try {
      ack = await this.#appends.run(() => js.publish(subject, payload, { timeout: this.#o.timeoutMs }));
    } catch (err) {
      // no stream takes the subject (it was deleted): make it again, under a new epoch
      if (!(await this.#recheck(err))) throw unavailable(err);
      try {
        ack = await js.publish(subject, payload, { timeout: this.#o.timeoutMs });
      } catch (again) {
        throw unavailable(again);
      }
    }
    if (ack.seq <= floor || ack.stream !== this.#stream) await this.check();
    this.observe(ack.seq);
    return { e: this.#knownEpoch(), o: ack.seq };
  }

  /** A sequence seen in the stream (an acknowledgement, a delivery). */
  observe(seq: number): void {
    if (seq > this.#floor) this.#floor = seq;
  }

  /** The room's last position; a room without messages gets its open mark first. */
  async top(room: string): Promise<Position> {
    const last = await this.last(room);
    if (last !== null) return { e: this.#knownEpoch(), o: last.seq };
    const h = headers();
    h.set(OPEN_MARK, '1');
    try {
      // one mark per room even when several nodes open it at once: the repeat is acknowledged as a duplicate, with the same sequence
      const floor = this.#floor;
      const ack = await this.#conn().js.publish(this.#names.roomSubject(room), EMPTY, { msgID: `open:${token(room)}`, headers: h, timeout: this.#o.timeoutMs });
      if ((ack.seq <= floor && !ack.duplicate) || ack.stream !== this.#stream) await this.check();
      return { e: this.#knownEpoch(), o: ack.seq };
    } catch (err) {
      throw unavailable(err);
    }
  }

  /** The room's last kept message. */
  async last(room: string): Promise<StoredMsg | null> {
    try {
      return await this.#conn().jsm.direct.getMessage(this.stream, { last_by_subj: this.#names.roomSubject(room) });
    } catch (err) {
      throw unavailable(err);
    }
  }

  /** True when the message at `seq` is kept and belongs to the room. */
  async holds(room: string, seq: number): Promise<boolean> {
    if (seq < 1) return false;
    let m: StoredMsg | null;
    try {
      m = await this.#conn().jsm.direct.getMessage(this.stream, { seq });
    } catch (err) {
      throw unavailable(err);
    }
    return m !== null && m.subject === this.#names.roomSubject(room);
  }

  /** Reads of one room that come while one runs are answered together by the next (see KeyBatches). */
  async read(room: string, after: Position, limit: number): Promise<ReadResult> {
    try {
      return await this.#reads.run(room, { after, limit });
    } catch {
      return { complete: false, reason: 'unavailable' };
    }
  }

  /**
   * One scan of the room from the lowest position asked for answers every read of the batch.
   * Each read is answered as if alone: its messages after its position, too_many beyond its
   * limit, expired when its position is no longer kept.
   */
  async #readBatch(room: string, batch: Array<Batched<ReadRequest, ReadResult>>): Promise<void> {
    const epoch = this.#knownEpoch();
    let opened: Promise<Position> | undefined;
    const topNow = (): Promise<Position> => (opened ??= this.top(room));
    const last = batch.some((b) => b.request.after.e === epoch) ? await this.last(room) : null;
    const scanning: Array<Batched<ReadRequest, ReadResult>> = [];
    for (const b of batch) {
      const { after } = b.request;
      if (after.e !== epoch) b.resolve({ complete: false, reason: 'epoch', top: await topNow() });
      else if (last === null) b.resolve({ complete: false, reason: 'expired', top: await topNow() });
      else if (after.o > last.seq) b.resolve({ complete: false, reason: 'epoch', top: { e: epoch, o: last.seq } });
      else if (after.o === last.seq) b.resolve({ complete: true, messages: [], top: { e: epoch, o: last.seq } });
      else if (after.o < 1) b.resolve({ complete: false, reason: 'expired', top: { e: epoch, o: last.seq } });
      else scanning.push(b);
    }
    if (scanning.length === 0 || last === null) return;
    let top: Position = { e: epoch, o: last.seq };
    const from = Math.min(...scanning.map((b) => b.request.after.o));
    const limit = Math.max(...scanning.map((b) => b.request.limit));
    // one position for all: more than the largest limit is too many for each; else the room's whole history may be read
    const max = scanning.every((b) => b.request.after.o === from) ? limit : limit + this.keptPerRoom;
    const { js, jsm } = this.#conn();
    const got = await scan(js, jsm, this.stream, { filter: this.#names.roomSubject(room), startSeq: from + 1 }, max, this.#o.timeoutMs);
    if (got === 'too_many') {
      for (const b of scanning) b.resolve({ complete: false, reason: 'too_many', top });
      return;
    }
    // checked after the scan, so a message trimmed while it ran cannot pass unseen; what is kept is a suffix of
    // the room, so when the lowest position is still kept, so is every later message the scan found
    const lowestKept = await this.holds(room, from);
    const found = new Set(got.map((m) => m.seq));
    if (got.length > 0 && got[got.length - 1]!.seq > top.o) top = { e: epoch, o: got[got.length - 1]!.seq };
    const messages = got.map((m) => ({ m, message: roomMessage(room, epoch, m) }));
    for (const b of scanning) {
      const { after, limit: own } = b.request;
      const since = messages.filter(({ m }) => m.seq > after.o);
      if (since.length > own) {
        b.resolve({ complete: false, reason: 'too_many', top });
        continue;
      }
      const kept = after.o === from ? lowestKept : lowestKept ? found.has(after.o) : await this.holds(room, after.o);
      const first = since.find(({ m }) => !isOpenMark(m));
      if (!kept || (first !== undefined && Date.now() - first.m.info.timestampNanos / 1e6 > this.#o.historyTtlMs)) {
        b.resolve({ complete: false, reason: 'expired', top });
        continue;
      }
      b.resolve({ complete: true, messages: since.filter(({ m }) => !isOpenMark(m)).map(({ message }) => message), top });
    }
  }

  /** After a failed call: true when the stream was missing and has been made again. */
  async #recheck(err: unknown): Promise<boolean> {
    if (!isNoStream(err)) return false;
    try {
      await this.check();
      return true;
    } catch {
      return false;
    }
  }
}

export function roomMessage(room: string, epoch: string, m: JsMsg): RoomMessage {
  return { room, pos: { e: epoch, o: m.seq }, payload: m.data };
}

/** A publish that nothing took: no stream listens on the subject (or JetStream is off). */
function isNoStream(err: unknown): boolean {
  const e = err as { name?: string; cause?: { name?: string } } | null;
  return e?.name === 'JetStreamNotEnabled' || e?.cause?.name === 'NoRespondersError';
}

function unavailable(err: unknown): BrokerUnavailableError {
  if (err instanceof BrokerUnavailableError) return err;
  const e = new BrokerUnavailableError(`the broker is unavailable: ${err instanceof Error ? err.message : String(err)}`);
  (e as { cause?: unknown }).cause = err;
  return e;
}
