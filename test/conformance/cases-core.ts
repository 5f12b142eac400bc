// Framing, ping/pong, reserved bits, opcodes, fragmentation, close, masking.
// Section numbers follow the Autobahn testsuite where a case mirrors one of its cases;
// ids with a letter suffix are ours.
import { Buffer } from 'node:buffer';
import { asciiText, pseudoRandomBytes } from '../helpers/frames.js';
import { B, PONG, T, binary, bytes, close, closeRaw, cont, frame, hex, ping, pong, text } from './dsl.js';
import type { Case } from './types.js';

const framing: Case[] = [];
// 1.1 text / 1.2 binary of lengths around the 7/16/64-bit length boundaries
const lengths = [0, 125, 126, 127, 128, 65535, 65536];
lengths.forEach((n, i) => {
  const t = asciiText(n, 100 + i);
  framing.push({ id: `1.1.${i + 1}`, group: 'framing', description: `text message of ${n} bytes`, steps: [{ send: [text(t)] }], expect: { kind: 'echo', events: [T(t)] } });
});
{
  const t = asciiText(65536, 108);
  framing.push({ id: '1.1.8', group: 'framing', description: 'text message of 65536 bytes, sent in 997-byte chops', steps: [{ send: [text(t)], chunking: { size: 997 } }], expect: { kind: 'echo', events: [T(t)] } });
}
lengths.forEach((n, i) => {
  const b = pseudoRandomBytes(n, 200 + i);
  framing.push({ id: `1.2.${i + 1}`, group: 'framing', description: `binary message of ${n} bytes`, steps: [{ send: [binary(b)] }], expect: { kind: 'echo', events: [B(b)] } });
});
{
  const b = pseudoRandomBytes(65536, 208);
  framing.push({ id: '1.2.8', group: 'framing', description: 'binary message of 65536 bytes, sent in 997-byte chops', steps: [{ send: [binary(b)], chunking: { size: 997 } }], expect: { kind: 'echo', events: [B(b)] } });
}
[0, 1, 125, 126, 127, 128, 300].forEach((n, i) => {
  const t = asciiText(n, 300 + i);
  framing.push({ id: `1.3.${i + 1}`, group: 'framing', description: `text message of ${n} bytes, sent one byte per write (incremental header and payload parsing)`, steps: [{ send: [text(t)], chunking: 'bytes' }], expect: { kind: 'echo', events: [T(t)] } });
});
{
  const a = asciiText(200, 310);
  const b = pseudoRandomBytes(70000, 311);
  framing.push({
    id: '1.3.8',
    group: 'framing',
    description: 'several frames (7/16/64-bit lengths) in one write, then the same split at awkward offsets',
    steps: [{ send: [text('x'), text(a), binary(b), text('')] }, { gate: 'events', count: 4 }, { send: [text('x'), text(a), binary(b), text('')], chunking: { at: [1, 3, 4, 9, 212, 214, 300, 70100] } }],
    expect: { kind: 'echo', events: [T('x'), T(a), B(b), T(''), T('x'), T(a), B(b), T('')] },
  });
}
framing.push({
  id: '1.4.1',
  group: 'framing',
  description: '64-bit payload length with the most significant bit set',
  steps: [{ send: [binary('', { declaredLength: 0x8000000000000001n, lengthBits: 64 })] }],
  expect: { kind: 'fail', codes: [1002, 1009] },
});
framing.push({
  id: '1.4.2',
  group: 'framing',
  description: 'text message with a non-minimal (16-bit) length encoding of 5 bytes is still a valid frame',
  steps: [{ send: [text('Hello', { lengthBits: 16 })] }],
  expect: { kind: 'echo', events: [T('Hello')] },
});

