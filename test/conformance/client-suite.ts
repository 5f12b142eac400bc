// The conformance table against the client under test: a raw server
// (test/helpers/raw-server.ts; node:net, or node:http2 for RFC 8441) answers the upgrade and
// sends crafted unmasked frames to an echoing client; plus the HTTP/1.1 client handshake
// cases (their raw responses are HTTP/1.1 text).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { RawServer } from '../helpers/raw-server.js';
import { SUBJECT, startEchoClient } from '../helpers/subjects.js';
import { makeCerts, type CertFiles } from '../helpers/tls-certs.js';
import { checkClientRequest, handshakeCases, renderResponse } from './cases-handshake.js';
import { coreCases } from './cases-core.js';
import { bombCases, deflateCases } from './cases-deflate.js';
import { limitCases } from './cases-limits.js';
import { utf8Cases } from './cases-utf8.js';
import { summarize } from './report.js';
import { DEADLINE, runClientCase } from './runner.js';
import type { Case, CaseResult } from './types.js';

export async function clientConformance(path: 'http/1.1' | 'h2'): Promise<void> {
  const all: Case[] = [...coreCases, ...utf8Cases, ...limitCases, ...deflateCases, ...(await bombCases())].filter((c) => !c.roles || c.roles.includes('client'));
  const only = process.env['SB_CASES']?.split(',');
  const cases = only ? all.filter((c) => only.some((p) => c.id === p || c.id.startsWith(p + '.'))) : all;
  const hcases = path === 'h2' ? [] : only ? handshakeCases.filter((c) => only.some((p) => c.id === p || c.id.startsWith(p + '.'))) : handshakeCases;
  const label = path === 'h2' ? ('client over h2' as const) : ('client' as const);

  let server: RawServer;
  let certs: CertFiles | undefined;
  const results: CaseResult[] = [];

  before(async () => {
    if (path === 'h2') certs = makeCerts();
    server = new RawServer(certs ? { http2: { key: certs.read(certs.serverKey), cert: certs.read(certs.serverCert), ca: certs.read(certs.caCert) } } : {});
    await server.listen();
  });

  after(async () => {
    await server.close();
    certs?.remove();
    console.log(summarize(label, SUBJECT, results));
  });

  for (const h of hcases) {
    test(`client ${h.id} [handshake] ${h.description}`, { timeout: 60_000 }, async () => {
      const problems: string[] = [];
      let requestChecked = false;
      server.respondWith((req) => {
        problems.push(...checkClientRequest(req, h.client?.protocols));
        requestChecked = true;
        return renderResponse(h, req);
      });
      const client = startEchoClient(server.url, h.client ?? {});
      let opened = false;
      let error: (Error & { status?: number }) | undefined;
      const acceptedP = server.accepted(DEADLINE.step).catch(() => undefined);
      try {
        await Promise.race([client.opened, new Promise((_, rej) => setTimeout(() => rej(new Error(`connect() neither resolved nor rejected within ${DEADLINE.step} ms`)), DEADLINE.step))]);
        opened = true;
      } catch (err) {
        error = err as Error & { status?: number };
      }
      const acc = await acceptedP;
      if (!requestChecked) problems.push('no upgrade request received');
      if (h.expect.open) {
        if (!opened) problems.push(`connect() rejected: ${error?.message}`);
        else if (h.expect.protocol !== undefined && client.protocol() !== h.expect.protocol) problems.push(`protocol ${JSON.stringify(client.protocol())}, expected ${h.expect.protocol}`);
      } else {
        if (opened) problems.push('connect() resolved; it must reject');
        else if (error?.message.includes('neither resolved')) problems.push(error.message);
        else if (h.expect.status !== undefined && error?.status !== h.expect.status) problems.push(`rejected, but error.status is ${error?.status}, expected ${h.expect.status} (${error?.message})`);
        if (client.events.some((e) => e.type === 'open')) problems.push("the client emitted 'open'");
      }
      client.terminate();
      acc?.conn.destroy();
      const r: CaseResult = { id: h.id, group: 'handshake', role: 'client', outcome: problems.length ? 'FAILED' : 'OK', detail: problems.join('; ') || (error ? `rejected: ${error.message}` : '') };
      results.push(r);
      assert.equal(problems.length, 0, `${h.id}: ${problems.join('; ')}`);
    });
  }

  for (const c of cases) {
    test(`${label} ${c.id} [${c.group}] ${c.description}`, { timeout: 120_000 }, async () => {
      const r = await runClientCase(c, server, (opts) => startEchoClient(server.url, opts));
      results.push(r);
      assert.notEqual(r.outcome, 'FAILED', `${c.id}: ${r.detail}`);
    });
  }
}
