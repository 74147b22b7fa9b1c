/**
 * The switch: two ports, one pipeline, per-batch hand-off.
 *
 *   TAP --read batch--> Pipeline.encapBatch --send batch--> UDP   (to the network)
 *    ^                        | ARP replies                        |
 *    +-----write batch--------+                                    |
 *   TAP <--write batch-- Pipeline.decapBatch <--read batch-- UDP   (from the network)
 *
 * Each direction owns its preallocated batch and send lists. A port calls us
 * once per batch; we decide per frame, then make one send and one write per
 * batch. Frames a port does not take are counted as drops, never retried:
 * like a NIC queue, a full socket buffer means loss, and TCP above recovers.
 *
 * Every frame a port reads is counted once: as encapsulated, answered,
 * decapsulated or dropped with a reason. Frames a port read but could not
 * hand over (longer than a slot; a vnet frame the reader could not use) are
 * counted by the port; the switch folds them into its drops when the counters
 * are read (foldPortDrops), so that the books balance per side:
 *   tapInFrames = encapFrames + arpAnswered + tapDrops
 *   netInFrames = decapFrames + netDrops
 *
 * A port may refuse a frame in the middle of a batch and take the ones after
 * it (a runt on the TAP, a datagram the kernel will not route): which ones
 * it took is in each SendList's `status`, and every account here reads that,
 * never the count as "the first n".
 *
 * With a tracer (switch/trace.ts), the trace is middleware at this edge
 * (switch/trace-edge.ts): start() hands the ports the batch handlers wrapped
 * by a TraceEdge, which copies the frames before the handler and, after the
 * ports answered, explains each from the pipeline's records and tables, with
 * the lists as the ports answered them, so that a refused frame is traced as
 * the drop it is. Without one, the ports get the bare handlers.
 *
 * L2 mode (`mode: 'l2'`, pipeline.ts): one frame flooded to N VTEPs is N
 * entries of the send list on one span (SendList.sameFrame marks copies
 * 2..N). The books count frames, so a flooded frame counts once in
 * encapFrames; the rule for refused copies: the frame stays encapsulated
 * while the socket took at least one copy (counters.l2.floodCopies loses the
 * refused ones), and becomes one udp-send drop when it took none. So
 *   tapInFrames = encapFrames + arpAnswered + tapDrops
 * holds in both modes. The send list is sized for a batch of floods to the
 * whole flood list (sizeSendList, checked once per batch): one send per batch
 * stays one send, at the cost of 23 bytes per entry (SendList's arrays)
 * times batch times VTEPs: about 190 KB for 128 frames and 64 VTEPs.
 */
import { EndpointTable } from '../io/endpoints';
import { FLOOD_FIRST, FLOOD_MORE, FrameBatch, SENT, SendList, notWhole, type DatagramPort, type FramePort, type WholeSuperFrames } from '../io/port';
import { ArpTable } from './arp-table';
import { NdTable } from './nd-table';
import { Counters, DropReason } from './counters';
import { Fdb } from './fdb';
import { FloodList } from './flood-list';
import { L2ArpTable } from './l2-arp';
import { PeerTable } from './peer-table';
import { ENCAP_HEADROOM, Pipeline, type SwitchMode } from './pipeline';
import { TraceEdge } from './trace-edge';
import type { Tracer } from './trace-hook';
import * as ethernet from '../wire/ethernet';
import * as vxlan from '../wire/vxlan';

/** Headroom kept in every slot: the encap headers, rounded up so frames start 16-byte aligned. */
export const SLOT_HEADROOM = 64;
/** Frames per batch: wireguard-go's IdealBatchSize. */
export const DEFAULT_BATCH = 128;

export interface SwitchOptions {
  vni: number;
  tap: FramePort;
  net: DatagramPort;
  /** The TAP's MTU: sizes the slots (frame = MTU + Ethernet header + a VLAN tag). */
  mtu: number;
  batchSize?: number;
  acceptUnknownVteps?: boolean;
  /**
   * Check each decapsulated frame's inner source against the sending peer's
   * row in `peers` (switch/peer-table.ts; `inner-spoof` drops). Off by
   * default here, where tests fill the FDB by hand; `vxtap run` turns it on.
   */
  innerSourceCheck?: boolean;
  /**
   * Routed mode's IPv6 overlay: answer Neighbor Solicitations from the TAP
   * from an ND table (`nd`) that the installer fills. Off (the default): ND
   * is multicast like any other, a `flood` drop, as on an IPv4-only host.
   */
  ipv6?: boolean;
  /** Explains every frame (switch/trace.ts), as middleware around the batch handlers (trace-edge.ts); fixed at construction. */
  tracer?: Tracer | null;
  /** 'routed' (flannel's scheme, the default) or 'l2' (a VXLAN switch: learning, flooding; needs `l2`). */
  mode?: SwitchMode;
  l2?: L2SwitchOptions;
}

