import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { DeflateFrame, PerMessageDeflate, confirmExtensions, formatExtension, negotiateExtensions, parseExtensions, type DeflateCodecFactory, type DeflateCodecParams, type ExtensionFactory, type ExtensionParams, type PerMessageDeflateOptions } from '../subjects.js';
import type { FuzzTarget } from '../target.js';

/**
 * Sec-WebSocket-Extensions: the header grammar, the server's choice among the client's
 * offers and the client's check of the server's answer, for permessage-deflate and
 * deflate-frame under several option sets. Input: the header value (latin1).
 */

/** A codec factory that only records what it was asked for: negotiation needs no zlib. */
function recordingCodec(): { factory: DeflateCodecFactory; made: DeflateCodecParams[] } {
  const made: DeflateCodecParams[] = [];
  const factory: DeflateCodecFactory = (params) => {
    made.push(params);
    return { deflate: (d) => d, inflate: (d) => d, dispose: () => {} };
  };
  return { factory, made };
}

const SERVER_OPTIONS: PerMessageDeflateOptions[] = [
  {},
  { serverNoContextTakeover: true, clientNoContextTakeover: true },
  { serverMaxWindowBits: 10, clientMaxWindowBits: 12 },
  { clientMaxWindowBits: 9 },
];
const CLIENT_OPTIONS: PerMessageDeflateOptions[] = [
  {},
  { serverNoContextTakeover: true, clientNoContextTakeover: true },
  { serverMaxWindowBits: 10, clientMaxWindowBits: 12 },
  { clientMaxWindowBits: false },
  { clientMaxWindowBits: 9, serverMaxWindowBits: 15 },
];

const BITS = /^(8|9|1[0-5])$/;
const KNOWN = ['server_no_context_takeover', 'client_no_context_takeover', 'server_max_window_bits', 'client_max_window_bits'];

/** RFC 7692 section 7.1: may `resp` answer `offer`? Returns what is wrong, or null. */
function responseProblem(offer: ExtensionParams, resp: ExtensionParams): string | null {
  for (const k of Object.keys(resp)) if (!KNOWN.includes(k)) return `unknown parameter ${k}`;
  for (const k of ['server_no_context_takeover', 'client_no_context_takeover']) if (resp[k] !== undefined && resp[k] !== true) return `${k} with a value`;
  for (const k of ['server_max_window_bits', 'client_max_window_bits']) {
    const v = resp[k];
    if (v !== undefined && (v === true || !BITS.test(v))) return `${k}=${String(v)} in a response`;
  }
  if (offer.server_no_context_takeover !== undefined && resp.server_no_context_takeover === undefined) return 'server_no_context_takeover offered but not answered';
  const sOffer = offer.server_max_window_bits;
  if (sOffer !== undefined) {
    if (resp.server_max_window_bits === undefined) return 'server_max_window_bits offered but not answered';
    if (typeof sOffer === 'string' && Number(resp.server_max_window_bits) > Number(sOffer)) return 'server_max_window_bits above the offer';
  }
  if (resp.client_max_window_bits !== undefined) {
    const cOffer = offer.client_max_window_bits;
    if (cOffer === undefined) return 'client_max_window_bits answered but not offered';
    if (typeof cOffer === 'string' && Number(resp.client_max_window_bits) > Number(cOffer)) return 'client_max_window_bits above the offer';
  }
  return null;
}

const bits = (v: string | true | undefined) => (typeof v === 'string' ? Number(v) : 15);

/** The server's codec must honour what its response promised. */
function checkServerCodec(p: DeflateCodecParams, resp: ExtensionParams): void {
  if (resp.server_no_context_takeover) assert.ok(p.deflateNoContextTakeover, 'answered server_no_context_takeover but keeps its context');
  assert.ok(p.deflateWindowBits <= bits(resp.server_max_window_bits), `deflates with ${p.deflateWindowBits} bits after answering ${String(resp.server_max_window_bits)}`);
  assert.ok(p.inflateWindowBits >= bits(resp.client_max_window_bits), `inflates with ${p.inflateWindowBits} bits, the client may use ${bits(resp.client_max_window_bits)}`);
  if (p.inflateNoContextTakeover) assert.ok(resp.client_no_context_takeover, 'drops the inflate context the client keeps');
}

/** The client's codec must honour what the server's response says. */
function checkClientCodec(p: DeflateCodecParams, resp: ExtensionParams): void {
  if (resp.client_no_context_takeover) assert.ok(p.deflateNoContextTakeover, 'told client_no_context_takeover but keeps its context');
  assert.ok(p.deflateWindowBits <= bits(resp.client_max_window_bits), `deflates with ${p.deflateWindowBits} bits, allowed ${String(resp.client_max_window_bits)}`);
  assert.ok(p.inflateWindowBits >= bits(resp.server_max_window_bits), `inflates with ${p.inflateWindowBits} bits, the server may use ${bits(resp.server_max_window_bits)}`);
  if (p.inflateNoContextTakeover) assert.ok(resp.server_no_context_takeover, 'drops the inflate context the server keeps');
}

