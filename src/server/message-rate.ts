/**
 * Message and byte rates of one connection: two token buckets, checked as each whole message
 * arrives. Made only when a rate is on.
 */
import { TokenBucket } from './token-bucket.js';

export interface MessageRateLimits {
  messagesPerSecond: number;
  messageBurst: number;
  bytesPerSecond: number;
  byteBurst: number;
}

export class MessageRate {
  readonly #messages: TokenBucket | null;
  readonly #bytes: TokenBucket | null;

  /** Null when both rates are off. */
  static for(l: MessageRateLimits, now = Date.now()): MessageRate | null {
    return l.messagesPerSecond > 0 || l.bytesPerSecond > 0 ? new MessageRate(l, now) : null;
  }

  private constructor(l: MessageRateLimits, now: number) {
    this.#messages = l.messagesPerSecond > 0 ? new TokenBucket(l.messagesPerSecond, Math.max(1, l.messageBurst), now) : null;
    this.#bytes = l.bytesPerSecond > 0 ? new TokenBucket(l.bytesPerSecond, Math.max(1, l.byteBurst), now) : null;
  }

  /** Takes one message of `bytes`: undefined when it passes, else which rate it broke (nothing is taken then). */
  take(bytes: number, now = Date.now()): 'message_rate' | 'byte_rate' | undefined {
    if (this.#bytes !== null && this.#bytes.waitMs(bytes, now) > 0) return 'byte_rate';
    if (this.#messages !== null && !this.#messages.take(1, now)) return 'message_rate';
    this.#bytes?.take(bytes, now);
    return undefined;
  }
}