const pings: Case[] = [
  { id: '2.1', group: 'ping/pong', description: 'ping without payload', steps: [{ send: [ping()] }], expect: { kind: 'echo', events: [PONG()] } },
  { id: '2.2', group: 'ping/pong', description: 'ping with a small text payload', steps: [{ send: [ping('Hello, world!')] }], expect: { kind: 'echo', events: [PONG('Hello, world!')] } },
  { id: '2.3', group: 'ping/pong', description: 'ping with a small binary payload', steps: [{ send: [ping(hex('00ff fe fd fc fb 00 ff'))] }], expect: { kind: 'echo', events: [PONG(hex('00fffefdfcfb00ff'))] } },
  { id: '2.4', group: 'ping/pong', description: 'ping with a 125-byte binary payload', steps: [{ send: [ping(Buffer.alloc(125, 0xfe))] }], expect: { kind: 'echo', events: [PONG(Buffer.alloc(125, 0xfe))] } },
  { id: '2.5', group: 'ping/pong', description: 'ping with a 126-byte payload (control frames are at most 125 bytes)', steps: [{ send: [ping(Buffer.alloc(126, 0xfe))] }], expect: { kind: 'fail', codes: [1002] } },
  { id: '2.6', group: 'ping/pong', description: 'ping with a 125-byte payload, sent one byte per write', steps: [{ send: [ping(Buffer.alloc(125, 0xfe))], chunking: 'bytes' }], expect: { kind: 'echo', events: [PONG(Buffer.alloc(125, 0xfe))] } },
  { id: '2.7', group: 'ping/pong', description: 'unsolicited pong without payload: nothing is answered', steps: [{ send: [pong()] }], expect: { kind: 'echo', events: [] } },
  { id: '2.8', group: 'ping/pong', description: 'unsolicited pong with payload: nothing is answered', steps: [{ send: [pong('unsolicited pong payload')] }], expect: { kind: 'echo', events: [] } },
  { id: '2.9', group: 'ping/pong', description: 'unsolicited pong, then ping: only the ping is answered', steps: [{ send: [pong('unsolicited pong payload'), ping('ping payload')] }], expect: { kind: 'echo', events: [PONG('ping payload')] } },
];
{
  const ps = Array.from({ length: 10 }, (_, i) => `payload-${i}`);
  pings.push({ id: '2.10', group: 'ping/pong', description: '10 pings with payloads in one write: 10 pongs in order', steps: [{ send: ps.map((p) => ping(p)) }], expect: { kind: 'echo', events: ps.map((p) => PONG(p)) } });
  pings.push({ id: '2.11', group: 'ping/pong', description: '10 pings with payloads, one frame per write', steps: [{ send: ps.map((p) => ping(p)), chunking: 'frames' }], expect: { kind: 'echo', events: ps.map((p) => PONG(p)) } });
}

const reserved: Case[] = [
  { id: '3.1', group: 'reserved bits', description: 'text frame with RSV3 set, no extension negotiated', steps: [{ send: [text('Hello, world!', { rsv: 1 })] }], expect: { kind: 'fail', codes: [1002] } },
  { id: '3.2', group: 'reserved bits', description: 'text, then text with RSV2, then ping', steps: [{ send: [text('Hello, world!'), text('Hello, world!', { rsv: 2 }), ping()] }], expect: { kind: 'fail', codes: [1002], events: [T('Hello, world!')] } },
  { id: '3.3', group: 'reserved bits', description: 'text, then text with RSV2+RSV3, then ping; one frame per write', steps: [{ send: [text('Hello, world!'), text('Hello, world!', { rsv: 3 }), ping()], chunking: 'frames' }], expect: { kind: 'fail', codes: [1002], events: [T('Hello, world!')] } },
  { id: '3.4', group: 'reserved bits', description: 'text, then text with RSV1 (no extension), then ping; one byte per write', steps: [{ send: [text('Hello, world!'), text('Hello, world!', { rsv: 4 }), ping()], chunking: 'bytes' }], expect: { kind: 'fail', codes: [1002], events: [T('Hello, world!')] } },
  { id: '3.5', group: 'reserved bits', description: 'binary frame with RSV1+RSV3', steps: [{ send: [binary(hex('00fffefdfc'), { rsv: 5 })] }], expect: { kind: 'fail', codes: [1002] } },
  { id: '3.6', group: 'reserved bits', description: 'ping with RSV1+RSV2', steps: [{ send: [ping('Hello, world!', { rsv: 6 })] }], expect: { kind: 'fail', codes: [1002] } },
  { id: '3.7', group: 'reserved bits', description: 'close with all reserved bits set', steps: [{ send: [close(1000, '', { rsv: 7 })] }], expect: { kind: 'fail', codes: [1002] } },
];

