import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { PerMessageDeflate, ProtocolError, ZlibCodecPool, parseExtensions, type Extension } from '../subjects.js';
import { farthestReference } from '../deflate-distances.js';
import { Prng, randomCuts, seedOf, splitAt } from '../prng.js';
import type { FuzzTarget } from '../target.js';

/**
 * The permessage-deflate inflater with the real zlib codec, message by message, as the
 * connection drives it. The same messages are decoded three ways that must agree: whole with
 * live contexts; whole on a pool of one context, another connection evicting ours before
 * every message (rebuilt from its history); frame by frame with an eviction attempt between
 * frames. Each is checked against a model of RFC 7692 built on node's one-shot zlib.
 *
 * Input: byte 0 = setup (window bits, context takeover, size limit), byte 1 = fragment seed,
 * then messages as [u16 length][compressed payload without the 00 00 ff ff tail].
 */

const LIMITS = [0, 1, 100, 1000, 16_384, 65_536, 1 << 20, 4 << 20];
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const MAX_MESSAGES = 8;

export interface InflateSetup {
  windowBits: number;
  noContextTakeover: boolean;
  limit: number;
}

export function decodeInflateSetup(b: number): InflateSetup {
  return { windowBits: 8 + (b & 7), noContextTakeover: (b & 0x08) !== 0, limit: (b >> 5) & 7 };
}

function encodeInflateSetup(s: InflateSetup): number {
  return (s.windowBits - 8) | (s.noContextTakeover ? 0x08 : 0) | (s.limit << 5);
}

export function parseMessages(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let p = 0;
  while (p < body.length && out.length < MAX_MESSAGES) {
    if (body.length - p < 2) {
      out.push(body.subarray(p));
      break;
    }
    const len = Math.min(body.readUInt16BE(p), body.length - p - 2);
    out.push(body.subarray(p + 2, p + 2 + len));
    p += 2 + len;
  }
  return out;
}

function formatMessages(messages: readonly Buffer[]): Buffer {
  return Buffer.concat(
    messages.map((m) => {
      const b = m.subarray(0, 0xffff);
      const head = Buffer.alloc(2);
      head.writeUInt16BE(b.length);
      return Buffer.concat([head, b]);
    }),
  );
}

/** The server's side of a handshake in which the client offered these parameters. */
function serverExtension(pool: ZlibCodecPool, s: InflateSetup): Extension {
  const offer: Record<string, string | true> = { client_max_window_bits: String(s.windowBits) };
  if (s.noContextTakeover) offer.client_no_context_takeover = true;
  const ext = new PerMessageDeflate(pool.factory).accept([offer]);
  assert.ok(ext, `offer ${JSON.stringify(offer)} declined`);
  // The negotiated response is what the client will honour: check it says what we assume.
  const params = parseExtensions(ext.response)![0]!.params;
  assert.equal(params.client_max_window_bits, String(s.windowBits));
  assert.equal(params.client_no_context_takeover, s.noContextTakeover ? true : undefined);
  return ext;
}

// A message that is one literal block: decodable in any context, so another connection can
// use it to push ours out of a one-context pool.
const NOISE = zlib.deflateRawSync(Buffer.from('x'), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);

type Outcome = { ok: Buffer } | { error: ProtocolError };

function attempt(fn: () => Buffer, limit: number): Outcome {
  try {
    const out = fn();
    assert.ok(out.length <= limit, `inflated ${out.length} bytes past the ${limit}-byte limit`);
    return { ok: Buffer.from(out) };
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    const expected = err.code === 'ERR_WS_DECOMPRESSION_FAILED' ? 1007 : err.code === 'ERR_WS_MESSAGE_TOO_BIG' ? 1009 : 0;
    assert.equal(err.closeCode, expected, `inflater failed with ${err.code} / ${err.closeCode}`);
    return { error: err };
  }
}

interface Mode {
  evict: boolean;
  fragmented: boolean;
}

