/**
 * The one seam between the control plane and the data plane (flannel's
 * subnet.Manager + WatchLeases, cut down): a peer source gives a snapshot of
 * the remote hosts, then batches of Added/Removed events. The consumer (one
 * loop) turns each event into its route, ARP entry and FDB entry; it never
 * asks where peers come from (a static file, etcd, a test double).
 */
import { isIpv6, parseIpv6 } from './ip6';
import { formatMac, parseIpv4 } from '../wire/addr';
import type { Origin } from './origin';

/** A remote host: its subnet behind its VTEP, where to send VXLAN to, and its VTEP's MAC. */
export interface Peer {
  /** The subnet behind the peer, e.g. '10.44.2.0/24' (network address, no host bits). */
  readonly subnet: string;
  /** The peer's underlay address: outer IPv4 destination of VXLAN packets. */
  readonly publicIp: string;
  /** The peer's VTEP MAC, lower-case aa:bb:cc:dd:ee:ff. */
  readonly vtepMac: string;
  /**
   * How old the lease is, for settling collisions (the older wins): etcd's
   * create revision of the key. Absent: the order the source gave it in.
   * Not part of the peer's identity (samePeer).
   */
  readonly order?: number;
  /**
   * A dual-stack lease's IPv6 half (docs/ipv6-control.md): the IPv6 subnet
   * behind the peer ('fc00:0:0:34::/64'), its IPv6 underlay address and the
   * MAC of its IPv6 VTEP. Each absent when the lease has none; the lease
   * guard removes all three when it refuses the half. The installer turns
   * subnet6 and vtepMac6 into the IPv6 overlay's ND entry and route when
   * this host has an IPv6 subnet; the IPv6 traffic goes to publicIp (the
   * IPv6 overlay over the IPv4 underlay).
   */
  readonly subnet6?: string;
  readonly publicIpv6?: string;
  readonly vtepMac6?: string;
  /** Where the peer came from (the etcd key, the file's line), for `vxtap explain`; not part of its identity. */
  readonly source?: Origin;
}

export type PeerEvent = { readonly type: 'added' | 'removed'; readonly peer: Peer };

/** The one seam between control plane and data plane: a snapshot, then batches of events (flannel's {Added|Removed, Lease} batches). */
export interface PeerSource {
  snapshot(): Promise<Peer[]>;
  /** Calls onEvents with each batch of changes after the snapshot. */
  watch(onEvents: (batch: PeerEvent[]) => void): void;
  close(): Promise<void>;
}

/**
 * A MAC for a host that names none (a static file needs no MAC): a locally
 * administered unicast MAC, 02:76 ('v' = 0x76) + the 4 octets of its IPv4
 * address, e.g. 192.168.90.2 -> 02:76:c0:a8:5a:02. First octet 0x02: bit 1
 * (locally administered) set, bit 0 (multicast) clear. Unique as long as the
 * public IPs are. An IPv6 public IP (issue #13) gives 02:76 + its low 32
 * bits (fd00::c0a8:5a02 -> 02:76:c0:a8:5a:02): unique as long as the VTEPs
 * of one segment differ there, as addresses on one underlay prefix do.
 */
export function macFromIp(ip: string): string {
  const a = isIpv6(ip) ? Number(parseIpv6(ip) & 0xffff_ffffn) : parseIpv4(ip);
  const b = Buffer.from([0x02, 0x76, a >>> 24, (a >>> 16) & 0xff, (a >>> 8) & 0xff, a & 0xff]);
  return formatMac(b);
}

export function samePeer(a: Peer, b: Peer): boolean {
  return a.subnet === b.subnet && a.publicIp === b.publicIp && a.vtepMac.toLowerCase() === b.vtepMac.toLowerCase() &&
    a.subnet6 === b.subnet6 && a.publicIpv6 === b.publicIpv6 && a.vtepMac6?.toLowerCase() === b.vtepMac6?.toLowerCase();
}

/**
 * The events that turn `before` into `after`, keyed by subnet. A peer whose
 * MAC or public IP changed for the same subnet is `removed` (old) then
 * `added` (new), as flannel sees a re-leased subnet, so the consumer tears
 * down the old route/ARP/FDB before it installs the new one. All removals come
 * first, then all additions; each group keeps the order of its input list.
 */
export function diffPeers(before: readonly Peer[], after: readonly Peer[]): PeerEvent[] {
  const old = new Map(before.map((p) => [p.subnet, p]));
  const now = new Map(after.map((p) => [p.subnet, p]));
  const removed: PeerEvent[] = [];
  const added: PeerEvent[] = [];
  for (const p of old.values()) {
    const q = now.get(p.subnet);
    if (!q || !samePeer(p, q)) removed.push({ type: 'removed', peer: p });
  }
  for (const q of now.values()) {
    const p = old.get(q.subnet);
    if (!p || !samePeer(p, q)) added.push({ type: 'added', peer: q });
  }
  return [...removed, ...added];
}