const opcodes: Case[] = [];
const reservedOps: Array<[string, number, boolean, boolean, 'whole' | 'frames']> = [
  // id, opcode, with payload, preceded by a valid text and followed by a ping, chunking
  ['4.1.1', 3, false, false, 'whole'],
  ['4.1.2', 4, true, false, 'whole'],
  ['4.1.3', 5, false, true, 'whole'],
  ['4.1.4', 6, true, true, 'whole'],
  ['4.1.5', 7, true, true, 'frames'],
  ['4.2.1', 11, false, false, 'whole'],
  ['4.2.2', 12, true, false, 'whole'],
  ['4.2.3', 13, false, true, 'whole'],
  ['4.2.4', 14, true, true, 'whole'],
  ['4.2.5', 15, true, true, 'frames'],
];
for (const [id, op, withPayload, around, chunking] of reservedOps) {
  const f = frame(op, withPayload ? 'reserved opcode payload' : '');
  opcodes.push({
    id,
    group: 'opcodes',
    description: `reserved ${op < 8 ? 'non-control' : 'control'} opcode ${op}${withPayload ? ' with payload' : ''}${around ? ', after a valid text and before a ping' : ''}`,
    steps: [{ send: around ? [text('Hello, world!'), f, ping()] : [f], chunking }],
    expect: { kind: 'fail', codes: [1002], events: around ? [T('Hello, world!')] : [] },
  });
}

