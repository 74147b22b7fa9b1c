/**
 * Counters of the data plane. A drop is never an exception: each one is
 * counted under a stable reason name (these names are an interface: `vxtap
 * stats`, tests and benchmarks read them).
 *
 * Counts live in one Float64Array indexed by a small integer, so counting in
 * the hot path is an array increment, with no string and no Map.
 */
export const DropReason = {
  /** TAP side: a frame shorter than an Ethernet header. */
  RUNT: 0,
  /** TAP side: broadcast or multicast that is not an ARP request we answer (flannel routes, it does not flood). */
  FLOOD: 1,
  /** TAP side: unicast to a MAC with no FDB entry. */
  FDB_MISS: 2,
  /** TAP side: an ARP request for an address not in the table. */
  ARP_MISS: 3,
  /** TAP side: the frame does not fit the slot with the VXLAN headroom (should not happen at the TAP's MTU). */
  TOO_BIG: 4,
  /** Network side: a datagram too short for VXLAN + Ethernet. */
  VXLAN_TOO_SHORT: 5,
  /** Network side: the I flag is not set (RFC 7348: the VNI is not valid). */
  VXLAN_NO_I_FLAG: 6,
  /** Network side: a VNI that is not ours. */
  VXLAN_UNKNOWN_VNI: 7,
  /** Network side: a datagram from a source that is no known VTEP. */
  UNKNOWN_VTEP: 8,
  /** The UDP socket did not take the datagram (socket buffer full). */
  UDP_SEND: 9,
  /** The TAP did not take the frame (its queue is full, or the link is down). */
  TAP_WRITE: 10,
} as const;

export type DropReasonName = keyof typeof DropReason;

/** The stable, printed names of drop reasons (kebab-case), by index. */
export const DROP_NAMES: readonly string[] = [
  'runt',
  'flood',
  'fdb-miss',
  'arp-miss',
  'too-big',
  'vxlan-too-short',
  'vxlan-no-i-flag',
  'vxlan-unknown-vni',
  'unknown-vtep',
  'udp-send',
  'tap-write',
];

export class Counters {
  /** Frames read from the TAP and sent as VXLAN (after encap). */
  encapFrames = 0;
  encapBytes = 0;
  /** VXLAN datagrams received, decapsulated and written to the TAP. */
  decapFrames = 0;
  decapBytes = 0;
  /** Frames read from the TAP (before any decision). */
  tapInFrames = 0;
  /** Datagrams read from the UDP socket (before any check). */
  netInFrames = 0;
  /** ARP requests answered locally. */
  arpAnswered = 0;
  /** Batches handled in each direction (JS crossings from the ports). */
  tapBatches = 0;
  netBatches = 0;
  readonly drops = new Float64Array(DROP_NAMES.length);

  drop(reason: number, n = 1): void {
    this.drops[reason] += n;
  }

  dropCount(name: string): number {
    const i = DROP_NAMES.indexOf(name);
    return i < 0 ? 0 : this.drops[i]!;
  }

  /** A plain object for logs, `vxtap stats --json` and tests. */
  snapshot(): CountersSnapshot {
    const drops: Record<string, number> = {};
    DROP_NAMES.forEach((n, i) => { drops[n] = this.drops[i]!; });
    return {
      tapInFrames: this.tapInFrames,
      netInFrames: this.netInFrames,
      encapFrames: this.encapFrames,
      encapBytes: this.encapBytes,
      decapFrames: this.decapFrames,
      decapBytes: this.decapBytes,
      arpAnswered: this.arpAnswered,
      tapBatches: this.tapBatches,
      netBatches: this.netBatches,
      drops,
    };
  }
}

export interface CountersSnapshot {
  tapInFrames: number;
  netInFrames: number;
  encapFrames: number;
  encapBytes: number;
  decapFrames: number;
  decapBytes: number;
  arpAnswered: number;
  tapBatches: number;
  netBatches: number;
  drops: Record<string, number>;
}
