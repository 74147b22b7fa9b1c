/**
 * The encap/decap pipeline: decisions per frame over a batch, no I/O.
 *
 * From the TAP (encapBatch), for each frame of the batch:
 *   1. check     a frame shorter than an Ethernet header is a `runt` drop;
 *   2. ARP       an ARP request for an address in the ARP table is answered
 *                in place and queued back to the TAP (never crosses the network);
 *   3. flood     other broadcast/multicast is a `flood` drop: the flannel
 *                scheme routes, it does not flood;
 *   4. FDB       the destination MAC names the VTEP, or it is an `fdb-miss` drop;
 *   5. encap     the VXLAN header (and, for raw-socket ports, the UDP header
 *                with a per-flow source port) is written in the headroom in
 *                front of the frame, and the span is queued for the network.
 * From the network (decapBatch), for each datagram:
 *   1. source    only from a VTEP the FDB knows (`unknown-vtep` otherwise);
 *   2. VXLAN     length, I flag (`vxlan-too-short`, `vxlan-no-i-flag`);
 *   3. VNI       ours, or `vxlan-unknown-vni`;
 *   4. source    with the inner source check on, the inner frame's source
 *                MAC (and IPv4 source, ARP sender) must be the sending
 *                peer's (switch/peer-table.ts), or `inner-spoof`;
 *   5. decap     the inner frame's span is queued for the TAP.
 * The caller (Switch) hands the queues to the ports once per batch.
 *
 * Nothing here allocates per frame: the queues are preallocated SendLists and
 * the tables are keyed by integers. Each frame's stages are one method
 * (encapFrame / decapFrame) that returns its verdict; the batch loop counts it.
 *
 * Tracing (the hook: switch/trace-hook.ts): when `tracer` is set, each frame
 * goes through traceEncap / traceDecap instead, which copy the frame before
 * the decision (the ARP answer rewrites it in place), run the same
 * encapFrame / decapFrame, and hand the verdict to the hook, which adds the
 * table lookups behind it. With no tracer the cost is one null check per
 * frame: no closure, no allocation.
 */
import * as ethernet from '../wire/ethernet';
import * as udp from '../wire/udp';
import * as vxlan from '../wire/vxlan';
import type { FrameBatch, SendList, SourcePortRange } from '../io/port';
import type { ArpTable } from './arp-table';
import { answerArpInPlace } from './arp-responder';
import { DropReason, type Counters } from './counters';
import type { Fdb } from './fdb';
import { flowSourcePort, SOURCE_PORT_MIN } from './flow-hash';
import { checkInnerSource, INNER_NO_ROW, INNER_OK, type PeerTable } from './peer-table';
import { explainDecap, explainEncap, frameTrace, type FrameTrace, type PipelineTables, type Tracer } from './trace-hook';

/** Headroom every batch must keep in front of a frame: UDP + VXLAN headers, written in place. */
export const ENCAP_HEADROOM = udp.HEADER_LEN + vxlan.HEADER_LEN;

/** What became of one frame: a DropReason index (>= 0), or one of these. */
export const Verdict = {
  /** Encapsulated and queued for the network. */
  ENCAP: -1,
  /** An ARP request answered in place and queued back to the TAP. */
  ARP_REPLY: -2,
  /** Decapsulated and queued for the TAP. */
  DECAP: -3,
} as const;

export interface PipelineOptions {
  vni: number;
  fdb: Fdb;
  arp: ArpTable;
  counters: Counters;
  /** True when the network port sends through a raw socket and wants the UDP header written here. */
  writesUdpHeader: boolean;
  /** The source ports that port sends from (DatagramPort.sourcePorts); default 49152-65535. */
  sourcePorts?: SourcePortRange | undefined;
  /** Accept VXLAN from sources the FDB does not know (off by default: a datagram from anywhere else is a drop). */
  acceptUnknownVteps?: boolean;
  /**
   * The peers' VTEP MACs and subnets, for the inner source check. With a
   * table, every decapsulated frame is checked against the sending VTEP's row
   * (a VTEP without one is an `inner-spoof` drop, unless unknown VTEPs are
   * accepted); null (the default) checks nothing.
   */
  peers?: PeerTable | null;
  /** Explains every frame's decision (switch/trace.ts); null (the default) for none. */
  tracer?: Tracer | null;
}

