import net from 'node:net';
import { Buffer } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WebSocket } from '../../src/index.js';
import { next } from '../helpers/wait.js';

export function messages(ws: WebSocket, n: number): Promise<{ data: Buffer; isBinary: boolean }[]> {
  return new Promise((resolve) => {
    const got: { data: Buffer; isBinary: boolean }[] = [];
    const on = (data: Buffer, isBinary: boolean) => {
      got.push({ data, isBinary });
      if (got.length === n) {
        ws.off('message', on);
        resolve(got);
      }
    };
    ws.on('message', on);
  });
}

/** Raw TCP request: write `request`, collect everything until the server closes. */
export async function rawExchange(port: number, request: string | Buffer): Promise<string> {
  const s = net.connect(port, '127.0.0.1');
  await next(s, 'connect');
  s.write(request);
  const chunks: Buffer[] = [];
  s.on('data', (c) => chunks.push(c));
  await next(s, 'close');
  return Buffer.concat(chunks).toString('latin1');
}

export const UPGRADE = (path = '/', extra = '') =>
  `GET ${path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;

/** A self-signed certificate for 127.0.0.1, made with openssl for this test run. */
export function selfSigned(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sb-tls-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
