import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { DeflateFrame, PerMessageDeflate, ProtocolConnection, State, ZlibCodecPool, isValidUtf8, parseExtensions, type Extension, type Frame, type ProtocolError, type ProtocolOptions, type ProtocolSink } from '../subjects.js';
import { Prng, randomCuts, seedOf, splitAt } from '../prng.js';
import { craftFrame, readWireFrames } from '../wire-frames.js';
import type { FuzzTarget } from '../target.js';

/**
 * The receive path of a connection, from bytes to events: frame parser, message assembly,
 * UTF-8, close handshake, limits, and decompression with the real zlib codec.
 *
 * Input: byte 0 = setup (role, extension, delivery mode, limits), byte 1 = chunking seed,
 * the rest = the byte stream the peer sent.
 */

const LIMITS = [
  { maxMessageBytes: 1 << 20, maxFrameBytes: 1 << 20 },
  { maxMessageBytes: 100, maxFrameBytes: 1 << 20 },
  { maxMessageBytes: 1000, maxFrameBytes: 50 },
  { maxMessageBytes: 16, maxFrameBytes: 16 },
] as const;

const EXTENSIONS = ['none', 'permessage-deflate', 'permessage-deflate-no-takeover', 'deflate-frame'] as const;
type ExtensionKind = (typeof EXTENSIONS)[number];

export interface Setup {
  role: 'server' | 'client';
  extension: ExtensionKind;
  streamMessages: boolean;
  observeFrames: boolean;
  limits: number;
  /** Negotiate 9-bit windows instead of 15. */
  smallWindow: boolean;
}

export function decodeSetup(b: number): Setup {
  return {
    role: b & 1 ? 'client' : 'server',
    extension: EXTENSIONS[(b >> 1) & 3]!,
    streamMessages: (b & 0x08) !== 0,
    observeFrames: (b & 0x10) !== 0,
    limits: (b >> 5) & 3,
    smallWindow: (b & 0x80) !== 0,
  };
}

export function encodeSetup(s: Setup): number {
  return (
    (s.role === 'client' ? 1 : 0) |
    (EXTENSIONS.indexOf(s.extension) << 1) |
    (s.streamMessages ? 0x08 : 0) |
    (s.observeFrames ? 0x10 : 0) |
    (s.limits << 5) |
    (s.smallWindow ? 0x80 : 0)
  );
}

function firstElement(header: string) {
  return parseExtensions(header)![0]!.params;
}

/** Negotiate the setup's extension between our receiver and a peer, as a real handshake would. */
function negotiate(setup: Setup, pool: ZlibCodecPool): { receiver: Extension[]; peer: Extension[] } {
  if (setup.extension === 'none') return { receiver: [], peer: [] };
  let serverExt: Extension;
  let clientExt: Extension;
  if (setup.extension === 'deflate-frame') {
    const opts = setup.smallWindow ? { maxWindowBits: 9 } : {};
    const clientFactory = new DeflateFrame(pool.factory, opts);
    serverExt = new DeflateFrame(pool.factory, opts).accept([firstElement(clientFactory.offer())])!;
    clientExt = clientFactory.confirm(firstElement(serverExt.response));
  } else {
    const noTakeover = setup.extension === 'permessage-deflate-no-takeover';
    const clientFactory = new PerMessageDeflate(pool.factory, {
      ...(noTakeover ? { serverNoContextTakeover: true, clientNoContextTakeover: true } : {}),
      ...(setup.smallWindow ? { serverMaxWindowBits: 9, clientMaxWindowBits: 9 } : {}),
      threshold: 0,
    });
    const serverFactory = new PerMessageDeflate(pool.factory, noTakeover ? { serverNoContextTakeover: true, clientNoContextTakeover: true, threshold: 0 } : { threshold: 0 });
    serverExt = serverFactory.accept([firstElement(clientFactory.offer())])!;
    clientExt = clientFactory.confirm(firstElement(serverExt.response));
  }
  return setup.role === 'server' ? { receiver: [serverExt], peer: [clientExt] } : { receiver: [clientExt], peer: [serverExt] };
}

type Event = readonly unknown[];

