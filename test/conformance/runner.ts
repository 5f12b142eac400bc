// Runs conformance cases over real TCP sockets, against the server under test (with the
// raw client) and against the client under test (with the raw server), and grades them.
import { Buffer } from 'node:buffer';
import { TextDecoder } from 'node:util';
import { OP, closePayload, encodeFrame, type FrameSpec } from '../helpers/frames.js';
import { MessageDeflater, MessageInflater, paramsFromResponse, parseExtensions, type DeflateParams } from '../helpers/deflate.js';
import { rawConnect } from '../helpers/raw-client.js';
import { rawConnectHttp2 } from '../helpers/raw-http2.js';
import type { RawConnection } from '../helpers/raw-connection.js';
import type { RawServer } from '../helpers/raw-server.js';
import type { EchoClient, EchoClientOptions } from '../helpers/subjects.js';
import type { Case, CaseResult, Ev, Outcome, Role } from './types.js';

/** Generous deadlines: waiting for events, never asserting on durations. */
export const DEADLINE = { step: 15_000, gate: 8_000, close: 15_000 };

const utf8 = new TextDecoder('utf-8', { fatal: true });
export function isValidUtf8(b: Uint8Array): boolean {
  try {
    utf8.decode(b);
    return true;
  } catch {
    return false;
  }
}

export function validWireCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

interface Observed {
  events: Array<{ kind: 'text' | 'binary' | 'pong' | 'ping'; data: Buffer }>;
  close?: { code: number | null; reason: Buffer };
  violations: string[];
}

/** Turn the subject's frames into events, checking every rule the subject must follow when sending. */
async function assemble(conn: RawConnection, subject: Role, pmd: DeflateParams | undefined): Promise<Observed> {
  const out: Observed = { events: [], violations: [] };
  const inflater = pmd
    ? subject === 'server'
      ? new MessageInflater(pmd.serverMaxWindowBits, pmd.serverNoContextTakeover)
      : new MessageInflater(pmd.clientMaxWindowBits, pmd.clientNoContextTakeover)
    : undefined;
  let msg: { op: number; parts: Buffer[]; compressed: boolean } | undefined;
  try {
    for (const { frame: f } of conn.received) {
      if (out.close) {
        out.violations.push(`frame (opcode ${f.op}) sent after its close frame`);
        break;
      }
      if (subject === 'server' && f.masked) out.violations.push('server sent a masked frame');
      if (subject === 'client' && !f.masked) out.violations.push('client sent an unmasked frame');
      const rsvAllowed = pmd && (f.op === OP.TEXT || f.op === OP.BINARY) ? 4 : 0;
      if ((f.rsv & ~rsvAllowed) !== 0) out.violations.push(`reserved bits ${f.rsv} set on opcode ${f.op}`);
      if (f.op >= 8) {
        if (!f.fin) out.violations.push(`fragmented control frame (opcode ${f.op})`);
        if (f.payload.length > 125) out.violations.push(`control frame of ${f.payload.length} bytes`);
        if (f.op === OP.CLOSE) {
          if (f.payload.length === 1) out.violations.push('close frame with a 1-byte payload');
          const code = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : null;
          if (code !== null && !validWireCloseCode(code)) out.violations.push(`close code ${code} may not be sent`);
          const reason = f.payload.subarray(2);
          if (!isValidUtf8(reason)) out.violations.push('close reason is not UTF-8');
          out.close = { code, reason };
        } else if (f.op === OP.PING) out.events.push({ kind: 'ping', data: f.payload });
        else if (f.op === OP.PONG) out.events.push({ kind: 'pong', data: f.payload });
        else out.violations.push(`reserved control opcode ${f.op}`);
        continue;
      }
      if (f.op === OP.CONT) {
        if (!msg) {
          out.violations.push('continuation frame without a message in progress');
          continue;
        }
        msg.parts.push(f.payload);
      } else if (f.op === OP.TEXT || f.op === OP.BINARY) {
        if (msg) out.violations.push('new data frame before the previous message finished');
        msg = { op: f.op, parts: [f.payload], compressed: (f.rsv & 4) !== 0 };
      } else {
        out.violations.push(`reserved data opcode ${f.op}`);
        continue;
      }
      if (f.fin && msg) {
        let data: Buffer = Buffer.concat(msg.parts);
        if (msg.compressed && data.length === 0) {
          // RFC 7692 7.2.1 never yields an empty payload: an empty message is 0x00. An empty
          // payload plus 00 00 ff ff is an unfinished stored block that desynchronises the
          // peer's inflater (Chromium fails the connection, ws stalls).
          out.violations.push('compressed message with an empty payload (an empty message must be sent as 0x00)');
        }
        if (msg.compressed) {
          if (!inflater) out.violations.push('compressed message without permessage-deflate');
          else
            try {
              data = await inflater.decompress(data);
            } catch (err) {
              out.violations.push(`cannot inflate the subject's message: ${(err as Error).message}`);
            }
        }
        if (msg.op === OP.TEXT && !isValidUtf8(data)) out.violations.push('text message that is not UTF-8');
        out.events.push({ kind: msg.op === OP.TEXT ? 'text' : 'binary', data });
        msg = undefined;
      }
    }
    if (conn.reader.error) out.violations.push(`unparseable bytes from the subject: ${conn.reader.error}`);
  } finally {
    inflater?.close();
  }
  return out;
}

