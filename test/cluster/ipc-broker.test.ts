// The Broker contract for `--workers N`: nodes reach the primary's hub over an IPC channel.
// Here the channel is a MessageChannel (structured clone, like the workers' 'advanced'
// serialization), batched per turn as the server's channels are; the process-level test is
// workers.test.ts.
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { IpcBroker } from '../../src/cluster/ipc-broker.js';
import { batchingEndpoint } from '../../src/cluster/ipc-batching.js';
import { IpcHub } from '../../src/cluster/ipc-hub.js';
import type { IpcEndpoint } from '../../src/cluster/ipc-messages.js';
import { brokerSuite } from './broker-suite.js';

function endpoint(port: MessagePort): IpcEndpoint {
  return {
    send: (m) => port.postMessage(m),
    on: (_e, l) => void port.on('message', l),
    off: (_e, l) => void port.off('message', l),
  };
}

const ports: MessagePort[] = [];
brokerSuite('ipc', async () => ({
  dense: true,
  async nodes(n, history) {
    const hub = new IpcHub(history);
    const list: IpcBroker[] = [];
    for (let i = 0; i < n; i++) {
      const { port1, port2 } = new MessageChannel();
      ports.push(port1, port2);
      const detach = hub.attach(batchingEndpoint(endpoint(port1)));
      const broker = new IpcBroker(batchingEndpoint(endpoint(port2)));
      const close = broker.close.bind(broker);
      // the primary sees a closed worker as gone
      broker.close = async (o) => {
        await close(o);
        detach();
      };
      await broker.start();
      list.push(broker);
    }
    return list;
  },
  async teardown() {
    for (const p of ports) p.close();
  },
}));