/** Records what the connection reports; streamed pieces are joined, so any chunking compares equal. */
class Recorder implements ProtocolSink {
  events: Event[] = [];
  out: Buffer[] = [];
  #pieces: Buffer[] | null = null;
  output(data: Buffer): void {
    this.out.push(Buffer.from(data));
  }
  onMessage(data: Buffer, isBinary: boolean): void {
    this.events.push(['message', isBinary, Buffer.from(data)]);
  }
  onFragment(data: Buffer, isBinary: boolean, fin: boolean): void {
    (this.#pieces ??= []).push(Buffer.from(data));
    if (fin) {
      this.events.push(['message', isBinary, Buffer.concat(this.#pieces)]);
      this.#pieces = null;
    }
  }
  onFrame(frame: Frame): void {
    this.events.push(['frame', frame.fin, frame.rsv, frame.opcode, Buffer.from(frame.payload)]);
  }
  onPing(data: Buffer): void {
    this.events.push(['ping', Buffer.from(data)]);
  }
  onPong(data: Buffer): void {
    this.events.push(['pong', Buffer.from(data)]);
  }
  onCloseFrame(code: number, reason: string): void {
    this.events.push(['close', code, reason]);
  }
  onError(error: ProtocolError): void {
    this.events.push(['error', error.code, error.closeCode]);
  }
  endTransport(): void {
    this.events.push(['end']);
  }
}

interface Outcome {
  events: Event[];
  out: Buffer;
  failure: ProtocolError | null;
  closeReceived: boolean;
  state: number;
}

function feed(setup: Setup, chunks: readonly Buffer[]): Outcome {
  const pool = new ZlibCodecPool();
  const { receiver, peer } = negotiate(setup, pool);
  for (const e of peer) e.dispose();
  const sink = new Recorder();
  let n = 0;
  const options: ProtocolOptions = {
    role: setup.role,
    ...LIMITS[setup.limits]!,
    streamMessages: setup.streamMessages,
    observeFrames: setup.observeFrames,
    ...(setup.role === 'client' ? { maskKey: () => Uint8Array.of(0x5a, 0xa5, 0x3c, n++ & 0xff) } : {}),
  };
  const conn = new ProtocolConnection(sink, options, receiver);
  try {
    for (const c of chunks) conn.receiveData(c);
  } finally {
    conn.dispose();
    pool.close();
  }
  return { events: sink.events, out: Buffer.concat(sink.out), failure: conn.failure, closeReceived: conn.closeReceived !== null, state: conn.state };
}

function closeCodeOf(payload: Buffer): number {
  return payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
}

/** What must hold for any byte stream, whatever it contains. */
function checkOutcome(r: Outcome, setup: Setup): void {
  const frames = readWireFrames(r.out, setup.role === 'client');
  for (const f of frames) {
    assert.ok(f.opcode === 0x8 || f.opcode === 0xa, `the receive path wrote a frame with opcode ${f.opcode}`);
    assert.ok(f.fin && f.rsv === 0, 'a control frame we wrote is fragmented or has RSV bits');
  }
  const closes = frames.filter((f) => f.opcode === 0x8);
  const kinds = r.events.map((e) => e[0]);
  const count = (k: string) => kinds.filter((x) => x === k).length;
  const endAt = kinds.indexOf('end');
  if (endAt !== -1) assert.equal(endAt, kinds.length - 1, 'events after endTransport');
  const closeAt = kinds.indexOf('close');
  if (closeAt !== -1) assert.ok(kinds.slice(closeAt + 1).every((k) => k === 'end'), 'events after the peer Close');

  if (r.failure) {
    const code = r.failure.closeCode;
    assert.ok([1002, 1007, 1009].includes(code) || (code === 1011 && r.failure.code === 'ERR_WS_EXTENSION'), `failure ${r.failure.code} closes with ${code}`);
    assert.equal(closes.length, 1, `a failed connection wrote ${closes.length} Close frames`);
    assert.equal(frames.at(-1)!.opcode, 0x8, 'the Close frame is not the last frame written');
    assert.equal(closeCodeOf(closes[0]!.payload), code, 'the Close frame does not carry the failure code');
    assert.equal(count('error'), 1);
    assert.equal(count('end'), 1);
    assert.deepEqual(r.events.at(-2), ['error', r.failure.code, code]);
    assert.equal(r.state, State.CLOSED);
  } else {
    assert.equal(count('error'), 0);
    if (r.closeReceived) {
      assert.equal(closes.length, 1, 'the peer Close was not answered exactly once');
      assert.equal(frames.at(-1)!.opcode, 0x8);
      assert.equal(count('end'), setup.role === 'server' ? 1 : 0, 'only the server drops TCP after the close handshake');
      const p = closes[0]!.payload;
      assert.ok(p.length === 0 || p.length >= 2, 'echoed Close payload of 1 byte');
    } else {
      assert.equal(closes.length, 0);
      assert.equal(count('end'), 0);
    }
  }
  // Every ping that arrived before our Close is answered, in order, with its payload.
  const pings = r.events.filter((e) => e[0] === 'ping').map((e) => e[1]);
  assert.deepEqual(frames.filter((f) => f.opcode === 0xa).map((f) => f.payload), pings);
  const limit = LIMITS[setup.limits]!.maxMessageBytes;
  for (const e of r.events) {
    if (e[0] !== 'message') continue;
    const data = e[2] as Buffer;
    assert.ok(data.length <= limit, `message of ${data.length} bytes delivered past the ${limit}-byte limit`);
    if (e[1] === false) assert.ok(isValidUtf8(data), 'text message with invalid UTF-8 delivered');
  }
}

function run(input: Buffer): void {
  const setup = decodeSetup(input[0] ?? 0);
  const stream = input.subarray(2);
  const whole = feed(setup, stream.length ? [Buffer.from(stream)] : []);
  checkOutcome(whole, setup);
  const rng = new Prng(((input[1] ?? 0) << 24) ^ seedOf(stream));
  const chunkings = [splitAt(stream, randomCuts(stream.length, rng, 16))];
  if (stream.length <= 256) chunkings.push(splitAt(stream, Array.from({ length: Math.max(0, stream.length - 1) }, (_, i) => i + 1)));
  for (const chunks of chunkings) {
    const split = feed(setup, chunks);
    assert.deepEqual(split.events, whole.events, `chunking ${chunks.map((c) => c.length).join('+')} changed the events`);
    assert.ok(split.out.equals(whole.out), `chunking ${chunks.map((c) => c.length).join('+')} changed the bytes written`);
  }
}

// ---------------------------------------------------------------- generation

type Op =
  | { t: 'message'; binary: boolean; data: Uint8Array; compress: boolean; cuts: number[]; ping: boolean }
  | { t: 'ping' | 'pong'; data: Uint8Array }
  | { t: 'close'; code: number | null; reason: Uint8Array }
  | { t: 'raw'; fin: boolean; rsv: number; opcode: number; payload: Uint8Array; wrongMask: boolean; longLength: boolean }
  | { t: 'junk'; bytes: Uint8Array };

const text = fc.string({ unit: 'grapheme', maxLength: 40 }).map((s) => new Uint8Array(Buffer.from(s)));
const nearText = fc.tuple(text, fc.nat(), fc.constantFrom(0x80, 0xc0, 0xc3, 0xe2, 0xed, 0xf0, 0xf4, 0xf5, 0xff)).map(([t, at, b]) => {
  const out = Buffer.from(t);
  return new Uint8Array(Buffer.concat([out.subarray(0, at % (out.length + 1)), Buffer.of(b), out.subarray(at % (out.length + 1))]));
});
const bytes = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.uint8Array({ minLength: 100, maxLength: 400 }) },
  { weight: 1, arbitrary: fc.integer({ min: 120, max: 70_000 }).map((n) => new Uint8Array(n).fill(0x61)) },
);
const data = fc.oneof({ weight: 3, arbitrary: text }, { weight: 1, arbitrary: nearText }, { weight: 3, arbitrary: bytes });

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ t: fc.constant('message' as const), binary: fc.boolean(), data, compress: fc.boolean(), cuts: fc.array(fc.nat(), { maxLength: 3 }), ping: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constantFrom('ping' as const, 'pong' as const), data: fc.oneof(fc.uint8Array({ maxLength: 20 }), fc.uint8Array({ minLength: 124, maxLength: 127 })) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('close' as const),
      code: fc.option(fc.oneof(fc.constantFrom(1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1011, 1015, 1016, 2999, 3000, 4999, 5000, 0, 65535), fc.integer({ min: 0, max: 65535 }))),
      reason: fc.oneof(text, nearText),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('raw' as const),
      fin: fc.boolean(),
      rsv: fc.constantFrom(0, 0x40, 0x20, 0x10, 0x70),
      opcode: fc.integer({ min: 0, max: 15 }),
      payload: fc.uint8Array({ maxLength: 140 }),
      wrongMask: fc.boolean(),
      longLength: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('junk' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }) }) },
);