const F = 'fragmentation';
const frag: Case[] = [
  { id: '5.1', group: F, description: 'ping in 2 fragments', steps: [{ send: [ping('fragment1', { fin: false }), cont('fragment2')] }], expect: { kind: 'fail', codes: [1002] } },
  { id: '5.2', group: F, description: 'pong in 2 fragments', steps: [{ send: [pong('fragment1', { fin: false }), cont('fragment2')] }], expect: { kind: 'fail', codes: [1002] } },
  { id: '5.3', group: F, description: 'text in 2 fragments', steps: [{ send: [text('fragment1', { fin: false }), cont('fragment2')] }], expect: { kind: 'echo', events: [T('fragment1fragment2')] } },
  { id: '5.4', group: F, description: 'text in 2 fragments, one frame per write', steps: [{ send: [text('fragment1', { fin: false }), cont('fragment2')], chunking: 'frames' }], expect: { kind: 'echo', events: [T('fragment1fragment2')] } },
  { id: '5.5', group: F, description: 'text in 2 fragments, one byte per write', steps: [{ send: [text('fragment1', { fin: false }), cont('fragment2')], chunking: 'bytes' }], expect: { kind: 'echo', events: [T('fragment1fragment2')] } },
  { id: '5.6', group: F, description: 'text in 2 fragments with a ping in between', steps: [{ send: [text('fragment1', { fin: false }), ping('pongme!'), cont('fragment2')] }], expect: { kind: 'echo', events: [PONG('pongme!'), T('fragment1fragment2')] } },
  { id: '5.7', group: F, description: 'text in 2 fragments with a ping in between, one frame per write', steps: [{ send: [text('fragment1', { fin: false }), ping('pongme!'), cont('fragment2')], chunking: 'frames' }], expect: { kind: 'echo', events: [PONG('pongme!'), T('fragment1fragment2')] } },
  { id: '5.8', group: F, description: 'text in 2 fragments with a ping in between, one byte per write', steps: [{ send: [text('fragment1', { fin: false }), ping('pongme!'), cont('fragment2')], chunking: 'bytes' }], expect: { kind: 'echo', events: [PONG('pongme!'), T('fragment1fragment2')] } },
  { id: '5.9', group: F, description: 'continuation (FIN) without a message in progress, then a text', steps: [{ send: [cont('non-continuation payload'), text('Hello, world!')] }], expect: { kind: 'fail', codes: [1002] } },
  { id: '5.10', group: F, description: '5.9, one frame per write', steps: [{ send: [cont('non-continuation payload'), text('Hello, world!')], chunking: 'frames' }], expect: { kind: 'fail', codes: [1002] } },
  { id: '5.11', group: F, description: '5.9, one byte per write', steps: [{ send: [cont('non-continuation payload'), text('Hello, world!')], chunking: 'bytes' }], expect: { kind: 'fail', codes: [1002] } },
  { id: '5.12', group: F, description: 'continuation (not FIN) without a message in progress, then a text', steps: [{ send: [cont('non-continuation payload', { fin: false }), text('Hello, world!')] }], expect: { kind: 'fail', codes: [1002] } },
  { id: '5.13', group: F, description: '5.12, one frame per write', steps: [{ send: [cont('non-continuation payload', { fin: false }), text('Hello, world!')], chunking: 'frames' }], expect: { kind: 'fail', codes: [1002] } },
  { id: '5.14', group: F, description: '5.12, one byte per write', steps: [{ send: [cont('non-continuation payload', { fin: false }), text('Hello, world!')], chunking: 'bytes' }], expect: { kind: 'fail', codes: [1002] } },
  {
    id: '5.15',
    group: F,
    description: 'text in 2 fragments, then a continuation (not FIN) and a text fragment without a message in progress',
    steps: [{ send: [text('fragment1', { fin: false }), cont('fragment2'), cont('fragment3', { fin: false }), text('fragment4')] }],
    expect: { kind: 'fail', codes: [1002], events: [T('fragment1fragment2')] },
  },
  {
    id: '5.16',
    group: F,
    description: 'twice: continuation (not FIN), continuation (FIN), text in 2 fragments',
    steps: [{ send: [cont('fragment1', { fin: false }), cont('fragment2'), text('fragment3', { fin: false }), cont('fragment4'), cont('fragment1', { fin: false }), cont('fragment2'), text('fragment3', { fin: false }), cont('fragment4')] }],
    expect: { kind: 'fail', codes: [1002] },
  },
  {
    id: '5.17',
    group: F,
    description: 'twice: continuation (FIN), continuation (FIN), text in 2 fragments',
    steps: [{ send: [cont('fragment1'), cont('fragment2'), text('fragment3', { fin: false }), cont('fragment4'), cont('fragment1'), cont('fragment2'), text('fragment3', { fin: false }), cont('fragment4')] }],
    expect: { kind: 'fail', codes: [1002] },
  },
  { id: '5.18', group: F, description: 'text fragment (not FIN), then a new text frame instead of a continuation', steps: [{ send: [text('fragment1', { fin: false }), text('fragment2')] }], expect: { kind: 'fail', codes: [1002] } },
];
for (const [id, chunking] of [
  ['5.19', 'whole'],
  ['5.20', 'frames'],
] as const) {
  frag.push({
    id,
    group: F,
    description: `text in 5 fragments with 2 pings in between, waiting for each pong before going on (${chunking})`,
    steps: [
      { send: [text('fragment1', { fin: false }), cont('fragment2', { fin: false }), ping('pongme 1!')], chunking },
      { gate: 'events', count: 1 },
      { send: [cont('fragment3', { fin: false }), ping('pongme 2!'), cont('fragment4', { fin: false })], chunking },
      { gate: 'events', count: 2 },
      { send: [cont('fragment5')], chunking },
    ],
    expect: { kind: 'echo', events: [PONG('pongme 1!'), PONG('pongme 2!'), T('fragment1fragment2fragment3fragment4fragment5')] },
  });
}
frag.push({
  id: '5.21',
  group: F,
  description: 'binary in 4 fragments, two of them empty',
  steps: [{ send: [binary(hex('0102'), { fin: false }), cont('', { fin: false }), cont(hex('03'), { fin: false }), cont('')] }],
  expect: { kind: 'echo', events: [B(hex('010203'))] },
});
frag.push({
  id: '5.22',
  group: F,
  description: 'two fragmented messages back to back with pings and pongs interleaved',
  steps: [{ send: [text('a', { fin: false }), pong('x'), cont('b'), binary(hex('01'), { fin: false }), ping('p'), cont(hex('02'))], chunking: 'bytes' }],
  expect: { kind: 'echo', events: [T('ab'), PONG('p'), B(hex('0102'))] },
});