export class Pipeline {
  readonly vni: number;
  private readonly fdb: Fdb;
  private readonly arp: ArpTable;
  private readonly counters: Counters;
  private readonly writesUdpHeader: boolean;
  private readonly acceptUnknownVteps: boolean;
  private readonly peers: PeerTable | null;
  private readonly srcPortMin: number;
  private readonly srcPortSpan: number;
  /** Bytes in front of the inner frame that one encap adds to the span we send. */
  readonly encapOverhead: number;
  /** Set to trace every frame; null costs one check per frame. */
  tracer: Tracer | null;
  /** The hook's view of this pipeline (tables()); null until a frame is traced. */
  private explained: PipelineTables | null = null;

  constructor(opts: PipelineOptions) {
    if (!Number.isInteger(opts.vni) || opts.vni < 0 || opts.vni > vxlan.VNI_MAX) {
      throw new RangeError(`VNI ${opts.vni} is outside 0..${vxlan.VNI_MAX}`);
    }
    this.vni = opts.vni;
    this.fdb = opts.fdb;
    this.arp = opts.arp;
    this.counters = opts.counters;
    this.writesUdpHeader = opts.writesUdpHeader;
    this.acceptUnknownVteps = opts.acceptUnknownVteps ?? false;
    this.peers = opts.peers ?? null;
    this.srcPortMin = opts.sourcePorts?.min ?? SOURCE_PORT_MIN;
    this.srcPortSpan = opts.sourcePorts?.count ?? 65536 - SOURCE_PORT_MIN;
    this.encapOverhead = vxlan.HEADER_LEN + (this.writesUdpHeader ? udp.HEADER_LEN : 0);
    this.tracer = opts.tracer ?? null;
  }

  /** Frames from the TAP: fills `toNet` (encapsulated spans) and `toTap` (local ARP replies). */
  encapBatch(b: FrameBatch, toNet: SendList, toTap: SendList): void {
    const c = this.counters;
    const buf = b.slab;
    const sf = b.superFrames;
    c.tapBatches++;
    c.tapInFrames += b.count;
    if (b.headroom < this.encapOverhead) throw new RangeError(`batch headroom ${b.headroom} < ${this.encapOverhead}`);
    for (let i = 0; i < b.count; i++) {
      const off = b.frameStart(i);
      const len = b.sizes[i]!;
      const v = this.tracer === null
        ? this.encapFrame(buf, off, len, toNet, toTap)
        : this.traceEncap(this.tracer, buf, off, len, toNet, toTap);
      // A super-frame kept whole (FrameBatch.superFrames): one decision, made
      // on its segment 0, stands for all its segments; the send cuts the others.
      if (sf !== null && sf.isWhole(i)) {
        const segs = sf.segments(i);
        c.tapInFrames += segs - 1;
        if (v === Verdict.ENCAP) {
          toNet.wholeOf[toNet.count - 1] = i;
          c.encapFrames += segs;
          c.encapBytes += sf.cutBytes(i, len);
        } else {
          c.drop(v, segs); // a super-frame is TCP: never an ARP reply
        }
      } else if (v === Verdict.ENCAP) {
        c.encapFrames++;
        c.encapBytes += len;
      } else if (v === Verdict.ARP_REPLY) {
        c.arpAnswered++;
      } else {
        c.drop(v);
      }
    }
  }

  /** Datagrams from the network (VXLAN header at the slot's headroom): fills `toTap` with inner frames. */
  decapBatch(b: FrameBatch, toTap: SendList): void {
    const c = this.counters;
    const buf = b.slab;
    c.netBatches++;
    c.netInFrames += b.count;
    for (let i = 0; i < b.count; i++) {
      const off = b.frameStart(i);
      const len = b.sizes[i]!;
      const from = b.addrs[i]!;
      const v = this.tracer === null
        ? this.decapFrame(buf, off, len, from, toTap)
        : this.traceDecap(this.tracer, buf, off, len, from, b.ports[i]!, toTap);
      if (v === Verdict.DECAP) {
        c.decapFrames++;
        c.decapBytes += len - vxlan.HEADER_LEN;
      } else {
        c.drop(v);
      }
    }
  }

