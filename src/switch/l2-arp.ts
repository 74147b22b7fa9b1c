/**
 * The ARP suppression table of L2 mode: overlay IPv4 -> MAC, snooped from
 * decapsulated ARP replies and gratuitous ARPs (the kernel vxlan's `proxy`
 * flag and its neighbour table, or EVPN's ARP suppression). An ARP request
 * from the TAP for an address held here, whose MAC sits behind a remote VTEP,
 * is answered locally instead of flooded to every VTEP of the segment.
 *
 * Entries age like the FDB's learned ones (ageOut) and the table is bounded
 * like it (`max`: a new address past it is not held; no counter of its own,
 * the ARP request is simply flooded). The control plane may add entries
 * (set()); those are static: never aged, never overwritten by snooping.
 * Same lookup() as ArpTable, so the ARP responder answers from either.
 */
import { formatIpv4, macStringFromKey } from '../wire/addr';
import { DEFAULT_AGEING_MS, DEFAULT_FDB_MAX } from './fdb';

interface L2ArpEntry {
  mac: number;
  updatedAt: number;
  /** Set by the control plane: never aged, never replaced by snooping. */
  pinned: boolean;
}

export class L2ArpTable {
  private readonly byIp = new Map<number, L2ArpEntry>();
  private snooped = 0;

  constructor(readonly max = DEFAULT_FDB_MAX, readonly ageingMs = DEFAULT_AGEING_MS) {}

  get size(): number {
    return this.byIp.size;
  }

  /** The MAC key for an IPv4 (host-order u32), or undefined. */
  lookup(ip: number): number | undefined {
    return this.byIp.get(ip)?.mac;
  }

  /** A static entry, from the control plane. */
  set(ip: number, mac: number, now = Date.now()): void {
    const old = this.byIp.get(ip);
    if (old !== undefined && !old.pinned) this.snooped--;
    this.byIp.set(ip, { mac, updatedAt: now, pinned: true });
  }

  /**
   * Snooped from a decapsulated ARP (sender IP -> sender MAC). Returns
   * whether it is held now (false: a static entry holds the IP, or the table
   * is full). A refresh of the same mapping is one field write.
   */
  snoop(ip: number, mac: number, now: number): boolean {
    const old = this.byIp.get(ip);
    if (old !== undefined) {
      if (old.pinned) return false;
      old.mac = mac;
      old.updatedAt = now;
      return true;
    }
    if (this.snooped >= this.max) return false;
    this.byIp.set(ip, { mac, updatedAt: now, pinned: false });
    this.snooped++;
    return true;
  }

  /**
   * RFC 826's merge, for the sender of an ordinary ARP request: replaces the
   * MAC of an IP held already (snooped, not static). Adds nothing. Returns
   * whether an entry was updated.
   */
  merge(ip: number, mac: number, now: number): boolean {
    const old = this.byIp.get(ip);
    if (old === undefined || old.pinned) return false;
    old.mac = mac;
    old.updatedAt = now;
    return true;
  }

  delete(ip: number): boolean {
    const old = this.byIp.get(ip);
    if (old === undefined) return false;
    if (!old.pinned) this.snooped--;
    return this.byIp.delete(ip);
  }

  /** Removes snooped entries not refreshed for `ageingMs`. Returns how many. */
  ageOut(now = Date.now()): number {
    const limit = now - this.ageingMs;
    let n = 0;
    for (const [ip, e] of this.byIp) {
      if (!e.pinned && e.updatedAt <= limit) {
        this.byIp.delete(ip);
        this.snooped--;
        n++;
      }
    }
    return n;
  }

  /** For `vxtap arp`, tests and traces. */
  list(): { ip: string; mac: string; kind: 'static' | 'learned'; updatedAt: number }[] {
    return [...this.byIp].map(([ip, e]) => ({ ip: formatIpv4(ip), mac: macStringFromKey(e.mac), kind: e.pinned ? 'static' : 'learned', updatedAt: e.updatedAt }));
  }
}
