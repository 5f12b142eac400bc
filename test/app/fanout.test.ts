// Rooms and presence with many real connections on 127.0.0.1.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { AppServer } from '../../src/server/app-server.js';
import { connect } from '../../src/transport/client.js';
import type { WebSocket } from '../../src/transport/websocket.js';
import { DEFINE, serviceDir } from './helpers.js';

const dir = serviceDir({
  'room.ts': `import { defineService } from '${DEFINE}'; export default defineService({ rooms: { clientPublish: true } });`,
});
const server = new AppServer({ dir, port: 0 });
const { port } = await server.listen();
after(() => server.close());

class Peer {
  readonly inbox: any[] = [];
  #waiters: Array<() => void> = [];
  #seq = 0;
  constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => {
      this.inbox.push(JSON.parse(d.toString()));
      for (const w of this.#waiters.splice(0)) w();
    });
  }
  async until(pred: (m: any) => boolean): Promise<any> {
    for (;;) {
      const found = this.inbox.find(pred);
      if (found) return found;
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }
  async call(cmd: string, data: unknown): Promise<any> {
    const id = ++this.#seq;
    this.ws.send(JSON.stringify({ id, cmd, data }));
    return this.until((m) => m.id === id);
  }
}

test('100 connections: join, presence, one publish reaches every member once with its position', async () => {
  const N = 100;
  const peers = await Promise.all(Array.from({ length: N }, async () => new Peer(await connect(`ws://127.0.0.1:${port}/room`))));
  const joins = await Promise.all(peers.map((p) => p.call('room.join', { room: 'big' })));
  assert.ok(joins.every((j) => j.ok));
  const presence = await peers[0]!.call('room.presence', { room: 'big' });
  assert.equal(presence.data.length, N);
  const sent = await peers[0]!.call('room.publish', { room: 'big', data: { n: 1 } });
  const pos = sent.data.pos;
  const got = await Promise.all(peers.map((p) => p.until((m) => m.event === 'room.message')));
  for (const m of got) assert.deepEqual(m, { event: 'room.message', room: 'big', pos, data: { n: 1 } });
  const closing = peers.slice(N / 2);
  await Promise.all(closing.map((p) => new Promise<void>((r) => (p.ws.once('close', () => r()), p.ws.close()))));
  // the remaining members hear every leave; the list shrinks to them
  await peers[0]!.until(() => peers[0]!.inbox.filter((m) => m.event === 'presence.leave').length === N / 2);
  assert.equal((await peers[1]!.call('room.presence', { room: 'big' })).data.length, N / 2);
  for (const p of peers.slice(0, N / 2)) p.ws.close();
});