  /** Stages 1-5 from the TAP for the frame at buf[off..off+len). Returns its verdict. */
  private encapFrame(buf: Buffer, off: number, len: number, toNet: SendList, toTap: SendList): number {
    if (len < ethernet.HEADER_LEN) return DropReason.RUNT;
    if (ethernet.etherType(buf, off) === ethernet.ETHERTYPE_ARP) {
      if (answerArpInPlace(buf, off, len, off + ethernet.l3Offset(buf, off), this.arp) >= 0) {
        toTap.push(off, len);
        return Verdict.ARP_REPLY;
      }
      if (ethernet.isMulticast(buf, off)) return DropReason.ARP_MISS;
      // A unicast ARP we cannot answer (a reply to a remote asker, a probe
      // for an address we do not hold) is forwarded like any unicast.
    } else if (ethernet.isMulticast(buf, off)) {
      return DropReason.FLOOD;
    }
    const entry = this.fdb.lookup(ethernet.dstKey(buf, off));
    if (entry === undefined) return DropReason.FDB_MISS;
    const hdr = off - vxlan.HEADER_LEN;
    vxlan.emit(buf, hdr, this.vni);
    if (this.writesUdpHeader) {
      const u = hdr - udp.HEADER_LEN;
      const srcPort = flowSourcePort(buf, off, len, this.srcPortMin, this.srcPortSpan);
      udp.emitHeader(buf, u, srcPort, entry.port, len + this.encapOverhead, 0);
      toNet.push(u, len + this.encapOverhead, entry.vtep, entry.port, srcPort);
    } else {
      toNet.push(hdr, len + this.encapOverhead, entry.vtep, entry.port);
    }
    return Verdict.ENCAP;
  }

  /** Stages 1-5 from the network for the datagram at buf[off..off+len) from `from`. Returns its verdict. */
  private decapFrame(buf: Buffer, off: number, len: number, from: number, toTap: SendList): number {
    if (!this.acceptUnknownVteps && !this.fdb.knowsVtep(from)) return DropReason.UNKNOWN_VTEP;
    const fault = vxlan.check(buf, off, len);
    if (fault !== vxlan.CHECK_OK) {
      return fault === vxlan.CHECK_NO_I_FLAG ? DropReason.VXLAN_NO_I_FLAG : DropReason.VXLAN_TOO_SHORT;
    }
    if (vxlan.vni(buf, off) !== this.vni) return DropReason.VXLAN_UNKNOWN_VNI;
    if (this.peers !== null && this.innerSource(buf, off + vxlan.HEADER_LEN, len - vxlan.HEADER_LEN, from) !== INNER_OK) {
      return DropReason.INNER_SPOOF;
    }
    toTap.push(off + vxlan.HEADER_LEN, len - vxlan.HEADER_LEN);
    return Verdict.DECAP;
  }

  /** Stage 4: checkInnerSource against the sender's row; INNER_OK or why not. */
  private innerSource(buf: Buffer, off: number, len: number, from: number): number {
    const row = this.peers!.get(from);
    if (row === undefined) return this.acceptUnknownVteps ? INNER_OK : INNER_NO_ROW;
    return checkInnerSource(row, buf, off, len);
  }

  // -------------------------------------------------------------------------
  // The trace hook's seam: off the hot path. Copy, decide, and let the hook
  // explain (switch/trace-hook.ts).

  /** encapFrame, traced: the frame as it came (copied first: an ARP answer rewrites it), then the verdict explained. */
  private traceEncap(t: Tracer, buf: Buffer, off: number, len: number, toNet: SendList, toTap: SendList): number {
    const data = Buffer.from(buf.subarray(off, off + len));
    const v = this.encapFrame(buf, off, len, toNet, toTap);
    t.frame(explainEncap(this.tables(), traceOf('tap', data, 0, 0, v), buf, off, toNet, toTap));
    return v;
  }

  /** decapFrame, traced. */
  private traceDecap(t: Tracer, buf: Buffer, off: number, len: number, from: number, port: number, toTap: SendList): number {
    const data = Buffer.from(buf.subarray(off, off + len));
    const v = this.decapFrame(buf, off, len, from, toTap);
    t.frame(explainDecap(this.tables(), traceOf('net', data, from, port, v), toTap));
    return v;
  }

  /** What the hook's explanation reads of this pipeline (made once, on the first traced frame). */
  private tables(): PipelineTables {
    if (this.explained === null) {
      this.explained = {
        vni: this.vni, fdb: this.fdb, arp: this.arp, peers: this.peers, acceptUnknownVteps: this.acceptUnknownVteps,
        innerSource: (buf, off, len, from) => this.innerSource(buf, off, len, from),
      };
    }
    return this.explained;
  }
}

/** The verdict as the hook's FrameTrace. */
function traceOf(dir: 'tap' | 'net', data: Buffer, addr: number, port: number, v: number): FrameTrace {
  const action = v === Verdict.ENCAP ? 'encap' : v === Verdict.ARP_REPLY ? 'arp-reply' : v === Verdict.DECAP ? 'decap' : 'drop';
  return frameTrace(dir, data, addr, port, action, v >= 0 ? v : -1);
}