/** Split `data` at fractions given by `cuts` (values mod length). */
function pieces(data: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => (data.length ? c % data.length : 0)).filter((c) => c > 0))].sort((a, b) => a - b);
  const out = splitAt(data, at);
  return out.length ? out : [Buffer.alloc(0)];
}

/** Build the bytes a peer would send for `ops` (with the extension's real compressor). */
export function buildStream(setup: Setup, ops: readonly Op[], maskSeed: number): Buffer {
  const pool = new ZlibCodecPool();
  const { receiver, peer } = negotiate(setup, pool);
  for (const e of receiver) e.dispose();
  const ext = peer[0];
  const rng = new Prng(maskSeed);
  const masked = setup.role === 'server';
  const mask = (wrong = false): Uint8Array | null => ((masked !== wrong) ? Uint8Array.of(rng.below(256), rng.below(256), rng.below(256), rng.below(256)) : null);
  const out: Buffer[] = [];
  const frame = (fin: boolean, rsv: number, opcode: number, payload: Uint8Array) => out.push(craftFrame({ fin, rsv, opcode, mask: mask(), payload }));
  try {
    for (const o of ops) {
      switch (o.t) {
        case 'message': {
          const plain = Buffer.from(o.data);
          const opcode = o.binary ? 0x2 : 0x1;
          if (ext && o.compress && ext.scope === 'frame') {
            pieces(plain, o.cuts).forEach((p, i, all) => {
              const enc = ext.encode(p, !o.binary);
              frame(i === all.length - 1, enc ? enc.rsv : 0, i === 0 ? opcode : 0, enc ? enc.payload : p);
            });
            break;
          }
          let payload: Buffer = plain;
          let rsv = 0;
          if (ext && o.compress) {
            const enc = ext.encode(plain, !o.binary);
            if (enc) ({ payload, rsv } = enc);
          }
          pieces(payload, o.cuts).forEach((p, i, all) => {
            if (i === 1 && o.ping) frame(true, 0, 0x9, Buffer.from('mid'));
            frame(i === all.length - 1, i === 0 ? rsv : 0, i === 0 ? opcode : 0, p);
          });
          break;
        }
        case 'ping':
        case 'pong':
          frame(true, 0, o.t === 'ping' ? 0x9 : 0xa, o.data);
          break;
        case 'close': {
          const reason = Buffer.from(o.reason.subarray(0, 123));
          const payload = o.code === null ? Buffer.alloc(0) : Buffer.concat([Buffer.from([o.code >> 8, o.code & 0xff]), reason]);
          frame(true, 0, 0x8, payload);
          break;
        }
        case 'raw':
          out.push(craftFrame({ fin: o.fin, rsv: o.rsv, opcode: o.opcode, mask: mask(o.wrongMask), payload: o.payload, longLength: o.longLength }));
          break;
        case 'junk':
          out.push(Buffer.from(o.bytes));
          break;
      }
    }
  } finally {
    for (const e of peer) e.dispose();
    pool.close();
  }
  return Buffer.concat(out);
}

