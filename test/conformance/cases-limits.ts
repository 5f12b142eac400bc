// Large messages (Autobahn section 9, limited to what runs in seconds) and size limits (1009).
// The 'default' profile allows messages of 64 MiB; the 'limits' profile allows 64 KiB
// messages and frames.
import { OP, asciiText, pseudoRandomBytes, type FrameSpec } from '../helpers/frames.js';
import { B, T, binary, cont, fragments, text } from './dsl.js';
import type { Case, Ev } from './types.js';

const G = 'large messages';
const L = 'limits';
const KiB = 1024;
const MiB = 1024 * 1024;
const cases: Case[] = [];

const sizes = [64 * KiB, 256 * KiB, 1 * MiB, 4 * MiB];
sizes.forEach((n, i) => {
  const t = asciiText(n, 900 + i);
  cases.push({ id: `9.1.${i + 1}`, group: G, description: `text message of ${n / KiB} KiB in one frame`, steps: [{ send: [text(t)] }], expect: { kind: 'echo', events: [T(t)] } });
});
sizes.forEach((n, i) => {
  const b = pseudoRandomBytes(n, 910 + i);
  cases.push({ id: `9.2.${i + 1}`, group: G, description: `binary message of ${n / KiB} KiB in one frame`, steps: [{ send: [binary(b)] }], expect: { kind: 'echo', events: [B(b)] } });
});
{
  const t = Buffer.from(asciiText(4 * MiB, 920));
  [64, 256, 1 * KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, 1 * MiB].forEach((f, i) => {
    cases.push({ id: `9.3.${i + 1}`, group: G, description: `4 MiB text message in ${f}-byte fragments`, steps: [{ send: fragments(OP.TEXT, t, f) }], expect: { kind: 'echo', events: [T(t)] } });
  });
  const b = pseudoRandomBytes(4 * MiB, 930);
  [64, 4 * KiB, 1 * MiB].forEach((f, i) => {
    cases.push({ id: `9.4.${i + 1}`, group: G, description: `4 MiB binary message in ${f}-byte fragments`, steps: [{ send: fragments(OP.BINARY, b, f) }], expect: { kind: 'echo', events: [B(b)] } });
  });
}
{
  const t = asciiText(1 * MiB, 940);
  [64, 128, 256, 512, 1024, 2048].forEach((c, i) => {
    cases.push({ id: `9.5.${i + 1}`, group: G, description: `1 MiB text message sent in ${c}-byte writes`, steps: [{ send: [text(t)], chunking: { size: c } }], expect: { kind: 'echo', events: [T(t)] } });
  });
  const b = pseudoRandomBytes(1 * MiB, 950);
  [64, 2048].forEach((c, i) => {
    cases.push({ id: `9.6.${i + 1}`, group: G, description: `1 MiB binary message sent in ${c}-byte writes`, steps: [{ send: [binary(b)], chunking: { size: c } }], expect: { kind: 'echo', events: [B(b)] } });
  });
}
[0, 16, 64, 256, 1024, 4096].forEach((n, i) => {
  const msgs = Array.from({ length: 1000 }, (_, k) => asciiText(n, 960 + k));
  cases.push({
    id: `9.7.${i + 1}`,
    group: G,
    description: `1000 text messages of ${n} bytes, pipelined: all echoed in order`,
    steps: [{ sendMessages: msgs.map((payload) => ({ op: OP.TEXT, payload })) }],
    expect: { kind: 'echo', events: msgs.map((m) => T(m)) },
  });
});
[0, 4096].forEach((n, i) => {
  const msgs = Array.from({ length: 1000 }, (_, k) => pseudoRandomBytes(n, 970 + k));
  cases.push({
    id: `9.8.${i + 1}`,
    group: G,
    description: `1000 binary messages of ${n} bytes, pipelined`,
    steps: [{ sendMessages: msgs.map((payload) => ({ op: OP.BINARY, payload })) }],
    expect: { kind: 'echo', events: msgs.map((m) => B(m) as Ev) },
  });
});

// ---- limits profile: maxMessageBytes = maxFrameBytes = 65536 ----
const lim = (c: Omit<Case, 'group' | 'profile'>): Case => ({ ...c, group: L, profile: 'limits' });
{
  const exact = asciiText(65536, 980);
  cases.push(lim({ id: 'L.1', description: 'text message of exactly the limit (65536 bytes)', steps: [{ send: [text(exact)] }], expect: { kind: 'echo', events: [T(exact)] } }));
  cases.push(lim({ id: 'L.2', description: 'text frame one byte over the limit (65537 bytes)', steps: [{ send: [text(asciiText(65537, 981))] }], expect: { kind: 'fail', codes: [1009] } }));
  const b = pseudoRandomBytes(65536, 982);
  cases.push(lim({ id: 'L.3', description: 'binary message of exactly the limit in 4 fragments', steps: [{ send: fragments(OP.BINARY, b, 16384) }], expect: { kind: 'echo', events: [B(b)] } }));
  const over = pseudoRandomBytes(5 * 16384, 983);
  cases.push(lim({ id: 'L.4', description: 'binary message over the limit in 5 fragments of 16 KiB', steps: [{ send: fragments(OP.BINARY, over, 16384) }], expect: { kind: 'fail', codes: [1009] } }));
  const header: FrameSpec = { op: OP.BINARY, payload: '', declaredLength: 1n << 30n };
  cases.push(
    lim({
      id: 'L.5',
      description: 'fail fast: a frame header announcing 1 GiB; the close must arrive before any payload is sent',
      steps: [{ send: [header] }, { gate: 'close' }],
      expect: { kind: 'fail', codes: [1009] },
    }),
  );
  const half = pseudoRandomBytes(40000, 984);
  cases.push(
    lim({
      id: 'L.6',
      description: 'fail fast: fragments of 40000 bytes; the close must arrive once the message passes the limit, before the last fragment',
      steps: [{ send: [binary(half, { fin: false }), cont(half, { fin: false })] }, { gate: 'close' }, { send: [cont(half)] }],
      expect: { kind: 'fail', codes: [1009] },
    }),
  );
  const fr = asciiText(30000, 985);
  cases.push(
    lim({
      id: 'L.7',
      description: 'text message over the limit in 3 fragments of 30000 bytes, with a ping in between',
      steps: [{ send: [text(fr, { fin: false }), { op: OP.PING, payload: 'p' }, cont(fr, { fin: false }), cont(fr)] }],
      expect: { kind: 'fail', codes: [1009], events: [{ pong: 'p' }] },
    }),
  );
  cases.push(lim({ id: 'L.8', description: 'messages under the limit keep working: 100 messages of 60000 bytes', steps: [{ sendMessages: Array.from({ length: 100 }, (_, k) => ({ op: OP.BINARY, payload: pseudoRandomBytes(60000, 986 + k) })) }], expect: { kind: 'echo', events: Array.from({ length: 100 }, (_, k) => B(pseudoRandomBytes(60000, 986 + k))) } }));
}

export const limitCases = cases;
