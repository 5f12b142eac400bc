// Raw node:net WebSocket client for the conformance harness: performs the HTTP upgrade by
// hand (no WebSocket library) and hands back a RawConnection in the client role.
import { Buffer } from 'node:buffer';
import { createHash, randomBytes } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { RawConnection } from './raw-connection.js';

export const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export function acceptFor(key: string): string {
  return createHash('sha1').update(key + WS_GUID).digest('base64');
}

export interface HttpHead {
  statusLine: string;
  status: number;
  /** lower-case names; repeated headers joined with ", " */
  headers: Record<string, string>;
  raw: string;
}

export function parseHead(raw: string): HttpHead {
  const lines = raw.split('\r\n');
  const statusLine = lines[0] ?? '';
  const m = /^HTTP\/1\.1 (\d{3})/.exec(statusLine);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const k = line.slice(0, i).trim().toLowerCase();
    const v = line.slice(i + 1).trim();
    headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
  }
  return { statusLine, status: m ? Number(m[1]) : 0, headers, raw };
}

/** Read from a socket until the end of an HTTP head; returns head text and leftover bytes. */
export function readHead(socket: Socket, timeoutMs: number, maxBytes = 64 * 1024): Promise<{ head: string; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => finish(new Error(`no complete HTTP head within ${timeoutMs} ms`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const i = buf.indexOf('\r\n\r\n');
      if (i >= 0) {
        socket.pause();
        finish(undefined, { head: buf.subarray(0, i).toString('latin1'), rest: buf.subarray(i + 4) });
      } else if (buf.length > maxBytes) finish(new Error('HTTP head too large'));
    };
    const onEnd = () => finish(new Error(`connection ended before the HTTP head was complete (got ${JSON.stringify(buf.toString('latin1'))})`));
    const onError = (err: Error) => finish(err);
    function finish(err?: Error, v?: { head: string; rest: Buffer }) {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
      if (err) reject(err);
      else resolve(v!);
    }
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
  });
}

export interface RawUpgradeOptions {
  host?: string;
  port: number;
  path?: string;
  /** Sec-WebSocket-Extensions offer */
  extensions?: string;
  protocols?: string[];
  headers?: Record<string, string>;
  timeoutMs?: number;
}

export interface RawUpgrade {
  conn: RawConnection;
  response: HttpHead;
  key: string;
}

/** Connect and upgrade. Throws if the response is not a valid 101 for our key. */
export async function rawConnect(opts: RawUpgradeOptions): Promise<RawUpgrade> {
  const host = opts.host ?? '127.0.0.1';
  const socket = netConnect({ host, port: opts.port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const key = randomBytes(16).toString('base64');
  const lines = [
    `GET ${opts.path ?? '/'} HTTP/1.1`,
    `Host: ${host}:${opts.port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`,
    'Sec-WebSocket-Version: 13',
  ];
  if (opts.extensions) lines.push(`Sec-WebSocket-Extensions: ${opts.extensions}`);
  if (opts.protocols?.length) lines.push(`Sec-WebSocket-Protocol: ${opts.protocols.join(', ')}`);
  for (const [k, v] of Object.entries(opts.headers ?? {})) lines.push(`${k}: ${v}`);
  socket.write(lines.join('\r\n') + '\r\n\r\n');
  let head: { head: string; rest: Buffer };
  try {
    head = await readHead(socket, opts.timeoutMs ?? 10_000);
  } catch (err) {
    socket.destroy();
    throw err;
  }
  const response = parseHead(head.head);
  const problems: string[] = [];
  if (response.status !== 101) problems.push(`status ${response.status} (${response.statusLine})`);
  if ((response.headers['upgrade'] ?? '').toLowerCase() !== 'websocket') problems.push(`Upgrade: ${response.headers['upgrade']}`);
  if (!(response.headers['connection'] ?? '').toLowerCase().split(/\s*,\s*/).includes('upgrade'))
    problems.push(`Connection: ${response.headers['connection']}`);
  if (response.headers['sec-websocket-accept'] !== acceptFor(key)) problems.push(`Sec-WebSocket-Accept: ${response.headers['sec-websocket-accept']}`);
  if (problems.length > 0) {
    socket.destroy();
    throw new Error(`bad upgrade response: ${problems.join('; ')}\n${response.raw}`);
  }
  const conn = new RawConnection(socket, 'client', head.rest);
  socket.resume();
  return { conn, response, key };
}
