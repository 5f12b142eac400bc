// Inputs the fuzz targets found that once failed, each named for what went wrong; each is
// replayed through its target (all of that target's properties) and the specific rule is
// asserted directly.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { ProtocolConnection, type Frame, type ProtocolSink } from './subjects.js';
import { framesTarget } from './targets/frames.js';

function frameObserver() {
  const frames: Frame[] = [];
  let closeCode = 0;
  const sink: ProtocolSink = {
    output: (d) => {
      if ((d[0]! & 0x0f) === 0x8) closeCode = d.readUInt16BE(2);
    },
    onMessage: () => {},
    onFrame: (f) => frames.push(f),
    onPing: () => {},
    onPong: () => {},
    onError: () => {},
    endTransport: () => {},
  };
  const conn = new ProtocolConnection(sink, { role: 'server', maxMessageBytes: 1 << 20, maxFrameBytes: 1 << 20, observeFrames: true });
  return { conn, frames, closeCode: () => closeCode };
}

describe('fuzz regressions: frames', () => {
  test('a text frame with invalid UTF-8 is not reported to onFrame, whatever the chunking', async () => {
    // setup 0x10 (server, observeFrames), then a masked text frame whose payload is 80 20.
    const input = Buffer.from([0x10, 0x00, 0x81, 0x82, 0x51, 0xe0, 0x7b, 0x01, 0xd1, 0xc0]);
    await framesTarget.run(input);
    const frame = input.subarray(2);
    for (const chunks of [[frame], [frame.subarray(0, 7), frame.subarray(7)]]) {
      const o = frameObserver();
      for (const c of chunks) o.conn.receiveData(Buffer.from(c));
      assert.equal(o.frames.length, 0);
      assert.equal(o.closeCode(), 1007);
    }
  });
});
