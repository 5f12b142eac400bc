// permessage-deflate (RFC 7692; Autobahn sections 12 and 13): parameter combinations with
// compressed echo round trips, negotiation rules, protocol errors and compression bombs.
// Messages are compressed by the harness with node:zlib raw deflate; the subject's
// messages are inflated with the negotiated window and, when no_context_takeover was
// negotiated for the subject's direction, with a fresh inflater per message (so a subject
// that keeps its context when it promised not to is caught).
import { Buffer } from 'node:buffer';
import * as zlib from 'node:zlib';
import { OP, compressibleText, pseudoRandomBytes } from '../helpers/frames.js';
import { zeroBomb } from '../helpers/deflate.js';
import { B, T, bytes, cont, hex, ping, text } from './dsl.js';
import type { Case, DeflateCase, Ev, Step } from './types.js';

const G = 'permessage-deflate';
const KiB = 1024;

function roundTrip(sizes: number[], perSize: number, seed: number): { steps: Step[]; events: Ev[] } {
  const msgs: Array<{ op: number; payload: Buffer }> = [];
  const empty = () => msgs.push({ op: OP.TEXT, payload: Buffer.from('') });
  // empty messages early and in the middle: a sender that emits an empty payload for an
  // empty message with context takeover desynchronises the receiver's inflater, which only
  // shows in the messages that follow
  empty();
  empty();
  for (const n of sizes) {
    for (let k = 0; k < perSize; k++) msgs.push({ op: OP.TEXT, payload: Buffer.from(compressibleText(n, seed + n + k)) });
    empty();
  }
  msgs.push({ op: OP.BINARY, payload: pseudoRandomBytes(Math.min(1024, Math.max(...sizes)), seed) }); // incompressible
  empty();
  msgs.push({ op: OP.TEXT, payload: Buffer.from(compressibleText(100, seed)) });
  return {
    steps: [{ sendMessages: msgs, compress: true }],
    events: msgs.map((m) => (m.op === OP.TEXT ? T(m.payload) : B(m.payload))),
  };
}

const bigSizes = [16, 64, 256, 1 * KiB, 4 * KiB, 16 * KiB, 64 * KiB, 128 * KiB];
const smallSizes = [16, 64, 128, 256]; // for 8-bit windows: zlib only deflates with 9 bits, so stay within 256 bytes

function combo(id: string, roles: Array<'server' | 'client'>, description: string, deflate: DeflateCase, small = false): Case {
  const rt = roundTrip(small ? smallSizes : bigSizes, 4, id.length * 31 + id.charCodeAt(id.length - 1));
  return { id, group: G, roles, profile: 'deflate', description, deflate, steps: rt.steps, expect: { kind: 'echo', events: rt.events } };
}

const cases: Case[] = [];

