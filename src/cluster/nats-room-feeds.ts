/**
 * This node's feeds of room messages: one ordered consumer per partition that has followed
 * rooms (a single filter subject, which nats-server 2.9 supports), handing each message to
 * its room's followers in stream order.
 *
 * Gaps. An ordered consumer rebuilds itself from where it was after a reconnect or a missed
 * delivery. What it can still miss is a message trimmed before it got there: the stream
 * drops a room's oldest message once it keeps K newer ones (K = RoomLog.keptPerRoom), or
 * when max_age passes. Had that happened, the K messages kept would all be at or after the
 * room's next delivered message, so it arrives with at least K - 1 messages pending behind
 * it; only then is continuity checked, with one Direct Get of the last message passed on.
 * Still kept means nothing after it was trimmed (the suffix rule of RoomLog); gone means
 * the followers get a reset ('gap').
 */
import { DeliverPolicy, type Consumer, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { BrokerUnavailableError, type RoomMessage, type RoomReset } from './broker.js';
import type { NatsClients } from './nats-clients.js';
import { partitionOf, PARTITIONS, type NatsNames } from './nats-names.js';
import { epochOf, isOpenMark, roomMessage, type RoomLog } from './nats-room-log.js';

interface Follower {
  fn: (m: RoomMessage) => void;
  reset: (r: RoomReset) => void;
}

interface Feed {
  readonly room: string;
  readonly subject: string;
  readonly followers: Set<Follower>;
  /** Sequence of the room's last message passed on, or of the last one before the follow began. */
  last: number;
  /** Messages wait here until the feed has its starting point, and while continuity is checked. */
  held: JsMsg[] | null;
  based: boolean;
  /** The stream was replaced: the followers are owed a reset when the feed starts again. */
  owed: boolean;
  ready: Promise<void>;
}

interface Partition {
  readonly p: number;
  readonly feeds: Map<string, Feed>;
  consumer: Consumer | null;
  messages: ConsumerMessages | null;
  starting: Promise<void> | null;
  /** Bumped when the consumer is stopped, so one being made meanwhile is dropped. */
  generation: number;
  /** Last stream sequence the consumer delivered (any room): where a revived consumer goes on. */
  cursor: number;
  /** Rooms found behind their stored tail at the last check, with where they were. */
  readonly behind: Map<string, number>;
}

export interface RoomFeedsOptions {
  metaTtlMs: number;
  connected(): boolean;
  /** A consumer said its stream is missing or its consumer was deleted: the epoch needs a look. */
  doubtStream(): void;
  onError(err: unknown, what: string): void;
}

export class RoomFeeds {
  readonly #names: NatsNames;
  readonly #log: RoomLog;
  readonly #conn: () => NatsClients;
  readonly #o: RoomFeedsOptions;
  readonly #parts: Partition[];

  constructor(names: NatsNames, log: RoomLog, conn: () => NatsClients, options: RoomFeedsOptions) {
    this.#names = names;
    this.#log = log;
    this.#conn = conn;
    this.#o = options;
    this.#parts = Array.from({ length: PARTITIONS }, (_, p) => ({ p, feeds: new Map(), consumer: null, messages: null, starting: null, generation: 0, cursor: 0, behind: new Map() }));
  }

  /** While the broker is down the feed is only registered; it starts with the next resume(). */
  async follow(room: string, fn: (m: RoomMessage) => void, reset: (r: RoomReset) => void): Promise<() => Promise<void>> {
    const part = this.#parts[partitionOf(room)]!;
    const subject = this.#names.roomSubject(room);
    let feed = part.feeds.get(subject);
    if (feed === undefined) {
      const created: Feed = { room, subject, followers: new Set(), last: 0, held: [], based: false, owed: false, ready: Promise.resolve() };
      part.feeds.set(subject, created);
      feed = created;
      if (this.#o.connected()) {
        created.ready = this.#base(part, created).catch((err: unknown) => {
          // resume() tries again
          if (this.#o.connected()) this.#o.onError(err, `following ${room}`);
        });
      }
    }
    const follower: Follower = { fn, reset };
    feed.followers.add(follower);
    await feed.ready;
    const f = feed;
    return async () => {
      if (!f.followers.delete(follower) || f.followers.size > 0 || part.feeds.get(subject) !== f) return;
      part.feeds.delete(subject);
      part.behind.delete(subject);
      if (part.feeds.size === 0) await this.#stop(part);
    };
  }

  /** After a (re)connection and on every periodic check: consumers for followed partitions, starting points for new feeds. */
  async resume(): Promise<void> {
    for (const part of this.#parts) {
      if (part.feeds.size === 0) continue;
      await this.#start(part);
      for (const feed of [...part.feeds.values()]) if (!feed.based) await (feed.ready = this.#base(part, feed));
    }
  }

  /** The stream is a new one: every consumer starts at its end and every followed room is reset to its top. */
  async restart(): Promise<void> {
    for (const part of this.#parts) {
      await this.#stop(part);
      for (const feed of part.feeds.values()) {
        // a new list: a continuity check still running for the old stream sees it and gives up
        feed.held = [];
        feed.based = false;
        feed.owed = true;
      }
    }
    await this.resume();
  }

  /** Compares each followed room with its stored tail; a partition whose consumer stopped delivering is started again where it was. */
  async checkTails(): Promise<void> {
    for (const part of this.#parts) {
      if (part.messages === null) continue;
      let stalled = false;
      for (const feed of [...part.feeds.values()]) {
        if (!feed.based || feed.held !== null) continue;
        const last = (await this.#log.last(feed.room))?.seq ?? 0;
        if (last <= feed.last) {
          part.behind.delete(feed.subject);
          continue;
        }
        // behind once is a message in flight; behind at the same place twice is a consumer that stopped
        if (part.behind.get(feed.subject) === feed.last) stalled = true;
        part.behind.set(feed.subject, feed.last);
      }
      if (stalled) {
        this.#o.onError(new Error('a room consumer stopped delivering; starting it again'), `partition ${part.p}`);
        const from = part.cursor + 1;
        await this.#stop(part);
        part.behind.clear();
        await this.#opening(part, from);
      }
    }
  }

  async close(): Promise<void> {
    for (const part of this.#parts) {
      part.feeds.clear();
      await this.#stop(part);
    }
  }

  async #base(part: Partition, feed: Feed): Promise<void> {
    await this.#start(part);
    if (feed.owed) {
      const top = await this.#log.top(feed.room);
      // a new stream numbers from 1 again: what was passed on before says nothing here
      feed.last = top.o;
      feed.owed = false;
      feed.based = true;
      for (const f of [...feed.followers]) this.#call(() => f.reset({ room: feed.room, reason: 'epoch', top }), feed.room);
    } else {
      const last = await this.#log.last(feed.room);
      feed.last = Math.max(feed.last, last?.seq ?? 0);
      feed.based = true;
    }
    this.#release(feed);
  }

  /** Resolves once the partition has a consumer (or no feeds left). */
  async #start(part: Partition): Promise<void> {
    // a consumer being made when the partition was stopped is dropped when made: then make another
    while (part.messages === null && part.feeds.size > 0) await (part.starting ?? this.#opening(part));
  }

  #opening(part: Partition, from?: number): Promise<void> {
    const opening = this.#open(part, from).finally(() => {
      if (part.starting === opening) part.starting = null;
    });
    part.starting = opening;
    return opening;
  }

  /** A consumer for the partition, from `from` or from the stream's end. */
  async #open(part: Partition, from?: number): Promise<void> {
    const generation = part.generation;
    const info = await this.#log.info();
    if (epochOf(info) !== this.#log.epoch) {
      this.#o.doubtStream();
      throw new BrokerUnavailableError('the room stream was replaced');
    }
    const start = from ?? info.state.last_seq + 1;
    const consumer = await this.#conn().js.consumers.get(this.#log.stream, { filter_subjects: this.#names.partitionFilter(part.p), deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start });
    part.cursor = start - 1;
    const messages = await consumer.consume({ max_messages: 256, callback: (m) => this.#onMessage(part, m) });
    if (part.generation !== generation || part.messages !== null || part.feeds.size === 0) {
      await messages.close().catch(() => undefined);
      void consumer.delete().catch(() => undefined);
      return;
    }
    part.consumer = consumer;
    part.messages = messages;
    void this.#watch(messages);
  }

  async #watch(messages: ConsumerMessages): Promise<void> {
    try {
      for await (const s of messages.status()) {
        if (s.type === 'stream_not_found' || s.type === 'consumer_deleted' || s.type === 'consumer_not_found') this.#o.doubtStream();
      }
    } catch {
      /* the consumer stopped */
    }
  }

  async #stop(part: Partition): Promise<void> {
    part.generation += 1;
    const { messages, consumer } = part;
    part.messages = null;
    part.consumer = null;
    if (messages !== null) await messages.close().catch(() => undefined);
    if (consumer !== null) void consumer.delete().catch(() => undefined);
  }

  #onMessage(part: Partition, m: JsMsg): void {
    part.cursor = m.seq;
    this.#log.observe(m.seq);
    const feed = part.feeds.get(m.subject);
    if (feed === undefined) return;
    if (feed.held !== null) feed.held.push(m);
    else this.#take(feed, m);
  }

  #take(feed: Feed, m: JsMsg): void {
    if (m.seq <= feed.last) return;
    if (this.#mayFollowAGap(m)) {
      feed.held = [m];
      void this.#verify(feed);
      return;
    }
    this.#pass(feed, m);
  }

  /** See the top of this file: only a message with this many pending behind it (or this old) can follow a trimmed one. */
  #mayFollowAGap(m: JsMsg): boolean {
    return m.info.pending >= this.#log.keptPerRoom - 1 || Date.now() - m.info.timestampNanos / 1e6 > this.#o.metaTtlMs / 2;
  }

  /** Proves that nothing of the room was trimmed before the held messages: the last one passed on is still kept. */
  async #verify(feed: Feed): Promise<void> {
    const held = feed.held!;
    const n = held.length;
    let kept: boolean;
    try {
      kept = await this.#log.holds(feed.room, feed.last);
    } catch {
      // the broker is unreachable: ask again (the consumer waits too)
      setTimeout(() => {
        if (feed.held === held && this.#parts[partitionOf(feed.room)]!.feeds.get(feed.subject) === feed) void this.#verify(feed);
      }, 500).unref();
      return;
    }
    if (feed.held !== held) return;
    const checked = held.splice(0, n);
    if (kept) {
      for (const m of checked) if (m.seq > feed.last) this.#pass(feed, m);
    } else {
      const lastSeq = checked[checked.length - 1]!.seq;
      feed.last = lastSeq;
      const epoch = this.#log.epoch;
      const top = epoch === null ? undefined : { e: epoch, o: lastSeq };
      for (const f of [...feed.followers]) this.#call(() => f.reset({ room: feed.room, reason: 'gap', ...(top ? { top } : {}) }), feed.room);
    }
    this.#release(feed);
  }

  #release(feed: Feed): void {
    const waiting = feed.held ?? [];
    feed.held = null;
    for (let i = 0; i < waiting.length; i++) {
      if (feed.held !== null) {
        (feed.held as JsMsg[]).push(...waiting.slice(i));
        return;
      }
      this.#take(feed, waiting[i]!);
    }
  }

  #pass(feed: Feed, m: JsMsg): void {
    feed.last = m.seq;
    const epoch = this.#log.epoch;
    if (isOpenMark(m) || epoch === null) return;
    const message = roomMessage(feed.room, epoch, m);
    for (const f of [...feed.followers]) this.#call(() => f.fn(message), feed.room);
  }

  #call(fn: () => void, room: string): void {
    try {
      fn();
    } catch (err) {
      this.#o.onError(err, `a follower of ${room}`);
    }
  }
}
