/**
 * The neighbour table for IPv6: overlay IPv6 address -> MAC, the IPv6
 * counterpart of ArpTable (`ip -6 neigh show dev flannel-v6.1`). In the
 * flannel scheme it holds one entry per remote host: `<peer subnet6>::` ->
 * the peer's VTEP MAC. The ND responder answers Neighbor Solicitations from
 * it, so ND for known addresses never crosses the network.
 *
 * A 16-byte key does not fit a number, and a string key would cost a string
 * per frame. So entries sit in buckets under a 32-bit hash of the address,
 * and a lookup hashes the bytes where they lie in the frame and compares
 * them: no allocation per lookup.
 */
import { WireError } from '../errors';
import { macStringFromKey } from '../wire/addr';
import * as ipv6 from '../wire/ipv6';

/** What the ND responder answers from. */
export interface NdAnswers {
  /** The MAC key for the IPv6 address at buf[off..off+16), or undefined. */
  lookup(buf: Uint8Array, off: number): number | undefined;
}

interface NdEntry {
  readonly addr: Buffer;
  mac: number;
}

/**
 * The four 32-bit words mixed (multiply-xorshift), so that addresses that
 * differ in any word, as subnets `<prefix>::` do in their high words only,
 * land in different buckets.
 */
export function addrHash(buf: Uint8Array, off: number): number {
  let h = 0x811c9dc5;
  for (let w = 0; w < 16; w += 4) {
    const v = (buf[off + w]! << 24) | (buf[off + w + 1]! << 16) | (buf[off + w + 2]! << 8) | buf[off + w + 3]!;
    h = Math.imul(h ^ v, 0x9e3779b1);
    h ^= h >>> 15;
  }
  return h >>> 0;
}

export class NdTable implements NdAnswers {
  private readonly buckets = new Map<number, NdEntry[]>();
  private count = 0;

  /** `hash` is addrHash; tests pass a constant one to put every entry in one bucket. */
  constructor(private readonly hash: (buf: Uint8Array, off: number) => number = addrHash) {}

  get size(): number {
    return this.count;
  }

  lookup(buf: Uint8Array, off: number): number | undefined {
    const bucket = this.buckets.get(this.hash(buf, off));
    if (bucket === undefined) return undefined;
    // An index loop, not for-of: no iterator object per lookup.
    for (let i = 0; i < bucket.length; i++) {
      const e = bucket[i]!;
      if (ipv6.addrEquals(e.addr, 0, buf, off)) return e.mac;
    }
    return undefined;
  }

  /** The MAC key for an address in text, or undefined (control plane, tests). */
  lookupText(addr: string): number | undefined {
    return this.lookup(ipv6.parseAddress(addr), 0);
  }

  /**
   * Sets the MAC of a unicast address (text or 16 bytes). Multicast and "::"
   * are refused: no Neighbor Solicitation asks for them (RFC 4861 section
   * 7.1.1), so such an entry would be a control-plane bug.
   */
  set(addr: string | Uint8Array, mac: number): void {
    const a = Buffer.from(typeof addr === 'string' ? ipv6.parseAddress(addr) : addr);
    if (a.length !== ipv6.ADDR_LEN) throw new WireError(`an IPv6 address is ${ipv6.ADDR_LEN} bytes, not ${a.length}`);
    if (ipv6.isMulticastAddr(a, 0) || ipv6.isUnspecifiedAddr(a, 0)) {
      throw new WireError(`${ipv6.formatAddress(a)} is not a unicast address: no neighbour entry for it`);
    }
    const h = this.hash(a, 0);
    const bucket = this.buckets.get(h);
    if (bucket === undefined) {
      this.buckets.set(h, [{ addr: a, mac }]);
      this.count++;
      return;
    }
    const old = bucket.find((e) => e.addr.equals(a));
    if (old !== undefined) {
      old.mac = mac;
      return;
    }
    bucket.push({ addr: a, mac });
    this.count++;
  }

  delete(addr: string | Uint8Array): boolean {
    const a = typeof addr === 'string' ? ipv6.parseAddress(addr) : addr;
    const h = this.hash(a, 0);
    const bucket = this.buckets.get(h);
    if (bucket === undefined) return false;
    const i = bucket.findIndex((e) => ipv6.addrEquals(e.addr, 0, a, 0));
    if (i < 0) return false;
    bucket.splice(i, 1);
    if (bucket.length === 0) this.buckets.delete(h);
    this.count--;
    return true;
  }

  /** For `vxtap arp`-like listings and traces; RFC 5952 text. */
  list(): { ip: string; mac: string }[] {
    const out: { ip: string; mac: string }[] = [];
    for (const bucket of this.buckets.values()) for (const e of bucket) out.push({ ip: ipv6.formatAddress(e.addr), mac: macStringFromKey(e.mac) });
    return out;
  }
}
