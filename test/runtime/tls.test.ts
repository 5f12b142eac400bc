// `switchboard serve --tls-cert/--tls-key [--tls-ca]`: wss:// over HTTP/1.1 and HTTP/2 on one
// port, the certificate re-read by `switchboard reload` and SIGHUP while connections stay
// open, client certificates, and the configuration errors.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { ConfigError, loadConfig, parseConfigFlags } from '../../src/runtime/config.js';
import { connect, type ClientOptions, type WebSocket } from '../../src/transport/index.js';
import { makeCerts, type CertFiles } from '../helpers/tls-certs.js';
import { next, until } from '../helpers/wait.js';
import { ServerProcess } from './server-process.js';
import { runCli } from './run-cli.js';

const SERVE = fileURLToPath(new URL('./fixtures/serve-server.js', import.meta.url));
const SERVICES = fileURLToPath(new URL('./fixtures/services', import.meta.url));
let certs: CertFiles;
let root: string;
const servers: ServerProcess[] = [];
const sockets: WebSocket[] = [];

before(() => {
  certs = makeCerts();
  root = mkdtempSync(join(tmpdir(), 'sb-tls-'));
});
after(async () => {
  for (const ws of sockets) ws.terminate();
  for (const s of servers) await s.kill();
  certs.remove();
  rmSync(root, { recursive: true, force: true });
});

const cli = (args: string[]) => runCli(root, args);

async function serve(name: string, extra: string[]): Promise<{ server: ServerProcess; url: string; runDir: string; port: number }> {
  const runDir = join(root, name);
  const server = new ServerProcess(SERVE, ['--port', '0', '--host', '127.0.0.1', '--services', SERVICES, '--run-dir', runDir, ...extra]);
  servers.push(server);
  const started = await server.waitForLog((l) => l.msg === 'switchboard started');
  const url = (started.listening as string[])[0]!;
  return { server, url, runDir, port: Number(new URL(url).port) };
}

/** A command client of the echo service; `http2` picks the path. */
async function open(url: string, options: ClientOptions): Promise<WebSocket> {
  const ws = await connect(`${url}/inline-echo`, { handshakeTimeoutMs: 10_000, ...options });
  sockets.push(ws);
  ws.on('error', () => {});
  return ws;
}

let nextId = 1;
async function echo(ws: WebSocket, data: unknown): Promise<unknown> {
  const id = nextId++;
  const reply = next<[Buffer, boolean]>(ws, 'message', undefined, (d) => (JSON.parse(d.toString()) as { id?: number }).id === id);
  ws.send(JSON.stringify({ id, cmd: 'echo', data }));
  const [raw] = await reply;
  return (JSON.parse(raw.toString()) as { data: unknown }).data;
}

/** The fingerprint of the certificate a new TLS connection is served, and the protocol ALPN chose. */
function servedCertificate(port: number, alpn = ['h2', 'http/1.1']): Promise<{ fingerprint: string; alpn: string | false | null }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: certs.read(certs.caCert), ALPNProtocols: alpn }, () => {
      const peer = s.getPeerX509Certificate();
      resolve({ fingerprint: peer?.fingerprint256 ?? '', alpn: s.alpnProtocol });
      s.destroy();
    });
    s.once('error', reject);
  });
}

const fingerprint = (file: string): string => new X509Certificate(certs.read(file)).fingerprint256;

describe('TLS configuration', () => {
  test('--tls-cert without --tls-key (and --tls-ca alone) is one clear line each', async () => {
    const load = async (argv: string[]) => {
      try {
        await loadConfig({ flags: parseConfigFlags(argv).flags, env: {}, cwd: root });
        return [];
      } catch (err) {
        assert.ok(err instanceof ConfigError);
        return err.problems;
      }
    };
    assert.deepEqual(await load(['--tls-cert', 'a.pem']), ['TLS needs both --tls-cert and --tls-key']);
    assert.deepEqual(await load(['--tls-ca', 'ca.pem']), ['--tls-ca (client certificates) needs --tls-cert and --tls-key']);
    const { config } = await loadConfig({ flags: parseConfigFlags(['--tls-cert', 'c.pem', '--tls-key', 'k.pem', '--http2-max-streams', '7']).flags, env: {}, cwd: root });
    assert.equal(config.tls.cert, join(root, 'c.pem'));
    assert.equal(config.http2.maxStreams, 7);
    assert.equal(config.http2.enabled, true);
  });

  test('serve with a certificate that does not exist fails to start and says which file', async () => {
    const r = await cli(['serve', SERVICES, '--port', '0', '--run-dir', join(root, 'missing'), '--tls-cert', join(root, 'nope.pem'), '--tls-key', certs.serverKey]);
    assert.equal(r.code, 1);
    assert.match(r.err, /cannot read the TLS certificate .*nope\.pem: ENOENT/);
  });
});

