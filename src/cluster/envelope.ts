/**
 * What one node sends another through the broker: a small JSON header and the payload
 * bytes as the sender serialised them once (JSON text of a push's data, or a raw message).
 * The receiving node decodes the header once per message, never per recipient.
 *
 *   [u32 header length][header: UTF-8 JSON][payload]
 *
 * decodeEnvelope never throws: bytes from a broker are peer input.
 */
import { Buffer } from 'node:buffer';

export const ENVELOPE_VERSION = 1;

export type EnvelopeType =
  /** A room message (appended: numbered and kept), payload = the JSON text of its data. */
  | 'room'
  /** A raw message to a room's members, neither numbered nor kept. */
  | 'raw'
  /** A message for connections of one node. */
  | 'direct'
  /** Close connections of one node. */
  | 'close'
  /** `cluster.say(event, data)`. */
  | 'event';

export interface EnvelopeHeader {
  v: number;
  t: EnvelopeType;
  /** Origin node. */
  n: string;
  /** Connection ids that must not receive it. */
  x?: string[];
  /** Connection ids it is for (direct, close). */
  to?: string[];
  /** The payload is a binary message (raw, direct). */
  b?: boolean;
  /** Event name (event). */
  ev?: string;
  /** Close code and reason (close). */
  c?: number;
  r?: string;
}

export interface Envelope extends EnvelopeHeader {
  payload: Uint8Array;
}

const TYPES = new Set<string>(['room', 'raw', 'direct', 'close', 'event']);

export function encodeEnvelope(header: EnvelopeHeader, payload: Uint8Array | string): Uint8Array {
  const head = Buffer.from(JSON.stringify(header));
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const out = Buffer.allocUnsafe(4 + head.length + body.length);
  out.writeUInt32BE(head.length, 0);
  head.copy(out, 4);
  out.set(body, 4 + head.length);
  return out;
}

export function decodeEnvelope(bytes: Uint8Array): Envelope | null {
  if (bytes.length < 4) return null;
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = buf.readUInt32BE(0);
  if (len > buf.length - 4) return null;
  let header: unknown;
  try {
    header = JSON.parse(buf.toString('utf8', 4, 4 + len));
  } catch {
    return null;
  }
  if (!isHeader(header)) return null;
  return { ...header, payload: buf.subarray(4 + len) };
}

function isStringList(v: unknown): v is string[] {
  return Array.isArray(v) && v.length <= 100_000 && v.every((x) => typeof x === 'string');
}

function isHeader(h: unknown): h is EnvelopeHeader {
  if (typeof h !== 'object' || h === null || Array.isArray(h)) return false;
  const o = h as Record<string, unknown>;
  if (o.v !== ENVELOPE_VERSION || typeof o.t !== 'string' || !TYPES.has(o.t) || typeof o.n !== 'string') return false;
  if (o.x !== undefined && !isStringList(o.x)) return false;
  if (o.to !== undefined && !isStringList(o.to)) return false;
  if (o.b !== undefined && typeof o.b !== 'boolean') return false;
  if (o.ev !== undefined && typeof o.ev !== 'string') return false;
  if (o.c !== undefined && !Number.isInteger(o.c)) return false;
  if (o.r !== undefined && typeof o.r !== 'string') return false;
  if ((o.t === 'direct' || o.t === 'close') && o.to === undefined) return false;
  if (o.t === 'event' && o.ev === undefined) return false;
  return true;
}
