/**
 * Every stream, bucket, subject and key the NATS adapter uses, from one prefix. Names that
 * come from users (rooms, channels, node and connection ids) are written as base64url
 * tokens, since subject and key tokens cannot hold `.`, `*`, `>` or spaces.
 */
import { Buffer } from 'node:buffer';

/** Room subjects are spread over this many partitions; a node runs one consumer per partition it follows. */
export const PARTITIONS = 16;

/** One subject or key token for any string ('=' never occurs in base64url output, so it stands for ''). */
export function token(s: string): string {
  return s === '' ? '=' : Buffer.from(s, 'utf8').toString('base64url');
}

export function untoken(t: string): string {
  return t === '=' ? '' : Buffer.from(t, 'base64url').toString('utf8');
}

/** FNV-1a over the UTF-16 code units: stable across nodes and versions, and cheap. */
export function partitionOf(room: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < room.length; i++) {
    h ^= room.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % PARTITIONS;
}

export class NatsNames {
  readonly prefix: string;
  /**
   * The name of the stream of every room's log. A stream made to replace a lost one gets this
   * name with a suffix (nodes find the stream by its subjects), because nats-server removes a
   * deleted stream's files after answering, and a stream made again at once under the same
   * name can lose its first files to that removal.
   */
  readonly stream: string;
  /** KV bucket of presence entries (`p.<room>.<node>.<conn>`) and of the nodes that ever held a lease (`n.<node>`). */
  readonly presenceBucket: string;
  /** KV bucket with a TTL: leases (`l.<node>`) and janitor claims (`j.<node>`). */
  readonly leaseBucket: string;

  constructor(prefix: string) {
    if (!/^[A-Za-z0-9_-]+$/.test(prefix)) throw new TypeError(`prefix ${JSON.stringify(prefix)}: use letters, digits, _ and -`);
    this.prefix = prefix;
    // the prefix is kept as given (not upper-cased): prefixes that differ only in case stay apart
    this.stream = `${prefix}_rooms`;
    this.presenceBucket = `${prefix}_presence`;
    this.leaseBucket = `${prefix}_leases`;
  }

  /** Subjects the room stream holds. */
  get roomWildcard(): string {
    return `${this.prefix}.h.>`;
  }

  /** One subject the room stream holds, to find the stream by. */
  get roomProbe(): string {
    return `${this.prefix}.h.0.probe`;
  }

  roomSubject(room: string): string {
    return `${this.prefix}.h.${partitionOf(room)}.${token(room)}`;
  }

  partitionFilter(p: number): string {
    return `${this.prefix}.h.${p}.>`;
  }

  /** The room of a room subject, or null for anything else. */
  roomOf(subject: string): string | null {
    const parts = subject.split('.');
    return parts.length === 4 && parts[1] === 'h' ? untoken(parts[3]!) : null;
  }

  channelSubject(channel: string): string {
    return `${this.prefix}.c.${token(channel)}`;
  }

  presenceSubject(room: string): string {
    return `${this.prefix}.p.${token(room)}`;
  }

  presenceKey(room: string, node: string, connId: string): string {
    return `p.${token(room)}.${token(node)}.${token(connId)}`;
  }

  roomPresenceFilter(room: string): string {
    return `p.${token(room)}.>`;
  }

  nodePresenceFilter(node: string): string {
    return `p.*.${token(node)}.*`;
  }

  connPresenceFilter(room: string, connId: string): string {
    return `p.${token(room)}.*.${token(connId)}`;
  }

  /** The room of a presence key. */
  roomOfPresenceKey(key: string): string {
    return untoken(key.split('.')[1] ?? '');
  }

  registryKey(node: string): string {
    return `n.${token(node)}`;
  }

  leaseKey(node: string): string {
    return `l.${token(node)}`;
  }

  claimKey(node: string): string {
    return `j.${token(node)}`;
  }

  /** The node of a registry, lease or claim key. */
  nodeOfKey(key: string): string {
    return untoken(key.split('.')[1] ?? '');
  }
}
