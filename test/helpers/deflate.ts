// permessage-deflate (RFC 7692) for the test harness, built directly on node:zlib raw
// deflate: header parsing, and per-message compress/decompress with or without context
// takeover and with a chosen window size.
import { Buffer } from 'node:buffer';
import * as zlib from 'node:zlib';

export const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

export interface ExtensionOffer {
  name: string;
  params: Record<string, string | true>;
}

/** Parse a Sec-WebSocket-Extensions value (simple: no quoted commas). */
export function parseExtensions(value: string | undefined): ExtensionOffer[] {
  if (!value) return [];
  const out: ExtensionOffer[] = [];
  for (const part of value.split(',')) {
    const items = part.split(';').map((s) => s.trim());
    const name = items.shift() ?? '';
    if (!name) continue;
    const params: Record<string, string | true> = {};
    for (const item of items) {
      if (!item) continue;
      const eq = item.indexOf('=');
      if (eq < 0) params[item] = true;
      else params[item.slice(0, eq).trim()] = item.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    }
    out.push({ name, params });
  }
  return out;
}

/** Negotiated permessage-deflate parameters, from the point of view of a role. */
export interface DeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  /** 8..15; 15 when absent */
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
}

export function paramsFromResponse(ext: ExtensionOffer): DeflateParams {
  const bits = (v: string | true | undefined) => (v === undefined || v === true ? 15 : Number(v));
  return {
    serverNoContextTakeover: ext.params['server_no_context_takeover'] !== undefined,
    clientNoContextTakeover: ext.params['client_no_context_takeover'] !== undefined,
    serverMaxWindowBits: bits(ext.params['server_max_window_bits']),
    clientMaxWindowBits: bits(ext.params['client_max_window_bits']),
  };
}

/** zlib cannot deflate with an 8-bit window (it uses 9); node maps 8 to 9 itself. */
function zbits(bits: number): number {
  return Math.max(9, Math.min(15, bits));
}

function flushStream(stream: zlib.DeflateRaw | zlib.InflateRaw, input: Buffer, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const onData = (c: Buffer) => {
      chunks.push(c);
      total += c.length;
      if (total > limit) done(new Error(`inflated size exceeds ${limit}`));
    };
    const onError = (e: Error) => done(e);
    let finished = false;
    function done(err?: Error) {
      if (finished) return;
      finished = true;
      stream.off('data', onData);
      stream.off('error', onError);
      if (err) reject(err);
      else resolve(Buffer.concat(chunks));
    }
    stream.on('data', onData);
    stream.on('error', onError);
    stream.write(input);
    stream.flush(zlib.constants.Z_SYNC_FLUSH, () => done());
  });
}

/** Compresses messages for one direction. */
export class MessageDeflater {
  private stream: zlib.DeflateRaw | undefined;
  constructor(
    private readonly windowBits: number,
    private readonly noContextTakeover: boolean,
  ) {}

  async compress(data: Buffer): Promise<Buffer> {
    let out: Buffer;
    if (this.noContextTakeover) {
      out = zlib.deflateRawSync(data, { windowBits: zbits(this.windowBits), finishFlush: zlib.constants.Z_SYNC_FLUSH });
    } else {
      this.stream ??= zlib.createDeflateRaw({ windowBits: zbits(this.windowBits) });
      out = await flushStream(this.stream, data, Infinity);
    }
    if (out.length >= 4 && out.subarray(out.length - 4).equals(TAIL)) out = out.subarray(0, out.length - 4);
    return out;
  }

  close(): void {
    this.stream?.close();
  }
}

/** Decompresses messages for one direction. */
export class MessageInflater {
  private stream: zlib.InflateRaw | undefined;
  constructor(
    private readonly windowBits: number,
    private readonly noContextTakeover: boolean,
    private readonly limit = 256 * 1024 * 1024,
  ) {}

  async decompress(payload: Buffer): Promise<Buffer> {
    const input = Buffer.concat([payload, TAIL]);
    if (this.noContextTakeover) {
      // a fresh inflater per message: proves the sender really reset its context
      const s = zlib.createInflateRaw({ windowBits: zbits(this.windowBits) });
      try {
        return await flushStream(s, input, this.limit);
      } finally {
        s.close();
      }
    }
    this.stream ??= zlib.createInflateRaw({ windowBits: zbits(this.windowBits) });
    return flushStream(this.stream, input, this.limit);
  }

  close(): void {
    this.stream?.close();
  }
}

/**
 * A "compression bomb": the raw-deflate payload (tail removed) of `inflatedBytes` zero
 * bytes, built without ever holding the inflated data in memory.
 */
export async function zeroBomb(inflatedBytes: number): Promise<Buffer> {
  const d = zlib.createDeflateRaw({ level: 9 });
  const chunks: Buffer[] = [];
  d.on('data', (c: Buffer) => chunks.push(c));
  const block = Buffer.alloc(1024 * 1024);
  for (let left = inflatedBytes; left > 0; left -= block.length) {
    const piece = left >= block.length ? block : block.subarray(0, left);
    if (!d.write(piece)) await new Promise<void>((r) => d.once('drain', () => r()));
  }
  await new Promise<void>((r) => d.flush(zlib.constants.Z_SYNC_FLUSH, () => r()));
  d.close();
  let out = Buffer.concat(chunks);
  if (out.subarray(out.length - 4).equals(TAIL)) out = out.subarray(0, out.length - 4);
  return out;
}