const C = 'close';
const closeCases: Case[] = [
  { id: '7.1.1', group: C, description: 'text, then close 1000', steps: [{ send: [text('Hello World!'), close(1000)] }], expect: { kind: 'close', codes: [1000], events: [T('Hello World!')] } },
  { id: '7.1.2', group: C, description: 'close 1000 twice: the second is ignored', steps: [{ send: [close(1000), close(1000)] }], expect: { kind: 'close', codes: [1000] } },
  { id: '7.1.3', group: C, description: 'close, then ping: no pong after close', steps: [{ send: [close(1000), ping('Hello World!')] }], expect: { kind: 'close', codes: [1000] } },
  { id: '7.1.4', group: C, description: 'close, then text: no echo after close', steps: [{ send: [close(1000), text('Hello World!')] }], expect: { kind: 'close', codes: [1000] } },
  { id: '7.1.5', group: C, description: 'text fragment, close, continuation: the unfinished message is dropped', steps: [{ send: [text('fragment1', { fin: false }), close(1000), cont('fragment2')] }], expect: { kind: 'close', codes: [1000] } },
  {
    id: '7.1.6',
    group: C,
    description: '256 KiB text, then close, then ping: the message is echoed, the ping is not answered',
    steps: [{ send: [text(asciiText(256 * 1024, 716)), close(1000), ping('Hello World!')] }],
    expect: { kind: 'close', codes: [1000], events: [T(asciiText(256 * 1024, 716))] },
  },
  { id: '7.3.1', group: C, description: 'close with an empty payload', steps: [{ send: [closeRaw('')] }], expect: { kind: 'close', codes: [null, 1000] } },
  { id: '7.3.2', group: C, description: 'close with a 1-byte payload', steps: [{ send: [closeRaw(hex('03'))] }], expect: { kind: 'fail', codes: [1002] } },
  { id: '7.3.3', group: C, description: 'close 1000 without reason', steps: [{ send: [close(1000)] }], expect: { kind: 'close', codes: [1000] } },
  { id: '7.3.4', group: C, description: 'close 1000 with a reason', steps: [{ send: [close(1000, 'Hello World!')] }], expect: { kind: 'close', codes: [1000] } },
  { id: '7.3.5', group: C, description: 'close 1000 with a 123-byte reason (125-byte payload)', steps: [{ send: [close(1000, 'r'.repeat(123))] }], expect: { kind: 'close', codes: [1000] } },
  { id: '7.3.6', group: C, description: 'close 1000 with a 124-byte reason (126-byte control frame)', steps: [{ send: [close(1000, 'r'.repeat(124))] }], expect: { kind: 'fail', codes: [1002] } },
  {
    id: '7.5.1',
    group: C,
    description: 'close 1000 with a reason that is not UTF-8',
    steps: [{ send: [close(1000, bytes('κόσμε', hex('eda080'), 'edited'))] }],
    expect: { kind: 'fail', codes: [1007] },
  },
];
// valid codes: echoed (or answered with 1000). 1012-1014 are registered with IANA after RFC 6455.
[1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999, 1012, 1013, 1014].forEach((code, i) => {
  closeCases.push({ id: `7.7.${i + 1}`, group: C, description: `close with valid code ${code}`, steps: [{ send: [close(code, 'bye')] }], expect: { kind: 'close', codes: [code, 1000] } });
});
[0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999].forEach((code, i) => {
  closeCases.push({ id: `7.9.${i + 1}`, group: C, description: `close with invalid code ${code}`, steps: [{ send: [close(code)] }], expect: { kind: 'fail', codes: [1002] } });
});
[5000, 65535].forEach((code, i) => {
  closeCases.push({ id: `7.13.${i + 1}`, group: C, description: `close with code ${code} (out of range)`, steps: [{ send: [close(code)] }], expect: { kind: 'fail', codes: [1002] } });
});

const masking: Case[] = [
  { id: 'M.1', group: 'masking', roles: ['server'], description: 'unmasked text frame from a client', steps: [{ send: [text('Hello, world!', { mask: false })] }], expect: { kind: 'fail', codes: [1002] } },
  { id: 'M.2', group: 'masking', roles: ['server'], description: 'masked text, then an unmasked ping', steps: [{ send: [text('Hello'), ping('x', { mask: false })] }], expect: { kind: 'fail', codes: [1002], events: [T('Hello')] } },
  { id: 'M.3', group: 'masking', roles: ['client'], description: 'masked text frame from a server', steps: [{ send: [text('Hello, world!', { mask: true })] }], expect: { kind: 'fail', codes: [1002] } },
  { id: 'M.4', group: 'masking', roles: ['client'], description: 'unmasked text, then a masked ping', steps: [{ send: [text('Hello'), ping('x', { mask: true })] }], expect: { kind: 'fail', codes: [1002], events: [T('Hello')] } },
  { id: 'M.5', group: 'masking', roles: ['client'], description: 'masked close frame from a server', steps: [{ send: [close(1000, '', { mask: true })] }], expect: { kind: 'fail', codes: [1002] } },
];

export const coreCases: Case[] = [...framing, ...pings, ...reserved, ...opcodes, ...frag, ...closeCases, ...masking];
