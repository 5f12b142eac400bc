/**
 * The server's TLS material, read from PEM files: at start and again on every reload, so a
 * renewed certificate is served to new connections while open ones keep theirs.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';

/** PEM file paths, as configured (`--tls-cert`, `--tls-key`, `--tls-ca`). */
export interface TlsFiles {
  cert: string;
  key: string;
  /** Require client certificates signed by this CA. */
  ca?: string;
}

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
  /** The leaf certificate, for logs: subject, fingerprint and end of validity. */
  summary: string;
}

function readPem(what: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`cannot read the TLS ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Read and check the files (the key must match the certificate); throws an Error that names the file. */
export function readTlsFiles(files: TlsFiles): TlsMaterial {
  const cert = readPem('certificate', files.cert);
  const key = readPem('key', files.key);
  const ca = files.ca !== undefined ? readPem('CA certificate', files.ca) : undefined;
  try {
    createSecureContext({ cert, key, ...(ca ? { ca } : {}) });
  } catch (err) {
    throw new Error(`TLS files ${files.cert} and ${files.key} cannot be used together: ${(err as Error).message}`);
  }
  let summary: string;
  try {
    const x = new X509Certificate(cert);
    summary = `${x.subject.replace(/\n/g, ', ')}; sha256 ${x.fingerprint256}; valid until ${x.validTo}`;
  } catch (err) {
    throw new Error(`the TLS certificate ${files.cert} cannot be parsed: ${(err as Error).message}`);
  }
  return { cert, key, ...(ca ? { ca } : {}), summary };
}
