// UTF-8 handling of text messages (Autobahn section 6), including fail-fast.
// The sequence corpus is Markus Kuhn's UTF-8 decoder stress test, grouped as Autobahn does.
import { Buffer } from 'node:buffer';
import { OP } from '../helpers/frames.js';
import { T, bytes, cont, hex, text } from './dsl.js';
import { isValidUtf8 } from './runner.js';
import type { Case } from './types.js';

const G = 'utf-8';
const kosme = hex('ceba e1bdb9 cf83 cebc ceb5'); // κόσμε
const h = (s: string) => hex(s);

/** [category, [valid?, bytes][]] — numbered 6.5 .. 6.23 */
export const corpus: Array<[string, Array<[boolean, Buffer]>]> = [];
corpus.push(['Some valid UTF-8 sequences', [[true, bytes('hello', h('24'), 'world')], [true, bytes('hello', h('c2a2'), 'world')], [true, bytes('hello', h('e282ac'), 'world')], [true, bytes('hello', h('f0a4ada2'), 'world')], [true, kosme]]]);
corpus.push(['All prefixes of a valid UTF-8 string with multi-byte code points', Array.from({ length: kosme.length }, (_, i) => [isValidUtf8(kosme.subarray(0, i + 1)), kosme.subarray(0, i + 1)] as [boolean, Buffer])]);
corpus.push(['First possible sequence of a certain length', [[true, h('00')], [true, h('c280')], [true, h('e0a080')], [true, h('f0908080')]]]);
corpus.push(['First possible sequence length 5/6 (invalid code points)', [[false, h('f888808080')], [false, h('fc8480808080')]]]);
corpus.push(['Last possible sequence of a certain length', [[true, h('7f')], [true, h('dfbf')], [true, h('efbfbf')], [true, h('f48fbfbf')]]]);
corpus.push(['Last possible sequence length 4/5/6 (invalid code points)', [[false, h('f7bfbfbf')], [false, h('fbbfbfbfbf')], [false, h('fdbfbfbfbfbf')]]]);
corpus.push(['Other boundary conditions', [[true, h('ed9fbf')], [true, h('ee8080')], [true, h('efbfbd')], [true, h('f48fbfbf')], [false, h('f4908080')]]]);
{
  const all = Buffer.from(Array.from({ length: 0xbf - 0x80 }, (_, i) => 0x80 + i));
  corpus.push(['Unexpected continuation bytes', [[false, h('80')], [false, h('bf')], [false, h('80bf')], [false, h('80bf80')], [false, h('80bf80bf')], [false, h('80bf80bf80')], [false, h('80bf80bf80bf')], [false, all]]]);
}
{
  const ranges: Array<[number, number]> = [
    [0xc0, 0xdf],
    [0xe0, 0xef],
    [0xf0, 0xf7],
    [0xf8, 0xfb],
    [0xfc, 0xfd],
  ];
  corpus.push(['Lonely start characters', ranges.map(([a, b]) => [false, Buffer.from(Array.from({ length: b - a }, (_, i) => [a + i, 0x20]).flat())] as [boolean, Buffer])]);
}
const missingLast = ['c0', 'e080', 'f08080', 'f8808080', 'fc80808080', 'df', 'efbf', 'f7bfbf', 'fbbfbfbf', 'fdbfbfbfbf'].map(h);
corpus.push(['Sequences with last continuation byte missing', missingLast.map((b) => [false, b] as [boolean, Buffer])]);
corpus.push(['Concatenation of incomplete sequences', [[false, Buffer.concat(missingLast)]]]);
corpus.push(['Impossible bytes', [[false, h('fe')], [false, h('ff')], [false, h('fefeffff')]]]);
corpus.push(['Examples of an overlong ASCII character', [[false, h('c0af')], [false, h('e080af')], [false, h('f08080af')], [false, h('f8808080af')], [false, h('fc80808080af')]]]);
corpus.push(['Maximum overlong sequences', [[false, h('c1bf')], [false, h('e09fbf')], [false, h('f08fbfbf')], [false, h('f887bfbfbf')], [false, h('fc83bfbfbfbf')]]]);
corpus.push(['Overlong representation of the NUL character', [[false, h('c080')], [false, h('e08080')], [false, h('f0808080')], [false, h('f880808080')], [false, h('fc8080808080')]]]);
corpus.push(['Single UTF-16 surrogates', ['eda080', 'edadbf', 'edae80', 'edafbf', 'edb080', 'edbe80', 'edbfbf'].map((s) => [false, h(s)] as [boolean, Buffer])]);
corpus.push(['Paired UTF-16 surrogates', ['eda080edb080', 'eda080edbfbf', 'edadbfedb080', 'edadbfedbfbf', 'edae80edb080', 'edae80edbfbf', 'edafbfedb080', 'edafbfedbfbf'].map((s) => [false, h(s)] as [boolean, Buffer])]);
{
  const nonchars: Array<[boolean, Buffer]> = [
    [true, h('efbfbe')],
    [true, h('efbfbf')],
  ];
  for (const z1 of [0xf0, 0xf1, 0xf2, 0xf3, 0xf4])
    for (const z2 of [0x8f, 0x9f, 0xaf, 0xbf]) {
      if (z1 === 0xf4 && z2 !== 0x8f) continue; // above U+10FFFF
      for (const z3 of [0xbe, 0xbf]) {
        const zz = Buffer.from([z1, z2, 0xbf, z3]);
        if (z1 === 0xf0 && z2 === 0x8f) continue; // overlong
        nonchars.push([true, zz]);
      }
    }
  corpus.push(['Non-character code points (valid UTF-8)', nonchars]);
}
corpus.push(['Unicode specials (e.g. replacement character)', ['efbfb9', 'efbfba', 'efbfbb', 'efbfbc', 'efbfbd', 'efbfbe', 'efbfbf'].map((s) => [true, h(s)] as [boolean, Buffer])]);