function decodeAll(s: InflateSetup, messages: readonly Buffer[], mode: Mode, splitSeed: number): Outcome[] {
  const limit = LIMITS[s.limit]!;
  const pool = new ZlibCodecPool(mode.evict ? { maxInflateContexts: 1 } : {});
  const ext = serverExtension(pool, s);
  const noise = mode.evict ? serverExtension(pool, { windowBits: 15, noContextTakeover: false, limit: 0 }) : null;
  const evict = () => noise && noise.decode(NOISE, 0, 100);
  const outcomes: Outcome[] = [];
  try {
    for (const m of messages) {
      evict();
      let o: Outcome;
      if (!mode.fragmented) {
        o = attempt(() => ext.decode(m, 0x40, limit), limit);
      } else {
        const parts = splitAt(m, randomCuts(m.length, new Prng(splitSeed ^ seedOf(m)), 4));
        if (parts.length === 0) parts.push(Buffer.alloc(0));
        const plain: Buffer[] = [];
        let total = 0;
        o = { ok: Buffer.alloc(0) };
        for (const [i, part] of parts.entries()) {
          if (i > 0) evict();
          const fin = i === parts.length - 1;
          const r = attempt(() => ext.decodeFragment!(part, fin, limit - total), limit - total);
          if ('error' in r) {
            o = r;
            break;
          }
          total += r.ok.length;
          plain.push(r.ok);
        }
        if ('ok' in o) o = { ok: Buffer.concat(plain) };
      }
      outcomes.push(o);
      if ('error' in o) break; // the connection is failed: nothing more is decoded
    }
  } finally {
    ext.dispose();
    noise?.dispose();
    pool.close();
  }
  return outcomes;
}

function describeOutcomes(os: readonly Outcome[]): string {
  return os.map((o) => ('ok' in o ? `ok(${o.ok.length})` : `${o.error.closeCode}`)).join(' ');
}

type Expected = { ok: Buffer } | { error: 'corrupt' | 'too big' };

// A non-final stored block holding "Z": inflated after a message, it shows whether the
// message left the peer's deflate stream at a block boundary.
const PROBE = Buffer.from([0x00, 0x01, 0x00, 0xfe, 0xff, 0x5a]);

/**
 * What RFC 7692 says each message inflates to, computed with node's one-shot zlib, one call
 * per message: with context takeover a message sees the window of everything inflated before
 * it (the last 2^windowBits bytes, 9 bits at least as in zlib) whether or not an earlier
 * message ended its deflate stream with BFINAL (section 7.2.3.4); an empty payload holds no
 * block. The model stops after the first error, and after a message that ends inside a
 * block (no compressor emits that: what follows has no single right reading) or that refers
 * past the window.
 */
