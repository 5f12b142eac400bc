import { Buffer } from 'node:buffer';
import net from 'node:net';
import type { ClientHttp2Stream, IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import type tls from 'node:tls';
import { buildClientRequest, chosenProtocol, confirmExtensions, type ExtensionFactory } from '../protocol/index.js';
import type { ClientGroup } from './client-group.js';
import { WebSocket, type WebSocketShared } from './websocket.js';

/** What the HTTP/1.1 handshake error carries, built by the caller's class. */
export type RefusalError = (message: string, status?: number, headers?: Record<string, string>, body?: string) => Error;

export interface Http2Attempt {
  target: URL;
  factories: ExtensionFactory[];
  group: ClientGroup;
  shared: WebSocketShared;
  protocols?: string[];
  headers?: Record<string, string>;
  origin?: string;
  tls?: tls.ConnectionOptions;
  handshakeTimeoutMs: number;
  refused: RefusalError;
}

const MAX_BODY = 65536;

/**
 * Open a WebSocket as an extended CONNECT stream on an HTTP/2 connection (RFC 8441): the
 * group's connection to the origin is reused (or opened), the server's SETTINGS must allow
 * extended CONNECT, and a 2xx turns the stream into the WebSocket's byte pipe.
 */
export function connectOverHttp2(o: Http2Attempt): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const { target } = o;
    if (target.protocol !== 'wss:' && target.protocol !== 'https:') return reject(new TypeError('WebSocket over HTTP/2 needs wss:// (HTTP/2 is negotiated in TLS)'));
    const path = (target.pathname || '/') + target.search;
    const offer = o.factories.map((f) => f.offer()).join(', ');
    try {
      // the same checks of subprotocols and extra headers as an HTTP/1.1 request
      buildClientRequest({ host: target.host, path, key: '', ...(o.protocols ? { protocols: o.protocols } : {}), ...(o.headers ? { headers: o.headers } : {}) });
    } catch (err) {
      return reject(err);
    }
    const host = target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname;
    const lease = o.group.http2.acquire(`https://${target.host}`, {
      host,
      port: target.port ? Number(target.port) : 443,
      ALPNProtocols: ['h2'],
      ...(net.isIP(host) ? {} : { servername: host }),
      ...o.tls,
    });
    let settled = false;
    let stream: ClientHttp2Stream | null = null;
    const timer = setTimeout(() => fail(o.refused('opening handshake timed out')), o.handshakeTimeoutMs);
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stream?.destroy();
      lease.release();
      reject(err);
    };
    lease.ready.then(() => {
      if (settled) return;
      if (!lease.session.remoteSettings.enableConnectProtocol) {
        return fail(o.refused('the server does not take WebSockets over HTTP/2 (no SETTINGS_ENABLE_CONNECT_PROTOCOL)'));
      }
      const headers: OutgoingHttpHeaders = {
        ...lowerCased(o.headers),
        ':method': 'CONNECT',
        ':protocol': 'websocket',
        ':scheme': 'https',
        ':authority': target.host,
        ':path': path,
        'sec-websocket-version': '13',
      };
      if (o.protocols?.length) headers['sec-websocket-protocol'] = o.protocols.join(', ');
      if (offer) headers['sec-websocket-extensions'] = offer;
      if (o.origin) headers.origin = o.origin;
      const s = (stream = lease.session.request(headers, { endStream: false }));
      const onError = (err: Error): void => fail(err);
      const onClose = (): void => fail(o.refused('the stream closed during the opening handshake'));
      s.once('error', onError);
      s.once('close', onClose);
      s.once('response', (h) => {
        const status = Number(h[':status']);
        if (status < 200 || status > 299) return readRefusal(s, (body) => fail(o.refused(`server refused the upgrade: ${status}`, status, plainHeaders(h), body)));
        const check = chosenProtocol(single(h['sec-websocket-protocol']), o.protocols ?? []);
        if (typeof check === 'string') return fail(o.refused(`invalid handshake response: ${check}`, status, plainHeaders(h)));
        const extensions = confirmExtensions(single(h['sec-websocket-extensions']), o.factories);
        if (typeof extensions === 'string') return fail(o.refused(`invalid handshake response: ${extensions}`, status, plainHeaders(h)));
        settled = true;
        clearTimeout(timer);
        s.off('error', onError);
        s.off('close', onClose);
        s.once('close', () => lease.release());
        const ws = new WebSocket(s, o.shared, check.protocol, extensions);
        // frames that came with the response wait until the caller's `await` has resumed
        s.pause();
        setImmediate(() => s.resume());
        resolve(ws);
      });
    }, fail);
  });
}

/** A refusal's body (bounded), so the error can say what the server said. */
function readRefusal(s: ClientHttp2Stream, done: (body: string) => void): void {
  const parts: Buffer[] = [];
  let n = 0;
  s.on('data', (chunk: Buffer) => {
    if (n < MAX_BODY) parts.push(chunk);
    n += chunk.length;
  });
  s.once('end', () => done(Buffer.concat(parts).subarray(0, MAX_BODY).toString('utf8')));
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}

function lowerCased(headers: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) out[k.toLowerCase()] = v;
  return out;
}

function plainHeaders(h: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (k[0] !== ':' && v !== undefined) out[k] = single(v)!;
  return out;
}
