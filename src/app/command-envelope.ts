/**
 * Decoding of command messages: `{"id", "cmd", "data"}`, or the opt-in key-value form
 * `{"name": argument, ...}`. `__proto__`, `constructor` and `prototype` keys are dropped right
 * after parsing, at every depth, so input can never reach an object's prototype chain.
 */
import { encodeBinaryFrame, hasBytes } from './binary-frame.js';
import { CommandErrorCode, type CommandErrorBody } from './command-error.js';

export type CommandId = string | number | null;

export type Envelope =
  | { kind: 'command'; id: CommandId; cmd: string; data: unknown }
  | { kind: 'keyvalue'; entries: Array<[string, unknown]> }
  | { kind: 'invalid'; id: CommandId; error: CommandErrorBody };

const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export function safeJsonParse(text: string): unknown {
  const root: unknown = JSON.parse(text);
  // An explicit stack, not a reviver: a reviver recurses once per nesting level, so valid but
  // deeply nested JSON overflowed the call stack and was answered as malformed.
  const pending: unknown[] = [root];
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value !== 'object' || value === null) continue;
    const obj = value as Record<string, unknown>;
    for (const key of Object.keys(obj)) {
      if (UNSAFE_KEYS.has(key)) delete obj[key];
      else pending.push(obj[key]);
    }
  }
  return root;
}

export function decodeEnvelope(text: string, keyValue: boolean): Envelope {
  let value: unknown;
  try {
    value = safeJsonParse(text);
  } catch (err) {
    return invalid(null, CommandErrorCode.BAD_JSON, `malformed JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  return envelopeOf(value, keyValue);
}

/** The envelope of an already parsed message (a text message's JSON, or a binary frame's header with its bytes in place). */
export function envelopeOf(value: unknown, keyValue: boolean): Envelope {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return invalid(null, CommandErrorCode.BAD_REQUEST, 'a command must be a JSON object');
  }
  const obj = value as Record<string, unknown>;
  const rawId = obj['id'];
  const id: CommandId = typeof rawId === 'string' || (typeof rawId === 'number' && Number.isFinite(rawId)) ? rawId : null;
  if (rawId !== undefined && rawId !== null && id === null) return invalid(null, CommandErrorCode.BAD_REQUEST, '"id" must be a string or a number');
  if (Object.hasOwn(obj, 'cmd')) {
    if (typeof obj['cmd'] !== 'string' || obj['cmd'] === '') return invalid(id, CommandErrorCode.BAD_REQUEST, '"cmd" must be a non-empty string');
    return { kind: 'command', id, cmd: obj['cmd'], data: obj['data'] };
  }
  if (keyValue) {
    const entries = Object.entries(obj);
    if (entries.length > 0) return { kind: 'keyvalue', entries };
  }
  return invalid(id, CommandErrorCode.BAD_REQUEST, 'missing "cmd"');
}

function invalid(id: CommandId, code: string, message: string): Envelope {
  return { kind: 'invalid', id, error: { code, message } };
}

export function encodeReply(id: CommandId, data: unknown): string {
  return JSON.stringify({ id, ok: true, data: data === undefined ? null : data });
}

/** The same text as encodeReply, from data that is JSON text already. */
export function replyText(id: CommandId, dataJson: string): string {
  return `{"id":${JSON.stringify(id)},"ok":true,"data":${dataJson}}`;
}

export function encodeError(id: CommandId, error: CommandErrorBody): string {
  return JSON.stringify({ id, ok: false, error });
}

/** A reply whose data holds bytes is a binary frame (binary-frame.ts); any other is text. */
export function encodeReplyMessage(id: CommandId, data: unknown): string | Uint8Array {
  return hasBytes(data) ? encodeBinaryFrame({ id, ok: true, data }) : encodeReply(id, data);
}

/** A push whose data holds bytes is a binary frame (binary-frame.ts); any other is text. */
export function encodePushMessage(event: string, data?: unknown): string | Uint8Array {
  return hasBytes(data) ? encodeBinaryFrame({ event, data }) : encodePush(event, data);
}

/** A server push `{"event", ...fields, "data"}`: the one place push texts are built. */
export function encodePush(event: string, data?: unknown, fields?: Record<string, unknown>): string {
  return pushText(event, data === undefined ? 'null' : JSON.stringify(data), fields);
}

/** A push that carries no data, only its fields (e.g. `room.reset`). */
export function encodeEvent(event: string, fields: Record<string, unknown>): string {
  return `${pushHead(event, fields)}}`;
}

/** A push whose data is already JSON text (serialised once for many recipients, or received so). */
export function pushText(event: string, dataJson: string, fields?: Record<string, unknown>): string {
  return `${pushHead(event, fields)},"data":${dataJson}}`;
}

function pushHead(event: string, fields: Record<string, unknown> | undefined): string {
  let head = `{"event":${JSON.stringify(event)}`;
  if (fields !== undefined) for (const key in fields) head += `,${JSON.stringify(key)}:${JSON.stringify(fields[key])}`;
  return head;
}
