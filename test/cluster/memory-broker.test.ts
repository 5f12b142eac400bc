// The Broker contract for the in-process adapter: several nodes sharing one hub.
import { MemoryBroker, MemoryHub } from '../../src/cluster/index.js';
import { brokerSuite } from './broker-suite.js';

brokerSuite('memory', async () => ({
  dense: true,
  async nodes(n, history) {
    const hub = new MemoryHub(history);
    const list = Array.from({ length: n }, () => new MemoryBroker({ hub }));
    for (const b of list) await b.start();
    return list;
  },
  async teardown() {},
}));
