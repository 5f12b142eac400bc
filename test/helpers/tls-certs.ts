// Test certificates made with openssl at test time: a CA, server certificates for
// 127.0.0.1/localhost signed by it (two, to tell a reload apart), and a client certificate
// for mutual TLS. Written to a temporary directory the caller removes.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CertFiles {
  dir: string;
  caCert: string;
  /** A second, unrelated CA (its certificates must be refused where `caCert` is required). */
  otherCaCert: string;
  serverKey: string;
  serverCert: string;
  /** Another certificate for the same key and names: what a renewal looks like. */
  serverCert2: string;
  clientKey: string;
  clientCert: string;
  /** A client certificate signed by the other CA. */
  strangerKey: string;
  strangerCert: string;
  /** PEM text of a file. */
  read(file: string): string;
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): void {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.crt`], dir);
}

function makeLeaf(dir: string, ca: string, name: string, key: string, ext: string): void {
  if (!existsKey(dir, key)) openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key], dir);
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(['req', '-new', '-key', key, '-subj', `/CN=${name}`, '-out', `${name}.csr`], dir);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`], dir);
}

function existsKey(dir: string, key: string): boolean {
  try {
    readFileSync(join(dir, key));
    return true;
  } catch {
    return false;
  }
}

export function makeCerts(): CertFiles {
  const dir = mkdtempSync(join(tmpdir(), 'sb-certs-'));
  makeCa(dir, 'test-ca');
  makeCa(dir, 'other-ca');
  const serverExt = 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n';
  makeLeaf(dir, 'test-ca', 'server', 'server.key', serverExt);
  makeLeaf(dir, 'test-ca', 'server2', 'server.key', serverExt);
  makeLeaf(dir, 'test-ca', 'client', 'client.key', 'extendedKeyUsage=clientAuth\n');
  makeLeaf(dir, 'other-ca', 'stranger', 'stranger.key', 'extendedKeyUsage=clientAuth\n');
  const at = (f: string) => join(dir, f);
  return {
    dir,
    caCert: at('test-ca.crt'),
    otherCaCert: at('other-ca.crt'),
    serverKey: at('server.key'),
    serverCert: at('server.crt'),
    serverCert2: at('server2.crt'),
    clientKey: at('client.key'),
    clientCert: at('client.crt'),
    strangerKey: at('stranger.key'),
    strangerCert: at('stranger.crt'),
    read: (file) => readFileSync(file, 'utf8'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