const cases: Case[] = [
  { id: '6.1.1', group: G, description: 'empty text frame', steps: [{ send: [text('')] }], expect: { kind: 'echo', events: [T('')] } },
  { id: '6.1.2', group: G, description: 'text in 3 empty fragments', steps: [{ send: [text('', { fin: false }), cont('', { fin: false }), cont('')] }], expect: { kind: 'echo', events: [T('')] } },
  { id: '6.1.3', group: G, description: 'text in 3 fragments: empty, "middle", empty', steps: [{ send: [text('', { fin: false }), cont('middle frame payload', { fin: false }), cont('')] }], expect: { kind: 'echo', events: [T('middle frame payload')] } },
];
{
  const s = Buffer.from('Hello-µ@ßöäüàá-UTF-8!!', 'utf8');
  cases.push({ id: '6.2.1', group: G, description: 'valid UTF-8 with 2-byte code points in one frame', steps: [{ send: [text(s)] }], expect: { kind: 'echo', events: [T(s)] } });
  cases.push({ id: '6.2.2', group: G, description: 'the same in 2 fragments split at a code point boundary', steps: [{ send: [text(s.subarray(0, 7), { fin: false }), cont(s.subarray(7))] }], expect: { kind: 'echo', events: [T(s)] } });
  const perByte = Array.from(s, (b, i) => (i === 0 ? text(Buffer.from([b]), { fin: false }) : cont(Buffer.from([b]), { fin: i === s.length - 1 })));
  cases.push({ id: '6.2.3', group: G, description: 'the same, one fragment per byte (splits inside code points)', steps: [{ send: perByte }], expect: { kind: 'echo', events: [T(s)] } });
  const k = Buffer.from('\u{24B62}κόσμε\u{1F600}', 'utf8');
  const perByte2 = Array.from(k, (b, i) => (i === 0 ? text(Buffer.from([b]), { fin: false }) : cont(Buffer.from([b]), { fin: i === k.length - 1 })));
  cases.push({ id: '6.2.4', group: G, description: '4-byte and 2-byte code points, one fragment per byte, one frame per write', steps: [{ send: perByte2, chunking: 'frames' }], expect: { kind: 'echo', events: [T(k)] } });
}
{
  const bad = bytes(kosme, hex('eda080'), 'edited');
  cases.push({ id: '6.3.1', group: G, description: 'invalid UTF-8 (a surrogate) in one frame', steps: [{ send: [text(bad)] }], expect: { kind: 'fail', codes: [1007] } });
  const perByte = Array.from(bad, (b, i) => (i === 0 ? text(Buffer.from([b]), { fin: false }) : cont(Buffer.from([b]), { fin: i === bad.length - 1 })));
  cases.push({ id: '6.3.2', group: G, description: 'the same, one fragment per byte', steps: [{ send: perByte }], expect: { kind: 'fail', codes: [1007] } });
}
// 6.4: fail fast. The close must arrive before the harness sends what follows the invalid bytes.
cases.push({
  id: '6.4.1',
  group: G,
  description: 'fail fast: 3 fragments, the 2nd is an invalid code point (> U+10FFFF); the close must arrive before the 3rd is sent',
  steps: [{ send: [text(kosme, { fin: false })] }, { send: [cont(hex('f4908080'), { fin: false })] }, { gate: 'close' }, { send: [cont('edited')] }],
  expect: { kind: 'fail', codes: [1007] },
});
cases.push({
  id: '6.4.2',
  group: G,
  description: 'fail fast: the invalid sequence starts in fragment 1 (F4) and is proven invalid by fragment 2 (90); close before fragment 3',
  steps: [{ send: [text(bytes(kosme, hex('f4')), { fin: false })] }, { send: [cont(hex('90'), { fin: false })] }, { gate: 'close' }, { send: [cont(bytes(hex('8080'), 'edited'))] }],
  expect: { kind: 'fail', codes: [1007] },
});
{
  const p1 = bytes(kosme, hex('f4908080'), 'edited');
  cases.push({
    id: '6.4.3',
    group: G,
    description: 'fail fast inside one frame: the frame is written in 3 pieces and the close must arrive after the piece with the invalid code point, before the last piece',
    steps: [{ sendSplit: text(p1), payloadOffsets: [kosme.length, kosme.length + 4], gateAfter: 1 }],
    expect: { kind: 'fail', codes: [1007] },
  });
  cases.push({
    id: '6.4.4',
    group: G,
    description: 'fail fast inside one frame: pieces cut after F4 and after 90; the close must arrive before the rest',
    steps: [{ sendSplit: text(p1), payloadOffsets: [kosme.length + 1, kosme.length + 2], gateAfter: 1 }],
    expect: { kind: 'fail', codes: [1007] },
  });
  const first = bytes(hex('c0af'), 'x'.repeat(200));
  cases.push({
    id: '6.4.5',
    group: G,
    description: 'fail fast: a fragmented text message whose first fragment starts with an overlong sequence; close before the 2nd fragment',
    steps: [{ send: [text(first, { fin: false })] }, { gate: 'close' }, { send: [cont('rest of the message')] }],
    expect: { kind: 'fail', codes: [1007] },
  });
}
corpus.forEach(([category, seqs], ci) => {
  seqs.forEach(([valid, seq], si) => {
    const id = `6.${ci + 5}.${si + 1}`;
    cases.push({
      id,
      group: G,
      description: `${category}: ${valid ? 'valid' : 'invalid'} 0x${seq.toString('hex')} in one frame`,
      steps: [{ send: [text(seq)] }],
      expect: valid ? { kind: 'echo', events: [T(seq)] } : { kind: 'fail', codes: [1007] },
    });
    if (seq.length > 1) {
      // the same sequence, one fragment per byte: the validator must carry state across fragments
      const frames = Array.from(seq, (b, i) => ({ op: i === 0 ? OP.TEXT : OP.CONT, payload: Buffer.from([b]), fin: i === seq.length - 1 }));
      cases.push({
        id: `${id}f`,
        group: G,
        description: `${category}: ${valid ? 'valid' : 'invalid'} 0x${seq.toString('hex')}, one fragment per byte`,
        steps: [{ send: frames }],
        expect: valid ? { kind: 'echo', events: [T(seq)] } : { kind: 'fail', codes: [1007] },
      });
    }
  });
});

export const utf8Cases = cases;
