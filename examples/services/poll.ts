// ws://host/poll — live state: a value clients subscribe to and receive as versioned patches.
//
//   watch:    {"cmd":"live.subscribe","data":{"name":"poll"}} -> {"name","v","value"}, then
//             {"event":"live.patch","name":"poll","v":N,"patch":…} for every change.
//   resume:   {"cmd":"live.subscribe","data":{"name":"poll","since":N}} -> the patches after N
//             (or the whole value when they are no longer kept).
//   vote:     {"cmd":"vote","data":{"option":"tabs"}} -> {"v":N}
//   boards:   "board/<any id>" is a counter board of its own: {"cmd":"bump","data":{"board":"a","key":"x"}}
//   ask:      {"cmd":"ask","data":{"question":"…","options":["a","b"]}} starts a new poll.
import { z } from 'zod';
import { defineService, CommandError } from 'switchboard';

interface Poll {
  question: string;
  options: Record<string, number>;
  voters: number;
}

export default defineService({
  live: {
    poll: { initial: { question: 'Tabs or spaces?', options: { tabs: 0, spaces: 0 }, voters: 0 } as Poll, history: 100 },
    // one value per id: board/a, board/b, …, each starting empty
    'board/:id': { initial: (params): { id: string; counts: Record<string, number> } => ({ id: params['id'] ?? '', counts: {} }) },
  },
  commands: {
    vote: {
      input: z.object({ option: z.string().min(1).max(100) }),
      handler: async ({ option }, { service }) => {
        const v = await service.live<Poll>('poll').update((poll) => {
          if (!(option in poll.options)) throw new CommandError('invalid_input', `no option "${option}"`);
          poll.options[option]! += 1;
          poll.voters += 1;
        });
        return { v };
      },
    },
    ask: {
      input: z.object({ question: z.string().min(1).max(500), options: z.array(z.string().min(1).max(100)).min(2).max(20) }),
      handler: async ({ question, options }, { service }) => {
        const v = await service.live<Poll>('poll').set({ question, options: Object.fromEntries(options.map((o) => [o, 0])), voters: 0 });
        return { v };
      },
    },
    bump: {
      input: z.object({ board: z.string().min(1).max(100), key: z.string().min(1).max(100) }),
      handler: async ({ board, key }, { service }) => {
        const v = await service.live<{ id: string; counts: Record<string, number> }>(`board/${board}`).update((b) => {
          b.counts[key] = (b.counts[key] ?? 0) + 1;
        });
        return { v };
      },
    },
  },
});
