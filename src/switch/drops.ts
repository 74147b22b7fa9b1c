/**
 * Every drop reason of the data plane, in one table: its constant (the index
 * the hot path counts under), its printed name, the side it belongs to, and
 * what it means. Everything else is derived from this table: DropReason (the
 * indices), DROP_NAMES (`vxtap stats`, `/metrics`, `--trace-filter drop
 * REASON`, the trace's `drop` field), the per-side totals of the counters, and
 * the README's table of drop reasons (a unit test holds them equal).
 *
 * The order is the index, and the names are an interface: a new reason goes
 * at the end, and no row is ever renamed, moved or removed.
 *
 * What the trace adds for one frame (its length, the MAC that missed, the VNI
 * that is not ours) is in trace-record.ts: it needs the frame.
 */

/** The side a drop belongs to: a frame read from the TAP, or a datagram received from the network. */
export type DropSide = 'tap' | 'net';

export interface DropInfo {
  /** The constant's name, DropReason.KEY. */
  readonly key: string;
  /** The stable printed name (kebab-case). */
  readonly name: string;
  readonly side: DropSide;
  /** What it means, in one line: the README's table says the same. */
  readonly explanation: string;
}

/** The table. Index = DropReason value: append only. */
export const DROPS = [
  { key: 'RUNT', name: 'runt', side: 'tap', explanation: 'shorter than an Ethernet header' },
  // flannel routes, it does not flood.
  { key: 'FLOOD', name: 'flood', side: 'tap', explanation: 'broadcast or multicast that is not an ARP request we answer' },
  { key: 'FDB_MISS', name: 'fdb-miss', side: 'tap', explanation: 'unicast to a MAC with no FDB entry' },
  { key: 'ARP_MISS', name: 'arp-miss', side: 'tap', explanation: 'an ARP request for an address not in the table' },
  // Should not happen at the TAP's MTU.
  { key: 'TOO_BIG', name: 'too-big', side: 'tap', explanation: 'does not fit the slot with the VXLAN headroom' },
  { key: 'VXLAN_TOO_SHORT', name: 'vxlan-too-short', side: 'net', explanation: 'too short for VXLAN + Ethernet (a zero-length datagram included)' },
  // RFC 7348: without the I flag the VNI is not valid.
  { key: 'VXLAN_NO_I_FLAG', name: 'vxlan-no-i-flag', side: 'net', explanation: 'the I flag is clear' },
  { key: 'VXLAN_UNKNOWN_VNI', name: 'vxlan-unknown-vni', side: 'net', explanation: 'another VNI' },
  { key: 'UNKNOWN_VTEP', name: 'unknown-vtep', side: 'net', explanation: 'from a source that is no known VTEP' },
  // A frame read from the TAP: the books of the TAP side carry it.
  { key: 'UDP_SEND', name: 'udp-send', side: 'tap', explanation: 'encapsulated, but the UDP socket did not take it' },
  { key: 'TAP_WRITE', name: 'tap-write', side: 'net', explanation: 'decapsulated, but the TAP did not take it' },
  // Source MAC not the VTEP MAC, or IPv4 source / ARP sender outside its subnet: switch/peer-table.ts.
  { key: 'INNER_SPOOF', name: 'inner-spoof', side: 'net', explanation: 'the inner source is not the sending peer\'s' },
  { key: 'VXLAN_TOO_LONG', name: 'vxlan-too-long', side: 'net', explanation: 'longer than a receive slot (more than the MTU allows)' },
  { key: 'TAP_TOO_LONG', name: 'tap-too-long', side: 'tap', explanation: 'longer than a receive slot (the reader cut it, so it is dropped whole)' },
  { key: 'TAP_OFFLOAD', name: 'tap-offload', side: 'tap', explanation: 'an offload frame the reader could not use (GSO headers that do not parse, a bad checksum offset)' },
  { key: 'ARP_REPLY_WRITE', name: 'arp-reply-write', side: 'tap', explanation: 'the ARP reply we made, but the TAP did not take it' },
  // L2 mode (--mode l2): a frame to flood (broadcast, multicast, unknown unicast) with nowhere to go.
  { key: 'FLOOD_NO_VTEPS', name: 'flood-no-vteps', side: 'tap', explanation: 'L2 mode: broadcast, multicast or unknown unicast, and the flood list is empty' },
  // Never learned: a frame cannot come from a group address, and 00:00:00:00:00:00 is no station.
  { key: 'L2_BAD_SOURCE', name: 'l2-bad-source', side: 'net', explanation: 'L2 mode: the inner source MAC is multicast or zero' },
  // As the kernel vxlan does (vxlan_snoop): a static entry is never moved by traffic.
  { key: 'L2_STATIC_MAC', name: 'l2-static-mac', side: 'net', explanation: 'L2 mode: the inner source MAC is pinned (static) behind another VTEP' },
  // IPv6 (issue #13): the ND responder (switch/nd-responder.ts), the counterparts of arp-miss.
  { key: 'ND_MISS', name: 'nd-miss', side: 'tap', explanation: 'an IPv6 neighbour solicitation for an address not in the table' },
  // RFC 4861 section 7.1: a node silently discards these; the trace names the check (wire/icmpv6.ts checkNd).
  { key: 'ND_MALFORMED', name: 'nd-malformed', side: 'tap', explanation: 'an IPv6 neighbour solicitation or advertisement that fails the RFC 4861 validity checks' },
] as const satisfies readonly DropInfo[];

export type DropReasonName = (typeof DROPS)[number]['key'];

/**
 * The index of each reason, by key (DropReason.RUNT === 0): what the pipeline
 * returns as a verdict and Counters.drop() counts under. A plain object built
 * once at load, so reading a constant in the hot path is a property load, as
 * with a literal.
 */
export const DropReason: { readonly [K in DropReasonName]: number } = Object.freeze(
  Object.fromEntries(DROPS.map((d, i) => [d.key, i])) as { [K in DropReasonName]: number },
);

/** The stable, printed names, by index. */
export const DROP_NAMES: readonly string[] = Object.freeze(DROPS.map((d) => d.name));

/** The side of a reason (a DropReason index). */
export function dropSide(reason: number): DropSide {
  return DROPS[reason]?.side === 'tap' ? 'tap' : 'net';
}

/** The row of a printed name, or undefined. */
export function dropByName(name: string): DropInfo | undefined {
  return DROPS.find((d) => d.name === name);
}
