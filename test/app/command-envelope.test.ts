import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeEnvelope, safeJsonParse } from '../../src/app/command-envelope.js';

test('decodes command envelopes', () => {
  assert.deepEqual(decodeEnvelope('{"id":7,"cmd":"room.join","data":{"room":"a"}}', false), { kind: 'command', id: 7, cmd: 'room.join', data: { room: 'a' } });
  assert.deepEqual(decodeEnvelope('{"id":"x","cmd":"ping"}', false), { kind: 'command', id: 'x', cmd: 'ping', data: undefined });
  assert.deepEqual(decodeEnvelope('{"cmd":"ping"}', false), { kind: 'command', id: null, cmd: 'ping', data: undefined });
});

test('malformed input gets distinct error codes', () => {
  const code = (text: string, kv = false) => {
    const e = decodeEnvelope(text, kv);
    return e.kind === 'invalid' ? e.error.code : e.kind;
  };
  assert.equal(code('{nope'), 'bad_json');
  assert.equal(code(''), 'bad_json');
  assert.equal(code('[1,2]'), 'bad_request');
  assert.equal(code('"str"'), 'bad_request');
  assert.equal(code('null'), 'bad_request');
  assert.equal(code('{"id":1}'), 'bad_request');
  assert.equal(code('{"id":{},"cmd":"x"}'), 'bad_request');
  assert.equal(code('{"id":1,"cmd":5}'), 'bad_request');
  assert.equal(code('{"id":1,"cmd":""}'), 'bad_request');
  assert.equal(code('{"echo":"hi"}'), 'bad_request');
  assert.equal(code('{"echo":"hi"}', true), 'keyvalue');
  const e = decodeEnvelope('{"id":3,"cmd":7}', false);
  assert.ok(e.kind === 'invalid' && e.id === 3, 'the id is kept when it can be read');
});

test('__proto__, constructor and prototype keys are dropped at every depth', () => {
  const v = safeJsonParse('{"__proto__":{"polluted":1},"a":{"constructor":{"prototype":{"polluted":1}},"b":[{"__proto__":{"x":1}}]}}') as any;
  assert.equal(({} as any).polluted, undefined);
  assert.equal(Object.getPrototypeOf(v), Object.prototype);
  assert.equal(Object.hasOwn(v, '__proto__'), false);
  assert.equal(Object.hasOwn(v.a, 'constructor'), false);
  assert.deepEqual(Object.keys(v.a.b[0]), []);
  const merged = Object.assign({}, v);
  assert.equal(merged.polluted, undefined);
});

test('the decoder never throws (property)', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((v) => JSON.stringify(v))), fc.boolean(), (text, kv) => {
      const e = decodeEnvelope(text, kv);
      assert.ok(['command', 'keyvalue', 'invalid'].includes(e.kind));
    }),
    { numRuns: 500 },
  );
});