function evKind(e: Ev): { kind: 'text' | 'binary' | 'pong' | 'ping'; data: Buffer } {
  if ('text' in e) return { kind: 'text', data: Buffer.from(e.text as never) };
  if ('binary' in e) return { kind: 'binary', data: e.binary };
  if ('pong' in e) return { kind: 'pong', data: Buffer.from(e.pong as never) };
  return { kind: 'ping', data: Buffer.from(e.ping as never) };
}

function show(e: { kind: string; data: Buffer }): string {
  const d = e.data.length <= 24 ? JSON.stringify(e.data.toString('latin1')) : `${e.data.length} bytes`;
  return `${e.kind}(${d})`;
}

/** Compare observed events to expected ones: 'equal', 'prefix' (expected ones missing at the end) or 'differ'. */
function compareEvents(observed: Observed['events'], expected: Ev[]): { result: 'equal' | 'prefix' | 'differ'; text: string } {
  const exp = expected.map(evKind);
  const n = Math.min(observed.length, exp.length);
  for (let i = 0; i < n; i++) {
    const a = observed[i]!;
    const b = exp[i]!;
    if (a.kind !== b.kind || !a.data.equals(b.data)) {
      return { result: 'differ', text: `event #${i}: got ${show(a)}, expected ${show(b)}` };
    }
  }
  if (observed.length > exp.length) return { result: 'differ', text: `unexpected extra event #${exp.length}: ${show(observed[exp.length]!)} (${observed.length} events, expected ${exp.length})` };
  if (observed.length < exp.length) return { result: 'prefix', text: `got ${observed.length} of ${exp.length} expected events; first missing: ${show(exp[observed.length]!)}` };
  return { result: 'equal', text: '' };
}

function countEvents(conn: RawConnection): number {
  let n = 0;
  for (const { frame: f } of conn.received) {
    if (f.op === OP.CLOSE) break;
    if (f.op === OP.PING || f.op === OP.PONG || (f.fin && f.op <= 2)) n++;
  }
  return n;
}

const hasClose = (conn: RawConnection) => conn.closeIndex() >= 0;

/** Execute the case's steps from the harness side. Returns fail-fast findings. */
async function runSteps(c: Case, conn: RawConnection, deflater: MessageDeflater | undefined, notes: string[]): Promise<{ gateMissed: boolean; gateMissedStrict: boolean }> {
  let gateMissed = false;
  let gateMissedStrict = false;
  for (const step of c.steps) {
    if (conn.closed) break;
    if ('send' in step) {
      let frames = step.send;
      if (step.compress && deflater) {
        frames = [];
        for (const f of step.send) frames.push({ ...f, payload: await deflater.compress(Buffer.from(f.payload as never)), rsv: (f.rsv ?? 0) | 4 });
      }
      await conn.sendFrames(frames, step.chunking ?? 'whole', step.pauseMs ?? 1);
    } else if ('sendMessages' in step) {
      const frames: FrameSpec[] = [];
      for (const m of step.sendMessages) {
        const data = Buffer.from(m.payload as never);
        if (step.compress && deflater) frames.push({ op: m.op, payload: await deflater.compress(data), rsv: 4 });
        else frames.push({ op: m.op, payload: data });
      }
      await conn.sendFrames(frames, step.chunking ?? 'whole');
    } else if ('sendSplit' in step) {
      const enc = encodeFrame(step.sendSplit, conn.role === 'client');
      const payloadLen = Buffer.from(step.sendSplit.payload as never).length;
      const headerLen = enc.length - payloadLen;
      const cuts = [0, ...step.payloadOffsets.map((o) => headerLen + o), enc.length];
      for (let i = 0; i + 1 < cuts.length; i++) {
        await conn.write(enc.subarray(cuts[i]!, cuts[i + 1]!));
        if (step.gateAfter === i && !conn.closed) {
          const ok = await conn.waitUntil(() => hasClose(conn) || conn.closed, DEADLINE.gate);
          if (!ok || !hasClose(conn)) {
            gateMissed = true;
            gateMissedStrict = true;
            notes.push(ok ? 'connection dropped at the fail-fast point without a close frame' : `no close frame after piece ${i} of the split frame: not fail-fast`);
          }
          if (hasClose(conn) || conn.closed) break;
        }
      }
    } else if ('gate' in step) {
      if (step.gate === 'close') {
        const ok = await conn.waitUntil(() => hasClose(conn) || conn.closed, DEADLINE.gate);
        if (!ok || !hasClose(conn)) {
          gateMissed = true;
          if (step.strict !== false) gateMissedStrict = true;
          notes.push(ok ? 'connection dropped at the fail-fast point without a close frame' : 'no close frame before the next data was sent: not fail-fast');
        }
      } else {
        const want = step.count;
        await conn.waitUntil(() => countEvents(conn) >= want || hasClose(conn) || conn.closed, DEADLINE.step);
      }
    } else if ('pause' in step) {
      await new Promise((r) => setTimeout(r, step.pause));
    }
  }
  return { gateMissed, gateMissedStrict };
}

