import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { CommandErrorCode, decodeEnvelope, type Envelope } from '../subjects.js';
import type { FuzzTarget } from '../target.js';

/**
 * The JSON command envelope decoder, in both forms (`{"id","cmd","data"}` and the opt-in
 * key-value form). Input: the text message's bytes (UTF-8). Checked against JSON.parse and a
 * plain reading of the documented rules.
 */

const UNSAFE = new Set(['__proto__', 'constructor', 'prototype']);
const PROTOTYPE_KEYS = Object.getOwnPropertyNames(Object.prototype).sort().join();

/** No own key named __proto__, constructor or prototype at any depth (walked without recursion: inputs nest deep). */
function assertNoUnsafeKeys(root: unknown, rootPath = 'data'): void {
  const pending: Array<[unknown, string]> = [[root, rootPath]];
  while (pending.length > 0) {
    const [value, path] = pending.pop()!;
    if (typeof value !== 'object' || value === null) continue;
    if (!Array.isArray(value)) {
      const proto = Object.getPrototypeOf(value);
      assert.ok(proto === Object.prototype || proto === null, `${path} has a foreign prototype`);
    }
    for (const k of Object.keys(value)) {
      assert.ok(!UNSAFE.has(k), `${path} keeps the key ${k}`);
      // Paths stop growing past a few levels: a deep input would make each one as long as itself.
      pending.push([(value as Record<string, unknown>)[k], path.length < 200 ? `${path}.${k}` : path]);
    }
  }
}

type Kind = Envelope['kind'];

/** The documented outcome, from an independent parse. */
function expectedOf(text: string, keyValue: boolean): { kind: Kind; code?: string; cmd?: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: 'invalid', code: CommandErrorCode.BAD_JSON };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { kind: 'invalid', code: CommandErrorCode.BAD_REQUEST };
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => !UNSAFE.has(k));
  const id = obj['id'];
  if (id !== undefined && id !== null && typeof id !== 'string' && !(typeof id === 'number' && Number.isFinite(id))) return { kind: 'invalid', code: CommandErrorCode.BAD_REQUEST };
  if (keys.includes('cmd')) {
    const cmd = obj['cmd'];
    return typeof cmd === 'string' && cmd !== '' ? { kind: 'command', cmd } : { kind: 'invalid', code: CommandErrorCode.BAD_REQUEST };
  }
  if (keyValue && keys.length > 0) return { kind: 'keyvalue' };
  return { kind: 'invalid', code: CommandErrorCode.BAD_REQUEST };
}

function checkId(id: unknown): void {
  assert.ok(id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)), `id ${String(id)}`);
}

function run(input: Buffer): void {
  const text = input.toString('utf8');
  for (const keyValue of [false, true]) {
    const got = decodeEnvelope(text, keyValue);
    const want = expectedOf(text, keyValue);
    assert.equal(got.kind, want.kind, `decoded as ${got.kind}${got.kind === 'invalid' ? ` (${got.error.message})` : ''}, expected ${want.kind}`);
    switch (got.kind) {
      case 'command':
        checkId(got.id);
        assert.equal(got.cmd, want.cmd);
        assertNoUnsafeKeys(got.data);
        break;
      case 'keyvalue':
        assert.ok(keyValue, 'key-value form without the option');
        assert.ok(got.entries.length > 0);
        for (const [k, v] of got.entries) {
          assert.ok(!UNSAFE.has(k), `entry ${k}`);
          assertNoUnsafeKeys(v, k);
        }
        break;
      case 'invalid':
        checkId(got.id);
        assert.equal(got.error.code, want.code, got.error.message);
        assert.ok(typeof got.error.message === 'string' && got.error.message.length > 0);
        break;
      default:
        assert.fail(`undocumented kind ${(got as { kind: string }).kind}`);
    }
  }
  assert.equal(Object.getOwnPropertyNames(Object.prototype).sort().join(), PROTOTYPE_KEYS, 'Object.prototype changed');
}

// ---------------------------------------------------------------- generation

const key = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('id', 'cmd', 'data') },
  { weight: 2, arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '') },
  { weight: 2, arbitrary: fc.string({ maxLength: 8 }) },
);
const scalar = fc.oneof(
  fc.constantFrom('null', 'true', 'false', '0', '-0', '1e400', '-1e400', '7', '7.5', '""', '"room.join"', '"x"', '[]', '{}'),
  fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
);
type Json = string;
const value: fc.Arbitrary<Json> = fc.letrec<{ v: Json }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('v'), { maxLength: 3 }).map((xs) => `[${xs.join(',')}]`),
    fc.array(fc.tuple(key, tie('v')), { maxLength: 4 }).map((es) => `{${es.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
  ),
})).v;
const envelope = fc.array(fc.tuple(key, value), { maxLength: 6 }).map((es) => `{${es.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`);
const deep = fc.tuple(fc.integer({ min: 1, max: 20_000 }), fc.constantFrom('[', '{"a":', '{"__proto__":')).map(([n, open]) => {
  const close = open === '[' ? ']' : '}';
  return `{"id":1,"cmd":"deep","data":${open.repeat(n)}0${close.repeat(n)}}`;
});

export const envelopeTarget: FuzzTarget = {
  name: 'envelope',
  maxLength: 1 << 16,
  dictionary: ['{', '}', '[', ']', ',', ':', '"', '\\', '\\u0000', '"id"', '"cmd"', '"data"', '"__proto__"', '"constructor"', '"prototype"', 'null', 'true', '1e400', '-0', '\u2028', '\ufeff'].map((s) => Buffer.from(s)),
  seeds() {
    return [
      '{"id":7,"cmd":"room.join","data":{"room":"a"}}',
      '{"cmd":"ping"}',
      '{"id":"x","cmd":""}',
      '{"id":{},"cmd":"a"}',
      '{"chat.send":{"text":"hi"},"room.join":"a"}',
      '{"__proto__":{"polluted":1},"cmd":"a","data":{"constructor":{"prototype":{"x":1}}}}',
      '{"id":1e400,"cmd":"a"}',
      '[1,2]',
      'null',
      '{"id":1,"cmd":"a"',
      '\ufeff{"cmd":"a"}',
    ].map((s) => Buffer.from(s));
  },
  generate: fc.oneof(
    { weight: 9, arbitrary: fc.oneof({ weight: 6, arbitrary: envelope }, { weight: 2, arbitrary: value }, { weight: 1, arbitrary: deep }).map((s) => Buffer.from(s)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)) },
  ),
  run,
};
