// Interop: our client (connect()) with a `ws` server (an independent implementation).
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { WebSocketServer as WsServer, type PerMessageDeflateOptions, type ServerOptions as WsServerOptions } from 'ws';
import { HandshakeError } from '../../src/index.js';
import { next } from '../helpers/wait.js';
import { MiB, interopSuite, label, peerOf, type Deflate, type Pairing, type Peer, type RunningServer, type ServerOptions, type ServerSide } from './interop-suite.js';
import { ourClientSide } from './our-sides.js';

/** Deflate allows clientMaxWindowBits: true, which ws accepts (Boolean|Number) but its typings do not. */
function wsDeflate(d: Deflate): PerMessageDeflateOptions {
  return { threshold: 0, ...d } as PerMessageDeflateOptions;
}

/** `extra` carries ws options the shared scenarios have no use for (e.g. verifyClient). */
async function startWs(options: ServerOptions, extra: WsServerOptions = {}): Promise<RunningServer> {
  const speaks = options.protocols ?? [];
  const wss = new WsServer({
    port: 0,
    host: '127.0.0.1',
    maxPayload: 64 * MiB,
    // The policy our server has, so the subprotocol scenario expects the same in both directions
    // (left to itself, ws would take the first protocol offered, spoken or not).
    handleProtocols: (offered) => [...offered].find((p) => speaks.includes(p)) ?? false,
    perMessageDeflate: options.perMessageDeflate ? wsDeflate(options.perMessageDeflate) : false,
    ...extra,
  });
  await next(wss, 'listening');
  const peers = new EventEmitter();
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
    peers.emit('peer', peerOf(ws, (data, binary, fin) => ws.send(data, { binary, fin })));
  });
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`,
    nextConnection: () => next<[Peer]>(peers, 'peer').then(([p]) => p),
    stop: () => {
      for (const c of wss.clients) c.terminate();
      return new Promise((resolve) => wss.close(() => resolve()));
    },
  };
}

const wsServer: ServerSide = { name: 'ws server', ours: false, start: (options) => startWs(options) };

const ourClient = ourClientSide();

const pairing: Pairing = { server: wsServer, client: ourClient };

interopSuite(pairing);

describe(`interop, our client only: ${pairing.server.name} and ${pairing.client.name}`, () => {
  test(`a rejected upgrade rejects connect() with HandshakeError and its status (${label(pairing)})`, async () => {
    const s = await startWs({}, { verifyClient: (_info, cb) => cb(false, 403) });
    try {
      await assert.rejects(ourClient.open(s.url, {}), (err: unknown) => err instanceof HandshakeError && err.status === 403);
    } finally {
      await s.stop();
    }
  });
});
