// Compile-time checks of the service and client types. Nothing here runs: the compiler is
// the test. `npm test` builds first, and a type error here, or an `@ts-expect-error` that no
// longer finds its error, fails that build.
import { z } from 'zod';
import { defineService } from '../../src/app/service.js';
import type { createClient, ApiOf } from '../../src/client/index.js';

const service = defineService({
  commands: {
    add: { input: z.object({ a: z.number(), b: z.number() }), handler: (d) => d.a + d.b },
    free: { handler: (d) => d },
  },
});

type Chat = ApiOf<typeof service>;

// handler data is typed from its schema; client calls are typed from the service
export const input: Chat['add']['input'] = { a: 1, b: 2 };
// @ts-expect-error b must be a number
export const bad: Chat['add']['input'] = { a: 1, b: 'x' };
export const join: Chat['room.join']['input'] = { room: 'r', since: { e: 'x', o: 1 } };
export const typed = (client: ReturnType<typeof createClient<Chat>>): void => {
  void client.call('add', { a: 1, b: 2 });
  // @ts-expect-error unknown command
  void client.call('nope', {});
  // @ts-expect-error wrong input
  void client.call('add', { a: '1' });
};