/** L2 mode's settings. */
export interface L2SwitchOptions {
  /** The segment's UDP port: every VTEP's destination port, learned entries and flood copies use it. */
  port: number;
  /** Learned FDB entries at most (default 16384); also bounds the ARP suppression table. */
  fdbMax?: number;
  /** A learned entry (FDB or ARP suppression) without traffic for this long ages out; default 300 000 ms. */
  ageingMs?: number;
  /** Answer ARP requests from snooped replies (default true). */
  arpSuppress?: boolean;
}

export class Switch {
  /**
   * The VTEPs the switch sends to, as socket address records indexed by
   * small integers (io/endpoints.ts): the FDB and the flood list intern
   * into it, the send lists carry its indices, the addon sends to its
   * records as they are.
   */
  readonly endpoints = new EndpointTable();
  readonly fdb: Fdb;
  readonly arp = new ArpTable();
  /**
   * The IPv6 neighbour table (routed mode's IPv6 overlay: `<peer subnet6>::`
   * -> VTEP MAC), or null when the switch does not answer ND (SwitchOptions.ipv6).
   */
  readonly nd: NdTable | null;
  readonly counters = new Counters();
  /** The peers' VTEP MACs and subnets (the installer fills it), for the inner source check. */
  readonly peers = new PeerTable();
  readonly pipeline: Pipeline;
  readonly mode: SwitchMode;
  /** L2 mode: the VTEPs broadcast, multicast and unknown unicast go to (empty in routed mode). */
  readonly floodList: FloodList;
  /** L2 mode: the ARP suppression table (null: routed mode, or --no-arp-suppress). */
  readonly l2Arp: L2ArpTable | null;
  private readonly tap: FramePort;
  private readonly net: DatagramPort;
  private readonly fromTap: FrameBatch;
  private readonly fromNet: FrameBatch;
  /** Replaced by a larger one when the flood list outgrows it (sizeSendList). */
  private tapToNet: SendList;
  private readonly batchSize: number;
  private readonly tapToTap: SendList;
  private readonly netToTap: SendList;
  private started = false;
  /** The trace around the batch handlers, or null: the bare handlers. */
  private readonly edge: TraceEdge | null;
  /**
   * Whether TCP super-frames travel whole from the TAP to the send, or why
   * not: decided once, here, from both ports' answers (negotiate()). The
   * node logs a "no" once.
   */
  readonly wholeSuperFrames: WholeSuperFrames;
  /** What the ports had counted at the last fold (see foldPortDrops). */
  private readonly folded = { tapTooLong: 0, tapOffload: 0, netTooLong: 0 };

