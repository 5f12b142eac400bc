// The `ws` library's RFC 6455 engine over HTTP/2 extended CONNECT streams (RFC 8441), for
// the interop suite's h2 path. `ws` has no HTTP/2 handshake of its own (websockets/ws#1458),
// so node:http2 carries the CONNECT and `ws` takes the stream as its socket, on either
// side, with permessage-deflate negotiated by ws's own extension code as its server and
// client do over HTTP/1.1. Only the framing engine is ws's; no Switchboard code runs here.
import { Buffer } from 'node:buffer';
import { EventEmitter } from 'node:events';
import http2 from 'node:http2';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import WebSocket from 'ws';
import { next } from '../helpers/wait.js';
import { MiB, peerOf, type Deflate, type Peer, type RunningServer } from './interop-suite.js';

const require = createRequire(import.meta.url);
const wsDir = dirname(require.resolve('ws'));
// not exported by the package: loaded by path, the same modules ws's own handshakes use
const PerMessageDeflate = require(join(wsDir, 'lib/permessage-deflate.js')) as {
  new (options: object): { offer(): object; accept(offers: object[]): object; params: object };
  extensionName: string;
};
const extension = require(join(wsDir, 'lib/extension.js')) as { parse(header: string): Record<string, object[]>; format(e: Record<string, object[]>): string };

/** The private fields ws's handshakes fill in before handing over the socket. */
interface WsInternals {
  _isServer: boolean;
  _protocol: string;
  _extensions: Record<string, object>;
  setSocket(socket: unknown, head: Buffer, options: { allowSynchronousEvents: boolean; maxPayload: number; skipUTF8Validation: boolean }): void;
}

function adopt(stream: http2.Http2Stream, role: 'client' | 'server', protocol: string, extensions: Record<string, object>): WebSocket {
  // what ws's own server passes: pings are answered automatically
  const ws = new WebSocket(null as never, undefined as never, { autoPong: true, closeTimeout: 30_000 } as never);
  const w = ws as unknown as WsInternals;
  w._isServer = role === 'server';
  w._protocol = protocol;
  w._extensions = extensions;
  w.setSocket(stream, Buffer.alloc(0), { allowSynchronousEvents: true, maxPayload: 64 * MiB, skipUTF8Validation: false });
  ws.on('error', () => {});
  return ws;
}

function deflateOptions(d: Deflate): object {
  return { threshold: 0, ...d };
}

function peer(ws: WebSocket): Peer {
  return peerOf(ws, (data, binary, fin) => ws.send(data, { binary, fin }));
}

/** A ws client over an extended CONNECT stream on its own HTTP/2 connection. */
export async function wsClientOverHttp2(url: string, ca: string, options: { protocols?: string[]; perMessageDeflate?: Deflate }): Promise<Peer> {
  const u = new URL(url);
  const session = http2.connect(`https://${u.host}`, { ca });
  session.on('error', () => {});
  await next(session, 'remoteSettings');
  // without options ws offers permessage-deflate by default, as its HTTP/1.1 client does
  const pmd = new PerMessageDeflate({ ...(options.perMessageDeflate ? deflateOptions(options.perMessageDeflate) : {}), isServer: false, maxPayload: 64 * MiB });
  const headers: http2.OutgoingHttpHeaders = {
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':scheme': 'https',
    ':authority': u.host,
    ':path': u.pathname + u.search,
    'sec-websocket-version': '13',
    'sec-websocket-extensions': extension.format({ [PerMessageDeflate.extensionName]: [pmd.offer()] }),
  };
  if (options.protocols?.length) headers['sec-websocket-protocol'] = options.protocols.join(', ');
  const stream = session.request(headers, { endStream: false });
  stream.once('close', () => session.close());
  const [h] = await next<[http2.IncomingHttpHeaders]>(stream, 'response');
  if (Number(h[':status']) !== 200) {
    stream.destroy();
    throw new Error(`extended CONNECT refused: ${h[':status']}`);
  }
  const extensions: Record<string, object> = {};
  const answer = h['sec-websocket-extensions'];
  if (typeof answer === 'string') {
    const accepted = extension.parse(answer)[PerMessageDeflate.extensionName];
    if (accepted) {
      pmd.accept(accepted);
      extensions[PerMessageDeflate.extensionName] = pmd;
    }
  }
  const protocol = typeof h['sec-websocket-protocol'] === 'string' ? h['sec-websocket-protocol'] : '';
  return peer(adopt(stream, 'client', protocol, extensions));
}

/** A ws echo server behind node's HTTP/2 server: each extended CONNECT becomes a ws socket. */
export async function wsServerOverHttp2(tls: { key: string; cert: string }, options: { protocols?: string[]; perMessageDeflate?: Deflate }): Promise<RunningServer> {
  const server = http2.createSecureServer({ ...tls, settings: { enableConnectProtocol: true } });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('error', () => {});
    s.once('close', () => sessions.delete(s));
  });
  const peers = new EventEmitter();
  server.on('stream', (stream, h) => {
    stream.on('error', () => {});
    if (h[':method'] !== 'CONNECT' || h[':protocol'] !== 'websocket') {
      stream.respond({ ':status': 400 });
      stream.end();
      return;
    }
    const offered = String(h['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()).filter(Boolean);
    // the policy our server has: the first protocol offered that it speaks
    const protocol = offered.find((p) => (options.protocols ?? []).includes(p)) ?? '';
    const out: http2.OutgoingHttpHeaders = { ':status': 200 };
    const extensions: Record<string, object> = {};
    const offer = h['sec-websocket-extensions'];
    if (options.perMessageDeflate && typeof offer === 'string') {
      const offers = extension.parse(offer)[PerMessageDeflate.extensionName];
      if (offers) {
        const pmd = new PerMessageDeflate({ ...deflateOptions(options.perMessageDeflate), isServer: true, maxPayload: 64 * MiB });
        pmd.accept(offers);
        extensions[PerMessageDeflate.extensionName] = pmd;
        out['sec-websocket-extensions'] = extension.format({ [PerMessageDeflate.extensionName]: [pmd.params] });
      }
    }
    if (protocol) out['sec-websocket-protocol'] = protocol;
    stream.respond(out);
    const ws = adopt(stream, 'server', protocol, extensions);
    ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
    peers.emit('peer', peer(ws));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `wss://127.0.0.1:${port}/`,
    nextConnection: () => next<[Peer]>(peers, 'peer').then(([p]) => p),
    stop: () => {
      for (const s of sessions) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