export interface RunContext {
  role: Role;
  conn: RawConnection;
  pmd: DeflateParams | undefined;
  /** client role: the client under test */
  client?: EchoClient;
}

/** Drive a case on an open connection and grade it. */
export async function driveCase(c: Case, ctx: RunContext): Promise<CaseResult> {
  const { role, conn, pmd } = ctx;
  const notes: string[] = [];
  const failures: string[] = [];
  const soft: string[] = [];
  // zlib cannot deflate with an 8-bit window: with a negotiated 8 the harness resets its
  // context per message (always allowed) and the cases keep messages within 256 bytes
  const deflater = pmd
    ? role === 'server'
      ? new MessageDeflater(pmd.clientMaxWindowBits, pmd.clientNoContextTakeover || pmd.clientMaxWindowBits === 8)
      : new MessageDeflater(pmd.serverMaxWindowBits, pmd.serverNoContextTakeover || pmd.serverMaxWindowBits === 8)
    : undefined;
  try {
    const gateNotes: string[] = [];
    const gates = await runSteps(c, conn, deflater, gateNotes);
    if (gates.gateMissedStrict) failures.push(gateNotes.join('; '));
    else if (gates.gateMissed) soft.push(gateNotes.join('; '));
    const exp = c.expect;
    // 1. wait for the subject to respond
    if (exp.kind === 'echo') {
      const want = exp.events.length;
      await conn.waitUntil(() => countEvents(conn) >= want || hasClose(conn) || conn.closed, DEADLINE.step);
      if (!hasClose(conn) && !conn.closed) {
        await conn.sendFrames([{ op: OP.CLOSE, payload: closePayload(1000) }]);
      }
    }
    await conn.waitUntil(() => hasClose(conn) || conn.closed, DEADLINE.close);
    // 2. answer the subject's close, then expect the TCP connection to go away
    const closeAt = conn.closeIndex();
    const weInitiated = exp.kind !== 'fail';
    if (closeAt >= 0 && !weInitiated && !conn.closed) {
      const f = conn.received[closeAt]!.frame;
      await conn.sendFrames([{ op: OP.CLOSE, payload: f.payload.length >= 2 ? f.payload.subarray(0, 2) : Buffer.alloc(0) }]);
    }
    if (role === 'client' && closeAt >= 0) conn.end(); // the server closes TCP first (RFC 6455 7.1.1)
    const tcpClosed = await conn.waitClosed(DEADLINE.close);

    // 3. grade
    const obs = await assemble(conn, role, pmd);
    failures.push(...new Set(obs.violations));
    const expectedEvents = exp.kind === 'echo' ? exp.events : (exp.events ?? []);
    const cmp = compareEvents(obs.events, expectedEvents);
    if (cmp.result === 'differ') failures.push(cmp.text);
    else if (cmp.result === 'prefix') {
      if (exp.kind === 'fail') soft.push(`failed before echoing everything: ${cmp.text}`);
      else failures.push(cmp.text);
    }
    const accepted: Array<number | null> = exp.kind === 'echo' ? [1000] : exp.codes;
    if (obs.close) {
      if (!accepted.includes(obs.close.code)) failures.push(`close code ${obs.close.code}, expected ${accepted.join(' or ')}`);
    } else if (conn.closed || conn.ended) {
      if (exp.kind === 'fail') soft.push(`connection dropped without a close frame (expected close ${accepted.join('/')})`);
      else failures.push(`connection dropped without a close frame (expected close ${accepted.join('/')})`);
    } else {
      failures.push(`no close frame and no TCP close within ${DEADLINE.close} ms (expected close ${accepted.join('/')})`);
    }
    if (!tcpClosed) failures.push(`TCP connection still open ${DEADLINE.close} ms after the close handshake`);
    if (conn.errorCode && conn.errorCode !== 'ECONNRESET' && conn.errorCode !== 'EPIPE') notes.push(`socket error ${conn.errorCode}`);

    // client role: what the client API reported
    if (role === 'client' && ctx.client) {
      const cl = ctx.client;
      const gotClose = await cl.waitClose(DEADLINE.close);
      const closes = cl.events.filter((e) => e.type === 'close');
      if (!gotClose) failures.push("the client never emitted 'close'");
      else if (closes.length > 1) failures.push(`the client emitted 'close' ${closes.length} times`);
      else {
        const ce = closes[0]!;
        notes.push(`client close event ${ce.code}`);
        if (exp.kind === 'echo' && ce.code !== 1000) failures.push(`client 'close' event code ${ce.code}, expected 1000`);
      }
      const msgs = cl.events.filter((e) => e.type === 'message').length;
      const expMsgs = expectedEvents.filter((e) => 'text' in e || 'binary' in e).length;
      if (msgs !== expMsgs && cmp.result === 'equal') failures.push(`client emitted ${msgs} 'message' events, expected ${expMsgs}`);
    }
  } catch (err) {
    failures.push(`harness error: ${(err as Error).stack ?? err}`);
  } finally {
    deflater?.close();
    conn.destroy();
    ctx.client?.terminate();
  }
  const outcome: Outcome = failures.length ? 'FAILED' : soft.length ? 'NON-STRICT' : 'OK';
  const detail = [...failures, ...soft, ...notes].filter(Boolean).join('; ');
  return { id: c.id, group: c.group, role, outcome, detail };
}

