/**
 * Counters of the data plane. A drop is never an exception: each one is
 * counted under a stable reason name (these names are an interface: `vxtap
 * stats`, tests and benchmarks read them).
 *
 * Counts live in one Float64Array indexed by a small integer, so counting in
 * the hot path is an array increment, with no string and no Map. The reasons,
 * their names and sides are the table in drops.ts.
 */
import { DROPS, DROP_NAMES } from './drops';

export { DROP_NAMES, DropReason, dropSide, type DropReasonName } from './drops';

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
  /** ARP requests answered locally (IPv6 Neighbor Solicitations answered locally included). */
  arpAnswered = 0;
  /** IPv6 Neighbor Solicitations answered locally (also counted in arpAnswered). */
  ndAnswered = 0;
  /** Batches handled in each direction (JS crossings from the ports). */
  tapBatches = 0;
  netBatches = 0;
  readonly drops = new Float64Array(DROP_NAMES.length);
  /** L2 mode's own counts (zeros in routed mode): see L2Counts. */
  readonly l2: L2Counts = { learned: 0, moved: 0, aged: 0, fdbRefused: 0, floodedFrames: 0, floodCopies: 0, arpSuppressed: 0 };
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
    DROPS.forEach((d, i) => {
      drops[d.name] = this.drops[i]!;
      if (d.side === 'tap') tapDrops += this.drops[i]!;
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
      ndAnswered: this.ndAnswered,
      tapBatches: this.tapBatches,
      netBatches: this.netBatches,
      drops,
      tapDrops,
      netDrops,
      l2: { ...this.l2 },
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
  /** IPv6 Neighbor Solicitations answered locally (also in arpAnswered). */
  ndAnswered: number;
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
  /** L2 mode's counts; always present, zeros in routed mode. */
  l2: L2Counts;
}

/**
 * L2 mode (--mode l2). These are not frames of the books above: a flooded
 * frame is counted once in encapFrames (and its bytes once in encapBytes),
 * and its copies here.
 */
export interface L2Counts {
  /** MACs learned (new FDB entries from decapsulated frames). */
  learned: number;
  /** Learned MACs seen behind another VTEP, and moved there. */
  moved: number;
  /** Learned FDB entries removed by ageing. */
  aged: number;
  /** New MACs not learned because the FDB held fdbMax learned entries (the frame is still delivered). */
  fdbRefused: number;
  /**
   * Frames replicated to the flood list (broadcast, multicast, unknown
   * unicast) of which the socket took at least one copy; a frame of which
   * it took none is a udp-send drop instead.
   */
  floodedFrames: number;
  /** Copies of flooded frames the socket took (one per VTEP of the flood list). */
  floodCopies: number;
  /** ARP requests answered from the suppression table (also counted in arpAnswered). */
  arpSuppressed: number;
}
