// The interop scenarios, written once and run in both directions: our server with the `ws`
// client, and our client with a `ws` server. Each direction implements the sides below; the
// scenarios only talk to those, so a behaviour checked one way is checked the other way too.
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { after, before, describe, test } from 'node:test';
import { compressibleText, pseudoRandomBytes } from '../helpers/frames.js';
import { collect, next, within } from '../helpers/wait.js';

export const MiB = 1024 * 1024;

export interface Message {
  data: Buffer;
  isBinary: boolean;
}

export interface Closed {
  code: number;
  reason: string;
}

/** permessage-deflate parameters, named as both implementations name them. */
export interface Deflate {
  serverNoContextTakeover?: boolean;
  clientNoContextTakeover?: boolean;
  serverMaxWindowBits?: number;
  /** true: offer the parameter without a value */
  clientMaxWindowBits?: number | true;
}

/** One end of an open connection, whichever implementation and role it is. */
export interface Peer {
  readonly protocol: string;
  /** Our sides report the negotiated parameters; `ws` reports extension names only. */
  readonly extensions: string;
  send(data: string | Buffer, binary: boolean): void;
  /** One fragment of a message; the opcode comes from the first fragment. */
  sendFragment(data: string | Buffer, binary: boolean, fin: boolean): void;
  ping(data: string): void;
  close(code: number, reason: string): void;
  nextMessage(ms?: number): Promise<Message>;
  messages(n: number, ms?: number): Promise<Message[]>;
  nextPing(): Promise<Buffer>;
  nextPong(): Promise<Buffer>;
  /** What this end saw when the connection closed; waited on with a deadline by the caller. */
  readonly closed: Promise<Closed>;
}

export interface ServerOptions {
  /** Subprotocols spoken: the first one the client offers that is in this list is chosen. */
  protocols?: string[];
  /** Off when absent. Messages of any size are compressed, so every case exercises zlib. */
  perMessageDeflate?: Deflate;
}

export interface ClientOptions {
  protocols?: string[];
  /** Absent: the implementation's default offer. */
  perMessageDeflate?: Deflate;
}

/** A listening server whose connections echo every message with its type. */
export interface RunningServer {
  url: string;
  /** The server end of the next connection; ask before the client opens. */
  nextConnection(): Promise<Peer>;
  stop(): Promise<void>;
}

export interface ServerSide {
  /** e.g. "our server", "ws server" */
  name: string;
  ours: boolean;
  start(options: ServerOptions): Promise<RunningServer>;
}

export interface ClientSide {
  name: string;
  ours: boolean;
  open(url: string, options: ClientOptions): Promise<Peer>;
}

export interface Pairing {
  server: ServerSide;
  client: ClientSide;
}

/** The socket surface `ws` and our WebSocket have in common. */
interface Socketish extends NodeJS.EventEmitter {
  readonly protocol: string;
  readonly extensions: string;
  send(data: string | Buffer, options: { binary: boolean }): unknown;
  ping(data: string): unknown;
  close(code: number, reason: string): unknown;
}

/** A Peer over either implementation; only fragmented sending differs between them. */
export function peerOf(ws: Socketish, sendFragment: Peer['sendFragment']): Peer {
  // Registered now, so a close that comes before anyone waits for it is not missed.
  const closed = new Promise<Closed>((resolve) => ws.once('close', (code: number, reason: Buffer | string) => resolve({ code, reason: String(reason) })));
  const toMessage = ([data, isBinary]: [Buffer, boolean]): Message => ({ data, isBinary });
  return {
    get protocol() {
      return ws.protocol;
    },
    get extensions() {
      return ws.extensions;
    },
    send: (data, binary) => void ws.send(data, { binary }),
    sendFragment,
    ping: (data) => void ws.ping(data),
    close: (code, reason) => void ws.close(code, reason),
    nextMessage: (ms) => next<[Buffer, boolean]>(ws, 'message', ms).then(toMessage),
    messages: (n, ms) => collect<[Buffer, boolean]>(ws, 'message', n, ms).then((all) => all.map(toMessage)),
    nextPing: () => next<[Buffer]>(ws, 'ping').then(([d]) => d),
    nextPong: () => next<[Buffer]>(ws, 'pong').then(([d]) => d),
    closed,
  };
}

export function label(p: Pairing): string {
  return `${p.server.name}, ${p.client.name}`;
}

