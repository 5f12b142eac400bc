// The conformance table against the server under test, on 127.0.0.1, over either path: a
// raw node:net client (test/helpers/raw-client.ts) upgrading HTTP/1.1, or a raw stream on a
// node:http2 connection (test/helpers/raw-http2.ts, RFC 8441), to an echo server.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SUBJECT, startEchoServer, type EchoServer, type EchoServerOptions } from '../helpers/subjects.js';
import { makeCerts, type CertFiles } from '../helpers/tls-certs.js';
import { coreCases } from './cases-core.js';
import { bombCases, deflateCases } from './cases-deflate.js';
import { limitCases } from './cases-limits.js';
import { utf8Cases } from './cases-utf8.js';
import { summarize } from './report.js';
import { runServerCase } from './runner.js';
import type { Case, CaseResult, Profile } from './types.js';

const MiB = 1024 * 1024;
const profiles: Record<Profile, EchoServerOptions> = {
  default: { limits: { maxMessageBytes: 64 * MiB, maxFrameBytes: 64 * MiB } },
  limits: { limits: { maxMessageBytes: 65536, maxFrameBytes: 65536 } },
  deflate: { perMessageDeflate: true, limits: { maxMessageBytes: 64 * MiB, maxFrameBytes: 64 * MiB } },
  'deflate-limits': { perMessageDeflate: true, limits: { maxMessageBytes: 1 * MiB, maxFrameBytes: 1 * MiB } },
};

export async function serverConformance(path: 'http/1.1' | 'h2'): Promise<void> {
  const all: Case[] = [...coreCases, ...utf8Cases, ...limitCases, ...deflateCases, ...(await bombCases())].filter((c) => !c.roles || c.roles.includes('server'));
  const only = process.env['SB_CASES']?.split(',');
  const cases = only ? all.filter((c) => only.some((p) => c.id === p || c.id.startsWith(p + '.'))) : all;

  const servers = new Map<Profile, EchoServer>();
  const results: CaseResult[] = [];
  let certs: CertFiles | undefined;
  let over: { ca: string } | undefined;
  const withPath = (o: EchoServerOptions): EchoServerOptions => (certs ? { ...o, http2: { key: certs.read(certs.serverKey), cert: certs.read(certs.serverCert) } } : o);
  const label = path === 'h2' ? ('server over h2' as const) : ('server' as const);

  before(async () => {
    if (path === 'h2') {
      certs = makeCerts();
      over = { ca: certs.read(certs.caCert) };
    }
    for (const p of Object.keys(profiles) as Profile[]) servers.set(p, await startEchoServer(withPath(profiles[p])));
  });

  after(async () => {
    for (const s of servers.values()) await s.close();
    certs?.remove();
    console.log(summarize(label, SUBJECT, results));
  });

  for (const c of cases) {
    test(`${label} ${c.id} [${c.group}] ${c.description}`, { timeout: 120_000 }, async () => {
      let r: CaseResult;
      if (c.deflate?.serverOptions) {
        // a server configured for this case only
        const s = await startEchoServer(withPath({ ...profiles.deflate, perMessageDeflate: c.deflate.serverOptions as never }));
        try {
          r = await runServerCase(c, s.port, over);
        } finally {
          await s.close();
        }
      } else if (c.id.startsWith('12.4.')) {
        r = await withMemoryWatch(() => runServerCase(c, servers.get(c.profile ?? 'default')!.port, over));
      } else {
        r = await runServerCase(c, servers.get(c.profile ?? 'default')!.port, over);
      }
      results.push(r);
      assert.notEqual(r.outcome, 'FAILED', `${c.id}: ${r.detail}`);
    });
  }
}

/**
 * Compression bombs: the server runs in this process, so watch its external memory while
 * the case runs. A server that inflates the whole bomb shows a jump of hundreds of MiB.
 * (Sampling can miss a short peak, so this can only catch a failure, never fake one.)
 */
async function withMemoryWatch(run: () => Promise<CaseResult>): Promise<CaseResult> {
  const base = process.memoryUsage().arrayBuffers;
  let peak = base;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().arrayBuffers);
  }, 2);
  try {
    const r = await run();
    peak = Math.max(peak, process.memoryUsage().arrayBuffers);
    const grewMiB = Math.round((peak - base) / MiB);
    r.detail = [r.detail, `array-buffer memory grew by at most ~${grewMiB} MiB while the case ran`].filter(Boolean).join('; ');
    if (grewMiB > 128 && r.outcome !== 'FAILED') {
      r.outcome = 'FAILED';
      r.detail = `the server appears to inflate the bomb: ${r.detail}`;
    }
    return r;
  } finally {
    clearInterval(timer);
  }
}
