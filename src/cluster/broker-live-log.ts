/**
 * Live values over the broker's room machinery: a value's changes are room messages of a
 * room of their own, so they get the broker's order, dense offsets, history and gap checks.
 * The last message of that room is the value any node takes up.
 */
import type { LiveLog, LiveMessage } from '../app/live/live-log.js';
import type { Broker } from './broker.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class BrokerLiveLog implements LiveLog {
  readonly #broker: Broker;

  constructor(broker: Broker) {
    this.#broker = broker;
  }

  async append(key: string, message: LiveMessage): Promise<void> {
    await this.#broker.append(key, encoder.encode(JSON.stringify(message)));
  }

  follow(key: string, fn: (m: LiveMessage) => void, reset?: () => void): Promise<() => Promise<void>> {
    return this.#broker.follow(
      key,
      (m) => {
        const message = decode(m.payload);
        if (message !== null) fn(message);
      },
      () => reset?.(),
    );
  }

  async last(key: string): Promise<LiveMessage | null> {
    const top = await this.#broker.top(key);
    if (top.o === 0) return null;
    const r = await this.#broker.read(key, { e: top.e, o: top.o - 1 }, 1);
    if (!r.complete) return null;
    const m = r.messages[r.messages.length - 1];
    return m === undefined ? null : decode(m.payload);
  }
}

function decode(payload: Uint8Array): LiveMessage | null {
  try {
    const m = JSON.parse(decoder.decode(payload)) as LiveMessage;
    return typeof m === 'object' && m !== null && Number.isSafeInteger(m.v) ? m : null;
  } catch {
    return null;
  }
}