/** Open a client and pair it with the server end of the same connection. */
export async function connect(pairing: Pairing, s: RunningServer, options: ClientOptions = {}): Promise<{ client: Peer; server: Peer }> {
  const accepted = s.nextConnection();
  let client: Peer;
  try {
    client = await pairing.client.open(s.url, options);
  } catch (err) {
    accepted.catch(() => {});
    throw err;
  }
  return { client, server: await accepted };
}

async function echo(client: Peer, data: Buffer | string, binary: boolean, ms = data.length > 4 * MiB ? 60_000 : 20_000): Promise<Message> {
  const p = client.nextMessage(ms);
  client.send(data, binary);
  return p;
}

async function closeClient(client: Peer, code = 1000, reason = ''): Promise<Closed> {
  client.close(code, reason);
  return within(client.closed, 'the client seeing its close complete');
}

/** 'κόσμε' with σ split between two fragments, then 3 MiB of binary in 512 KiB fragments. */
async function fragmentsArriveWhole(sender: Peer, receivers: Peer[]): Promise<void> {
  const text = receivers.map((r) => r.nextMessage());
  sender.sendFragment('κό', false, false);
  sender.sendFragment(Buffer.from([0xcf]), false, false);
  sender.sendFragment(Buffer.from([0x83]), false, false);
  sender.sendFragment('με', false, true);
  for (const { data, isBinary } of await Promise.all(text)) {
    assert.equal(isBinary, false);
    assert.equal(data.toString(), 'κόσμε');
  }
  const big = pseudoRandomBytes(3 * MiB, 9);
  const binary = receivers.map((r) => r.nextMessage());
  for (let i = 0; i < big.length; i += MiB / 2) sender.sendFragment(big.subarray(i, i + MiB / 2), true, i + MiB / 2 >= big.length);
  for (const { data, isBinary } of await Promise.all(binary)) {
    assert.equal(isBinary, true);
    assert.ok(data.equals(big));
  }
}

/** Server and client parameters, and what our side must report as negotiated. */
const deflateCases: Array<{ name: string; server: Deflate; client: Deflate; expect: RegExp }> = [
  { name: 'defaults', server: {}, client: {}, expect: /^permessage-deflate/ },
  { name: 'client asks server_no_context_takeover', server: {}, client: { serverNoContextTakeover: true }, expect: /server_no_context_takeover/ },
  { name: 'client offers client_no_context_takeover', server: {}, client: { clientNoContextTakeover: true }, expect: /client_no_context_takeover/ },
  { name: 'client asks server_max_window_bits=10', server: {}, client: { serverMaxWindowBits: 10 }, expect: /server_max_window_bits=10/ },
  { name: 'client offers client_max_window_bits=11', server: {}, client: { clientMaxWindowBits: 11 }, expect: /^permessage-deflate/ },
  { name: 'server forces server_no_context_takeover', server: { serverNoContextTakeover: true }, client: {}, expect: /server_no_context_takeover/ },
  { name: 'server forces client_no_context_takeover', server: { clientNoContextTakeover: true }, client: {}, expect: /client_no_context_takeover/ },
  { name: 'server caps client window to 9', server: { clientMaxWindowBits: 9 }, client: { clientMaxWindowBits: true }, expect: /client_max_window_bits=9/ },
  { name: 'server caps its window to 9', server: { serverMaxWindowBits: 9 }, client: {}, expect: /server_max_window_bits=9/ },
  {
    name: 'all four',
    server: { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 12, clientMaxWindowBits: 12 },
    client: { clientMaxWindowBits: true, serverMaxWindowBits: 12 },
    expect: /server_no_context_takeover/,
  },
];

