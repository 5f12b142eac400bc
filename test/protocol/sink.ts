import { Buffer } from 'node:buffer';
import { ProtocolConnection, type ProtocolError, type ProtocolOptions, type ProtocolSink, encodeFrame, type Frame } from '../../src/protocol/index.js';

export type Event =
  | { type: 'message'; data: Buffer; binary: boolean }
  | { type: 'fragment'; data: Buffer; binary: boolean; fin: boolean }
  | { type: 'ping' | 'pong'; data: Buffer }
  | { type: 'closeFrame'; code: number; reason: string }
  | { type: 'error'; code: string; closeCode: number }
  | { type: 'end' }
  | { type: 'frame'; frame: Frame };

/** A sink that records what the core did, for byte-exact tests without sockets. */
export class RecordingSink implements ProtocolSink {
  events: Event[] = [];
  out: Buffer[] = [];
  reply: { code: number; reason: string } | undefined;
  output(data: Buffer): void {
    this.out.push(Buffer.from(data));
  }
  onMessage(data: Buffer, binary: boolean): void {
    this.events.push({ type: 'message', data: Buffer.from(data), binary });
  }
  onFragment(data: Buffer, binary: boolean, fin: boolean): void {
    this.events.push({ type: 'fragment', data: Buffer.from(data), binary, fin });
  }
  onFrame(frame: Frame): void {
    this.events.push({ type: 'frame', frame: { ...frame, payload: Buffer.from(frame.payload) } });
  }
  onPing(data: Buffer): void {
    this.events.push({ type: 'ping', data: Buffer.from(data) });
  }
  onPong(data: Buffer): void {
    this.events.push({ type: 'pong', data: Buffer.from(data) });
  }
  onCloseFrame(code: number, reason: string) {
    this.events.push({ type: 'closeFrame', code, reason });
    return this.reply;
  }
  onError(error: ProtocolError): void {
    this.events.push({ type: 'error', code: error.code, closeCode: error.closeCode });
  }
  endTransport(): void {
    this.events.push({ type: 'end' });
  }
  output_(): Buffer {
    return Buffer.concat(this.out);
  }
}

export function server(opts: Partial<ProtocolOptions> = {}): { conn: ProtocolConnection; sink: RecordingSink } {
  const sink = new RecordingSink();
  const conn = new ProtocolConnection(sink, { role: 'server', maxMessageBytes: 1 << 20, maxFrameBytes: 1 << 20, ...opts });
  return { conn, sink };
}

export function client(opts: Partial<ProtocolOptions> = {}): { conn: ProtocolConnection; sink: RecordingSink } {
  const sink = new RecordingSink();
  let n = 0;
  const conn = new ProtocolConnection(sink, {
    role: 'client',
    maxMessageBytes: 1 << 20,
    maxFrameBytes: 1 << 20,
    maskKey: () => Uint8Array.of(1, 2, 3, (n++) & 0xff),
    ...opts,
  });
  return { conn, sink };
}

export const MASK = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);

/** A masked client frame, as a browser would send it. */
export function cframe(opcode: number, payload: Uint8Array | string, fin = true, rsv = 0): Buffer {
  return encodeFrame(opcode, typeof payload === 'string' ? Buffer.from(payload) : payload, fin, rsv, MASK);
}

/** An unmasked server frame. */
export function sframe(opcode: number, payload: Uint8Array | string, fin = true, rsv = 0): Buffer {
  return encodeFrame(opcode, typeof payload === 'string' ? Buffer.from(payload) : payload, fin, rsv, null);
}

/** Feed `bytes` split at the given cut points. */
export function feedSplit(conn: ProtocolConnection, bytes: Buffer, cuts: number[]): void {
  let prev = 0;
  for (const c of [...cuts, bytes.length]) {
    if (c > prev) conn.receiveData(Buffer.from(bytes.subarray(prev, c)));
    prev = c;
  }
}

export function closeCodeOf(out: Buffer): number | null {
  // the last frame written must be a Close: find it by scanning frames
  let p = 0;
  let code: number | null = null;
  while (p < out.length) {
    const op = out[p]! & 0x0f;
    const masked = (out[p + 1]! & 0x80) !== 0;
    let len = out[p + 1]! & 0x7f;
    let h = 2;
    if (len === 126) { len = out.readUInt16BE(p + 2); h = 4; } else if (len === 127) { len = Number(out.readBigUInt64BE(p + 2)); h = 10; }
    if (masked) h += 4;
    if (op === 8) {
      const payload = Buffer.from(out.subarray(p + h, p + h + len));
      if (masked) { const m = out.subarray(p + h - 4, p + h); for (let i = 0; i < payload.length; i++) payload[i]! ^= m[i & 3]!; }
      code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
    }
    p += h + len;
  }
  return code;
}
