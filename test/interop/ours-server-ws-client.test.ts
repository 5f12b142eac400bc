// Interop: our server with the `ws` client (an independent implementation).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import WebSocket from 'ws';
import { next, within } from '../helpers/wait.js';
import { MiB, connect, interopSuite, label, peerOf, type ClientSide, type Deflate, type Pairing } from './interop-suite.js';
import { ourServerSide } from './our-sides.js';

const ourServer = ourServerSide();

/** ws takes clientMaxWindowBits: true (offer it without a value), though its typings say number only. */
function wsDeflate(d: Deflate): WebSocket.PerMessageDeflateOptions {
  return { threshold: 0, ...d } as WebSocket.PerMessageDeflateOptions;
}

const wsClient: ClientSide = {
  name: 'ws client',
  ours: false,
  async open(url, options) {
    // Without perMessageDeflate the ws client keeps its default, which offers the extension.
    const ws = new WebSocket(url, options.protocols ?? [], {
      maxPayload: 64 * MiB,
      ...(options.perMessageDeflate ? { perMessageDeflate: wsDeflate(options.perMessageDeflate) } : {}),
    });
    ws.on('error', () => {});
    const peer = peerOf(ws, (data, binary, fin) => ws.send(data, { binary, fin }));
    await next(ws, 'open');
    return peer;
  },
};

const pairing: Pairing = { server: ourServer, client: wsClient };

interopSuite(pairing);

describe(`interop, our server only: ${pairing.server.name} and ${pairing.client.name}`, () => {
  test(`server.close() closes open clients with 1001 (${label(pairing)})`, async () => {
    const s = await ourServer.start({});
    const { client } = await connect(pairing, s);
    await s.server.close({ timeoutMs: 5000 });
    assert.equal((await within(client.closed, 'the client seeing the close')).code, 1001);
  });
});