// ---- server subject: offers from the raw client ----
cases.push(combo('13.1.1', ['server'], 'offer "permessage-deflate"', { offer: 'permessage-deflate', mustAccept: true }));
cases.push(combo('13.1.2', ['server'], 'offer with client_no_context_takeover', { offer: 'permessage-deflate; client_no_context_takeover', mustAccept: true }));
cases.push(combo('13.1.3', ['server'], 'offer with server_no_context_takeover (the server must reset its context per message)', { offer: 'permessage-deflate; server_no_context_takeover' }));
cases.push(combo('13.1.4', ['server'], 'offer with client_max_window_bits (no value)', { offer: 'permessage-deflate; client_max_window_bits', mustAccept: true }));
cases.push(combo('13.1.5', ['server'], 'offer with both no_context_takeover parameters', { offer: 'permessage-deflate; client_no_context_takeover; server_no_context_takeover' }));
for (let bits = 8; bits <= 15; bits++) {
  cases.push(combo(`13.2.${bits - 7}`, ['server'], `offer server_max_window_bits=${bits} (the server compresses with at most 2^${bits} window, or declines)`, { offer: `permessage-deflate; server_max_window_bits=${bits}` }));
}
for (let bits = 8; bits <= 15; bits++) {
  cases.push(combo(`13.3.${bits - 7}`, ['server'], `offer client_max_window_bits=${bits} (the client compresses with at most 2^${bits})`, { offer: `permessage-deflate; client_max_window_bits=${bits}`, mustAccept: true }, bits === 8));
}
cases.push(combo('13.4.1', ['server'], 'all four parameters, windows 9/9', { offer: 'permessage-deflate; client_no_context_takeover; server_no_context_takeover; client_max_window_bits=9; server_max_window_bits=9' }));
cases.push(combo('13.4.2', ['server'], 'all four parameters, windows 15/15', { offer: 'permessage-deflate; client_no_context_takeover; server_no_context_takeover; client_max_window_bits=15; server_max_window_bits=15' }));
cases.push(combo('13.4.3', ['server'], 'context takeover, windows 8/8', { offer: 'permessage-deflate; client_max_window_bits=8; server_max_window_bits=8' }, true));
cases.push(combo('13.4.4', ['server'], 'two offers: server_max_window_bits=10 first, plain second (the server picks one)', { offer: 'permessage-deflate; server_max_window_bits=10; client_max_window_bits, permessage-deflate', mustAccept: true }));
cases.push(combo('13.4.5', ['server'], 'an unknown extension first, then permessage-deflate: only permessage-deflate is accepted', { offer: 'x-unknown-extension; a=1, permessage-deflate', mustAccept: true }));
cases.push(combo('13.4.6', ['server'], 'an invalid permessage-deflate offer, then a valid one: the valid one is accepted', { offer: 'permessage-deflate; foo=bar, permessage-deflate; client_no_context_takeover', mustAccept: true }));
// offers the server must decline (RFC 7692 section 7.1): echo still works, uncompressed
const declines: Array<[string, string]> = [
  ['unknown parameter', 'permessage-deflate; foo=bar'],
  ['server_max_window_bits=7', 'permessage-deflate; server_max_window_bits=7'],
  ['server_max_window_bits=16', 'permessage-deflate; server_max_window_bits=16'],
  ['client_max_window_bits=16', 'permessage-deflate; client_max_window_bits=16'],
  ['server_max_window_bits without a value', 'permessage-deflate; server_max_window_bits'],
  ['server_no_context_takeover with a value', 'permessage-deflate; server_no_context_takeover=1'],
  ['duplicate parameter', 'permessage-deflate; server_max_window_bits=10; server_max_window_bits=10'],
  ['window bits with a leading zero', 'permessage-deflate; client_max_window_bits=09'],
];
declines.forEach(([what, offer], i) => {
  cases.push({ id: `13.5.${i + 1}`, group: G, roles: ['server'], profile: 'deflate', description: `invalid offer (${what}) is declined`, deflate: { offer, mustDecline: true }, steps: [{ send: [text('Hello')] }], expect: { kind: 'echo', events: [T('Hello')] } });
});
// server-side configuration
cases.push(combo('13.6.1', ['server'], 'server configured with serverNoContextTakeover: answer has server_no_context_takeover', { offer: 'permessage-deflate', serverOptions: { serverNoContextTakeover: true }, mustAccept: true, answerMustHave: ['server_no_context_takeover'] }));
cases.push(combo('13.6.2', ['server'], 'server configured with clientNoContextTakeover: answer has client_no_context_takeover', { offer: 'permessage-deflate', serverOptions: { clientNoContextTakeover: true }, mustAccept: true, answerMustHave: ['client_no_context_takeover'] }));
cases.push(combo('13.6.3', ['server'], 'server configured with serverMaxWindowBits 10', { offer: 'permessage-deflate; server_max_window_bits=12', serverOptions: { serverMaxWindowBits: 10 }, mustAccept: true, answerMustHave: ['server_max_window_bits'] }));
cases.push(combo('13.6.4', ['server'], 'server configured with clientMaxWindowBits 10, client offers client_max_window_bits', { offer: 'permessage-deflate; client_max_window_bits', serverOptions: { clientMaxWindowBits: 10 }, mustAccept: true, answerMustHave: ['client_max_window_bits'] }));

// ---- client subject: answers from the raw server ----
const answers: Array<[string, string, boolean]> = [
  ['12.1.1', 'permessage-deflate', false],
  ['12.1.2', 'permessage-deflate; server_no_context_takeover', false],
  ['12.1.3', 'permessage-deflate; client_no_context_takeover', false],
  ['12.1.4', 'permessage-deflate; client_no_context_takeover; server_no_context_takeover', false],
];
for (let bits = 8; bits <= 15; bits++) answers.push([`12.2.${bits - 7}`, `permessage-deflate; server_max_window_bits=${bits}`, bits === 8]);
for (const [id, answer, small] of answers) {
  cases.push(combo(id, ['client'], `server answers "${answer}"`, { clientOptions: true, answer }, small));
}

