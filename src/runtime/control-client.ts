// Client side of the control socket (used by the CLI).
import { connect } from 'node:net';
import {
  CONTROL_VERSION,
  MAX_CONTROL_LINE_BYTES,
  controlResponseSchema,
  type ControlErrorBody,
} from './control-protocol.js';
import { controlSocketPath } from './control-server.js';

type RequestBody =
  | { type: 'status' }
  | { type: 'stop' }
  | { type: 'drain'; windowMs: number; batches?: number }
  | { type: 'reload' }
  | { type: 'restart'; service: string }
  | { type: 'figures' };

export class ControlClientError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ControlClientError';
  }
}

/** Send one request to the server of `runDir` and resolve with its data, or throw ControlClientError. */
export function controlRequest(runDir: string, body: RequestBody, timeoutMs = 30_000): Promise<unknown> {
  const path = controlSocketPath(runDir);
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let buffered = '';
    let settled = false;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      fn();
    };
    const timer = setTimeout(
      () => finish(() => reject(new ControlClientError('TIMEOUT', `no answer from ${path} within ${timeoutMs} ms`))),
      timeoutMs,
    );
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(JSON.stringify({ v: CONTROL_VERSION, id: 1, ...body }) + '\n'));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const notRunning = err.code === 'ENOENT' || err.code === 'ECONNREFUSED';
      finish(() =>
        reject(
          notRunning
            ? new ControlClientError('NOT_RUNNING', `no server is running with run directory ${runDir} (${err.code} on ${path})`)
            : new ControlClientError(err.code ?? 'SOCKET', err.message),
        ),
      );
    });
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > MAX_CONTROL_LINE_BYTES) {
        finish(() => reject(new ControlClientError('TOO_LARGE', 'response too large')));
        return;
      }
      const nl = buffered.indexOf('\n');
      if (nl < 0) return;
      let parsed;
      try {
        parsed = controlResponseSchema.parse(JSON.parse(buffered.slice(0, nl)));
      } catch {
        finish(() => reject(new ControlClientError('BAD_RESPONSE', 'the server sent an invalid response')));
        return;
      }
      if (parsed.ok) {
        const data = parsed.data;
        finish(() => resolve(data));
      } else {
        const e: ControlErrorBody = parsed.error;
        finish(() => reject(new ControlClientError(e.code, e.message)));
      }
    });
    socket.on('close', () =>
      finish(() => reject(new ControlClientError('CLOSED', 'the server closed the control connection without answering'))),
    );
  });
}
