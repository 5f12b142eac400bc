// Small constructors that keep the case tables readable. They only build data.
import { Buffer } from 'node:buffer';
import { OP, closePayload, type FrameSpec } from '../helpers/frames.js';
import type { Ev } from './types.js';

type P = Uint8Array | string;
type Opts = Omit<FrameSpec, 'op' | 'payload'>;

export const text = (payload: P = '', o: Opts = {}): FrameSpec => ({ op: OP.TEXT, payload, ...o });
export const binary = (payload: P = '', o: Opts = {}): FrameSpec => ({ op: OP.BINARY, payload, ...o });
export const cont = (payload: P = '', o: Opts = {}): FrameSpec => ({ op: OP.CONT, payload, ...o });
export const ping = (payload: P = '', o: Opts = {}): FrameSpec => ({ op: OP.PING, payload, ...o });
export const pong = (payload: P = '', o: Opts = {}): FrameSpec => ({ op: OP.PONG, payload, ...o });
export const close = (code?: number, reason: P = '', o: Opts = {}): FrameSpec => ({ op: OP.CLOSE, payload: closePayload(code, reason), ...o });
export const closeRaw = (payload: P, o: Opts = {}): FrameSpec => ({ op: OP.CLOSE, payload, ...o });
export const frame = (op: number, payload: P = '', o: Opts = {}): FrameSpec => ({ op, payload, ...o });

export const T = (data: string | Buffer): Ev => ({ text: data });
export const B = (data: Buffer): Ev => ({ binary: data });
export const PONG = (data: Buffer | string = ''): Ev => ({ pong: data });

export const hex = (h: string): Buffer => Buffer.from(h.replace(/\s+/g, ''), 'hex');
export const bytes = (...parts: Array<string | Buffer>): Buffer => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));

/** Split a payload into fragments of `size` bytes: first text/binary, then continuations. */
export function fragments(op: number, payload: Buffer, size: number): FrameSpec[] {
  const out: FrameSpec[] = [];
  if (payload.length === 0) return [{ op, payload, fin: true }];
  for (let i = 0; i < payload.length; i += size) {
    out.push({ op: i === 0 ? op : OP.CONT, payload: payload.subarray(i, i + size), fin: i + size >= payload.length });
  }
  return out;
}
