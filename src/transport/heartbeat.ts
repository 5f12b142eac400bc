import type { WebSocket } from './websocket.js';

/**
 * Idle detection for a server's connections with one interval for all of them: a
 * connection that received nothing for one period is pinged; one that stays silent for a
 * second period is dropped (RFC 6455 section 5.5.2 pings as a keepalive). A server keeps one
 * per idle timeout in use (a service may set its own); each sweeps the connections with its
 * timeout and passes over the others.
 */
export class Heartbeat {
  readonly #timer: NodeJS.Timeout;

  constructor(connections: Iterable<WebSocket>, idleTimeoutMs: number) {
    this.#timer = setInterval(() => sweep(connections, idleTimeoutMs), Math.max(10, idleTimeoutMs / 2));
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

function sweep(connections: Iterable<WebSocket>, idleTimeoutMs: number): void {
  for (const ws of connections) {
    if (ws.idleTimeoutMs !== idleTimeoutMs) continue;
    if (ws.alive) {
      ws.alive = false;
    } else if (ws.awaitingPong) {
      ws.terminate();
    } else if (ws.readyState === 1) {
      ws.awaitingPong = true;
      ws.ping();
    }
  }
}
