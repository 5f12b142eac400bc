import { Buffer } from 'node:buffer';
import type { Socket } from 'node:net';
import type { OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import {
  acceptKey,
  buildAcceptResponse,
  buildRejectResponse,
  isRejection,
  negotiateExtensions,
  statusText,
  validateExtendedConnect,
  validateUpgradeRequest,
  type Extension,
  type ExtensionFactory,
  type UpgradeOffer,
} from '../protocol/index.js';
import type { ConnectionLimitOverrides } from './limits.js';
import { buildUpgradeRequest, type UpgradeRequest } from './upgrade-request.js';

export type HandshakeResult =
  | void
  | undefined
  | true
  | { protocol?: string; headers?: Record<string, string>; context?: unknown; limits?: ConnectionLimitOverrides }
  | { reject: { status: number; reason?: string; headers?: Record<string, string> } };

/** The checks and choices of a server's opening handshakes, in the order they run. */
export interface UpgradePolicy {
  /** Accept only this path; others are answered 404. */
  path?: string;
  /** Origin allowlist; other origins (and requests without one) get 403. */
  origins?: string[];
  /** HTTP Basic authentication with a 401 challenge. */
  basicAuth?: { realm: string; verify(user: string, password: string, request: UpgradeRequest): boolean | Promise<boolean> };
  /** Decide on each handshake after the built-in checks: accept (optionally with a subprotocol, headers, context) or reject. */
  handshake?: (request: UpgradeRequest) => HandshakeResult | Promise<HandshakeResult>;
  /** Subprotocols we speak (the first the client offers is chosen), or a function that picks. */
  protocols?: string[] | ((offered: string[], request: UpgradeRequest) => string | undefined);
}

/** One opening handshake as read from the socket. */
export interface UpgradeAttempt {
  /** The TCP/TLS connection (its address, whether it is encrypted). */
  socket: Socket;
  /** RFC 8441: the HTTP/2 stream of an extended CONNECT; absent for an HTTP/1.1 Upgrade. */
  stream?: ServerHttp2Stream;
  /** Its pseudo-headers (:method, :protocol, :path, :scheme); `headers` has the others. */
  pseudo?: Record<string, string | undefined>;
  method: string;
  version: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  /** Headers come from our own head parser (flat strings), not node:http. */
  rawHead: boolean;
}

/** What an accepted handshake hands to the server to complete the upgrade. */
export interface Accepted {
  request: UpgradeRequest;
  /** The 101 response, ready to write; over HTTP/2, the headers of the 200. */
  response: string | OutgoingHttpHeaders;
  protocol: string;
  extensions: Extension[];
  context: unknown;
  /** This connection's own limits, over the server's. */
  limits?: ConnectionLimitOverrides;
}

/** Where a refusal is written: the socket of an HTTP/1.1 Upgrade or the stream of an HTTP/2 CONNECT. */
export type HandshakeTarget = Socket | ServerHttp2Stream;

function targetOf(a: UpgradeAttempt): HandshakeTarget {
  return a.stream ?? a.socket;
}

/** Headers that name HTTP/1.1 connection semantics; HTTP/2 forbids them (RFC 9113 section 8.2.2). */
const CONNECTION_SPECIFIC = new Set(['connection', 'upgrade', 'keep-alive', 'proxy-connection', 'transfer-encoding']);

function http2Headers(status: number, headers: Record<string, string> | undefined): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ':status': status };
  for (const [name, value] of Object.entries(headers ?? {})) {
    const n = name.toLowerCase();
    if (!CONNECTION_SPECIFIC.has(n)) out[n] = value;
  }
  return out;
}

export interface UpgradeEvents {
  rejected(request: UpgradeRequest | null, status: number, reason: string): void;
  error(error: Error): void;
}

type MaybePromise<T> = T | Promise<T>;
function then<T>(v: MaybePromise<T>, ok: (v: T) => void, fail: (err: unknown) => void): void {
  if (v instanceof Promise) v.then(ok, fail);
  else ok(v);
}

/**
 * The server side of the opening handshake (RFC 6455 section 4.2): validate the request,
 * apply the policy (path, Origin, Basic auth, the hook), pick a subprotocol and extensions,
 * and either build the 101 response or write the refusal. Synchronous all the way when no
 * check is asynchronous: the common handshake costs no promise.
 */
export class UpgradePipeline {
  readonly #policy: UpgradePolicy;
  readonly #factories: ExtensionFactory[];
  readonly #events: UpgradeEvents;

  constructor(policy: UpgradePolicy, factories: ExtensionFactory[], events: UpgradeEvents) {
    this.#policy = policy;
    this.#factories = factories;
    this.#events = events;
  }

