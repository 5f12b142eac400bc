/**
 * The app server's one port: plain HTTP, or TLS with HTTP/1.1 and (by default) HTTP/2 side by
 * side, chosen by ALPN. WebSockets arrive as HTTP/1.1 upgrades or as HTTP/2 extended CONNECT
 * streams (RFC 8441); pages and routes as requests of either version. With TLS the
 * certificate can be replaced while connections stay open.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerOptions, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createSecureServer, type ServerHttp2Session } from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Server as TlsServer } from 'node:tls';
import { connectSettings, routeExtendedConnect, type ConnectHandler } from '../transport/extended-connect.js';
import { readTlsFiles, type TlsFiles } from './tls-files.js';

export interface HttpListenerOptions {
  tls?: TlsFiles;
  /** With tls: serve HTTP/2 too (default on). */
  http2?: { enabled?: boolean; maxStreams?: number };
  /** node:http's limits and timeouts for HTTP/1.1 requests (the same over TLS and beside HTTP/2). */
  http1?: Http1Options;
  onRequest: (req: IncomingMessage, res: ServerResponse) => void;
  onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  onConnect: ConnectHandler;
}

export type Http1Options = Pick<ServerOptions, 'maxHeaderSize' | 'headersTimeout' | 'requestTimeout' | 'connectionsCheckingInterval'>;

export interface ListenAddress {
  address: string;
  family: string;
  port: number;
}

type AnyServer = ReturnType<typeof createHttpServer> | ReturnType<typeof createHttpsServer> | ReturnType<typeof createSecureServer>;

export class HttpListener {
  readonly secure: boolean;
  readonly http2: boolean;
  /** Subject, fingerprint and validity of the certificate in use. */
  certificate: string | undefined;
  readonly #server: AnyServer;
  readonly #tls: TlsFiles | undefined;
  readonly #sockets = new Set<Socket>();
  readonly #sessions = new Set<ServerHttp2Session>();

  constructor(o: HttpListenerOptions) {
    this.#tls = o.tls;
    this.secure = o.tls !== undefined;
    this.http2 = this.secure && o.http2?.enabled !== false;
    if (o.tls) {
      const m = readTlsFiles(o.tls);
      this.certificate = m.summary;
      // --tls-ca: only clients with a certificate signed by it get past the TLS handshake
      const mutual = m.ca ? { ca: m.ca, requestCert: true, rejectUnauthorized: true } : {};
      const base = { cert: m.cert, key: m.key, ...mutual, noDelay: true };
      if (this.http2) {
        const h2 = createSecureServer({ ...base, allowHTTP1: true, settings: connectSettings({ ...(o.http2?.maxStreams ? { maxConcurrentStreams: o.http2.maxStreams } : {}) }) });
        // its HTTP/1.1 side reads these from the server object, as an http.Server does
        Object.assign(h2, o.http1);
        h2.on('request', o.onRequest as never);
        routeExtendedConnect(h2, o.onConnect);
        h2.on('session', (session) => {
          this.#sessions.add(session);
          session.once('close', () => this.#sessions.delete(session));
        });
        this.#server = h2;
      } else {
        this.#server = createHttpsServer({ ...base, ...o.http1 }, o.onRequest);
      }
      this.#server.on('secureConnection', (socket: Socket) => this.#track(socket));
    } else {
      this.#server = createHttpServer({ ...o.http1 }, o.onRequest);
    }
    this.#server.on('upgrade', o.onUpgrade);
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
  }

  listen(port: number, host: string): Promise<ListenAddress> {
    const server = this.#server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve(server.address() as ListenAddress);
      });
    });
  }

  address(): ListenAddress | null {
    return this.#server.address() as ListenAddress | null;
  }

  /**
   * Read the certificate files again and serve them to new connections; open connections
   * keep the keys they agreed on. On an error the certificate in use stays.
   */
  reloadTls(): string | undefined {
    if (!this.#tls) return undefined;
    const m = readTlsFiles(this.#tls);
    (this.#server as TlsServer).setSecureContext({ cert: m.cert, key: m.key, ...(m.ca ? { ca: m.ca } : {}) });
    this.certificate = m.summary;
    return m.summary;
  }

  /** No new connections; HTTP/2 clients are told with a GOAWAY that their connection takes no new streams. */
  stopAccepting(): void {
    this.#server.close();
    for (const session of this.#sessions) if (!session.closed) session.close();
  }

  /** Drop every connection still open (after the WebSockets had their closing handshake). */
  closeAll(): void {
    const server = this.#server;
    if ('closeAllConnections' in server) server.closeAllConnections();
    for (const session of this.#sessions) session.destroy();
    for (const socket of this.#sockets) socket.destroy();
  }
}
