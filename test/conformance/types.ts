// The conformance table's data model. A case is plain data: what the harness sends (as
// frames, in a chunking), where it waits, and what the subject must do in response.
import type { Buffer } from 'node:buffer';
import type { FrameSpec } from '../helpers/frames.js';
import type { Chunking } from '../helpers/raw-connection.js';

export type Role = 'server' | 'client';

export type Step =
  /** frames are encoded for the harness's role (masked from the client side), then chunked */
  | { send: FrameSpec[]; chunking?: Chunking; pauseMs?: number; compress?: boolean }
  /**
   * Fail-fast gate: the subject's close frame must arrive before the harness goes on.
   * Waits up to a generous deadline; if it passes without a close, the case is not fail-fast.
   */
  | { gate: 'close'; strict?: boolean }
  /**
   * One frame written in pieces cut at these payload offsets; after piece `gateAfter` the
   * subject's close frame must arrive before the next piece is written (fail-fast inside a frame).
   */
  | { sendSplit: FrameSpec; payloadOffsets: number[]; gateAfter?: number }
  /** sequencing: wait until the subject has produced this many events (messages/pongs) */
  | { gate: 'events'; count: number }
  /** pacing only (never asserted) */
  | { pause: number }
  /** send `count` copies of a message, each compressed if `compress` (deflate cases) */
  | { sendMessages: Array<{ op: number; payload: Buffer | string }>; compress?: boolean; chunking?: Chunking };

/** What the harness observes the subject send, message-level (fragments reassembled, inflated). */
export type Ev = { text: string | Buffer } | { binary: Buffer } | { pong: Buffer | string } | { ping: Buffer | string };

export type Expect =
  /** the subject echoes these events; then the harness closes with 1000 and expects 1000 back */
  | { kind: 'echo'; events: Ev[] }
  /** the subject fails the connection with one of these codes, after sending exactly `events` */
  | { kind: 'fail'; codes: number[]; events?: Ev[] }
  /**
   * the harness's steps contain a close frame; the subject answers with one of these codes
   * (null = empty close payload) after sending exactly `events`, and nothing after its close
   */
  | { kind: 'close'; codes: Array<number | null>; events?: Ev[] };

/** Which configuration of the subject a case needs. */
export type Profile = 'default' | 'limits' | 'deflate' | 'deflate-limits';

/** permessage-deflate negotiation for a case. */
export interface DeflateCase {
  /** server subject: the Sec-WebSocket-Extensions offer the raw client sends */
  offer?: string;
  /** client subject: the permessage-deflate options our client is created with */
  clientOptions?: boolean | Record<string, unknown>;
  /** client subject: the raw server's Sec-WebSocket-Extensions answer */
  answer?: string;
  /** server subject: the server's options (the 'deflate' profile when absent) */
  serverOptions?: boolean | Record<string, unknown>;
  /** server subject: the offer is invalid and must be declined (no extension in the response) */
  mustDecline?: boolean;
  /** server subject: the offer must be accepted */
  mustAccept?: boolean;
  /** server subject: parameters that must appear in the server's answer */
  answerMustHave?: string[];
}

export interface Case {
  id: string;
  group: string;
  description: string;
  /** which subjects the case applies to (default both) */
  roles?: Role[];
  profile?: Profile;
  deflate?: DeflateCase;
  steps: Step[];
  expect: Expect;
}

export type Outcome = 'OK' | 'NON-STRICT' | 'FAILED';

export interface CaseResult {
  id: string;
  group: string;
  role: Role;
  outcome: Outcome;
  detail: string;
}