describe('serve over TLS, certificate reloads', () => {
  let url = '';
  let port = 0;
  let runDir = '';
  let server: ServerProcess;
  let certFile = '';
  let overH1: WebSocket;
  let overH2: WebSocket;

  test('serves wss:// over HTTP/1.1 and HTTP/2 on one port', async () => {
    const dir = mkdtempSync(join(root, 'files-'));
    certFile = join(dir, 'cert.pem');
    copyFileSync(certs.serverCert, certFile);
    ({ server, url, port, runDir } = await serve('reload', ['--tls-cert', certFile, '--tls-key', certs.serverKey]));
    assert.match(url, /^wss:\/\/127\.0\.0\.1:\d+$/);
    const ca = certs.read(certs.caCert);
    overH1 = await open(url, { tls: { ca } });
    overH2 = await open(url, { tls: { ca }, http2: true });
    assert.deepEqual(await echo(overH1, { path: 1 }), { path: 1 });
    assert.deepEqual(await echo(overH2, { path: 2 }), { path: 2 });
    const served = await servedCertificate(port);
    assert.equal(served.fingerprint, fingerprint(certs.serverCert));
    assert.equal(served.alpn, 'h2');
    assert.equal((await servedCertificate(port, ['http/1.1'])).alpn, 'http/1.1');
  });

  test('switchboard reload serves a renewed certificate to new connections; open ones stay', async () => {
    copyFileSync(certs.serverCert2, certFile);
    const r = await cli(['reload', '--run-dir', runDir]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`tls certificate: .*${fingerprint(certs.serverCert2)}`));
    assert.equal((await servedCertificate(port)).fingerprint, fingerprint(certs.serverCert2));
    assert.deepEqual(await echo(overH1, 'still here'), 'still here');
    assert.deepEqual(await echo(overH2, 'still here'), 'still here');
    const fresh = await open(url, { tls: { ca: certs.read(certs.caCert) }, http2: true });
    assert.deepEqual(await echo(fresh, 'new'), 'new');
  });

  test('a broken certificate file fails the reload with its reason and the one in use stays', async () => {
    writeFileSync(certFile, 'not a certificate\n');
    const r = await cli(['reload', '--run-dir', runDir]);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /cannot be used together|cannot be parsed/);
    assert.match(r.err, /the certificate in use stays/);
    assert.equal((await servedCertificate(port)).fingerprint, fingerprint(certs.serverCert2));
    assert.deepEqual(await echo(overH1, 1), 1);
  });

  test('SIGHUP reloads it too', async () => {
    copyFileSync(certs.serverCert, certFile);
    const before = server.lines.filter((l) => l.msg === 'TLS certificate reloaded').length;
    process.kill(server.pid, 'SIGHUP');
    await until(() => server.lines.filter((l) => l.msg === 'TLS certificate reloaded').length > before, 'the SIGHUP reload');
    assert.equal((await servedCertificate(port)).fingerprint, fingerprint(certs.serverCert));
    assert.deepEqual(await echo(overH1, 'after hup'), 'after hup');
    assert.deepEqual(await echo(overH2, 'after hup'), 'after hup');
  });

  test('the console page and the service list are served over HTTP/2 and HTTPS', async () => {
    const session = http2.connect(`https://127.0.0.1:${port}`, { ca: certs.read(certs.caCert) });
    try {
      const get = async (path: string): Promise<{ status: number; body: string }> => {
        const req = session.request({ ':path': path });
        let body = '';
        req.setEncoding('utf8').on('data', (d: string) => (body += d));
        const [headers] = await next<[http2.IncomingHttpHeaders]>(req, 'response');
        await next(req, 'end');
        return { status: Number(headers[':status']), body };
      };
      const page = await get('/');
      assert.equal(page.status, 200);
      assert.match(page.body, /<html/i);
      assert.deepEqual(JSON.parse((await get('/services.json')).body).services.includes('/inline-echo'), true);
      // a plain GET of a service path: 426 without the HTTP/1.1-only Upgrade header
      assert.equal((await get('/inline-echo')).status, 426);
    } finally {
      session.close();
    }
  });
});

describe('client certificates (--tls-ca)', () => {
  let url = '';

  test('only clients with a certificate signed by the CA connect, over either path', async () => {
    ({ url } = await serve('mutual', ['--tls-cert', certs.serverCert, '--tls-key', certs.serverKey, '--tls-ca', certs.caCert]));
    const ca = certs.read(certs.caCert);
    const mine = { ca, cert: certs.read(certs.clientCert), key: certs.read(certs.clientKey) };
    for (const http2 of [false, true]) {
      const ws = await open(url, { tls: mine, http2 });
      assert.deepEqual(await echo(ws, { http2 }), { http2 });
      await assert.rejects(open(url, { tls: { ca }, http2 }), `no client certificate (http2: ${http2})`);
      const stranger = { ca, cert: certs.read(certs.strangerCert), key: certs.read(certs.strangerKey) };
      await assert.rejects(open(url, { tls: stranger, http2 }), `a certificate from another CA (http2: ${http2})`);
    }
  });
});
