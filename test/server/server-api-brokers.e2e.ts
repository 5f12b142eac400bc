// The server API across two `switchboard serve` processes over a real redis-server and a real
// nats-server (each on a free port with its own data directory, stopped by PID): one guest on
// each node, every call made to the first node, and each must reach the guest of the second.
import { test, after } from 'node:test';
import { join } from 'node:path';
import type { CommandClient } from '../../src/client/index.js';
import { ServerApiClient } from '../../src/client/server-api-client.js';
import { REPO } from '../app/helpers.js';
import { BrokerProcess, startNode, type Node } from '../cluster/harness.js';
import { everyCallReachesBoth, guest } from './server-api-guests.js';

const TOKEN = 'test-token-0123456789';
const nodes: Node[] = [];
const brokers: BrokerProcess[] = [];
const clients: CommandClient[] = [];
after(async () => {
  for (const c of clients) c.close();
  await Promise.all(nodes.map((n) => n.process.kill()));
  for (const b of brokers) await b.teardown();
});

for (const kind of ['redis', 'nats'] as const) {
  test(`${kind}: every call made to one node reaches the guest of the other`, async () => {
    const broker = kind === 'redis' ? await BrokerProcess.redis() : await BrokerProcess.nats();
    brokers.push(broker);
    const serve = async (): Promise<Node> => {
      const node = await startNode(join(REPO, 'examples/services'), ['--broker', broker.url, '--api-token', TOKEN]);
      nodes.push(node);
      return node;
    };
    const [a, b] = await Promise.all([serve(), serve()]);
    const ann = await guest(a, `ann-${kind}`, clients);
    const bob = await guest(b, `bob-${kind}`, clients);
    await everyCallReachesBoth(new ServerApiClient(a.url, { token: TOKEN }), ann, bob);
  });
}