const setupArb: fc.Arbitrary<Setup> = fc.record({
  role: fc.constantFrom('server' as const, 'client' as const),
  extension: fc.constantFrom(...EXTENSIONS),
  streamMessages: fc.boolean(),
  observeFrames: fc.boolean(),
  limits: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) }),
  smallWindow: fc.boolean(),
});

function input(setup: Setup, chunkSeed: number, stream: Buffer): Buffer {
  return Buffer.concat([Buffer.of(encodeSetup(setup), chunkSeed & 0xff), stream]);
}

const SEED_OPS: Op[][] = [
  [{ t: 'message', binary: false, data: Buffer.from('Hello'), compress: false, cuts: [], ping: false }],
  [{ t: 'message', binary: false, data: Buffer.from('Hello, compressed world, Hello'), compress: true, cuts: [], ping: false }, { t: 'message', binary: true, data: Buffer.alloc(300, 7), compress: true, cuts: [100, 200], ping: true }],
  [{ t: 'message', binary: false, data: Buffer.from('fragmented text ✓'), compress: false, cuts: [3, 9], ping: true }, { t: 'ping', data: Buffer.from('p') }],
  [{ t: 'message', binary: true, data: Buffer.alloc(200, 1), compress: false, cuts: [], ping: false }, { t: 'close', code: 1000, reason: Buffer.from('bye') }],
  [{ t: 'close', code: null, reason: Buffer.alloc(0) }],
  [{ t: 'message', binary: false, data: Buffer.from('a'.repeat(70_000)), compress: true, cuts: [30_000], ping: false }],
  [{ t: 'raw', fin: false, rsv: 0, opcode: 0x9, payload: Buffer.from('x'), wrongMask: false, longLength: false }],
];

export const framesTarget: FuzzTarget = {
  name: 'frames',
  maxLength: 1 << 17,
  dictionary: [
    [0x81], [0x82], [0x80], [0x01], [0x00], [0x88], [0x89], [0x8a], [0xc1], [0xc2], [0x41], [0xc0], [0xf1], [0x8b], [0x83],
    [0x7e, 0x00, 0x7e], [0xfe, 0xff, 0xff], [0x7f, 0, 0, 0, 0, 0, 0x01, 0, 0], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    [0x00, 0x00, 0xff, 0xff], [0x03, 0xe8], [0x03, 0xed], [0x0b, 0xb8], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xce, 0xba],
  ].map((b) => Buffer.from(b)),
  seeds() {
    const out: Buffer[] = [];
    for (let s = 0; s < 256; s += 7) {
      const setup = decodeSetup(s);
      if (setup.limits !== 0) continue;
      for (const ops of SEED_OPS) out.push(input(setup, s, buildStream(setup, ops, s)));
    }
    return out;
  },
  generate: fc
    .record({ setup: setupArb, chunkSeed: fc.nat(255), maskSeed: fc.nat(), ops: fc.array(op, { maxLength: 8 }) })
    .map(({ setup, chunkSeed, maskSeed, ops }) => input(setup, chunkSeed, buildStream(setup, ops, maskSeed))),
  run,
};
