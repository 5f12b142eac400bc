// The binary frame codec (src/app/binary-frame.ts), byte for byte: what goes in comes out,
// with the bytes as views and never as JSON; anything malformed is not a frame.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBinaryFrame, encodeBinaryFrame, hasBytes } from '../../src/app/binary-frame.js';

test('a command with bytes at several depths round-trips; the header is the text protocol plus bin lengths', () => {
  const a = new Uint8Array([1, 2, 3]);
  const b = Buffer.from('hello');
  const frame = encodeBinaryFrame({ id: 7, cmd: 'up', data: { file: a, parts: [b, { inner: new Uint8Array(0) }], name: 'x' } });
  const length = new DataView(frame.buffer).getUint32(0);
  const header = JSON.parse(Buffer.from(frame.subarray(4, 4 + length)).toString('utf8'));
  assert.deepEqual(header, { id: 7, cmd: 'up', data: { file: { $bin: 0 }, parts: [{ $bin: 1 }, { inner: { $bin: 2 } }], name: 'x' }, bin: [3, 5, 0] });
  assert.deepEqual([...frame.subarray(4 + length)], [1, 2, 3, ...Buffer.from('hello')]);
  const back = decodeBinaryFrame(frame)!;
  const data = back['data'] as { file: Uint8Array; parts: [Uint8Array, { inner: Uint8Array }]; name: string };
  assert.deepEqual([...data.file], [1, 2, 3]);
  assert.equal(Buffer.from(data.parts[0]).toString(), 'hello');
  assert.equal(data.parts[1].inner.byteLength, 0);
  assert.equal(data.file.buffer, frame.buffer, 'a view of the frame, not a copy');
  assert.equal('bin' in back, false);
});

test('top-level bytes and an empty header object', () => {
  const back = decodeBinaryFrame(encodeBinaryFrame({ event: 'blob', data: new Uint8Array([9]) }))!;
  assert.deepEqual([...(back['data'] as Uint8Array)], [9]);
  assert.deepEqual(decodeBinaryFrame(encodeBinaryFrame({})), {});
});

test('malformed frames are not frames', () => {
  const good = encodeBinaryFrame({ id: 1, cmd: 'c', data: new Uint8Array([1, 2]) });
  assert.equal(decodeBinaryFrame(new Uint8Array([0, 0, 0])), null, 'shorter than the length');
  assert.equal(decodeBinaryFrame(good.subarray(0, good.length - 1)), null, 'an attachment cut short');
  assert.equal(decodeBinaryFrame(Buffer.concat([good, Buffer.from([0])])), null, 'bytes past the attachments');
  const frame = (header: string, tail: number[] = []): Uint8Array => {
    const h = Buffer.from(header, 'latin1');
    const out = Buffer.alloc(4 + h.length);
    out.writeUInt32BE(h.length);
    h.copy(out, 4);
    return Buffer.concat([out, Buffer.from(tail)]);
  };
  assert.equal(decodeBinaryFrame(frame('{"cmd":"c","data":{"$bin":1},"bin":[1]}', [5])), null, 'a placeholder past the attachments');
  assert.equal(decodeBinaryFrame(frame('{"cmd":"c"}')), null, 'no bin lengths');
  assert.equal(decodeBinaryFrame(frame('{"cmd":"c","bin":[-1]}')), null);
  assert.equal(decodeBinaryFrame(frame('[1,2]')), null);
  assert.equal(decodeBinaryFrame(frame('{"cmd":')), null);
  assert.equal(decodeBinaryFrame(frame('{"cmd":"\xff","bin":[]}')), null, 'invalid UTF-8');
  assert.equal(decodeBinaryFrame(frame('\u0000'.repeat(3))), null);
  const notPlaceholder = decodeBinaryFrame(frame('{"data":{"$bin":0,"x":1},"bin":[1]}', [7]))!;
  assert.deepEqual(notPlaceholder['data'], { $bin: 0, x: 1 }, 'only an object with $bin alone is a placeholder');
});

test('hasBytes finds bytes anywhere and ends on cycles', () => {
  assert.equal(hasBytes({ a: [1, { b: 'x' }] }), false);
  assert.equal(hasBytes([[[new Uint8Array(1)]]]), true);
  assert.equal(hasBytes(Buffer.alloc(0)), true);
  assert.equal(hasBytes('text'), false);
  const cyclic: Record<string, unknown> = {};
  cyclic['self'] = cyclic;
  assert.equal(hasBytes(cyclic), false);
});
