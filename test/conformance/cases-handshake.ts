// Client handshake (RFC 6455 section 4.1): the raw server answers the upgrade request with
// a crafted response; the client under test must open only on a valid 101 for its request.
import { acceptFor } from '../helpers/raw-client.js';
import type { RawRequest } from '../helpers/raw-server.js';
import type { EchoClientOptions } from '../helpers/subjects.js';

export interface HandshakeCase {
  id: string;
  description: string;
  /** response head lines; `{accept}` is replaced by the correct Sec-WebSocket-Accept */
  response: string[] | 'hang-up';
  client?: EchoClientOptions;
  expect: { open: true; protocol?: string } | { open: false; status?: number };
}

const ok = ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Accept: {accept}'];
const without = (name: string) => ok.filter((l) => !l.toLowerCase().startsWith(name.toLowerCase()));

export const handshakeCases: HandshakeCase[] = [
  { id: 'H.1', description: 'valid 101: the client opens', response: ok, expect: { open: true } },
  { id: 'H.2', description: 'valid 101 with header names and tokens in other cases and a Connection list', response: ['HTTP/1.1 101 Switching Protocols', 'upgrade: WebSocket', 'connection: keep-alive, upgrade', 'sec-websocket-accept: {accept}'], expect: { open: true } },
  { id: 'H.3', description: 'valid 101 selecting one of the offered subprotocols', client: { protocols: ['chat.v1', 'chat.v2'] }, response: [...ok, 'Sec-WebSocket-Protocol: chat.v2'], expect: { open: true, protocol: 'chat.v2' } },
  { id: 'H.4', description: 'wrong Sec-WebSocket-Accept', response: [...without('Sec-WebSocket-Accept'), 'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo='], expect: { open: false } },
  { id: 'H.5', description: 'missing Sec-WebSocket-Accept', response: without('Sec-WebSocket-Accept'), expect: { open: false } },
  { id: 'H.6', description: 'missing Upgrade header', response: without('Upgrade'), expect: { open: false } },
  { id: 'H.7', description: 'Upgrade: h2c instead of websocket', response: [...without('Upgrade'), 'Upgrade: h2c'], expect: { open: false } },
  { id: 'H.8', description: 'missing Connection header', response: without('Connection'), expect: { open: false } },
  { id: 'H.9', description: 'Connection: keep-alive (no upgrade token)', response: [...without('Connection'), 'Connection: keep-alive'], expect: { open: false } },
  { id: 'H.10', description: 'a subprotocol although none was requested', response: [...ok, 'Sec-WebSocket-Protocol: chat'], expect: { open: false } },
  { id: 'H.11', description: 'a subprotocol that was not among the offered ones', client: { protocols: ['a', 'b'] }, response: [...ok, 'Sec-WebSocket-Protocol: c'], expect: { open: false } },
  { id: 'H.12', description: 'an extension although none was offered', response: [...ok, 'Sec-WebSocket-Extensions: permessage-deflate'], expect: { open: false } },
  { id: 'H.13', description: 'an unknown extension', client: { perMessageDeflate: true }, response: [...ok, 'Sec-WebSocket-Extensions: x-unknown'], expect: { open: false } },
  { id: 'H.14', description: 'permessage-deflate with an unknown parameter', client: { perMessageDeflate: true }, response: [...ok, 'Sec-WebSocket-Extensions: permessage-deflate; foo=1'], expect: { open: false } },
  { id: 'H.15', description: 'permessage-deflate with server_max_window_bits=7', client: { perMessageDeflate: true }, response: [...ok, 'Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=7'], expect: { open: false } },
  { id: 'H.16', description: 'permessage-deflate accepted twice', client: { perMessageDeflate: true }, response: [...ok, 'Sec-WebSocket-Extensions: permessage-deflate, permessage-deflate'], expect: { open: false } },
  { id: 'H.17', description: 'status 200 with a body', response: ['HTTP/1.1 200 OK', 'Content-Type: text/plain', 'Content-Length: 5', '', 'hello'], expect: { open: false, status: 200 } },
  { id: 'H.18', description: 'status 403', response: ['HTTP/1.1 403 Forbidden', 'Content-Length: 0'], expect: { open: false, status: 403 } },
  { id: 'H.19', description: 'status 404', response: ['HTTP/1.1 404 Not Found', 'Content-Length: 0'], expect: { open: false, status: 404 } },
  { id: 'H.20', description: 'redirect 302 (redirects are not followed unless asked)', response: ['HTTP/1.1 302 Found', 'Location: ws://127.0.0.1:1/elsewhere', 'Content-Length: 0'], expect: { open: false, status: 302 } },
  { id: 'H.21', description: '426 with Sec-WebSocket-Version: 12', response: ['HTTP/1.1 426 Upgrade Required', 'Sec-WebSocket-Version: 12', 'Content-Length: 0'], expect: { open: false, status: 426 } },
  { id: 'H.22', description: 'Sec-WebSocket-Accept in the wrong letter case (base64 is case-sensitive)', response: [...without('Sec-WebSocket-Accept'), 'Sec-WebSocket-Accept: {accept-lower}'], expect: { open: false } },
  { id: 'H.23', description: 'the server hangs up without answering', response: 'hang-up', expect: { open: false } },
];

export function renderResponse(c: HandshakeCase, req: RawRequest): string {
  if (c.response === 'hang-up') return '';
  const lines = c.response.map((l) => l.replace('{accept-lower}', acceptFor(req.key).toLowerCase()).replace('{accept}', acceptFor(req.key)));
  // a body (after an empty line) is sent as-is; the raw server appends the final CRLFCRLF
  const blank = lines.indexOf('');
  if (blank >= 0) return lines.slice(0, blank).join('\r\n') + '\r\n\r\n' + lines.slice(blank + 1).join('\r\n');
  return lines.join('\r\n');
}

/** Problems with the client's upgrade request (RFC 6455 section 4.1), empty when valid. */
export function checkClientRequest(req: RawRequest, protocols?: string[]): string[] {
  const p: string[] = [];
  if (req.method !== 'GET') p.push(`method ${req.method}`);
  if (!/ HTTP\/1\.1$/.test(req.requestLine)) p.push(`request line ${req.requestLine}`);
  if (!req.headers['host']) p.push('no Host');
  if ((req.headers['upgrade'] ?? '').toLowerCase() !== 'websocket') p.push(`Upgrade: ${req.headers['upgrade']}`);
  if (!(req.headers['connection'] ?? '').toLowerCase().split(/\s*,\s*/).includes('upgrade')) p.push(`Connection: ${req.headers['connection']}`);
  if (req.headers['sec-websocket-version'] !== '13') p.push(`Sec-WebSocket-Version: ${req.headers['sec-websocket-version']}`);
  const key = Buffer.from(req.key, 'base64');
  if (key.length !== 16 || key.toString('base64') !== req.key) p.push(`Sec-WebSocket-Key: ${req.key}`);
  if (protocols?.length && req.headers['sec-websocket-protocol']?.split(/\s*,\s*/).join(',') !== protocols.join(',')) p.push(`Sec-WebSocket-Protocol: ${req.headers['sec-websocket-protocol']}`);
  return p;
}
