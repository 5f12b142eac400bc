// The raw harness peers over HTTP/2 (RFC 8441): a client that opens an extended CONNECT
// stream with node:http2 and a server that answers one, each handing back a RawConnection
// over the stream. Node's HTTP/2 stack is independent of ours; the frames on the stream are
// crafted by the harness, as over TCP.
import http2, { type Http2SecureServer, type IncomingHttpHeaders, type ServerHttp2Session } from 'node:http2';
import type { HttpHead, RawUpgrade } from './raw-client.js';
import { RawConnection } from './raw-connection.js';
import type { Accepted, RawRequest } from './raw-server.js';

export interface Http2Peer {
  /** The CA that signed the server's certificate (client side). */
  ca: string;
}

function headOf(status: number, h: IncomingHttpHeaders): HttpHead {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (k[0] !== ':' && v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : String(v);
  return { statusLine: `HTTP/2 ${status}`, status, headers, raw: JSON.stringify(h) };
}

/** Open a WebSocket stream on a fresh HTTP/2 connection; throws unless the answer is a 2xx. */
export async function rawConnectHttp2(o: { port: number; path?: string; extensions?: string; protocols?: string[]; ca: string; timeoutMs?: number }): Promise<RawUpgrade> {
  const session = http2.connect(`https://127.0.0.1:${o.port}`, { ca: o.ca });
  session.on('error', () => {});
  const fail = (err: Error): never => {
    session.destroy();
    throw err;
  };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no HTTP/2 SETTINGS within the deadline')), o.timeoutMs ?? 10_000);
    session.once('remoteSettings', () => {
      clearTimeout(timer);
      resolve();
    });
    session.once('error', reject);
  }).catch(fail);
  if (!session.remoteSettings.enableConnectProtocol) fail(new Error('the server did not send SETTINGS_ENABLE_CONNECT_PROTOCOL'));
  const headers: http2.OutgoingHttpHeaders = {
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':scheme': 'https',
    ':authority': `127.0.0.1:${o.port}`,
    ':path': o.path ?? '/',
    'sec-websocket-version': '13',
  };
  if (o.extensions) headers['sec-websocket-extensions'] = o.extensions;
  if (o.protocols?.length) headers['sec-websocket-protocol'] = o.protocols.join(', ');
  const stream = session.request(headers, { endStream: false });
  stream.on('error', () => {});
  // the connection goes with its one stream
  stream.once('close', () => session.close());
  const [h] = await new Promise<[IncomingHttpHeaders]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no response to the CONNECT within the deadline')), o.timeoutMs ?? 10_000);
    stream.once('response', (r) => {
      clearTimeout(timer);
      resolve([r]);
    });
    stream.once('close', () => reject(new Error(`the stream closed before a response (RST ${stream.rstCode})`)));
  }).catch(fail);
  const status = Number(h[':status']);
  const response = headOf(status, h);
  if (status < 200 || status > 299) {
    stream.destroy();
    throw new Error(`bad upgrade response: status ${status} (extended CONNECT)`);
  }
  return { conn: new RawConnection(stream, 'client'), response, key: '' };
}

/** The HTTP/2 side of RawServer: answers each extended CONNECT with the responder's choice. */
export function rawHttp2Server(
  tls: { key: string; cert: string },
  answer: (req: RawRequest) => { extensions?: string; protocol?: string } | string,
  push: (v: Accepted | Error) => void,
): { server: Http2SecureServer; sessions: Set<ServerHttp2Session> } {
  const sessions = new Set<ServerHttp2Session>();
  const server = http2.createSecureServer({ ...tls, settings: { enableConnectProtocol: true } });
  server.on('session', (s) => {
    sessions.add(s);
    s.on('error', () => {});
    s.once('close', () => sessions.delete(s));
  });
  server.on('stream', (stream, h) => {
    stream.on('error', () => {});
    const head = headOf(0, h);
    const request: RawRequest = { requestLine: `CONNECT ${h[':path']} HTTP/2`, method: String(h[':method']), path: String(h[':path']), headers: head.headers, key: '', raw: head.raw };
    if (h[':method'] !== 'CONNECT' || h[':protocol'] !== 'websocket') {
      stream.respond({ ':status': 400 });
      stream.end();
      push(new Error(`not an extended CONNECT: ${request.requestLine}`));
      return;
    }
    const r = answer(request);
    if (typeof r === 'string') {
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      push(new Error('a raw HTTP/1.1 answer cannot be sent over HTTP/2'));
      return;
    }
    const out: http2.OutgoingHttpHeaders = { ':status': 200 };
    if (r.extensions) out['sec-websocket-extensions'] = r.extensions;
    if (r.protocol) out['sec-websocket-protocol'] = r.protocol;
    stream.respond(out);
    push({ conn: new RawConnection(stream, 'server'), request });
  });
  return { server, sessions };
}
