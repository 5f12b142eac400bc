/**
 * The primary's side of `--workers N` without an external broker: one MemoryHub that every
 * worker reaches through its IPC channel. A worker that exits is a node death the hub cleans
 * up at once (no lease to wait out): its presence entries leave and its feeds stop.
 */
import type { NodeInfo } from './broker.js';
import { MemoryHub, type HistoryOptions } from './memory-hub.js';
import { IPC_TAG, isTagged, type HubRequest, type HubToWorker, type IpcEndpoint, type WorkerToHub } from './ipc-messages.js';

export class IpcHub {
  readonly hub: MemoryHub;

  constructor(options: HistoryOptions = {}) {
    this.hub = new MemoryHub(options);
  }

  nodes(): NodeInfo[] {
    return this.hub.nodes();
  }

  /** Serves one worker; call the returned function when the worker is gone. */
  attach(endpoint: IpcEndpoint): () => void {
    const subs = new Map<number, () => void>();
    const nodes = new Set<string>();
    const send = (m: HubToWorker): void => {
      try {
        endpoint.send(m);
      } catch {
        /* the worker is gone: its exit detaches it */
      }
    };
    const onMessage = (m: unknown): void => {
      if (!isTagged(m) || m[IPC_TAG] !== 'req') return;
      const { id, req } = m as WorkerToHub;
      let value: unknown;
      try {
        value = this.#handle(req, subs, nodes, send);
      } catch (err) {
        send({ [IPC_TAG]: 'res', id, ok: false, error: err instanceof Error ? err.message : String(err) });
        return;
      }
      send({ [IPC_TAG]: 'res', id, ok: true, value: value ?? null });
    };
    endpoint.on('message', onMessage);
    return () => {
      endpoint.off('message', onMessage);
      for (const undo of subs.values()) undo();
      subs.clear();
      for (const node of nodes) this.hub.leave(node);
      nodes.clear();
    };
  }

  #handle(req: HubRequest, subs: Map<number, () => void>, nodes: Set<string>, send: (m: HubToWorker) => void): unknown {
    const hub = this.hub;
    switch (req.op) {
      case 'join':
        nodes.add(req.node);
        hub.join(req.node);
        return null;
      case 'leave':
        for (const undo of subs.values()) undo();
        subs.clear();
        // the grace period is the worker's to wait out; by now its connections are closed
        for (const node of nodes) hub.leave(node);
        nodes.clear();
        return null;
      case 'publish':
        hub.publish(req.channel, req.payload);
        return true;
      case 'subscribe':
        subs.set(req.sub, hub.subscribe(req.channel, (payload) => send({ [IPC_TAG]: 'msg', sub: req.sub, payload })));
        return null;
      case 'append':
        return hub.append(req.room, req.payload);
      case 'follow':
        subs.set(req.sub, hub.follow(req.room, (message) => send({ [IPC_TAG]: 'room', sub: req.sub, message })));
        return null;
      case 'read':
        return hub.read(req.room, req.after, req.limit);
      case 'top':
        return hub.top(req.room);
      case 'presenceSet':
        hub.presenceSet(req.room, req.entry);
        return null;
      case 'presenceDelete':
        hub.presenceDelete(req.room, req.connId);
        return null;
      case 'presenceList':
        return hub.presenceList(req.room);
      case 'watchPresence':
        subs.set(req.sub, hub.watchPresence(req.room, (change) => send({ [IPC_TAG]: 'presence', sub: req.sub, change })));
        return null;
      case 'unsubscribe':
        subs.get(req.sub)?.();
        subs.delete(req.sub);
        return null;
      case 'nodes':
        return hub.nodes();
    }
  }
}
