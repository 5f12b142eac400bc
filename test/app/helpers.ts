// Test helpers for the app layer: service directories written to a temp dir, an in-memory
// connection (FakeSocket) and framer, and a capturing logger.
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { App } from '../../src/app/app.js';
import type { Logger } from '../../src/app/logger.js';
import type { ClusterFactory } from '../../src/app/cluster.js';
import { MemoryFramer, MemorySocket, type MemoryFramed } from '../../src/app/testing.js';
import type { RoomIndexOptions } from '../../src/app/rooms/room-index.js';
import type { HandshakeRequest } from '../../src/app/service.js';

/** The repository root (tests run from dist/test/app). */
export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
/** Import specifier for service files written by tests. */
export const DEFINE = pathToFileURL(join(REPO, 'src/app/define-service.ts')).href;
export const AUTH = pathToFileURL(join(REPO, 'src/app/auth/index.ts')).href;

export function serviceDir(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'sb-app-'));
  for (const [name, body] of Object.entries(files)) {
    mkdirSync(dirname(join(root, name)), { recursive: true });
    writeFileSync(join(root, name), body);
  }
  return root;
}

export interface LogLine {
  level: string;
  obj: unknown;
  msg: string | undefined;
}

export function captureLogger(): Logger & { lines: LogLine[]; waitFor(pred: (l: LogLine) => boolean): Promise<LogLine> } {
  const lines: LogLine[] = [];
  const waiters: Array<{ pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  const push = (level: string) => (obj: object | string, msg?: string) => {
    const line = { level, obj, msg: typeof obj === 'string' ? obj : msg };
    lines.push(line);
    for (const w of [...waiters]) if (w.pred(line)) (waiters.splice(waiters.indexOf(w), 1), w.resolve(line));
  };
  return {
    lines,
    debug: push('debug'),
    info: push('info'),
    warn: push('warn'),
    error: push('error'),
    waitFor(pred) {
      const found = lines.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => waiters.push({ pred, resolve }));
    },
  };
}

export { MemorySocket as FakeSocket, MemoryFramer as CountingFramer } from '../../src/app/testing.js';

export function request(path: string, extra: Partial<HandshakeRequest> = {}): HandshakeRequest {
  return { method: 'GET', url: path, path, query: {}, headers: {}, cookies: {}, protocols: [], extensions: [], remoteAddress: '127.0.0.1', remotePort: 1, secure: false, ...extra } as HandshakeRequest;
}

/** An App over in-memory ports: connect(path) runs admit + open like the edge does. */
export function harness(root: string, rooms?: RoomIndexOptions, extra: { cluster?: ClusterFactory } = {}) {
  const log = captureLogger();
  const framer = new MemoryFramer();
  const app = new App<MemoryFramed>({ root, log, framer, ...(rooms ? { rooms } : {}), ...extra });
  let lastId = 0;
  return {
    app,
    log,
    framer,
    async connect(path: string, extra: Partial<HandshakeRequest> = {}) {
      const req = request(path, extra);
      const decision = await app.admit(req);
      if (!decision.accept) return { rejected: decision } as const;
      const socket = new MemorySocket();
      const id = app.open(socket, req, decision.admission);
      let seq = 0;
      const conn = {
        rejected: null,
        id,
        socket,
        protocol: decision.admission.protocol,
        send: (text: string) => app.message(id, text, false),
        /** Sends a command and waits for its reply. */
        call: async (cmd: string, data?: unknown) => {
          const cid = ++seq + 1000 * ++lastId;
          app.message(id, JSON.stringify({ id: cid, cmd, data }), false);
          return socket.reply(cid);
        },
        close: (code = 1000, reason = '') => app.closed(id, code, reason),
      };
      return conn;
    },
  };
}

/** Import specifier of zod for service files written to temp dirs. */
export const ZOD = import.meta.resolve('zod');
