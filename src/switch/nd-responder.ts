/**
 * The ND responder, the IPv6 counterpart of the ARP responder: a Neighbor
 * Solicitation from the TAP for an address in the table is turned into its
 * Neighbor Advertisement in place, in the same buffer, and goes back to the
 * TAP. Nothing crosses the network. It lets the kernel route
 * `<peer subnet6> via <peer subnet6>:: onlink` with no static neighbour
 * entries, as ARP does for IPv4.
 *
 * Both kinds of NS are answered: multicast to the target's solicited-node
 * group (address resolution) and unicast to the target (the reachability
 * probe of RFC 4861 section 7.3, sent 5 s after an entry is first used). An
 * NS from "::" (duplicate address detection) for an address in the table is
 * answered too, to all-nodes: that address is a peer's, so the host must not
 * take it.
 *
 * Results, as arp-responder's: >= 0 is an answer (here the NA's frame length,
 * which may differ from the NS's: 86 bytes untagged, 90 with an 802.1Q tag),
 * negative is not. An NS for an address not in the table (ND_MISS) and an NS
 * or NA that fails RFC 4861's validity checks (ND_MALFORMED) leave the bytes
 * as they were, and the caller counts them (ndDropReason). Any other frame,
 * a valid NA included, is ND_NOT_NS: switched like any other.
 *
 * Wired into the routed pipeline next to the ARP responder (pipeline.ts,
 * with an ND table: a host with an IPv6 subnet); the installer fills the
 * table with each dual-stack peer's `<subnet6>::`.
 */
import * as ethernet from '../wire/ethernet';
import * as icmpv6 from '../wire/icmpv6';
import * as ipv6 from '../wire/ipv6';
import { macKey, writeMacKey } from '../wire/addr';
import { DropReason } from './drops';
import type { NdAnswers } from './nd-table';

/** Not a Neighbor Solicitation (nor a malformed ND message): the caller switches it as usual. */
export const ND_NOT_NS = -1;
/** A valid NS for an address not in the table. */
export const ND_MISS = -2;
/** An NS or NA that fails the RFC 4861 section 7.1 checks; icmpv6.checkNd says which. */
export const ND_MALFORMED = -3;

/** The Ethernet MAC of all-nodes ff02::1 (RFC 2464 section 7), where a DAD answer goes. */
const ALL_NODES_MAC = ipv6.multicastMacKey(ipv6.ALL_NODES, 0);

/**
 * If the frame at buf[off..off+len) is an IPv6 Neighbor Solicitation whose
 * target is in `table`, writes the Neighbor Advertisement over it and
 * returns the NA frame's length; otherwise returns ND_NOT_NS, ND_MISS or
 * ND_MALFORMED and leaves the bytes as they were. `l3` is the absolute
 * offset of the IPv6 header (after any VLAN tag, which is kept); `cap` the
 * bytes the slot holds from `off` (the NA may be up to 8 bytes longer than
 * a bare NS). No allocation.
 *
 * The Ethernet header goes back to the asker: to the MAC of the NS's Source
 * Link-Layer Address option, or its Ethernet source when it has none (a
 * unicast NS may leave it out), from the MAC we answer with. The NA itself
 * is icmpv6.emitNaForNs: Solicited (clear for DAD), Override set, Router
 * clear, Target Link-Layer Address option with the table's MAC.
 */
export function answerNsInPlace(buf: Uint8Array, off: number, len: number, l3: number, cap: number, table: NdAnswers): number {
  const end = off + len;
  const m = l3 + ipv6.HEADER_LEN;
  if (ethernet.etherType(buf, off) !== ethernet.ETHERTYPE_IPV6 || m + icmpv6.HEADER_LEN > end) return ND_NOT_NS;
  if (ipv6.nextHeader(buf, l3) !== icmpv6.NEXT_HEADER || !icmpv6.isNd(buf[m]!)) return ND_NOT_NS;
  if (icmpv6.checkNd(buf, l3, end - l3) !== icmpv6.ND_OK) return ND_MALFORMED;
  if (buf[m] !== icmpv6.TYPE_NEIGHBOR_SOLICITATION) return ND_NOT_NS;

  const answer = table.lookup(buf, icmpv6.targetOffset(l3));
  if (answer === undefined) return ND_MISS;
  const naLen = l3 - off + ipv6.HEADER_LEN + icmpv6.NA_LEN;
  // Slots hold a whole MTU: a slot that cannot take 90 bytes is a caller's bug.
  if (naLen > cap) throw new RangeError(`an NA of ${naLen} bytes does not fit the ${cap}-byte slot`);

  // Read the asker before the NA overwrites the NS.
  const dad = ipv6.isUnspecifiedAddr(buf, l3 + ipv6.field.SRC);
  const slla = icmpv6.findOption(buf, l3, icmpv6.OPT_SOURCE_LLA);
  const asker = dad ? ALL_NODES_MAC : slla >= 0 ? macKey(buf, slla + 2) : ethernet.srcKey(buf, off);
  writeMacKey(buf, off + ethernet.field.DST, asker);
  writeMacKey(buf, off + ethernet.field.SRC, answer);
  icmpv6.emitNaForNs(buf, l3, buf, l3, answer);
  return naLen;
}

/** The drop reason of a negative answerNsInPlace result, or -1 for ND_NOT_NS (not a drop). */
export function ndDropReason(result: number): number {
  return result === ND_MISS ? DropReason.ND_MISS : result === ND_MALFORMED ? DropReason.ND_MALFORMED : -1;
}
