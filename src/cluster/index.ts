/**
 * Scale-out: rooms, presence, history, direct sends and cluster events across processes and
 * machines, over one Broker interface with four adapters.
 * @module
 */
import type { Cluster, ClusterFactory } from '../app/cluster.js';
import type { Broker } from './broker.js';
import { BrokerLink } from './broker-link.js';
import { ClusterRooms, type ClusterRoomsOptions } from './cluster-rooms.js';
import { BrokerLiveLog } from './broker-live-log.js';

export type { Broker, BrokerStatus, BrokerState, Position, RoomMessage, RoomReset, ReadResult, PresenceEntry, PresenceChange, NodeInfo } from './broker.js';
export { BrokerUnavailableError } from './broker.js';
export { MemoryBroker, type MemoryBrokerOptions } from './memory-broker.js';
export { MemoryHub, type HistoryOptions } from './memory-hub.js';
export { ClusterRooms, type ClusterRoomsOptions } from './cluster-rooms.js';
export { BrokerLink, nodeOf } from './broker-link.js';
export { BrokerLiveLog } from './broker-live-log.js';

export interface BrokerClusterOptions extends ClusterRoomsOptions {
  /**
   * How often an idle live value is repeated in its log: keep it well under the broker's
   * history TTL, or a value no one changes would leave the history (default 60 s).
   */
  liveRefreshMs?: number;
}

/** The app's cluster over a started broker. */
export function brokerCluster(broker: Broker, options: BrokerClusterOptions = {}): ClusterFactory {
  return (local): Cluster => {
    const rooms = new ClusterRooms(broker, local, options);
    const link = new BrokerLink(broker, local);
    return {
      rooms,
      link,
      liveLog: new BrokerLiveLog(broker),
      ...(options.liveRefreshMs !== undefined ? { liveRefreshMs: options.liveRefreshMs } : {}),
      start: () => link.start(),
      async close(o = {}) {
        await link.stop();
        await broker.close(o);
      },
    };
  };
}

export { connectBroker, type BrokerOptions } from './connect-broker.js';