/** Run one case against a server listening on `port` (over HTTP/2 when `http2` is given). */
export async function runServerCase(c: Case, port: number, http2?: { ca: string }): Promise<CaseResult> {
  const offer = c.deflate?.offer;
  let up;
  try {
    const o = { port, path: '/', ...(offer ? { extensions: offer } : {}) };
    up = http2 ? await rawConnectHttp2({ ...o, ca: http2.ca }) : await rawConnect(o);
  } catch (err) {
    const m = /^bad upgrade response: status (4\d\d)/.exec((err as Error).message);
    if (c.deflate?.mustDecline && m) {
      return { id: c.id, group: c.group, role: 'server', outcome: 'NON-STRICT', detail: `refused the handshake with ${m[1]} instead of declining the invalid offer` };
    }
    return { id: c.id, group: c.group, role: 'server', outcome: 'FAILED', detail: `handshake: ${(err as Error).message}` };
  }
  let pmd: DeflateParams | undefined;
  const answer = parseExtensions(up.response.headers['sec-websocket-extensions']);
  if (answer.length > 0) {
    const problem = checkDeflateAnswer(offer, answer);
    if (problem) {
      up.conn.destroy();
      return { id: c.id, group: c.group, role: 'server', outcome: 'FAILED', detail: `negotiation: ${problem}` };
    }
    pmd = paramsFromResponse(answer[0]!);
  }
  if (c.deflate?.mustDecline && pmd) {
    up.conn.destroy();
    return { id: c.id, group: c.group, role: 'server', outcome: 'FAILED', detail: `accepted an offer it must decline: ${up.response.headers['sec-websocket-extensions']}` };
  }
  for (const p of c.deflate?.answerMustHave ?? []) {
    if (!pmd || answer[0]!.params[p] === undefined) {
      up.conn.destroy();
      return { id: c.id, group: c.group, role: 'server', outcome: 'FAILED', detail: `answer lacks ${p}: ${up.response.headers['sec-websocket-extensions'] ?? 'no extension'}` };
    }
  }
  if (c.deflate?.mustAccept && !pmd) {
    up.conn.destroy();
    return { id: c.id, group: c.group, role: 'server', outcome: 'FAILED', detail: `declined the offer "${offer}"` };
  }
  const r = await driveCase(c, { role: 'server', conn: up.conn, pmd });
  if (offer && !pmd && !c.deflate?.mustDecline && r.outcome !== 'FAILED') r.detail = ['declined the offer (allowed)', r.detail].filter(Boolean).join('; ');
  return r;
}