  constructor(opts: SwitchOptions) {
    this.tap = opts.tap;
    this.net = opts.net;
    const batch = opts.batchSize ?? DEFAULT_BATCH;
    this.batchSize = batch;
    this.mode = opts.mode ?? 'routed';
    const l2 = this.mode === 'l2' ? opts.l2 : undefined;
    if (this.mode === 'l2' && l2 === undefined) throw new RangeError('L2 mode needs its options (SwitchOptions.l2)');
    this.fdb = new Fdb({ max: l2?.fdbMax, ageingMs: l2?.ageingMs, endpoints: this.endpoints });
    this.floodList = new FloodList(l2?.port ?? null, 8, this.endpoints);
    this.nd = opts.ipv6 === true && this.mode === 'routed' ? new NdTable() : null;
    this.l2Arp = l2 !== undefined && l2.arpSuppress !== false ? new L2ArpTable(this.fdb.max, this.fdb.ageingMs) : null;
    const maxFrame = opts.mtu + ethernet.VLAN_HEADER_LEN;
    // A slot holds the largest frame plus our headroom; on the network side
    // the datagram also carries the VXLAN header in the frame area.
    const slotSize = align(SLOT_HEADROOM + maxFrame + vxlan.HEADER_LEN, 64);
    if (SLOT_HEADROOM < ENCAP_HEADROOM) throw new Error('slot headroom is smaller than the encap headers');
    this.fromTap = new FrameBatch(batch, slotSize, SLOT_HEADROOM);
    this.fromNet = new FrameBatch(batch, slotSize, SLOT_HEADROOM);
    this.fromNet.mtu = opts.mtu; // a peer's VXLAN super-datagrams are cut to it (FrameBatch.mtu)
    this.tapToNet = new SendList(batch);
    this.tapToNet.endpoints = this.endpoints;
    this.tapToTap = new SendList(batch);
    this.netToTap = new SendList(batch);
    this.wholeSuperFrames = negotiate(opts.tap, opts.net, opts.tracer ?? null);
    if (this.wholeSuperFrames.whole) {
      this.fromTap.keepWhole();
      this.tapToNet.wholeFrom = this.fromTap;
    }
    this.pipeline = new Pipeline({
      vni: opts.vni,
      fdb: this.fdb,
      arp: this.arp,
      nd: this.nd,
      counters: this.counters,
      writesUdpHeader: this.net.writesUdpHeader,
      sourcePorts: this.net.sourcePorts,
      acceptUnknownVteps: opts.acceptUnknownVteps ?? false,
      peers: opts.innerSourceCheck === true ? this.peers : null,
      mode: this.mode,
      l2: l2 === undefined ? null : { port: l2.port, floodList: this.floodList, arp: this.l2Arp },
    });
    this.counters.beforeSnapshot = () => this.foldPortDrops();
    const tracer = opts.tracer ?? null;
    this.edge = tracer === null ? null : new TraceEdge(tracer, this.pipeline);
  }

  /**
   * Moves what the ports counted since the last call into the counters: as
   * frames read (tapInFrames / netInFrames) and as drops (tap-too-long,
   * tap-offload, vxlan-too-long). Called when the counters are read, not per
   * batch: a port's counters may cost a crossing into the addon.
   */
  foldPortDrops(): void {
    const c = this.counters;
    const f = this.folded;
    const tap = this.tap.stats;
    const tapTooLong = tap.rxTruncated;
    // A vnet TAP's reader counts the frames it could not use (io/tap.ts stats.offload).
    const tapOffload = (tap as { offload?: { dropped?: number } }).offload?.dropped ?? 0;
    const netTooLong = this.net.stats.rxTruncated;
    const dTapLong = tapTooLong - f.tapTooLong;
    const dTapOff = tapOffload - f.tapOffload;
    const dNetLong = netTooLong - f.netTooLong;
    c.tapInFrames += dTapLong + dTapOff;
    c.netInFrames += dNetLong;
    c.drop(DropReason.TAP_TOO_LONG, dTapLong);
    c.drop(DropReason.TAP_OFFLOAD, dTapOff);
    c.drop(DropReason.VXLAN_TOO_LONG, dNetLong);
    f.tapTooLong = tapTooLong;
    f.tapOffload = tapOffload;
    f.netTooLong = netTooLong;
  }

  /**
   * Ageing, for L2 mode (the node calls it from a timer, about once a
   * second): removes learned FDB entries and snooped ARP entries without
   * traffic for `ageingMs`. Returns the FDB entries removed (counted as l2.aged).
   */
  ageOut(now = Date.now()): number {
    const n = this.fdb.ageOut(now);
    this.counters.l2.aged += n;
    this.l2Arp?.ageOut(now);
    return n;
  }

  /**
   * The send list from the TAP must hold a batch whose every frame is
   * flooded to every VTEP: grown (never shrunk: a VTEP may come back) when
   * the flood list outgrows it, between batches.
   */
  private sizeSendList(): SendList {
    const need = this.batchSize * Math.max(1, this.floodList.size);
    let list = this.tapToNet;
    if (need > list.capacity) {
      let cap = list.capacity;
      while (cap < need) cap *= 2;
      const grown = new SendList(cap);
      grown.wholeFrom = list.wholeFrom;
      grown.endpoints = this.endpoints;
      this.tapToNet = list = grown;
    }
    return list;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    const edge = this.edge;
    if (edge === null) {
      this.tap.start(this.fromTap, (b) => this.onTapBatch(b));
      this.net.start(this.fromNet, (b) => this.onNetBatch(b));
      return;
    }
    // The handlers, wrapped: the lists are read after the handler, as the
    // ports answered them (tapToNet may have been replaced by a larger one).
    this.tap.start(this.fromTap, (b) => {
      edge.before(b);
      this.onTapBatch(b);
      edge.afterTap(b, this.tapToNet, this.tapToTap);
    });
    this.net.start(this.fromNet, (b) => {
      edge.before(b);
      this.onNetBatch(b);
      edge.afterNet(b, this.netToTap);
    });
  }

