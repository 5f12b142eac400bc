/**
 * The address a limit counts a client by. Behind a reverse proxy every connection comes from
 * the proxy, so the client's own address is read from `Forwarded` (RFC 7239) or
 * `X-Forwarded-For` — but only when the peer is a proxy the configuration trusts: any client
 * can send those headers, and believing them from anyone would let one client pose as many.
 */
import { BlockList, isIP } from 'node:net';

/** Which peers are proxies whose forwarding headers are believed. */
export interface TrustedProxies {
  trusts(address: string): boolean;
}

const NAMED: Record<string, Array<[string, number, 'ipv4' | 'ipv6']>> = {
  loopback: [
    ['127.0.0.0', 8, 'ipv4'],
    ['::1', 128, 'ipv6'],
  ],
  private: [
    ['10.0.0.0', 8, 'ipv4'],
    ['172.16.0.0', 12, 'ipv4'],
    ['192.168.0.0', 16, 'ipv4'],
    ['fc00::', 7, 'ipv6'],
  ],
};

/**
 * `spec`: addresses, CIDR ranges (`10.0.0.0/8`, `fd00::/8`) and the names `loopback` and
 * `private`. Throws a TypeError naming an entry it cannot read.
 */
export function trustedProxies(spec: readonly string[]): TrustedProxies {
  if (spec.length === 0) return { trusts: () => false };
  const list = new BlockList();
  for (const raw of spec) {
    const entry = raw.trim();
    if (entry === '') continue;
    const named = NAMED[entry];
    if (named) {
      for (const [net, prefix, family] of named) list.addSubnet(net, prefix, family);
      continue;
    }
    const slash = entry.indexOf('/');
    const address = slash === -1 ? entry : entry.slice(0, slash);
    const version = isIP(address);
    const prefix = slash === -1 ? (version === 6 ? 128 : 32) : Number(entry.slice(slash + 1));
    if (version === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > (version === 6 ? 128 : 32)) {
      throw new TypeError(`trust-proxy: ${JSON.stringify(entry)} is not an address, a CIDR range, 'loopback' or 'private'`);
    }
    list.addSubnet(address, prefix, version === 6 ? 'ipv6' : 'ipv4');
  }
  return { trusts: (address) => matches(list, address) };
}

function matches(list: BlockList, address: string): boolean {
  const plain = unmapped(address);
  const version = isIP(plain);
  return version !== 0 && list.check(plain, version === 6 ? 'ipv6' : 'ipv4');
}

/** `::ffff:10.1.2.3` (an IPv4 peer on a dual-stack socket) as `10.1.2.3`. */
export function unmapped(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/**
 * The client's address: the peer's, unless the peer is a trusted proxy; then the nearest
 * address in the forwarding chain that is not itself a trusted proxy (reading from the
 * right, the end the proxies appended to). A chain of trusted proxies only: its first entry.
 */
export function clientAddress(peer: string, headers: Record<string, string | string[] | undefined>, trusted: TrustedProxies): string {
  const direct = unmapped(peer);
  if (!trusted.trusts(direct)) return direct;
  const chain = forwardedChain(headers);
  if (chain.length === 0) return direct;
  for (let i = chain.length - 1; i >= 0; i--) {
    if (!trusted.trusts(chain[i]!)) return chain[i]!;
  }
  return chain[0]!;
}

/** Addresses in forwarding order (client first); `Forwarded` wins over `X-Forwarded-For`. Entries that are not IP addresses end the chain's trust: they are returned as they are. */
function forwardedChain(headers: Record<string, string | string[] | undefined>): string[] {
  const forwarded = joined(headers['forwarded']);
  if (forwarded !== undefined) {
    const out: string[] = [];
    for (const element of forwarded.split(',')) {
      for (const pair of element.split(';')) {
        const eq = pair.indexOf('=');
        if (eq === -1 || pair.slice(0, eq).trim().toLowerCase() !== 'for') continue;
        out.push(nodeAddress(pair.slice(eq + 1).trim().replace(/^"|"$/g, '')));
      }
    }
    return out;
  }
  const xff = joined(headers['x-forwarded-for']);
  return xff === undefined ? [] : xff.split(',').map((s) => unmapped(s.trim())).filter((s) => s !== '');
}

/** RFC 7239 node: `192.0.2.1`, `192.0.2.1:8080`, `[2001:db8::1]:8080`, `unknown`, `_hidden`. */
function nodeAddress(node: string): string {
  if (node.startsWith('[')) {
    const end = node.indexOf(']');
    return end === -1 ? node : unmapped(node.slice(1, end));
  }
  const colon = node.indexOf(':');
  return colon !== -1 && node.indexOf(':', colon + 1) === -1 ? node.slice(0, colon) : unmapped(node);
}

function joined(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}
