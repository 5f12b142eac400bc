// A TCP proxy for partition tests, between a node and its broker, and a stand-in for a load
// balancer in front of nodes (retarget: new connections go elsewhere). Three modes:
//   forward    bytes flow both ways
//   reset      every open connection is destroyed and new ones are refused (a link that fails loudly)
//   blackhole  connections stay open (new ones are accepted) but nothing is forwarded either way
//              (a link that fails silently: only timeouts can tell)
// Going back to `forward` only affects connections made after it: what a blackholed
// connection held is dropped, as a network would.
import { createServer, connect, type Server, type Socket } from 'node:net';

export type ProxyMode = 'forward' | 'reset' | 'blackhole';

interface Pair {
  client: Socket;
  upstream: Socket;
  live: boolean;
}

export class TcpProxy {
  readonly #server: Server;
  #target: { host: string; port: number };
  readonly #pairs = new Set<Pair>();
  #mode: ProxyMode = 'forward';
  port = 0;

  private constructor(target: { host: string; port: number }) {
    this.#target = target;
    this.#server = createServer((client) => this.#accept(client));
  }

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    const p = new TcpProxy({ host: targetHost, port: targetPort });
    await new Promise<void>((resolve) => p.#server.listen(0, '127.0.0.1', resolve));
    p.port = (p.#server.address() as { port: number }).port;
    return p;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Connections made from now on go to this port (open ones stay where they are). */
  retarget(port: number, host = '127.0.0.1'): void {
    this.#target = { host, port };
  }

  get mode(): ProxyMode {
    return this.#mode;
  }

  setMode(mode: ProxyMode): void {
    this.#mode = mode;
    if (mode === 'forward') return;
    for (const pair of this.#pairs) {
      if (mode === 'reset') {
        pair.client.destroy();
        pair.upstream.destroy();
      } else {
        pair.live = false;
      }
    }
  }

  /** Connections open now (both ends). */
  get connections(): number {
    return this.#pairs.size;
  }

  async close(): Promise<void> {
    for (const pair of this.#pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    client.on('error', () => undefined);
    if (this.#mode === 'reset') {
      client.destroy();
      return;
    }
    const upstream = connect(this.#target.port, this.#target.host);
    upstream.on('error', () => undefined);
    const pair: Pair = { client, upstream, live: this.#mode === 'forward' };
    this.#pairs.add(pair);
    const relay = (from: Socket, to: Socket): void => {
      from.on('data', (chunk: Buffer) => {
        if (pair.live) to.write(chunk);
      });
      from.on('close', () => {
        this.#pairs.delete(pair);
        to.destroy();
      });
    };
    relay(client, upstream);
    relay(upstream, client);
  }
}
