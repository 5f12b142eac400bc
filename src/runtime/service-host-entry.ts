// Child-side entry for an endpoint service with isolation 'worker' or 'process': runs the
// app layer's InlineHost in this thread/process, with a HostSink that turns actions and
// queries into plain-data messages to the server (see isolated-service-host.ts).
import { InlineHost } from '../app/inline-host.js';
import type { Logger } from '../app/logger.js';
import { isServiceDefinition, type ServiceDefinition } from '../app/service.js';
import type { HostAction, HostQuery, HostSink, OpenInfo } from '../app/service-host.js';
import type { HandshakeRequest } from '../app/service.js';
import { importModule, type ChildContext, type ChildLogger } from './child-runtime.js';
import { serializeError } from './ipc.js';

export interface ServiceHostData {
  file: string;
  route: string;
}

/** Messages (not calls) on the service channel; ordered with calls. */
export type ServiceChannelMessage =
  | { type: 'message'; connId: string; data: string | Uint8Array; binary: boolean }
  | { type: 'act'; action: HostAction };

export const SINK_TARGET = '$sink';

async function loadDefinition(file: string): Promise<ServiceDefinition> {
  const mod = await importModule(file);
  let def: unknown = mod.default;
  if (!isServiceDefinition(def) && typeof def === 'object' && def !== null && isServiceDefinition((def as { default?: unknown }).default)) {
    def = (def as { default?: unknown }).default;
  }
  if (!isServiceDefinition(def)) throw new Error(`${file}: the default export was not made by defineService()`);
  return def;
}

/** Plain-data log fields (errors flattened, functions and cycles dropped). */
function plainFields(obj: unknown): Record<string, unknown> | undefined {
  if (typeof obj !== 'object' || obj === null) return undefined;
  try {
    return JSON.parse(JSON.stringify(obj, (_k, v: unknown) => (v instanceof Error ? serializeError(v) : v))) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

function appLogger(log: ChildLogger): Logger {
  const at = (level: keyof ChildLogger) => (obj: object | string, msg?: string) => {
    if (typeof obj === 'string') log[level](obj);
    else log[level](msg ?? '', plainFields(obj));
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export async function run(ctx: ChildContext): Promise<void> {
  const { file, route } = ctx.data as ServiceHostData;
  const def = await loadDefinition(file);
  const sink: HostSink = {
    act: (action) => ctx.post({ type: 'act', action } satisfies ServiceChannelMessage),
    ask: (query: HostQuery) => ctx.call(SINK_TARGET, 'ask', [query]) as never,
  };
  const host = new InlineHost(file, route, def, sink, appLogger(ctx.log));
  ctx.onMessage((payload) => {
    const m = payload as ServiceChannelMessage;
    if (m.type === 'message') host.message(m.connId, m.data, m.binary);
  });
  ctx.handleCalls((method, args) => {
    switch (method) {
      case 'info':
        return host.info;
      case 'handshake':
        return host.handshake(args[0] as HandshakeRequest);
      case 'open':
        return host.open(args[0] as OpenInfo);
      case 'close':
        return host.close(args[0] as string, args[1] as number, args[2] as string);
      case 'idle':
        return host.idle();
      case 'cancel':
        return host.cancel();
      default:
        throw new Error(`service host: unknown call "${method}"`);
    }
  });
  ctx.onStop(async () => {
    host.cancel();
    await Promise.race([host.idle(), new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
  });
}
