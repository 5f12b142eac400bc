// Compile-time checks of the service and client types (the test body only runs them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { defineService } from '../../src/app/service.js';
import { createClient, type ApiOf } from '../../src/client/index.js';

const service = defineService({
  commands: {
    add: { input: z.object({ a: z.number(), b: z.number() }), handler: (d) => d.a + d.b },
    free: { handler: (d) => d },
  },
});

type Chat = ApiOf<typeof service>;

test('handler data is typed from its schema; client calls are typed from the service', () => {
  const input: Chat['add']['input'] = { a: 1, b: 2 };
  // @ts-expect-error b must be a number
  const bad: Chat['add']['input'] = { a: 1, b: 'x' };
  const join: Chat['room.join']['input'] = { room: 'r', since: { e: 'x', o: 1 } };
  const typed = (client: ReturnType<typeof createClient<Chat>>) => {
    void client.call('add', { a: 1, b: 2 });
    // @ts-expect-error unknown command
    void client.call('nope', {});
    // @ts-expect-error wrong input
    void client.call('add', { a: '1' });
  };
  assert.ok(input && bad && join && typed);
});
