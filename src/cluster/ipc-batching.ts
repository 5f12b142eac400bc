/**
 * Under load many cluster messages cross a worker's IPC channel per event-loop turn: a room's
 * publishes one way, their deliveries the other. Sent one by one, each costs a serialisation,
 * a write to the pipe and a wake-up of the other side, which then hands each delivery to its
 * sockets in a turn of its own. Gathered per turn they cost one of each, and the receiving
 * worker writes a whole turn's room messages to each socket at once.
 */
import { IPC_TAG, isTagged, type IpcEndpoint } from './ipc-messages.js';
import { perTurn } from './turn-batch.js';

interface Batch {
  [IPC_TAG]: 'batch';
  items: unknown[];
}

/** Both ends of a channel must use it: it sends batches and takes them apart. Order is kept. */
export function batchingEndpoint(endpoint: IpcEndpoint): IpcEndpoint {
  const send = perTurn<unknown>((items) => endpoint.send(items.length === 1 ? items[0] : ({ [IPC_TAG]: 'batch', items } satisfies Batch)));
  const unwrapping = new Map<(message: unknown) => void, (message: unknown) => void>();
  return {
    send,
    on(_event, listener) {
      const unwrap = (m: unknown): void => {
        if (!isTagged(m) || m[IPC_TAG] !== 'batch') return listener(m);
        for (const item of (m as Batch).items) listener(item);
      };
      unwrapping.set(listener, unwrap);
      endpoint.on('message', unwrap);
    },
    off(_event, listener) {
      const unwrap = unwrapping.get(listener);
      if (unwrap === undefined) return;
      unwrapping.delete(listener);
      endpoint.off('message', unwrap);
    },
  };
}
