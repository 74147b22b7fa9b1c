/**
 * The peer table: per remote VTEP address, what may come out of its tunnel.
 * The installer (control/installer.ts) fills it with each peer it adds and
 * empties it with each one it removes; the pipeline reads it on decap.
 *
 * Why: in the flannel scheme every host routes for exactly one subnet, and
 * its VTEP (kernel flannel.1 or a vxtap TAP) sends with its VTEP MAC as the
 * inner source MAC, and with a source address in its own subnet (a container,
 * or the VTEP's own `.0` address for traffic the host originates). A frame
 * that claims another source came from a host that is misconfigured or lying,
 * and writing it to our TAP would let it pose as another host's container.
 * So, with the check on (`vxtap run`, unless --no-inner-source-check):
 *
 *   - every inner frame: Ethernet source MAC = the peer's VTEP MAC;
 *   - IPv4:              source address within the peer's subnet (all of it,
 *                        `.0` included);
 *   - ARP (Ethernet/IPv4): sender MAC = the VTEP MAC, sender address within
 *                        the subnet;
 *   - IPv6:              with the peer's IPv6 subnet known (a dual-stack
 *                        peer, the IPv6 overlay), source address within it
 *                        (`<subnet6>::` included); without one, the MAC
 *                        check only (an IPv4-only peer, as before);
 *   - anything else:     the MAC check only.
 *
 * A dual-stack peer may name a second VTEP MAC for IPv6 (flannel's
 * `flannel-v6.<VNI>` device has its own, BackendV6Data.VtepMAC): frames from
 * either of its two MACs pass the MAC check. The second MAC is compared
 * only when the first does not match, so an IPv4 frame pays nothing for it.
 *
 * Rows are keyed by the VTEP's IPv4 address as a signed 32-bit int (`| 0`:
 * a small integer to V8, where most u32 addresses would be heap numbers, which
 * hash slower); the last hit is remembered, and forgotten on any change, so a
 * burst from one peer costs one probe. checkInnerSource reads bytes in place:
 * nothing is allocated per frame.
 */
import * as arp from '../wire/arp';
import * as ethernet from '../wire/ethernet';
import * as ipv4 from '../wire/ipv4';
import * as ipv6 from '../wire/ipv6';

/** A dual-stack peer's IPv6 half, as the check compares it. */
export interface PeerRow6 {
  /** The MAC its IPv6 frames come from (the same as the row's `mac` when one TAP carries both families). */
  readonly mac6: number;
  /** Its IPv6 subnet (network address, no host bits). */
  readonly net6: ipv6.Ipv6Cidr;
}

export interface PeerRow {
  /** The VTEP's public IPv4 (host-order u32). */
  readonly vtep: number;
  /** Its VTEP MAC (48-bit key, wire/addr.ts). */
  readonly mac: number;
  /** Its subnet: the network address (host-order u32) and prefix length. */
  readonly net: number;
  readonly prefixLen: number;
  /** The subnet as the check compares it: (addr & mask) === masked, both as signed 32-bit ints. */
  readonly mask: number;
  readonly masked: number;
  /** The IPv6 half, or null for an IPv4-only peer. */
  readonly v6: PeerRow6 | null;
}

export class PeerTable {
  private readonly rows = new Map<number, PeerRow>();
  /** The last get() hit (lastKey is never a valid key while none: keys are int32). */
  private lastKey = 0.5;
  private lastRow: PeerRow | undefined = undefined;

  /** Adds or replaces the row of VTEP `vtep`; `v6` is a dual-stack peer's IPv6 half. */
  set(vtep: number, mac: number, net: number, prefixLen: number, v6: PeerRow6 | null = null): void {
    if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > 32) throw new RangeError(`prefix length ${prefixLen} is outside 0..32`);
    const mask = prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) | 0;
    this.rows.set(vtep | 0, { vtep: vtep >>> 0, mac, net: net >>> 0, prefixLen, mask, masked: net & mask, v6 });
    this.lastKey = 0.5;
  }

  /**
   * Removes the row of `vtep`; with `net`, only when the row is still that
   * subnet's (a host that re-leased another subnet has replaced it already).
   */
  delete(vtep: number, net?: number): boolean {
    const row = this.rows.get(vtep | 0);
    if (row === undefined) return false;
    if (net !== undefined && row.net !== net >>> 0) return false;
    this.lastKey = 0.5;
    return this.rows.delete(vtep | 0);
  }

  /** The row of VTEP `vtep` (host-order u32, as FrameBatch.senderIpv4 reads it). */
  get(vtep: number): PeerRow | undefined {
    const key = vtep | 0;
    if (key === this.lastKey) return this.lastRow;
    const row = this.rows.get(key);
    if (row !== undefined) {
      this.lastKey = key;
      this.lastRow = row;
    }
    return row;
  }

  get size(): number {
    return this.rows.size;
  }

  list(): PeerRow[] {
    return [...this.rows.values()];
  }
}

// checkInnerSource() results: 0 passes, anything else says what did not.
export const INNER_OK = 0;
/** The sending VTEP has no row (known to the FDB but not installed as a peer). */
export const INNER_NO_ROW = 1;
/** The inner Ethernet source MAC is not the VTEP MAC. */
export const INNER_BAD_MAC = 2;
/** The inner IPv4 source is outside the peer's subnet. */
export const INNER_BAD_IP = 3;
/** An ARP sender MAC that is not the VTEP MAC. */
export const INNER_BAD_ARP_MAC = 4;
/** An ARP sender address outside the peer's subnet. */
export const INNER_BAD_ARP_IP = 5;
/** An IPv4 frame too short to hold the source address: nothing to check it by. */
export const INNER_SHORT = 6;
/** The inner IPv6 source is outside the peer's IPv6 subnet. */
export const INNER_BAD_IP6 = 7;
/** An IPv6 frame too short to hold the source address. */
export const INNER_SHORT6 = 8;

/**
 * Checks the inner frame at buf[off..off+len) (at least an Ethernet header)
 * against `row`. Returns INNER_OK or the first rule it breaks.
 */
export function checkInnerSource(row: PeerRow, buf: Uint8Array, off: number, len: number): number {
  const src = ethernet.srcKey(buf, off);
  if (src !== row.mac && (row.v6 === null || src !== row.v6.mac6)) return INNER_BAD_MAC;
  const type = ethernet.etherType(buf, off);
  const l3 = ethernet.l3Offset(buf, off);
  if (type === ethernet.ETHERTYPE_IPV4) {
    if (len < l3 + ipv4.HEADER_LEN) return INNER_SHORT;
    return (ipv4.src(buf, off + l3) & row.mask) === row.masked ? INNER_OK : INNER_BAD_IP;
  }
  if (type === ethernet.ETHERTYPE_ARP && arp.isEthIpv4(buf, off + l3, len - l3)) {
    if (arp.senderMacKey(buf, off + l3) !== row.mac) return INNER_BAD_ARP_MAC;
    return (arp.senderIp(buf, off + l3) & row.mask) === row.masked ? INNER_OK : INNER_BAD_ARP_IP;
  }
  if (type === ethernet.ETHERTYPE_IPV6 && row.v6 !== null) {
    if (len < l3 + ipv6.HEADER_LEN) return INNER_SHORT6;
    return ipv6.cidrContains(row.v6.net6, buf, off + l3 + ipv6.field.SRC) ? INNER_OK : INNER_BAD_IP6;
  }
  return INNER_OK;
}