// ---- protocol errors and edge cases, both subjects ----
const both = { offer: 'permessage-deflate', answer: 'permessage-deflate', clientOptions: true, mustAccept: true } as const;
const hello = zlib.deflateRawSync('Hello', { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
cases.push({ id: '12.3.1', group: G, profile: 'deflate', deflate: both, description: 'RSV1 on a continuation frame', steps: [{ send: [text(hello, { rsv: 4, fin: false }), cont('', { rsv: 4 })] }], expect: { kind: 'fail', codes: [1002] } });
cases.push({ id: '12.3.2', group: G, profile: 'deflate', deflate: both, description: 'RSV1 on a ping', steps: [{ send: [ping('x', { rsv: 4 })] }], expect: { kind: 'fail', codes: [1002] } });
cases.push({ id: '12.3.3', group: G, profile: 'deflate', deflate: both, description: 'RSV2 on a text frame (permessage-deflate only uses RSV1)', steps: [{ send: [text('Hello', { rsv: 2 })] }], expect: { kind: 'fail', codes: [1002] } });
cases.push({ id: '12.3.4', group: G, profile: 'deflate', deflate: both, description: 'compressed payload that is not a deflate stream (reserved block type)', steps: [{ send: [text(hex('ff'), { rsv: 4 })] }], expect: { kind: 'fail', codes: [1007, 1002] } });
{
  const bad = zlib.deflateRawSync(bytes('κόσμε', hex('eda080'), 'edited'), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
  cases.push({ id: '12.3.5', group: G, profile: 'deflate', deflate: both, description: 'compressed text whose inflated bytes are not UTF-8', steps: [{ send: [text(bad, { rsv: 4 })] }], expect: { kind: 'fail', codes: [1007] } });
}
cases.push({ id: '12.3.6', group: G, profile: 'deflate', deflate: both, description: 'uncompressed messages (RSV1 clear) are still allowed', steps: [{ send: [text('plain text'), { op: OP.BINARY, payload: hex('0102') }] }], expect: { kind: 'echo', events: [T('plain text'), B(hex('0102'))] } });
{
  const payload = Buffer.from(compressibleText(5000, 3));
  const z = zlib.deflateRawSync(payload, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
  const a = Math.floor(z.length / 3);
  cases.push({
    id: '12.3.7',
    group: G,
    profile: 'deflate',
    deflate: both,
    description: 'compressed message in 3 fragments (RSV1 on the first only), a ping in between',
    steps: [{ send: [text(z.subarray(0, a), { rsv: 4, fin: false }), ping('p'), cont(z.subarray(a, 2 * a), { fin: false }), cont(z.subarray(2 * a))], chunking: 'frames' }],
    expect: { kind: 'echo', events: [{ pong: 'p' }, T(payload)] },
  });
}
cases.push({ id: '12.3.8', group: G, profile: 'deflate', deflate: both, description: 'compressed empty message as a single 0x00 byte', steps: [{ send: [text(hex('00'), { rsv: 4 })] }], expect: { kind: 'echo', events: [T('')] } });
cases.push({
  id: '12.3.9',
  group: G,
  profile: 'deflate',
  deflate: both,
  description: 'empty messages between compressed ones (the subject must answer each empty message with a payload that keeps the stream in sync, e.g. 0x00)',
  steps: [{ sendMessages: [{ op: OP.TEXT, payload: 'first' }, { op: OP.TEXT, payload: '' }, { op: OP.TEXT, payload: '' }, { op: OP.BINARY, payload: Buffer.alloc(0) }, { op: OP.TEXT, payload: 'after the empty ones' }], compress: true }],
  expect: { kind: 'echo', events: [T('first'), T(''), T(''), B(Buffer.alloc(0)), T('after the empty ones')] },
});
{
  const fin = zlib.deflateRawSync('Hello'); // ends with a final block, no sync flush marker
  cases.push({ id: '12.3.10', group: G, profile: 'deflate', deflate: { ...both, offer: 'permessage-deflate; client_no_context_takeover', answer: 'permessage-deflate; server_no_context_takeover' }, description: 'compressed data that ends with BFINAL set (allowed; the receiver must cope)', steps: [{ send: [text(fin, { rsv: 4 }), text(fin, { rsv: 4 })] }], expect: { kind: 'echo', events: [T('Hello'), T('Hello')] } });
}

// ---- compression bombs: maxMessageBytes = 1 MiB ('deflate-limits' profile) ----
export async function bombCases(): Promise<Case[]> {
  const bomb = await zeroBomb(256 * 1024 * 1024); // ~256 KiB on the wire, 256 MiB inflated
  const out: Case[] = [];
  out.push({ id: '12.4.1', group: G, profile: 'deflate-limits', deflate: both, description: `compression bomb: one ${bomb.length}-byte frame inflating to 256 MiB -> 1009, without inflating it all`, steps: [{ send: [{ op: OP.BINARY, payload: bomb, rsv: 4 }] }], expect: { kind: 'fail', codes: [1009] } });
  const cut = Math.floor(bomb.length / 8);
  out.push({
    id: '12.4.2',
    group: G,
    profile: 'deflate-limits',
    deflate: both,
    description: 'compression bomb in fragments: the first fragment alone inflates past the limit; the close should arrive before the rest is sent',
    steps: [{ send: [{ op: OP.BINARY, payload: bomb.subarray(0, cut), rsv: 4, fin: false }] }, { gate: 'close', strict: false }, { send: [cont(bomb.subarray(cut))] }],
    expect: { kind: 'fail', codes: [1009] },
  });
  const under = Buffer.alloc(1024 * 1024 - 16, 0x61);
  out.push({ id: '12.4.3', group: G, profile: 'deflate-limits', deflate: both, description: 'a message that inflates to just under the limit is accepted', steps: [{ sendMessages: [{ op: OP.TEXT, payload: under }], compress: true }], expect: { kind: 'echo', events: [T(under)] } });
  return out;
}

export const deflateCases = cases;
