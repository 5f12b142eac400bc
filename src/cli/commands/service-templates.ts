// Files written by `switchboard new`.

export interface TemplateInput {
  /** Route of the service, e.g. "/chat". */
  route: string;
  /** Import path from the test file to the service file. */
  serviceImport: string;
  lang: 'ts' | 'js';
}

export function endpointService({ route, lang }: TemplateInput): string {
  const ts = lang === 'ts';
  return `// Service for ws://<host>${route}
// Run it: switchboard serve --services <services dir>   (see README "Operating Switchboard")
import { defineService } from 'switchboard';

export default defineService({
  // 'inline' runs in the server; 'worker' or 'process' isolate it and restart it when it crashes.
  isolation: 'inline',
  rooms: true,

  open(connection) {
    connection.push('welcome', { id: connection.id });
  },

  commands: {
    // {"id": 1, "cmd": "echo", "data": {"text": "hi"}} -> {"id": 1, "ok": true, "data": {"text": "hi"}}
    echo: {
      handler: (data${ts ? ': unknown' : ''}) => data,
    },
    // {"id": 2, "cmd": "say", "data": {"room": "lobby", "text": "hello"}}: publishes to a room you joined
    say: {
      handler: async (data${ts ? ': unknown' : ''}, call) => {
        const { room, text } = data${ts ? ' as { room: string; text: string }' : ''};
        if (!call.connection.rooms.has(room)) throw new Error('join the room first');
        const pos = await call.service.publish(room, { from: call.connection.id, text });
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

export function endpointTest({ route, serviceImport }: TemplateInput): string {
  return `// Tests for the ${route} service. Run: node --import tsx --test <this file>
import { test } from 'node:test';
import assert from 'node:assert/strict';
import service from '${serviceImport}';

test('${route}: echo answers with its input', async () => {
  const echo = service.commands?.echo;
  assert.ok(echo, 'the service has an echo command');
  const data = { text: 'hi' };
  assert.deepEqual(await echo.handler(data, {} as never), data);
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
