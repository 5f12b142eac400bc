// Child-side entry for an endpoint service with isolation 'worker' or 'process': runs the
// app layer's InlineHost in this thread/process, with a HostSink that turns actions and
// queries into plain-data messages to the server (see isolated-service-host.ts).
import { inlineHostFactory } from '../app/inline-host.js';
import type { HostQuery, HostSink, OpenInfo } from '../app/service-host.js';
import type { HandshakeRequest } from '../app/service.js';
import type { ChildContext } from './child-runtime.js';
import { PACKED_MESSAGE, PACKED_SEND, SINK_TARGET, type IsolatedServiceData, type ServiceChannelMessage } from './isolated-service-channel.js';
import { packable } from './packed-records.js';

export async function run(ctx: ChildContext): Promise<void> {
  const { file, route, isolation } = ctx.data as IsolatedServiceData;
  // the attached connections by the slot the server gave each, and back
  const ids: Array<string | undefined> = [];
  const slots = new Map<string, number>();
  const sink: HostSink = {
    act: (action) => {
      const slot = action.type === 'send' ? slots.get(action.to) : undefined;
      if (slot !== undefined && action.type === 'send' && packable(action.data)) ctx.postPacked(PACKED_SEND, slot, action.data, action.binary);
      else ctx.post({ type: 'act', action } satisfies ServiceChannelMessage);
    },
    ask: (query: HostQuery) => ctx.call(SINK_TARGET, 'ask', [query]) as never,
  };
  const host = await inlineHostFactory(ctx.log, isolation)(file, route, sink);
  ctx.onMessage((payload) => {
    const m = payload as ServiceChannelMessage;
    if (m.type === 'event') host.clusterEvent?.(m.event, m.data, m.from);
  });
  ctx.onPacked((tag, slot, data, binary) => {
    const id = ids[slot];
    if (tag === PACKED_MESSAGE && id !== undefined) host.message(id, data, binary);
  }, 'string');
  ctx.handleCalls((method, args) => {
    switch (method) {
      case 'info':
        return host.info;
      case 'handshake':
        return host.handshake(args[0] as HandshakeRequest);
      case 'open': {
        const info = args[0] as OpenInfo;
        const slot = args[1] as number;
        ids[slot] = info.id;
        slots.set(info.id, slot);
        return host.open(info);
      }
      case 'close': {
        const id = args[0] as string;
        const slot = slots.get(id);
        if (slot !== undefined) {
          slots.delete(id);
          ids[slot] = undefined;
        }
        return host.close(id, args[1] as number, args[2] as string);
      }
      case 'idle':
        return host.idle(args[0] as string | undefined);
      case 'cancel':
        return host.cancel(args[0] as string | undefined);
      default:
        throw new Error(`service host: unknown call "${method}"`);
    }
  });
  ctx.onStop(async () => {
    host.cancel();
    await Promise.race([host.idle(), new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
  });
}