function checkGrammar(value: string): void {
  const parsed = parseExtensions(value);
  if (!parsed) return;
  for (const e of parsed) {
    assert.match(e.name, /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/);
    assert.equal(Object.getPrototypeOf(e.params), null, 'params inherit from a prototype');
    for (const [k, v] of Object.entries(e.params)) {
      assert.match(k, /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/);
      assert.ok(v === true || /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(v), `value ${JSON.stringify(v)}`);
    }
    if (!e.invalid) {
      // What we would write back for an element reads as the same element.
      assert.deepEqual(parseExtensions(formatExtension(e.name, e.params)), [{ name: e.name, params: e.params }]);
    }
  }
}

function checkServer(value: string): void {
  const offers = parseExtensions(value);
  if (!offers) return;
  for (const opts of SERVER_OPTIONS) {
    const pmd = recordingCodec();
    const df = recordingCodec();
    const factories: ExtensionFactory[] = [new PerMessageDeflate(pmd.factory, opts), new DeflateFrame(df.factory)];
    const accepted = negotiateExtensions(offers, factories);
    let rsv = 0;
    for (const ext of accepted) {
      assert.equal(ext.rsvBits & rsv, 0, 'two extensions share an RSV bit');
      rsv |= ext.rsvBits;
      const answer = parseExtensions(ext.response);
      assert.ok(answer && answer.length === 1 && answer[0]!.name === ext.name, `response ${JSON.stringify(ext.response)}`);
      if (ext.name === 'permessage-deflate') {
        const resp = answer[0]!.params;
        const mine = offers.filter((o) => o.name === ext.name && !o.invalid);
        const problems = mine.map((o) => responseProblem(o.params, resp));
        assert.ok(problems.includes(null), `response ${ext.response} answers no offer: ${problems.join('; ')}`);
        checkServerCodec(pmd.made.at(-1)!, resp);
      }
      ext.dispose();
    }
  }
}

function checkClient(value: string): void {
  for (const opts of CLIENT_OPTIONS) {
    const pmd = recordingCodec();
    const factory = new PerMessageDeflate(pmd.factory, opts);
    const offer = parseExtensions(factory.offer())![0]!.params;
    const result = confirmExtensions(value, [factory, new DeflateFrame(recordingCodec().factory)]);
    if (typeof result === 'string') {
      assert.ok(result.length > 0);
      continue;
    }
    for (const ext of result) {
      if (ext.name === 'permessage-deflate') {
        const resp = parseExtensions(value)!.find((e) => e.name === ext.name)!.params;
        const problem = responseProblem(offer, resp);
        assert.equal(problem, null, `accepted ${JSON.stringify(value)} for offer ${factory.offer()}`);
        checkClientCodec(pmd.made.at(-1)!, resp);
      }
      ext.dispose();
    }
  }
}

function run(input: Buffer): void {
  const value = input.toString('latin1');
  checkGrammar(value);
  checkServer(value);
  checkClient(value);
}

// ---------------------------------------------------------------- generation

const paramName = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...KNOWN, 'max_window_bits', 'no_context_takeover') },
  { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'x', 'Server_No_Context_Takeover', '') },
);
const paramValue = fc.oneof(
  { weight: 3, arbitrary: fc.constant(null) },
  { weight: 4, arbitrary: fc.constantFrom('8', '9', '10', '12', '15', '16', '7', '08', '0', '-9', '1e1', '9.0', ' 9', '"9"', '"10"', '"1\\0"', '""', '"a b"') },
  { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
);
const element = fc.record({
  name: fc.oneof({ weight: 6, arbitrary: fc.constantFrom('permessage-deflate', 'deflate-frame', 'x-webkit-deflate-frame') }, { weight: 1, arbitrary: fc.constantFrom('foo', 'permessage_deflate', '', 'a b') }),
  params: fc.array(fc.tuple(paramName, paramValue, fc.constantFrom(';', '; ', ' ;', ';\t', ',')), { maxLength: 5 }),
});
const header = fc.array(element, { minLength: 1, maxLength: 3 }).map((els) =>
  Buffer.from(els.map((e) => e.name + e.params.map(([k, v, sep]) => `${sep}${k}${v === null ? '' : `=${v}`}`).join('')).join(', '), 'latin1'),
);

export const extensionParamsTarget: FuzzTarget = {
  name: 'extension-params',
  maxLength: 1024,
  dictionary: [...KNOWN, 'permessage-deflate', 'deflate-frame', ';', '; ', ',', ', ', '=', '"', '\\', '15', '8', '9', ' ', '\t'].map((s) => Buffer.from(s, 'latin1')),
  seeds() {
    const out = [
      'permessage-deflate',
      'permessage-deflate; client_max_window_bits',
      'permessage-deflate; server_max_window_bits=10; client_max_window_bits=8, permessage-deflate',
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
      'permessage-deflate; server_max_window_bits="9"',
      'permessage-deflate; server_no_context_takeover; server_no_context_takeover, permessage-deflate; client_max_window_bits=12',
      'deflate-frame; max_window_bits=10; no_context_takeover',
      'x-webkit-deflate-frame, foo; bar="baz"',
    ];
    for (const o of CLIENT_OPTIONS) out.push(new PerMessageDeflate(recordingCodec().factory, o).offer());
    return out.map((s) => Buffer.from(s, 'latin1'));
  },
  generate: header,
  run,
};
