import http2, { type ClientHttp2Session } from 'node:http2';
import tls from 'node:tls';

/** One HTTP/2 connection lent to a WebSocket until its stream closes. */
export interface SessionLease {
  readonly session: ClientHttp2Session;
  /** Resolves once the server's SETTINGS arrived (they say whether it takes extended CONNECT). */
  readonly ready: Promise<void>;
  /** Give the lease back; the connection closes when no stream uses it any more. */
  release(): void;
}

interface Entry {
  session: ClientHttp2Session;
  ready: Promise<void>;
  users: number;
}

/**
 * The HTTP/2 connections of a client group, one per origin, shared by its WebSockets as a
 * browser shares one connection per origin. A connection goes when its last user does.
 */
export class Http2Sessions {
  readonly #byOrigin = new Map<string, Entry>();

  acquire(origin: string, options: tls.ConnectionOptions): SessionLease {
    let entry = this.#byOrigin.get(origin);
    if (!entry || entry.session.closed || entry.session.destroyed) {
      // Our own TLS socket: node's session does not report every failure of the socket it
      // makes (a TLS 1.3 alert refusing our client certificate left it silent until a timeout).
      const socket = tls.connect({ ...options, noDelay: true } as tls.ConnectionOptions);
      const session = http2.connect(origin, { createConnection: () => socket });
      const ready = new Promise<void>((resolve, reject) => {
        session.once('remoteSettings', () => resolve());
        session.once('error', reject);
        socket.once('error', (err) => {
          reject(err);
          session.destroy();
        });
        socket.once('close', () => reject(new Error('the HTTP/2 connection closed before its settings arrived')));
      });
      ready.catch(() => {}); // each user awaits it; an early failure must not go unhandled here
      const created: Entry = { session, ready, users: 0 };
      // errors reach the streams; the session's own 'error' must not crash the process
      session.on('error', () => {});
      session.once('close', () => {
        if (this.#byOrigin.get(origin) === created) this.#byOrigin.delete(origin);
      });
      this.#byOrigin.set(origin, created);
      entry = created;
    }
    const e = entry;
    e.users++;
    let released = false;
    return {
      session: e.session,
      ready: e.ready,
      release: () => {
        if (released) return;
        released = true;
        if (--e.users === 0 && !e.session.closed) e.session.close();
      },
    };
  }
}
