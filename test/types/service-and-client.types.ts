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

// live values: names (with parameters) and value types flow from the declaration
const liveService = defineService({
  live: {
    poll: { initial: { question: 'q', votes: { a: 0 } as Record<string, number> } },
    'board/:id': { initial: (params) => ({ id: params['id'] ?? '', n: 0 }), subscribe: (connection) => connection.isAuthenticated },
  },
  commands: {
    vote: { input: z.object({ option: z.string() }), handler: async (d, { service }) => service.live<{ votes: Record<string, number> }>('poll').update((p) => void (p.votes[d.option] = 1)) },
  },
});
type Live = ApiOf<typeof liveService>;
export const liveTyped = (client: ReturnType<typeof createClient<Live>>): void => {
  const poll = client.live('poll');
  const question: string | undefined = poll.get()?.question;
  void question;
  const board = client.live('board/x');
  const n: number | undefined = board.get()?.n;
  void n;
  // @ts-expect-error undeclared live value
  client.live('nothing');
  // @ts-expect-error the parameter segment is needed
  client.live('board');
  // @ts-expect-error poll has no field n
  void poll.get()?.n;
  void client.call('vote', { option: 'a' });
};
// a service with live values only: the values are typed (names are not checked then)
const dashboard = defineService({ live: { stats: { initial: { connections: 0 } } } });
export const dashboardTyped = (client: ReturnType<typeof createClient<ApiOf<typeof dashboard>>>): void => {
  const connections: number | undefined = client.live('stats').get()?.connections;
  void connections;
  // @ts-expect-error stats has no field users
  void client.live('stats').get()?.users;
};
// an untyped client takes any name
export const liveUntyped = (client: ReturnType<typeof createClient>): void => {
  void client.live('anything').get();
};