function expectedOutcomes(s: InflateSetup, messages: readonly Buffer[]): Expected[] {
  const windowBits = Math.max(9, s.windowBits);
  const limit = LIMITS[s.limit]!;
  const expected: Expected[] = [];
  let history = Buffer.alloc(0);
  for (const m of messages) {
    if (m.length === 0) {
      expected.push({ ok: Buffer.alloc(0) });
      continue;
    }
    const dictionary = s.noContextTakeover || history.length === 0 ? {} : { dictionary: history };
    const inflate = (input: Buffer, max: number, finishFlush: number) =>
      zlib.inflateRawSync(input, { windowBits, finishFlush, maxOutputLength: Math.max(1, max), ...dictionary });
    const input = Buffer.concat([m, TAIL]);
    let out: Buffer;
    try {
      out = inflate(input, limit + 1, zlib.constants.Z_SYNC_FLUSH);
    } catch (err) {
      expected.push({ error: (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' ? 'too big' : 'corrupt' });
      break;
    }
    if (out.length > limit) {
      expected.push({ error: 'too big' });
      break;
    }
    // A reference past the window is the peer's fault, and zlib takes it or not depending on
    // how the input was split (it checks distances against its window only across calls).
    const farthest = farthestReference(input);
    if (farthest === null || farthest > 1 << windowBits) break;
    expected.push({ ok: out });
    if (s.noContextTakeover) continue;
    history = Buffer.concat([history, out]).subarray(-(1 << windowBits));
    let ended = true;
    try {
      inflate(input, out.length + 1, zlib.constants.Z_FINISH);
    } catch {
      ended = false;
    }
    if (ended) continue;
    let probed: Buffer | null = null;
    try {
      probed = inflate(Buffer.concat([input, PROBE]), out.length + 2, zlib.constants.Z_SYNC_FLUSH);
    } catch {
      // inside a block: handled below
    }
    if (!probed || probed.length !== out.length + 1 || probed.at(-1) !== 0x5a) break;
  }
  return expected;
}

function checkAgainst(expected: readonly Expected[], got: readonly Outcome[], what: string): void {
  for (const [k, e] of expected.entries()) {
    const o = got[k];
    assert.ok(o, `${what}: message ${k} was not decoded (${describeOutcomes(got)})`);
    if ('ok' in e) {
      assert.ok('ok' in o, `${what}: message ${k} failed with ${'error' in o ? o.error.closeCode : ''}, zlib inflates it to ${e.ok.length} bytes`);
      assert.ok(o.ok.equals(e.ok), `${what}: message ${k} inflated to ${o.ok.length} bytes that differ from zlib's ${e.ok.length}`);
    } else {
      assert.ok('error' in o, `${what}: message ${k} inflated to ${'ok' in o ? o.ok.length : 0} bytes, zlib says ${e.error}`);
      // Without corrupt data, only the size limit can stop a message.
      if (e.error === 'too big') assert.ok(o.error.closeCode === 1009 || o.error.closeCode === 1007, `${what}: message ${k}`);
    }
  }
}

function run(input: Buffer): void {
  const setup = decodeInflateSetup(input[0] ?? 0);
  const splitSeed = (input[1] ?? 0) * 0x01010101;
  const messages = parseMessages(input.subarray(2));
  const expected = expectedOutcomes(setup, messages);
  checkAgainst(expected, decodeAll(setup, messages, { evict: false, fragmented: false }, splitSeed), 'live context');
  checkAgainst(expected, decodeAll(setup, messages, { evict: true, fragmented: false }, splitSeed), 'context evicted before every message');
  checkAgainst(expected, decodeAll(setup, messages, { evict: true, fragmented: true }, splitSeed), 'frame by frame, eviction attempted between frames');
}

// ---------------------------------------------------------------- generation

type Spec =
  | { t: 'data'; data: Uint8Array }
  | { t: 'far-repeat'; block: Uint8Array; times: number }
  | { t: 'bomb'; size: number; byte: number }
  | { t: 'random'; bytes: Uint8Array }
  | { t: 'corrupt'; data: Uint8Array; at: number; xor: number }
  | { t: 'final-block'; data: Uint8Array }
  | { t: 'stored'; data: Uint8Array }
  | { t: 'empty'; oneByte: boolean }
  | { t: 'far-echo'; distance: number; length: number };

const spec: fc.Arbitrary<Spec> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('data' as const), data: fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.string({ maxLength: 300 }).map((s) => new Uint8Array(Buffer.from(s.repeat(3))))) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('far-repeat' as const), block: fc.uint8Array({ minLength: 200, maxLength: 700 }), times: fc.integer({ min: 2, max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('bomb' as const), size: fc.integer({ min: 1000, max: 6 << 20 }), byte: fc.nat(255) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('random' as const), bytes: fc.uint8Array({ maxLength: 64 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('corrupt' as const), data: fc.uint8Array({ minLength: 1, maxLength: 200 }), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('final-block' as const), data: fc.uint8Array({ maxLength: 100 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('stored' as const), data: fc.uint8Array({ maxLength: 100 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('empty' as const), oneByte: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('far-echo' as const), distance: fc.integer({ min: 200, max: 1200 }), length: fc.integer({ min: 3, max: 150 }) }) },
);

/**
 * The messages a zlib-based peer would send. Like every zlib peer, it compresses with a
 * 9-bit window when 8 was negotiated (zlib cannot do 8 for raw deflate).
 */
export function compressMessages(s: InflateSetup, specs: readonly Spec[]): Buffer[] {
  const pool = new ZlibCodecPool();
  const codec = pool.factory({ deflateWindowBits: Math.max(9, s.windowBits), deflateNoContextTakeover: s.noContextTakeover, inflateWindowBits: 15, inflateNoContextTakeover: true });
  // What the peer has sent so far, as plain bytes: the window a far-echo refers into.
  let sent = Buffer.alloc(0);
  const compress = (data: Uint8Array) => {
    sent = Buffer.concat([sent, data]).subarray(-32768);
    const out = codec.deflate(Buffer.from(data));
    const body = out.subarray(0, out.length - 4);
    return body.length ? Buffer.from(body) : Buffer.of(0);
  };
  try {
    return specs.map((m) => {
      switch (m.t) {
        case 'far-echo': {
          // A peer whose compressor ignores the negotiated window: it repeats bytes sent
          // `distance` back, from a wider window of its own. Its stream starts afresh, so
          // only the receiver's window links it to the earlier messages.
          const from = Math.max(0, sent.length - m.distance);
          const data = sent.subarray(from, from + m.length);
          const dictionary = sent.length ? Buffer.from(sent) : undefined;
          const z = zlib.deflateRawSync(data, { windowBits: Math.min(15, Math.max(9, s.windowBits) + 3), finishFlush: zlib.constants.Z_SYNC_FLUSH, ...(dictionary ? { dictionary } : {}) });
          return z.length > 4 ? z.subarray(0, -4) : Buffer.of(0);
        }
        case 'data':
          return compress(m.data);
        case 'far-repeat':
          return compress(Buffer.concat(Array.from({ length: m.times }, () => m.block)));
        case 'bomb':
          return compress(Buffer.alloc(m.size, m.byte));
        case 'random':
          return Buffer.from(m.bytes);
        case 'corrupt': {
          const b = compress(m.data);
          b[m.at % b.length]! ^= m.xor;
          return b;
        }
        case 'final-block':
          return zlib.deflateRawSync(m.data);
        case 'stored': {
          const head = Buffer.from([0x00, m.data.length & 0xff, m.data.length >> 8, ~m.data.length & 0xff, (~m.data.length >> 8) & 0xff]);
          return Buffer.concat([head, m.data]);
        }
        case 'empty':
          return m.oneByte ? Buffer.of(0) : Buffer.alloc(0);
      }
    });
  } finally {
    codec.dispose();
    pool.close();
  }
}

function input(s: InflateSetup, splitSeed: number, messages: readonly Buffer[]): Buffer {
  return Buffer.concat([Buffer.of(encodeInflateSetup(s), splitSeed & 0xff), formatMessages(messages)]);
}

const setupArb: fc.Arbitrary<InflateSetup> = fc.record({
  windowBits: fc.integer({ min: 8, max: 15 }),
  noContextTakeover: fc.boolean(),
  limit: fc.oneof({ weight: 3, arbitrary: fc.constant(6) }, { weight: 2, arbitrary: fc.integer({ min: 0, max: 7 }) }),
});

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

export const inflateTarget: FuzzTarget = {
  name: 'inflate',
  maxLength: 1 << 17,
  dictionary: [hex('0000ffff'), hex('00'), hex('01'), hex('03'), hex('f2'), hex('f3'), hex('ff'), hex('0000'), hex('ffff'), hex('000500faff')],
  seeds() {
    // RFC 7692 section 7.2.3's examples: "Hello" compressed, twice with a shared window,
    // in a stored block, and with BFINAL set.
    const rfc = [[hex('f248cdc9c90700')], [hex('f248cdc9c90700'), hex('f200110000')], [hex('000500faff48656c6c6f00')], [hex('f348cdc9c90700'), hex('f248cdc9c90700')]];
    const out: Buffer[] = [];
    for (let b = 8; b <= 15; b++) {
      for (const noContextTakeover of [false, true]) {
        const s: InflateSetup = { windowBits: b, noContextTakeover, limit: 6 };
        for (const messages of rfc) out.push(input(s, b, messages));
        const far = new Uint8Array(300).map((_, i) => (i * 7919) & 0xff);
        out.push(input(s, b, compressMessages(s, [{ t: 'far-repeat', block: far, times: 3 }, { t: 'data', data: Buffer.from('hello hello hello') }, { t: 'far-repeat', block: far, times: 2 }])));
        if (b === 9 || b === 15) out.push(input({ ...s, limit: 4 }, b, compressMessages(s, [{ t: 'bomb', size: 1 << 20, byte: 0 }])));
      }
    }
    return out;
  },
  generate: fc
    .record({ setup: setupArb, splitSeed: fc.nat(255), specs: fc.array(spec, { minLength: 1, maxLength: 5 }) })
    .map(({ setup, splitSeed, specs }) => input(setup, splitSeed, compressMessages(setup, specs))),
  run,
};
