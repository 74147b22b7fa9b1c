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
  /** Network side: the TAP did not take a decapsulated frame (its queue is full, or the link is down). */
  TAP_WRITE: 10,
  /**
   * Network side: a decapsulated frame whose inner source is not the sending
   * VTEP's (source MAC not its VTEP MAC, or source IPv4 / ARP sender outside
   * its subnet): see switch/peer-table.ts.
   */
  INNER_SPOOF: 11,
  /** Network side: a datagram longer than a receive slot (the reader cut it, so it is dropped whole). */
  VXLAN_TOO_LONG: 12,
  /** TAP side: a frame longer than a slot (the reader cut it, so it is dropped whole). */
  TAP_TOO_LONG: 13,
  /** TAP side: an offload frame the reader could not use (GSO headers that do not parse, a bad checksum offset). */
  TAP_OFFLOAD: 14,
  /** TAP side: the TAP did not take an ARP reply we made. */
  ARP_REPLY_WRITE: 15,
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
  'inner-spoof',
  'vxlan-too-long',
  'tap-too-long',
  'tap-offload',
  'arp-reply-write',
];

/**
 * The side each drop reason belongs to, by index: 't' for a frame read from
 * the TAP, 'n' for a datagram received from the network. It is what makes the
 * books balance per side (see Counters.snapshot).
 */
const DROP_SIDES = 'tttttnnnntnnnttt';

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
  /**
   * Called first by snapshot(): the Switch folds in frames its ports read but
   * never handed over (too long for a slot, unusable offload frames), so that
   * the counts it shows balance (Switch.foldPortDrops).
   */
  beforeSnapshot: (() => void) | null = null;

  drop(reason: number, n = 1): void {
    this.drops[reason] += n;
  }

  dropCount(name: string): number {
    const i = DROP_NAMES.indexOf(name);
    return i < 0 ? 0 : this.drops[i]!;
  }

  /** A plain object for logs, `vxtap stats --json` and tests. */
  snapshot(): CountersSnapshot {
    if (this.beforeSnapshot !== null) this.beforeSnapshot();
    const drops: Record<string, number> = {};
    let tapDrops = 0;
    let netDrops = 0;
    DROP_NAMES.forEach((n, i) => {
      drops[n] = this.drops[i]!;
      if (DROP_SIDES[i] === 't') tapDrops += this.drops[i]!;
      else netDrops += this.drops[i]!;
    });
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
      tapDrops,
      netDrops,
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
  /**
   * Drops of frames read from the TAP: tapInFrames = encapFrames +
   * arpAnswered + tapDrops, exactly (a super-frame kept whole counts as its
   * segments on both sides).
   */
  tapDrops: number;
  /** Drops of datagrams from the network: netInFrames = decapFrames + netDrops, exactly. */
  netDrops: number;
}

/** 'tap' or 'net': the side a drop reason (DropReason index) belongs to. */
export function dropSide(reason: number): 'tap' | 'net' {
  return DROP_SIDES[reason] === 't' ? 'tap' : 'net';
}
