// Patches between JSON values: applying the patch made from a to b turns a into b, for both
// kinds and for the smaller one the server sends; known RFC 7386 / RFC 6902 cases by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { applyJsonPatch, applyMergePatch, applyPatch, jsonPatch, mergePatch, smallestPatch, type Json } from '../../src/client/json-patch.js';

// small key and value alphabets make shared structure (and so real diffs) likely
const key = fc.constantFrom('a', 'b', 'c', 'x', '', '~', '/', 'a/b', '~1', '__proto__', 'constructor');
const json: fc.Arbitrary<Json> = fc.letrec<{ value: Json }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom<Json>(null, true, false, 0, 1, -1.5, '', 'x'),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(key, tie('value'), { maxKeys: 5 }),
  ),
})).value;

/** Pairs that share structure: b is a with some edits, or unrelated. */
const pair = fc.oneof(
  fc.tuple(json, json),
  json.chain((a) => fc.tuple(fc.constant(a), mutate(a))),
);

function mutate(a: Json): fc.Arbitrary<Json> {
  if (Array.isArray(a)) return fc.oneof(json, fc.tuple(fc.nat({ max: a.length }), json).map(([i, v]) => [...a.slice(0, i), v, ...a.slice(i + 1)]));
  if (a !== null && typeof a === 'object') {
    return fc.oneof(
      json,
      fc.tuple(key, json).map(([k, v]) => ({ ...a, [k]: v })),
      fc.constantFrom(...Object.keys(a), 'missing').map((k) => Object.fromEntries(Object.entries(a).filter(([kk]) => kk !== k))),
    );
  }
  return json;
}

const same = (actual: Json, expected: Json) => assert.deepEqual(JSON.parse(JSON.stringify(actual)), JSON.parse(JSON.stringify(expected)));

test('property: applying the JSON Patch from a to b gives b, and leaves a unchanged', () => {
  fc.assert(
    fc.property(pair, ([a, b]) => {
      const before = JSON.stringify(a);
      same(applyJsonPatch(a, jsonPatch(a, b)), b);
      assert.equal(JSON.stringify(a), before);
    }),
    { numRuns: 3000 },
  );
});

test('property: a merge patch, when one is made, turns a into b', () => {
  fc.assert(
    fc.property(pair, ([a, b]) => {
      const patch = mergePatch(a, b);
      if (patch !== undefined) same(applyMergePatch(a, patch), b);
    }),
    { numRuns: 3000 },
  );
});

test('property: the patch sent on the wire (the smaller kind) applies to give b, after a JSON round trip', () => {
  fc.assert(
    fc.property(pair, ([a, b]) => {
      const { kind, patch } = smallestPatch(a, b);
      const wire = JSON.parse(JSON.stringify(patch)) as Json;
      assert.equal(Array.isArray(wire), kind === 'json', 'an array on the wire is a JSON Patch, anything else a merge patch');
      same(applyPatch(JSON.parse(JSON.stringify(a)) as Json, wire), b);
    }),
    { numRuns: 3000 },
  );
});

test('the smaller patch is chosen: one field of a large object goes as a merge patch', () => {
  const a = { title: 'x'.repeat(200), votes: { tabs: 1, spaces: 2 } };
  const b = { title: 'x'.repeat(200), votes: { tabs: 2, spaces: 2 } };
  assert.deepEqual(smallestPatch(a, b), { kind: 'merge', patch: { votes: { tabs: 2 } } });
  // setting a field to null cannot be said in a merge patch (null deletes)
  assert.deepEqual(smallestPatch({ a: 1 }, { a: null }), { kind: 'json', patch: [{ op: 'replace', path: '/a', value: null }] });
  // a change inside a long array: JSON Patch addresses the element, a merge patch would resend the array
  const list = Array.from({ length: 40 }, (_, i) => i * 1000);
  assert.deepEqual(smallestPatch({ list }, { list: [...list.slice(0, 39), 7] }), { kind: 'json', patch: [{ op: 'replace', path: '/list/39', value: 7 }] });
  // …and a short one goes whole in a merge patch, which is smaller then
  assert.equal(smallestPatch({ list: [1, 2] }, { list: [1, 3] }).kind, 'merge');
});

test('RFC 7386 examples apply as the RFC says', () => {
  // RFC 7386 appendix A (a selection)
  const cases: Array<[Json, Json, Json]> = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [['a', 'b'], ['c', 'd'], ['c', 'd']],
    [{ a: 'b' }, ['c'], ['c']],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  for (const [target, patch, result] of cases) same(applyMergePatch(target, patch), result);
});

test('JSON Patch pointers escape "~" and "/"; "__proto__" stays an own key', () => {
  same(applyJsonPatch({}, jsonPatch({}, { 'a/b': 1, '~x': 2 })), { 'a/b': 1, '~x': 2 });
  const polluted = applyPatch({}, JSON.parse('{"__proto__":{"hacked":true}}') as Json) as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(polluted), Object.prototype);
  assert.equal(({} as Record<string, unknown>)['hacked'], undefined);
  assert.deepEqual(Object.keys(polluted), ['__proto__']);
});

test('a JSON Patch that does not fit the value is refused, not half applied', () => {
  assert.throws(() => applyJsonPatch({ a: 1 }, [{ op: 'replace', path: '/x/y', value: 1 }]));
  assert.throws(() => applyJsonPatch([1], [{ op: 'add', path: '/5', value: 1 }]));
});