  run<A extends UpgradeAttempt>(a: A, accepted: (a: A, result: Accepted) => void): void {
    const headers = a.headers as Record<string, string | undefined>;
    const offer = a.stream === undefined ? validateUpgradeRequest(a.method, a.version, headers) : validateExtendedConnect({ ...headers, ...a.pseudo });
    if (isRejection(offer)) return this.reject(targetOf(a), null, offer.status, offer.reason, offer.headers);
    const request = buildUpgradeRequest(
      a.method,
      a.url,
      a.headers,
      a.socket,
      offer.protocols,
      offer.extensions.length ? offer.extensions.map((e) => e.name) : [],
      a.rawHead,
    );
    const o = this.#policy;
    if (o.path !== undefined && request.path !== o.path) return this.reject(targetOf(a), request, 404, 'Not Found');
    if (o.origins && !(request.origin !== undefined && o.origins.includes(request.origin))) {
      return this.reject(targetOf(a), request, 403, 'Forbidden: origin not allowed');
    }
    if (!o.basicAuth) return this.#hook(a, request, offer, accepted);
    const challenge = { 'WWW-Authenticate': `Basic realm="${o.basicAuth.realm.replace(/["\\]/g, '')}", charset="UTF-8"` };
    const creds = parseBasicAuth(request.headers.authorization);
    if (!creds) return this.reject(targetOf(a), request, 401, 'Unauthorized', challenge);
    let verdict: MaybePromise<boolean>;
    try {
      verdict = o.basicAuth.verify(creds.user, creds.password, request);
    } catch (err) {
      return this.#failed(a, request, err);
    }
    then(
      verdict,
      (ok) => {
        if (!ok) return this.reject(targetOf(a), request, 401, 'Unauthorized', challenge);
        request.user = creds.user;
        this.#hook(a, request, offer, accepted);
      },
      (err) => this.#failed(a, request, err),
    );
  }

  /** The application's hook, if any; a synchronous answer costs no promise and no closure. */
  #hook<A extends UpgradeAttempt>(a: A, request: UpgradeRequest, offer: UpgradeOffer, accepted: (a: A, r: Accepted) => void): void {
    const hook = this.#policy.handshake;
    if (!hook) return this.#decide(a, request, offer, undefined, accepted);
    let decision: MaybePromise<HandshakeResult>;
    try {
      decision = hook(request);
    } catch (err) {
      return this.#failed(a, request, err);
    }
    if (!(decision instanceof Promise)) return this.#decide(a, request, offer, decision, accepted);
    decision.then(
      (d) => this.#decide(a, request, offer, d, accepted),
      (err: unknown) => this.#failed(a, request, err),
    );
  }

  #failed(a: UpgradeAttempt, request: UpgradeRequest, err: unknown): void {
    this.#events.error(err instanceof Error ? err : new Error(String(err)));
    this.reject(targetOf(a), request, 500, 'Internal Server Error');
  }

  /** Answer with an HTTP error and close once it is written. */
  reject(target: HandshakeTarget, request: UpgradeRequest | null, status: number, reason?: string, headers?: Record<string, string>): void {
    this.#events.rejected(request, status, reason ?? statusText(status));
    if (target.destroyed) return;
    if ('respond' in target) {
      if (target.headersSent) return;
      const body = reason ?? statusText(status);
      target.respond({ ...http2Headers(status, headers), 'content-type': 'text/plain; charset=utf-8' });
      target.end(body);
      return;
    }
    const socket = target;
    // Any handshake deadline stays armed: a client that never reads the refusal is still dropped.
    socket.once('finish', () => socket.destroy());
    socket.end(buildRejectResponse(status, reason, headers));
  }

  #decide<A extends UpgradeAttempt>(a: A, request: UpgradeRequest, offer: UpgradeOffer, decision: HandshakeResult, accepted: (a: A, r: Accepted) => void): void {
    if (targetOf(a).destroyed) return;
    if (decision && typeof decision === 'object' && 'reject' in decision) {
      const r = decision.reject;
      return this.reject(targetOf(a), request, r.status, r.reason, r.headers);
    }
    const d = decision && typeof decision === 'object' ? decision : undefined;
    let protocol = d?.protocol;
    if (protocol !== undefined) {
      if (!offer.protocols.includes(protocol)) {
        this.#events.error(new Error(`handshake chose subprotocol ${JSON.stringify(protocol)}, which the client did not offer`));
        return this.reject(targetOf(a), request, 500, 'Internal Server Error');
      }
    } else if (offer.protocols.length > 0 && this.#policy.protocols) {
      const p = this.#policy.protocols;
      protocol = typeof p === 'function' ? p(offer.protocols, request) : offer.protocols.find((x) => p.includes(x));
      if (protocol !== undefined && !offer.protocols.includes(protocol)) protocol = undefined;
    }
    const extensions = this.#factories.length ? negotiateExtensions(offer.extensions, this.#factories) : [];
    let response: string | OutgoingHttpHeaders;
    const agreed = extensions.map((e) => e.response).join(', ');
    try {
      if (a.stream) {
        // RFC 8441 section 5: a 2xx, the same subprotocol and extension headers, no accept key
        buildAcceptResponse('', protocol, agreed, d?.headers); // the same header checks as HTTP/1.1
        response = http2Headers(200, d?.headers);
        if (protocol) response['sec-websocket-protocol'] = protocol;
        if (agreed) response['sec-websocket-extensions'] = agreed;
      } else {
        response = buildAcceptResponse(acceptKey(offer.key), protocol, agreed, d?.headers);
      }
    } catch (err) {
      for (const e of extensions) e.dispose();
      this.#events.error(err as Error);
      return this.reject(targetOf(a), request, 500, 'Internal Server Error');
    }
    accepted(a, { request, response, protocol: protocol ?? '', extensions, context: d?.context, ...(d?.limits ? { limits: d.limits } : {}) });
  }
}

function parseBasicAuth(header: string | undefined): { user: string; password: string } | null {
  if (!header) return null;
  const sp = header.indexOf(' ');
  if (sp === -1 || header.slice(0, sp).toLowerCase() !== 'basic') return null;
  const decoded = Buffer.from(header.slice(sp + 1).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return null;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
