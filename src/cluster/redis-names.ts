/**
 * Every Redis key and channel the Redis adapter uses, under one configurable prefix. A room's
 * keys and live channel share the `{r:<room>}` hash tag, so on Redis Cluster they live in one
 * slot and a room's scripts never cross slots.
 *
 *   <p>:{r:<room>}:meta       hash e (epoch), s (last offset)
 *   <p>:{r:<room>}:log        stream of the room's messages, ids <offset>-0
 *   <p>:{r:<room>}:pres       hash connId -> presence entry (JSON)
 *   <p>:{r:<room>}:live       channel: every appended message, "<offset>:<epoch>:<payload>"
 *   <p>:{r:<room>}:presence   channel: joins and leaves (JSON)
 *   <p>:node:<lease>          a node's lease (PX leaseMs); <lease> = <nodeId>.<n>
 *   <p>:node:<lease>:pres     set of "<room>\0<connId>" entries written under that lease
 *   <p>:nodes                 zset of leases, live or not yet cleaned up (score: lease start)
 *   <p>:janitor:<lease>       lock of the node cleaning up a dead lease
 *   <p>:ch:<channel>          channel of Broker.publish/subscribe
 *   <p>:probe:<nodeId>        channel of this node's pub/sub liveness probe
 */

/** `{` and `}` would end the hash tag early (two rooms sharing a slot by accident), `%` keeps it reversible. */
function tagSafe(room: string): string {
  return room.replace(/[%{}]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
}

export class RedisNames {
  readonly #p: string;

  constructor(prefix: string) {
    this.#p = prefix;
  }

  #room(room: string, what: string): string {
    return `${this.#p}:{r:${tagSafe(room)}}:${what}`;
  }

  meta(room: string): string {
    return this.#room(room, 'meta');
  }

  log(room: string): string {
    return this.#room(room, 'log');
  }

  presence(room: string): string {
    return this.#room(room, 'pres');
  }

  live(room: string): string {
    return this.#room(room, 'live');
  }

  presenceChannel(room: string): string {
    return this.#room(room, 'presence');
  }

  lease(lease: string): string {
    return `${this.#p}:node:${lease}`;
  }

  leaseIndex(lease: string): string {
    return `${this.#p}:node:${lease}:pres`;
  }

  get roster(): string {
    return `${this.#p}:nodes`;
  }

  janitor(lease: string): string {
    return `${this.#p}:janitor:${lease}`;
  }

  channel(channel: string): string {
    return `${this.#p}:ch:${channel}`;
  }

  probe(nodeId: string): string {
    return `${this.#p}:probe:${nodeId}`;
  }
}

/** The node of a lease id (`<nodeId>.<n>`). */
export function leaseNode(lease: string): string {
  const dot = lease.lastIndexOf('.');
  return dot > 0 ? lease.slice(0, dot) : lease;
}