  close(): void {
    this.tap.close();
    this.net.close();
  }

  private onTapBatch(b: FrameBatch): void {
    const toNet = this.mode === 'l2' ? this.sizeSendList() : this.tapToNet;
    const toTap = this.tapToTap;
    toNet.count = 0;
    toTap.count = 0;
    this.pipeline.encapBatch(b, toNet, toTap);
    if (toNet.count > 0) {
      const sent = this.net.send(b.slab, toNet);
      if (sent < toNet.count) this.undoEncap(b, toNet);
    }
    if (toTap.count > 0) {
      const written = this.tap.write(b.slab, toTap);
      if (written < toTap.count) {
        // Only ARP replies are on this list, all alike: counted as answered, the refused ones move to drops.
        this.counters.arpAnswered -= toTap.count - written;
        // In L2 mode every answer on it came from the suppression table.
        if (this.mode === 'l2') this.counters.l2.arpSuppressed -= toTap.count - written;
        this.counters.drop(DropReason.ARP_REPLY_WRITE, toTap.count - written);
      }
    }
  }

  private onNetBatch(b: FrameBatch): void {
    const toTap = this.netToTap;
    toTap.count = 0;
    this.pipeline.decapBatch(b, toTap);
    if (toTap.count > 0) {
      const written = this.tap.write(b.slab, toTap);
      if (written < toTap.count) {
        // Counted as decapsulated: the refused ones move to drops, with their own bytes.
        const c = this.counters;
        c.drop(DropReason.TAP_WRITE, toTap.count - written);
        c.decapFrames -= toTap.count - written;
        for (let k = 0; k < toTap.count; k++) if (toTap.status[k] !== SENT) c.decapBytes -= toTap.lens[k]!;
      }
    }
  }

  /**
   * Frames the socket did not take (list.status) were counted as sent: move
   * them to drops (a whole super-frame with all its segments, taken or not
   * as one). A flooded frame's copies (SendList.sameFrame) are one frame:
   * refused copies leave floodCopies, and the frame is a drop only when no
   * copy went out (see the file header).
   */
  private undoEncap(b: FrameBatch, list: SendList): void {
    const c = this.counters;
    const overhead = this.pipeline.encapOverhead;
    const same = list.sameFrame;
    let lost = 0;
    for (let k = 0; k < list.count; k++) {
      const first = k;
      if (same[k] === FLOOD_FIRST) {
        // A flood (to one VTEP or more): entries first .. k.
        let taken = 0;
        while (true) {
          if (list.status[k] === SENT) taken++;
          if (k + 1 < list.count && same[k + 1] === FLOOD_MORE) k++;
          else break;
        }
        const copies = k - first + 1;
        c.l2.floodCopies -= copies - taken;
        if (taken > 0) continue;
        c.l2.floodedFrames--;
      } else if (list.status[k] === SENT) {
        continue;
      }
      const i = list.wholeOf[first]!;
      const sf = b.superFrames;
      if (i >= 0 && sf !== null) {
        const segs = sf.segments(i);
        c.encapFrames -= segs;
        c.encapBytes -= sf.cutBytes(i, list.lens[first]! - overhead);
        lost += segs;
      } else {
        c.encapFrames--;
        c.encapBytes -= list.lens[first]! - overhead;
        lost++;
      }
    }
    c.drop(DropReason.UDP_SEND, lost);
  }
}

/**
 * The offload negotiation, in one place: the TAP keeps TSO super-frames
 * whole and the UDP port cuts them at the send, payloads in place, one
 * decision per super-frame, when both ports say yes (FramePort /
 * DatagramPort.wholeSuperFrames; a middleware port answers for what it
 * wraps). Not with a tracer, which explains frames one by one: the trace
 * edge (trace-edge.ts) counts one send-list entry per encapsulated frame.
 */
export function negotiate(tap: FramePort, net: DatagramPort, tracer: Tracer | null): WholeSuperFrames {
  if (tracer !== null) return notWhole('--trace explains frames one by one, so the TAP reader cuts super-frames');
  const reads = tap.wholeSuperFrames();
  if (!reads.whole) return reads;
  return net.wholeSuperFrames();
}

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}
