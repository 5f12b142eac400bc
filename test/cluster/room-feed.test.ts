// The gap-healing merge of a room feed (src/cluster/room-feed.ts), against a model store:
// a live channel that drops messages, a history that keeps the last K, checks at any moment,
// stores that lose their log (a new epoch). Whatever happens, what the feed hands on is
// contiguous within an epoch and every gap is either filled or reported by a reset.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import type { Position, RoomMessage, RoomReset } from '../../src/cluster/broker.js';
import { RoomFeed, type FeedSource } from '../../src/cluster/room-feed.js';

type Op = { kind: 'append'; delivered: boolean } | { kind: 'check' } | { kind: 'settle' } | { kind: 'restart' };

class ModelStore {
  epoch = 'e0';
  top = 0;
  epochs = 0;
  log: RoomMessage[] = [];
  constructor(readonly keep: number) {}

  append(): RoomMessage {
    this.top += 1;
    const m = { room: 'r', pos: { e: this.epoch, o: this.top }, payload: Buffer.from(`${this.epoch}/${this.top}`) };
    this.log.push(m);
    if (this.log.length > this.keep) this.log.shift();
    return m;
  }

  /** The log is lost (a restart without persistence): a new epoch from offset 0. */
  restart(): void {
    this.epoch = `e${++this.epochs}`;
    this.top = 0;
    this.log = [];
  }

  source(): FeedSource {
    return {
      fill: async (after, to) => {
        await Promise.resolve();
        if (after.e !== this.epoch || to > this.top) return { complete: false };
        const messages = this.log.filter((m) => m.pos.o > after.o && m.pos.o <= to);
        return messages.length === to - after.o ? { complete: true, messages } : { complete: false };
      },
      position: async () => {
        await Promise.resolve();
        return { e: this.epoch, o: this.top };
      },
    };
  }
}

type Event = { message: RoomMessage } | { reset: RoomReset };

/** Walks what the feed handed on: each message follows the last position; a reset may jump, never back within an epoch. */
function assertContinuous(events: Event[], start: Position, end: Position): void {
  let cur = start;
  for (const ev of events) {
    if ('message' in ev) {
      assert.equal(ev.message.pos.e, cur.e, `message ${JSON.stringify(ev.message.pos)} after ${JSON.stringify(cur)}: same epoch`);
      assert.equal(ev.message.pos.o, cur.o + 1, `message ${JSON.stringify(ev.message.pos)} after ${JSON.stringify(cur)}: next offset`);
      assert.equal(Buffer.from(ev.message.payload).toString(), `${ev.message.pos.e}/${ev.message.pos.o}`);
      cur = ev.message.pos;
    } else {
      const top = ev.reset.top!;
      if (top.e === cur.e) assert.ok(top.o >= cur.o, `a reset never goes back: ${JSON.stringify(top)} after ${JSON.stringify(cur)}`);
      cur = top;
    }
  }
  assert.deepEqual(cur, end, 'the feed ends where the store is');
}

const ops = (restarts: boolean): fc.Arbitrary<Op[]> =>
  fc.array(
    fc.oneof(
      { weight: 12, arbitrary: fc.record({ kind: fc.constant('append' as const), delivered: fc.integer({ min: 0, max: 9 }).map((n) => n < 7) }) },
      { weight: 2, arbitrary: fc.constant({ kind: 'check' as const }) },
      { weight: 3, arbitrary: fc.constant({ kind: 'settle' as const }) },
      { weight: restarts ? 1 : 0, arbitrary: fc.constant({ kind: 'restart' as const }) },
    ),
    { maxLength: 120 },
  );

async function run(keep: number, list: Op[]): Promise<{ events: Event[]; store: ModelStore }> {
  const store = new ModelStore(keep);
  const events: Event[] = [];
  const feed = new RoomFeed('r', store.source(), { message: (message) => events.push({ message }), reset: (reset) => events.push({ reset }) });
  await feed.check();
  for (const op of list) {
    if (op.kind === 'append') {
      const m = store.append();
      if (op.delivered) feed.live(m);
    } else if (op.kind === 'check') void feed.check();
    else if (op.kind === 'restart') store.restart();
    else await feed.settled();
  }
  await feed.check();
  await feed.settled();
  return { events, store };
}

test('room feed: with history holding every message, dropped live messages are all filled, in order, with no reset', async () => {
  await fc.assert(
    fc.asyncProperty(ops(false), async (list) => {
      const { events, store } = await run(1_000, list);
      assert.deepEqual(events.filter((e) => 'reset' in e), []);
      assertContinuous(events, { e: 'e0', o: 0 }, { e: store.epoch, o: store.top });
    }),
    { numRuns: 300 },
  );
});

test('room feed: with a short history and lost logs, every gap is filled or reported by a reset, never skipped', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 8 }), ops(true), async (keep, list) => {
      const { events, store } = await run(keep, list);
      assertContinuous(events, { e: 'e0', o: 0 }, { e: store.epoch, o: store.top });
      for (const ev of events) if ('reset' in ev) assert.ok(['gap', 'epoch'].includes(ev.reset.reason));
    }),
    { numRuns: 300 },
  );
});

test('room feed: a store that cannot be read during a fill gives a broker_down reset, then the feed goes on', async () => {
  let fail = true;
  const log: RoomMessage[] = [];
  const msg = (o: number): RoomMessage => ({ room: 'r', pos: { e: 'e', o }, payload: Buffer.from(`e/${o}`) });
  const source: FeedSource = {
    fill: async (after, to) => {
      if (fail) throw new Error('unreachable');
      return { complete: true, messages: log.filter((m) => m.pos.o > after.o && m.pos.o <= to) };
    },
    position: async () => ({ e: 'e', o: log.length }),
  };
  const events: Event[] = [];
  const feed = new RoomFeed('r', source, { message: (message) => events.push({ message }), reset: (reset) => events.push({ reset }) });
  await feed.check();
  for (let o = 1; o <= 3; o++) log.push(msg(o));
  feed.live(msg(3));
  await feed.settled();
  fail = false;
  for (let o = 4; o <= 6; o++) log.push(msg(o));
  feed.live(msg(6));
  await feed.settled();
  assert.deepEqual(
    events.map((e) => ('message' in e ? e.message.pos.o : `reset:${e.reset.reason}:${e.reset.top!.o}`)),
    ['reset:broker_down:2', 3, 4, 5, 6],
  );
});