/**
 * Validate a server's permessage-deflate answer against the offer (RFC 7692 section 7):
 * exactly one extension, one we offered, known parameters only, legal values.
 */
export function checkDeflateAnswer(offer: string | undefined, answer: ReturnType<typeof parseExtensions>): string | undefined {
  if (!offer) return `extension in the response although none was offered: ${answer.map((a) => a.name).join(', ')}`;
  if (answer.length !== 1) return `${answer.length} extensions in the response`;
  const a = answer[0]!;
  if (a.name !== 'permessage-deflate') return `unexpected extension ${a.name}`;
  const offers = parseExtensions(offer).filter((o) => o.name === 'permessage-deflate');
  const known = ['server_no_context_takeover', 'client_no_context_takeover', 'server_max_window_bits', 'client_max_window_bits'];
  for (const [k, v] of Object.entries(a.params)) {
    if (!known.includes(k)) return `unknown parameter ${k}`;
    if (k.endsWith('_takeover') && v !== true) return `${k} with a value`;
    if (k.endsWith('_bits')) {
      if (v === true || !/^(8|9|1[0-5])$/.test(v)) return `${k}=${v}`;
    }
  }
  // the answer must fit at least one of the offers
  const fits = offers.some((o) => {
    const cmw = a.params['client_max_window_bits'];
    if (cmw !== undefined && o.params['client_max_window_bits'] === undefined) return false;
    if (cmw !== undefined && o.params['client_max_window_bits'] !== true && Number(cmw) > Number(o.params['client_max_window_bits'])) return false;
    const smw = a.params['server_max_window_bits'];
    if (o.params['server_max_window_bits'] !== undefined && o.params['server_max_window_bits'] !== true) {
      if (smw === undefined || Number(smw) > Number(o.params['server_max_window_bits'])) return false;
    }
    if (o.params['server_no_context_takeover'] !== undefined && a.params['server_no_context_takeover'] === undefined) return false;
    return true;
  });
  if (!fits) return `answer "${JSON.stringify(a.params)}" does not fit the offer "${offer}"`;
  return undefined;
}

/** Run one case against the client under test, with `server` answering the upgrade. */
export async function runClientCase(c: Case, server: RawServer, start: (opts: EchoClientOptions) => EchoClient): Promise<CaseResult> {
  const d = c.deflate;
  server.respondWith((req) => {
    const offered = parseExtensions(req.headers['sec-websocket-extensions']).some((e) => e.name === 'permessage-deflate');
    return d?.answer && offered ? { extensions: d.answer } : {};
  });
  const opts: EchoClientOptions = { ...(server.secure ? { http2: { ca: server.ca! } } : {}) };
  if (d?.clientOptions !== undefined) opts.perMessageDeflate = d.clientOptions as never;
  // the same limits as the server profiles in server.test.ts
  const MiB = 1024 * 1024;
  if (c.profile === 'limits') opts.limits = { maxMessageBytes: 65536, maxFrameBytes: 65536 };
  else if (c.profile === 'deflate-limits') opts.limits = { maxMessageBytes: 1 * MiB, maxFrameBytes: 1 * MiB };
  else opts.limits = { maxMessageBytes: 64 * MiB, maxFrameBytes: 64 * MiB };
  const client = start(opts);
  let acc;
  try {
    acc = await server.accepted(DEADLINE.step);
    await client.opened;
  } catch (err) {
    client.terminate();
    acc?.conn.destroy();
    return { id: c.id, group: c.group, role: 'client', outcome: 'FAILED', detail: `handshake: ${(err as Error).message}` };
  }
  let pmd: DeflateParams | undefined;
  const offer = acc.request.headers['sec-websocket-extensions'];
  if (d?.answer) {
    if (!parseExtensions(offer).some((e) => e.name === 'permessage-deflate')) {
      client.terminate();
      acc.conn.destroy();
      return { id: c.id, group: c.group, role: 'client', outcome: 'FAILED', detail: `the client did not offer permessage-deflate (offer: ${offer ?? 'none'})` };
    }
    pmd = paramsFromResponse(parseExtensions(d.answer)[0]!);
  }
  const r = await driveCase(c, { role: 'client', conn: acc.conn, pmd, client });
  return r;
}
