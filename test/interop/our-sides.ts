// Our server and our client as sides of the interop suite, over an HTTP/1.1 Upgrade or,
// given TLS material, over HTTP/2 extended CONNECT (RFC 8441).
import { EventEmitter } from 'node:events';
import { WebSocketServer, connect as ourConnect } from '../../src/index.js';
import { next } from '../helpers/wait.js';
import { MiB, peerOf, type ClientSide, type Peer, type RunningServer, type ServerOptions, type ServerSide } from './interop-suite.js';

export interface OurServerSide extends ServerSide {
  start(options: ServerOptions): Promise<RunningServer & { server: WebSocketServer }>;
}

/** `http2()`: the certificate to serve, read when the server starts. */
export function ourServerSide(http2?: () => { key: string; cert: string }): OurServerSide {
  return {
    name: http2 ? 'our server over h2' : 'our server',
    ours: true,
    async start(options) {
      const server = new WebSocketServer({
        port: 0,
        host: '127.0.0.1',
        limits: { maxMessageBytes: 32 * MiB, maxFrameBytes: 32 * MiB },
        ...(http2 ? { tls: http2(), http2: true } : {}),
        ...(options.protocols ? { protocols: options.protocols } : {}),
        ...(options.perMessageDeflate ? { perMessageDeflate: { threshold: 0, ...options.perMessageDeflate } } : {}),
      });
      const peers = new EventEmitter();
      server.on('connection', (ws) => {
        ws.on('error', () => {});
        ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
        peers.emit('peer', peerOf(ws, (data, binary, fin) => void ws.sendFragment(data, { binary, fin })));
      });
      await server.listen();
      return {
        server,
        url: `${server.url}/`,
        nextConnection: () => next<[Peer]>(peers, 'peer').then(([p]) => p),
        stop: () => server.close({ timeoutMs: 2000 }),
      };
    },
  };
}

/** `http2()`: the CA to trust, read when a client opens. */
export function ourClientSide(http2?: () => string): ClientSide {
  return {
    name: http2 ? 'our client over h2' : 'our client',
    ours: true,
    async open(url, options) {
      const ws = await ourConnect(url, {
        limits: { maxMessageBytes: 64 * MiB, maxFrameBytes: 64 * MiB },
        ...(http2 ? { http2: true, tls: { ca: http2() } } : {}),
        ...(options.protocols ? { protocols: options.protocols } : {}),
        ...(options.perMessageDeflate ? { perMessageDeflate: { threshold: 0, ...options.perMessageDeflate } } : {}),
      });
      ws.on('error', () => {});
      return peerOf(ws, (data, binary, fin) => void ws.sendFragment(data, { binary, fin }));
    },
  };
}
