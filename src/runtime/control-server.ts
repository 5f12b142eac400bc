// The control socket: a UNIX socket in the run directory, mode 0600, speaking
// control-protocol.ts. Only the owner of the run directory can talk to the server.
import { chmodSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import {
  CONTROL_SOCKET_NAME,
  CONTROL_VERSION,
  ControlError,
  MAX_CONTROL_LINE_BYTES,
  controlRequestSchema,
  type ControlHandlers,
  type ControlRequest,
  type ControlResponse,
} from './control-protocol.js';

export function controlSocketPath(runDir: string): string {
  return join(runDir, CONTROL_SOCKET_NAME);
}

export class ControlServer {
  readonly path: string;
  #server: Server | undefined;
  #sockets = new Set<Socket>();
  #handlers: ControlHandlers;
  #onError: (err: unknown) => void;

  constructor(runDir: string, handlers: ControlHandlers, onError: (err: unknown) => void = () => undefined) {
    this.path = controlSocketPath(runDir);
    this.#handlers = handlers;
    this.#onError = onError;
  }

  /** Listen; the caller must hold the run directory's lock (a leftover socket file is removed). */
  async listen(): Promise<void> {
    try {
      unlinkSync(this.path);
    } catch {
      /* none */
    }
    const server = createServer((socket) => this.#accept(socket));
    this.#server = server;
    const previous = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.path, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(previous);
    }
    chmodSync(this.path, 0o600);
    server.on('error', this.#onError);
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    for (const s of this.#sockets) s.end();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.#sockets) s.destroy();
    try {
      unlinkSync(this.path);
    } catch {
      /* gone */
    }
  }

  #accept(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setEncoding('utf8');
    let buffered = '';
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > MAX_CONTROL_LINE_BYTES) {
        this.#write(socket, { v: CONTROL_VERSION, id: 0, ok: false, error: { code: 'TOO_LARGE', message: 'request line too large' } });
        socket.end();
        return;
      }
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line) void this.#handleLine(socket, line);
      }
    });
  }

  async #handleLine(socket: Socket, line: string): Promise<void> {
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      this.#write(socket, { v: CONTROL_VERSION, id: 0, ok: false, error: { code: 'BAD_JSON', message: 'request is not valid JSON' } });
      return;
    }
    const parsed = controlRequestSchema.safeParse(raw);
    const id = typeof (raw as { id?: unknown })?.id === 'number' ? (raw as { id: number }).id : 0;
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
      this.#write(socket, {
        v: CONTROL_VERSION,
        id,
        ok: false,
        error: { code: 'BAD_REQUEST', message: `${where}${issue?.message ?? 'invalid request'}` },
      });
      return;
    }
    try {
      const data = await this.#dispatch(parsed.data);
      this.#write(socket, { v: CONTROL_VERSION, id, ok: true, data: data ?? null });
    } catch (err) {
      const code = err instanceof ControlError ? err.code : 'INTERNAL';
      const message = err instanceof Error ? err.message : String(err);
      this.#write(socket, { v: CONTROL_VERSION, id, ok: false, error: { code, message } });
    }
  }

  #dispatch(req: ControlRequest): unknown {
    switch (req.type) {
      case 'status':
        return this.#handlers.status();
      case 'stop':
        return Promise.resolve(this.#handlers.stop()).then(() => ({ stopping: true }));
      case 'drain': {
        const window = { windowMs: req.windowMs, ...(req.batches !== undefined ? { batches: req.batches } : {}) };
        return Promise.resolve(this.#handlers.drain(window)).then(() => ({ draining: true, ...window }));
      }
      case 'reload':
        return this.#handlers.reload();
      case 'restart':
        return Promise.resolve(this.#handlers.restart(req.service)).then(() => ({ restarted: req.service }));
      case 'figures':
        return Promise.resolve(this.#handlers.figures());
    }
  }

  #write(socket: Socket, response: ControlResponse): void {
    if (!socket.destroyed) socket.write(JSON.stringify(response) + '\n');
  }
}
