// Child-side entry for background services: imports the user's module, serves calls to its
// exported functions, and runs `start(ctx, signal)`. A rejected start() is a crash.
import type { BackgroundContext, BackgroundModule } from './background-service.js';
import { SERVER_TARGET } from './background-service.js';
import { importModule } from '../app/module-import.js';
import type { ChildContext } from './child-runtime.js';

interface BackgroundData {
  module: string;
  options: unknown;
}

export async function run(ctx: ChildContext): Promise<unknown> {
  const data = ctx.data as BackgroundData;
  const loaded = await importModule(data.module);
  const mod = (typeof loaded.start === 'function' ? loaded : (loaded.default as BackgroundModule | undefined)) as
    | BackgroundModule
    | undefined;
  if (!mod || typeof mod.start !== 'function') {
    throw new Error(`${data.module}: a background service must export start(ctx, signal)`);
  }
  ctx.handleCalls((method, args) => {
    const fn = mod[method];
    if (method === 'start' || typeof fn !== 'function') throw new Error(`${ctx.name} has no method "${method}"`);
    return (fn as (...a: unknown[]) => unknown).apply(mod, args);
  });
  const server = (method: string, args: unknown[]) => ctx.call(SERVER_TARGET, method, args).then(() => undefined);
  const bctx: BackgroundContext = {
    name: ctx.name,
    options: data.options,
    log: ctx.log,
    getService: (name) => ({ name, call: (method, ...args) => ctx.call(name, method, args) }),
    publish: (service, room, msg) => server('publish', [service, room, msg]),
    sendToRoom: (service, room, msg) => server('sendToRoom', [service, room, msg]),
    sendToConnection: (id, msg) => server('sendToConnection', [id, msg]),
    broadcast: (service, msg) => server('broadcast', [service, msg]),
  };
  const started = mod.start(bctx, ctx.signal);
  ctx.ready();
  return started;
}