/** Register the scenarios that hold in every direction, for one pairing. */
export function interopSuite(pairing: Pairing): void {
  const tag = label(pairing);
  const name = (scenario: string): string => `${scenario} (${tag})`;

  describe(`interop: ${pairing.server.name} and ${pairing.client.name}`, () => {
    let s: RunningServer;
    before(async () => {
      s = await pairing.server.start({ protocols: ['chat.v2', 'chat.v1'] });
    });
    after(() => s.stop());

    test(name('text and binary of sizes around the length encodings'), async () => {
      const { client } = await connect(pairing, s);
      for (const n of [0, 1, 125, 126, 127, 65535, 65536, 100_000]) {
        const t = compressibleText(n, n);
        const r1 = await echo(client, t, false);
        assert.equal(r1.isBinary, false);
        assert.equal(r1.data.toString(), t);
        const b = pseudoRandomBytes(n, n + 1);
        const r2 = await echo(client, b, true);
        assert.equal(r2.isBinary, true);
        assert.ok(r2.data.equals(b), `binary ${n}`);
      }
      await closeClient(client);
    });

    test(name('large messages: 8 MiB text and 12 MiB binary'), async () => {
      const { client } = await connect(pairing, s);
      const t = compressibleText(8 * MiB, 5);
      assert.equal((await echo(client, t, false)).data.toString(), t);
      const b = pseudoRandomBytes(12 * MiB, 6);
      assert.ok((await echo(client, b, true)).data.equals(b));
      await closeClient(client);
    });

    test(name('fragmented messages from the client arrive whole'), async () => {
      const { client, server } = await connect(pairing, s);
      // The server end must assemble them, and the client gets the assembled message back.
      await fragmentsArriveWhole(client, [server, client]);
      await closeClient(client);
    });

    test(name('fragmented messages from the server arrive whole'), async () => {
      const { client, server } = await connect(pairing, s);
      await fragmentsArriveWhole(server, [client]);
      await closeClient(client);
    });

    test(name('many messages in a burst keep their order'), async () => {
      const { client } = await connect(pairing, s);
      const got = client.messages(2000);
      for (let i = 0; i < 2000; i++) client.send(`m${i}`, false);
      assert.deepEqual(
        (await got).map(({ data }) => data.toString()),
        Array.from({ length: 2000 }, (_, i) => `m${i}`),
      );
      await closeClient(client);
    });

    test(name('subprotocol: the server picks the first one the client offers that it speaks; both sides report it'), async () => {
      for (const [offer, expected] of [
        [['x-unknown', 'chat.v1', 'chat.v2'], 'chat.v1'],
        [['chat.v0', 'chat.v1'], 'chat.v1'],
        [['chat.v2'], 'chat.v2'],
        [[], ''],
      ] as const) {
        const { client, server } = await connect(pairing, s, { protocols: [...offer] });
        assert.equal(client.protocol, expected, `client, offering ${offer.join(', ')}`);
        assert.equal(server.protocol, expected, `server, offered ${offer.join(', ')}`);
        await closeClient(client);
      }
    });

    test(name('ping/pong both ways'), async () => {
      const { client, server } = await connect(pairing, s);
      const pong = client.nextPong();
      client.ping('client ping');
      assert.equal((await pong).toString(), 'client ping');
      const clientSawPing = client.nextPing();
      const serverSawPong = server.nextPong();
      server.ping('server ping');
      assert.equal((await clientSawPing).toString(), 'server ping');
      assert.equal((await serverSawPong).toString(), 'server ping');
      await closeClient(client);
    });

    for (const [code, reason] of [
      [1000, ''],
      [1001, 'going away'],
      [3000, 'app'],
      [4999, 'r'.repeat(123)],
    ] as const) {
      test(name(`client closes with ${code}: both sides see it`), async () => {
        const { client, server } = await connect(pairing, s);
        const { code: c } = await closeClient(client, code, reason);
        assert.equal(c, code); // the reply echoes the code (RFC 6455 5.5.1; the reason need not be echoed)
        const { code: sc, reason: sr } = await within(server.closed, 'the server seeing the close');
        assert.equal(sc, code);
        assert.equal(sr, reason);
      });
    }

    test(name('server closes with 4000 and a reason'), async () => {
      const { client, server } = await connect(pairing, s);
      server.close(4000, 'server says bye');
      const { code, reason } = await within(client.closed, 'the client seeing the close');
      assert.equal(code, 4000);
      assert.equal(reason, 'server says bye');
    });
  });

  describe(`interop, permessage-deflate: ${pairing.server.name} and ${pairing.client.name}`, () => {
    for (const c of deflateCases) {
      test(name(c.name), async () => {
        const s = await pairing.server.start({ perMessageDeflate: c.server });
        try {
          const { client, server } = await connect(pairing, s, { perMessageDeflate: c.client });
          for (const [side, peer] of [
            [pairing.server, server],
            [pairing.client, client],
          ] as const) {
            assert.match(peer.extensions, /^permessage-deflate/, side.name);
            if (side.ours) assert.match(peer.extensions, c.expect, side.name);
          }
          for (const n of [0, 10, 1000, 64 * 1024, MiB]) {
            for (let k = 0; k < 3; k++) {
              const t = compressibleText(n, n + k);
              assert.equal((await echo(client, t, false)).data.toString(), t, `text ${n} #${k}`);
            }
            const b = pseudoRandomBytes(n, n);
            assert.ok((await echo(client, b, true)).data.equals(b), `binary ${n}`);
          }
          await closeClient(client);
        } finally {
          await s.stop();
        }
      });
    }
  });
}
