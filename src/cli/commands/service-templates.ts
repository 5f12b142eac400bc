// Files written by `switchboard new`.

export interface TemplateInput {
  /** Route of the service, e.g. "/chat". */
  route: string;
  /** Import path from the test file to the service file. */
  serviceImport: string;
  /** Path from the test file's directory to the services directory, ending in "/". */
  servicesDirFromTest: string;
  lang: 'ts' | 'js';
}

// What the README teaches: inputs checked by a schema (zod), refusals as CommandError with a
// code the client can act on (a plain Error reaches the client as `handler_error`).
export function endpointService({ route }: TemplateInput): string {
  return `// Service for ws://<host>${route}
// Serve the directory: npx switchboard serve services   (npm start)
import { z } from 'zod';
import { CommandError, defineService } from 'switchboard';

export default defineService({
  // 'inline' runs in the server; 'worker' or 'process' isolate it and restart it when it crashes.
  isolation: 'inline',
  rooms: true, // room.join, room.leave, room.presence

  open(connection) {
    connection.push('welcome', { id: connection.id });
  },

  commands: {
    // {"id": 1, "cmd": "echo", "data": {"text": "hi"}} -> {"id": 1, "ok": true, "data": {"text": "hi"}}
    echo: {
      input: z.object({ text: z.string().max(10_000) }),
      handler: ({ text }) => ({ text }),
    },
    // {"id": 2, "cmd": "say", "data": {"room": "lobby", "text": "hello"}}: publishes to a room you joined
    say: {
      input: z.object({ room: z.string().min(1), text: z.string().min(1).max(10_000) }),
      handler: async ({ room, text }, { connection, service }) => {
        if (!connection.rooms.has(room)) throw new CommandError('not_in_room', \`join "\${room}" first (room.join)\`);
        const pos = await service.publish(room, { from: connection.id, text });
        return { pos };
      },
    },
  },

  close(connection, code) {
    connection.service.log.debug({ id: connection.id, code }, 'closed');
  },
});
`;
}

export function endpointTest({ route, servicesDirFromTest }: TemplateInput): string {
  return `// Tests for the ${route} service: the real routing, loading, commands and rooms over
// in-memory connections (no network). Run: npm test
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { serviceTester } from 'switchboard';

const services = fileURLToPath(new URL('${servicesDirFromTest}', import.meta.url));

test('${route}: welcomes, echoes its input, refuses bad input', async () => {
  const client = await serviceTester({ dir: services }).connect('${route}');
  const welcome = await client.next((m) => m.event === 'welcome');
  assert.equal(welcome.data.id, client.id);
  const echo = await client.call('echo', { text: 'hi' });
  assert.deepEqual([echo.ok, echo.data], [true, { text: 'hi' }]);
  const bad = await client.call('echo', { text: 42 });
  assert.equal(bad.error?.code, 'invalid_input');
});

test('${route}: say publishes to a room the connection joined', async () => {
  const t = serviceTester({ dir: services });
  const alice = await t.connect('${route}');
  const refused = await alice.call('say', { room: 'lobby', text: 'too early' });
  assert.equal(refused.error?.code, 'not_in_room');
  assert.equal((await alice.call('room.join', { room: 'lobby' })).ok, true);
  assert.equal((await alice.call('say', { room: 'lobby', text: 'hello' })).ok, true);
  const pushed = await alice.next((m) => m.event === 'room.message');
  assert.deepEqual(pushed.data, { from: alice.id, text: 'hello' });
});
`;
}

export function backgroundService({ route, lang }: TemplateInput): string {
  const ts = lang === 'ts';
  const name = route.slice(1);
  return `// Background service "${name}": no endpoint. In the services directory it is found when the
// server starts and runs supervised in a worker thread (or a child process, see below).
export const isolation = 'worker'; // or 'process'
${ts ? "import type { BackgroundContext } from 'switchboard';\n" : ''}
let ticks = 0;

export async function start(ctx${ts ? ': BackgroundContext' : ''}, signal${ts ? ': AbortSignal' : ''}) {
  // where to publish: options from the config, e.g. { "service": "/chat", "room": "lobby" }
  const { service = '/chat', room = 'lobby' } = (ctx.options ?? {})${ts ? ' as { service?: string; room?: string }' : ''};
  const timer = setInterval(() => {
    ticks++;
    ctx.publish(service, room, { tick: ticks }).catch(() => {}); // fails until the service is loaded
  }, 1000);
  signal.addEventListener('abort', () => clearInterval(timer));
  ctx.log.info('started');
}

/** Callable from other services: await getService('${name}').call('count') */
export function count()${ts ? ': number' : ''} {
  return ticks;
}
`;
}

export function backgroundTest({ route, serviceImport }: TemplateInput): string {
  const name = route.slice(1);
  return `// Tests for the "${name}" background service. Run: node --import tsx --test <this file>
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { start, count } from '${serviceImport}';

test('${name}: starts, ticks into its room and stops on abort', async () => {
  const sent = [];
  const controller = new AbortController();
  const log = { debug() {}, info() {}, warn() {}, error() {} };
  const ctx = {
    name: '${name}', options: undefined, log,
    getService: () => { throw new Error('not in this test'); },
    publish: async (service, room, data) => void sent.push([service, room, data]),
    sendToRoom: async () => {}, sendToConnection: async () => {}, broadcast: async () => {},
  };
  await start(ctx as never, controller.signal);
  controller.abort();
  assert.equal(typeof count(), 'number');
});
`;
}
