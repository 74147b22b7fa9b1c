/**
 * The encap/decap pipeline: decisions per frame over a batch, no I/O.
 *
 * From the TAP (encapBatch), for each frame of the batch:
 *   1. check     a frame shorter than an Ethernet header is a `runt` drop;
 *   2. ARP       an ARP request for an address in the ARP table is answered
 *                in place and queued back to the TAP (never crosses the network);
 *      ND        with IPv6 on (an ND table), the same for an IPv6 Neighbor
 *                Solicitation (nd-responder.ts): answered with a Neighbor
 *                Advertisement from the ND table; a multicast NS for an
 *                address not in it is `nd-miss`, a malformed NS or NA
 *                `nd-malformed` (a unicast NS not in the table is forwarded,
 *                as a unicast ARP is);
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
 *                MAC (and IPv4 source, ARP sender, IPv6 source when the
 *                peer has an IPv6 subnet) must be the sending peer's
 *                (switch/peer-table.ts), or `inner-spoof`;
 *   5. decap     the inner frame's span is queued for the TAP.
 * The caller (Switch) hands the queues to the ports once per batch.
 *
 * L2 mode (`mode: 'l2'`, issue #10: a classic VXLAN switch, RFC 7348):
 * from the TAP (encapL2):
 *   1. check     `runt` as above;
 *   2. ARP       with ARP suppression, a broadcast ARP request for an
 *                address in the suppression table (l2-arp.ts) whose MAC the
 *                FDB places behind a remote VTEP is answered in place;
 *   3. FDB       unicast with an FDB hit: one copy to that VTEP;
 *   4. flood     broadcast, multicast, unknown unicast: head-end
 *                replication, the headers written once in front of the
 *                frame and one send-list entry per flood-list VTEP, all on
 *                that one span (no copy of the frame); `flood-no-vteps`
 *                when the list is empty.
 * From the network (decapL2):
 *   1. source    a flood-list VTEP or one a static FDB entry points at,
 *                unless unknown VTEPs are accepted (`unknown-vtep`);
 *   2-3.         VXLAN and VNI as above;
 *   4. learn     inner source MAC -> outer source IP, at the segment's port
 *                (RFC 7348 section 5: the outer source port is a flow hash,
 *                not where the VTEP listens); a multicast or zero source is
 *                `l2-bad-source`, a MAC pinned by a static entry behind
 *                another VTEP is `l2-static-mac`; ARP replies and
 *                gratuitous ARPs fill the suppression table;
 *   5. decap     the inner frame to the TAP whatever its destination (the
 *                bridge behind the TAP decides).
 * Split horizon is structural: decapBatch has no queue to the network, so a
 * frame from the network never goes back to it (one VTEP's flood reaches
 * every other VTEP already; a second hop would loop).
 *
 * Nothing here allocates per frame: the queues are preallocated SendLists and
 * the tables are keyed by integers. Each frame's stages are one method
 * (encapFrame / decapFrame) that returns its verdict; the batch loop counts it.
 *
 * Tracing is not here: the pipeline knows no tracer. Every batch, traced or
 * not, leaves its decisions in `decisions` (switch/decisions.ts: one
 * typed-array store per frame, the verdict, plus in L2 mode the few facts
 * the tables cannot give back afterwards), and the trace is middleware at
 * the switch's edge (switch/trace-edge.ts) that copies the frames before the
 * batch and explains them from those records and the tables after the ports
 * answered. Untraced, the switch runs the bare batch handlers: the stores
 * are the whole cost.
 */
import * as ethernet from '../wire/ethernet';
import * as udp from '../wire/udp';
import * as vxlan from '../wire/vxlan';
import { wordsVtepKey, type EndpointTable } from '../io/endpoints';
import { V6_UNKNOWN } from '../io/vtep-key';
import { FLOOD_FIRST, FLOOD_MORE, type FrameBatch, type SendList, type SourcePortRange } from '../io/port';
import type { ArpTable } from './arp-table';
import { answerArpInPlace } from './arp-responder';
import { answerNsInPlace, ND_MALFORMED, ND_MISS, ndDropReason } from './nd-responder';
import type { NdTable } from './nd-table';
import { DropReason, type Counters } from './counters';
import { LEARN_MOVED, LEARN_NEW, LEARN_REFRESHED, LEARN_REFUSED, LEARN_STATIC_CONFLICT, type Fdb } from './fdb';
import * as arp from '../wire/arp';
import type { FloodList } from './flood-list';
import type { L2ArpTable } from './l2-arp';
import { flowSourcePort, SOURCE_PORT_MIN } from './flow-hash';
import { checkInnerSource, INNER_NO_ROW, INNER_OK, type PeerTable } from './peer-table';
import { Decisions } from './decisions';

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
  /** L2 mode: encapsulated once and queued for every VTEP of the flood list (Pipeline.copies entries). */
  FLOOD: -4,
  /** L2 mode: an ARP request answered from the suppression table and queued back to the TAP. */
  ARP_SUPPRESSED: -5,
  /** Routed mode with IPv6: a Neighbor Solicitation answered with an NA in place and queued back to the TAP. */
  ND_REPLY: -6,
} as const;

/** `routed`: flannel's scheme (the default). `l2`: a VXLAN switch with learning and flooding. */
export type SwitchMode = 'routed' | 'l2';

/** What L2 mode's pipeline works with (the Switch makes the tables). */
export interface PipelineL2 {
  /** The segment's UDP destination port: learned entries and flood copies use it. */
  port: number;
  floodList: FloodList;
  /** The ARP suppression table; null: no ARP suppression. */
  arp: L2ArpTable | null;
}

export interface PipelineOptions {
  vni: number;
  fdb: Fdb;
  arp: ArpTable;
  /**
   * The IPv6 neighbour table (routed mode's IPv6 overlay): with one,
   * Neighbor Solicitations from the TAP are answered from it. null (the
   * default): IPv6 ND is switched like other multicast (a `flood` drop), as
   * before the IPv6 overlay, so an IPv4-only host counts what it always did.
   */
  nd?: NdTable | null;
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
  /** Default 'routed'; 'l2' needs `l2`. */
  mode?: SwitchMode;
  l2?: PipelineL2 | null;
}

export class Pipeline {
  readonly vni: number;
  // The tables are readable so that the trace can explain a decision from
  // them after the batch (trace-hook.ts PipelineTables); the pipeline only writes them.
  readonly fdb: Fdb;
  readonly arp: ArpTable;
  readonly nd: NdTable | null;
  /** The endpoint table the FDB and the flood list intern into: what toNet's indices mean. */
  private readonly endpoints: EndpointTable;
  private readonly counters: Counters;
  private readonly writesUdpHeader: boolean;
  readonly acceptUnknownVteps: boolean;
  readonly peers: PeerTable | null;
  /** The source ports given (PipelineOptions.sourcePorts): a dry run of this pipeline (dry-run.ts) must hash into the same range. */
  readonly sourcePorts: SourcePortRange | undefined;
  private readonly srcPortMin: number;
  private readonly srcPortSpan: number;
  /** Bytes in front of the inner frame that one encap adds to the span we send. */
  readonly encapOverhead: number;
  /** What the last batch decided, frame by frame (always filled; read by the trace edge). */
  readonly decisions = new Decisions();
  readonly mode: SwitchMode;
  /** L2 mode's tables, or null in routed mode. */
  readonly l2: PipelineL2 | null;
  /** The clock learning stamps entries with: read once per batch (decapBatch), never per frame. */
  now = 0;
  /** Bytes a TAP slot holds from its frame's start (set per batch): room for an NA longer than its NS. */
  private slotCap = 0;
  /** The copies the last Verdict.FLOOD queued (the last `copies` entries of toNet). */
  copies = 0;
  /** What the last L2 decap's learning did (LEARN_*; -1: no learning), for `decisions`. */
  learnResult = -1;

  constructor(opts: PipelineOptions) {
    if (!Number.isInteger(opts.vni) || opts.vni < 0 || opts.vni > vxlan.VNI_MAX) {
      throw new RangeError(`VNI ${opts.vni} is outside 0..${vxlan.VNI_MAX}`);
    }
    this.vni = opts.vni;
    this.fdb = opts.fdb;
    this.arp = opts.arp;
    this.nd = opts.nd ?? null;
    this.counters = opts.counters;
    this.writesUdpHeader = opts.writesUdpHeader;
    this.acceptUnknownVteps = opts.acceptUnknownVteps ?? false;
    this.peers = opts.peers ?? null;
    this.sourcePorts = opts.sourcePorts;
    this.srcPortMin = opts.sourcePorts?.min ?? SOURCE_PORT_MIN;
    this.srcPortSpan = opts.sourcePorts?.count ?? 65536 - SOURCE_PORT_MIN;
    this.encapOverhead = vxlan.HEADER_LEN + (this.writesUdpHeader ? udp.HEADER_LEN : 0);
    this.mode = opts.mode ?? 'routed';
    this.l2 = opts.l2 ?? null;
    if (this.mode === 'l2' && this.l2 === null) throw new RangeError('L2 mode needs its tables (PipelineOptions.l2)');
    if (this.mode !== 'l2') this.l2 = null;
    this.endpoints = this.fdb.endpoints;
    if (this.l2 !== null && this.l2.floodList.endpoints !== this.endpoints) {
      throw new RangeError('the flood list and the FDB must share one endpoint table (the Switch\'s)');
    }
  }

  /** Frames from the TAP: fills `toNet` (encapsulated spans) and `toTap` (local ARP replies). */
  encapBatch(b: FrameBatch, toNet: SendList, toTap: SendList): void {
    const c = this.counters;
    const buf = b.slab;
    const sf = b.superFrames;
    c.tapBatches++;
    c.tapInFrames += b.count;
    if (b.headroom < this.encapOverhead) throw new RangeError(`batch headroom ${b.headroom} < ${this.encapOverhead}`);
    toNet.endpoints = this.endpoints; // the indices pushed below are this table's
    this.slotCap = b.slotSize - b.headroom;
    const l2 = this.l2;
    if (l2 !== null) {
      // Every frame of the batch may be flooded to every VTEP: the caller sizes the list (Switch.sizeSendList).
      const need = toNet.count + b.count * Math.max(1, l2.floodList.size);
      if (need > toNet.capacity) throw new RangeError(`send list holds ${toNet.capacity} entries, a flooded batch may need ${need}`);
    }
    const d = this.decisions;
    d.begin(b.count, toNet.count, toTap.count);
    const verdicts = d.verdict;
    for (let i = 0; i < b.count; i++) {
      const off = b.frameStart(i);
      const len = b.sizes[i]!;
      const v = l2 === null ? this.encapFrame(buf, off, len, toNet, toTap) : this.encapL2(l2, buf, off, len, toNet, toTap);
      verdicts[i] = v;
      // A super-frame kept whole (FrameBatch.superFrames): one decision, made
      // on its segment 0, stands for all its segments; the send cuts the others.
      if (sf !== null && sf.isWhole(i)) {
        const segs = sf.segments(i);
        c.tapInFrames += segs - 1;
        if (v === Verdict.ENCAP || v === Verdict.FLOOD) {
          const n = v === Verdict.FLOOD ? this.copies : 1;
          for (let k = toNet.count - n; k < toNet.count; k++) toNet.wholeOf[k] = i;
          c.encapFrames += segs;
          c.encapBytes += sf.cutBytes(i, len);
          if (v === Verdict.FLOOD) {
            d.copies[i] = n;
            this.countFlood(n);
          }
        } else {
          c.drop(v, segs); // a super-frame is TCP: never an ARP reply
        }
      } else if (v === Verdict.ENCAP) {
        c.encapFrames++;
        c.encapBytes += len;
      } else if (v === Verdict.FLOOD) {
        // One frame, however many copies: the books count frames (Switch.undoEncap).
        c.encapFrames++;
        c.encapBytes += len;
        d.copies[i] = this.copies;
        this.countFlood(this.copies);
      } else if (v === Verdict.ARP_REPLY) {
        c.arpAnswered++;
      } else if (v === Verdict.ND_REPLY) {
        // Counted with the ARP answers (the TAP-side books balance on arpAnswered, Switch.undo), and on its own.
        c.arpAnswered++;
        c.ndAnswered++;
      } else if (v === Verdict.ARP_SUPPRESSED) {
        c.arpAnswered++;
        c.l2.arpSuppressed++;
      } else {
        c.drop(v);
      }
    }
  }

  private countFlood(copies: number): void {
    const l2 = this.counters.l2;
    l2.floodedFrames++;
    l2.floodCopies += copies;
  }

  /** Datagrams from the network (VXLAN header at the slot's headroom): fills `toTap` with inner frames. */
  decapBatch(b: FrameBatch, toTap: SendList): void {
    const c = this.counters;
    const buf = b.slab;
    c.netBatches++;
    c.netInFrames += b.count;
    const l2 = this.l2;
    if (l2 !== null) this.now = Date.now(); // the coarse clock of learning: once per batch
    const d = this.decisions;
    d.begin(b.count, 0, toTap.count);
    const verdicts = d.verdict;
    const names32 = b.names32;
    for (let i = 0; i < b.count; i++) {
      const off = b.frameStart(i);
      const len = b.sizes[i]!;
      // The sender's VTEP key (its IPv4, or an IPv6 VTEP's key: io/vtep-key.ts), read from its endpoint record.
      const from = wordsVtepKey(names32, i);
      let v: number;
      if (l2 === null) {
        v = this.decapFrame(buf, off, len, from, toTap);
      } else {
        // Learning changes the FDB: what it did is kept now, for the trace.
        v = this.decapL2(l2, buf, off, len, from, toTap);
        d.learn[i] = this.learnResult;
        if (this.learnResult === LEARN_MOVED) d.movedFrom[i] = this.movedFrom();
      }
      verdicts[i] = v;
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
    const type = ethernet.etherType(buf, off);
    if (type === ethernet.ETHERTYPE_ARP) {
      if (answerArpInPlace(buf, off, len, off + ethernet.l3Offset(buf, off), this.arp) >= 0) {
        toTap.push(off, len);
        return Verdict.ARP_REPLY;
      }
      if (ethernet.isMulticast(buf, off)) return DropReason.ARP_MISS;
      // A unicast ARP we cannot answer (a reply to a remote asker, a probe
      // for an address we do not hold) is forwarded like any unicast.
    } else if (type === ethernet.ETHERTYPE_IPV6 && this.nd !== null) {
      // Only IPv6 frames pay for this; the IPv4 path above is one compare more.
      const r = answerNsInPlace(buf, off, len, off + ethernet.l3Offset(buf, off), this.slotCap, this.nd);
      if (r >= 0) {
        toTap.push(off, r); // the NA may be longer than the NS (no source option in a unicast NS)
        return Verdict.ND_REPLY;
      }
      if (r === ND_MALFORMED) return ndDropReason(r);
      if (ethernet.isMulticast(buf, off)) return r === ND_MISS ? ndDropReason(r) : DropReason.FLOOD;
      // What is left is unicast: an NS for an address we do not hold (like a
      // unicast ARP) or any other IPv6 (ND_NOT_NS) goes on to the FDB.
    } else if (ethernet.isMulticast(buf, off)) {
      return DropReason.FLOOD;
    }
    const entry = this.fdb.lookup(ethernet.dstKey(buf, off));
    if (entry === undefined) return DropReason.FDB_MISS;
    this.encapTo(buf, off, len, entry.ep, entry.port, toNet);
    return Verdict.ENCAP;
  }

  /** Stage 5: the headers in front of the frame, and one entry on toNet for endpoint `ep` (whose UDP port is `port`). */
  private encapTo(buf: Buffer, off: number, len: number, ep: number, port: number, toNet: SendList): void {
    const hdr = off - vxlan.HEADER_LEN;
    vxlan.emit(buf, hdr, this.vni);
    if (this.writesUdpHeader) {
      const u = hdr - udp.HEADER_LEN;
      const srcPort = flowSourcePort(buf, off, len, this.srcPortMin, this.srcPortSpan);
      udp.emitHeader(buf, u, srcPort, port, len + this.encapOverhead, 0);
      toNet.push(u, len + this.encapOverhead, ep, srcPort);
    } else {
      toNet.push(hdr, len + this.encapOverhead, ep);
    }
  }

  /** L2 mode, stages 1-4 from the TAP (see the file header). Returns its verdict. */
  private encapL2(l2: PipelineL2, buf: Buffer, off: number, len: number, toNet: SendList, toTap: SendList): number {
    if (len < ethernet.HEADER_LEN) return DropReason.RUNT;
    if (ethernet.isMulticast(buf, off)) {
      if (l2.arp !== null && ethernet.etherType(buf, off) === ethernet.ETHERTYPE_ARP && this.suppressArp(l2.arp, buf, off, len)) {
        toTap.push(off, len);
        return Verdict.ARP_SUPPRESSED;
      }
      return this.flood(l2, buf, off, len, toNet);
    }
    const entry = this.fdb.lookup(ethernet.dstKey(buf, off));
    if (entry === undefined) return this.flood(l2, buf, off, len, toNet); // unknown unicast
    this.encapTo(buf, off, len, entry.ep, entry.port, toNet);
    return Verdict.ENCAP;
  }

  /**
   * ARP suppression: answers the ARP request at buf[off..) in place when its
   * target is in the table and the FDB places the target's MAC behind a VTEP
   * (else the owner may have gone: the request is flooded and its reply
   * refreshes the table). Returns whether it answered.
   *
   * Never answered, always flooded: a gratuitous ARP (sender IP = target
   * IP: a host announcing itself, e.g. after it moved behind this VTEP, which
   * the other VTEPs must see to learn the move) and a request whose asker is
   * the MAC the table would answer with (the owner itself).
   */
  private suppressArp(table: L2ArpTable, buf: Buffer, off: number, len: number): boolean {
    const l3 = off + ethernet.l3Offset(buf, off);
    if (!arp.isEthIpv4(buf, l3, off + len - l3) || arp.op(buf, l3) !== arp.OP_REQUEST) return false;
    const target = arp.targetIp(buf, l3);
    if (target === arp.senderIp(buf, l3)) return false;
    const mac = table.lookup(target);
    if (mac === undefined || mac === arp.senderMacKey(buf, l3) || this.fdb.lookup(mac) === undefined) return false;
    return answerArpInPlace(buf, off, len, l3, table) >= 0;
  }

  /**
   * Head-end replication: the VXLAN header (and, for raw-socket ports, the
   * UDP header with the segment's port and the flow's source port) written
   * once in front of the frame, then one entry per flood-list VTEP on that
   * same span: the copies differ only in their destination endpoint, whose
   * record the send uses as each message's sockaddr.
   */
  private flood(l2: PipelineL2, buf: Buffer, off: number, len: number, toNet: SendList): number {
    const fl = l2.floodList;
    const n = fl.size;
    if (n === 0) return DropReason.FLOOD_NO_VTEPS;
    const hdr = off - vxlan.HEADER_LEN;
    vxlan.emit(buf, hdr, this.vni);
    const wireLen = len + this.encapOverhead;
    let start = hdr;
    let srcPort = 0;
    if (this.writesUdpHeader) {
      start = hdr - udp.HEADER_LEN;
      srcPort = flowSourcePort(buf, off, len, this.srcPortMin, this.srcPortSpan);
      udp.emitHeader(buf, start, srcPort, l2.port, wireLen, 0);
    }
    // SendList.push's stores, unrolled over the copies: this loop is the
    // whole per-copy cost of a flood (the frame was decided once).
    const eps = fl.eps;
    const first = toNet.count;
    const end = first + n;
    const starts = toNet.starts, lens = toNet.lens, srcPorts = toNet.srcPorts, wholeOf = toNet.wholeOf, same = toNet.sameFrame;
    const dEps = toNet.eps;
    for (let k = first, j = 0; k < end; k++, j++) {
      starts[k] = start;
      lens[k] = wireLen;
      dEps[k] = eps[j]!;
      srcPorts[k] = srcPort;
      wholeOf[k] = -1;
      same[k] = FLOOD_MORE;
    }
    same[first] = FLOOD_FIRST;
    toNet.count = end;
    this.copies = n;
    return Verdict.FLOOD;
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

  /** L2 mode, stages 1-5 from the network (see the file header). Returns its verdict. */
  private decapL2(l2: PipelineL2, buf: Buffer, off: number, len: number, from: number, toTap: SendList): number {
    this.learnResult = -1;
    if (!this.acceptUnknownVteps && !l2.floodList.has(from) && !this.fdb.knowsStaticVtep(from)) return DropReason.UNKNOWN_VTEP;
    // An IPv6 sender no configuration named has no key to learn behind (io/vtep-key.ts): unknown even when unknown VTEPs are accepted.
    if (from === V6_UNKNOWN) return DropReason.UNKNOWN_VTEP;
    const fault = vxlan.check(buf, off, len);
    if (fault !== vxlan.CHECK_OK) {
      return fault === vxlan.CHECK_NO_I_FLAG ? DropReason.VXLAN_NO_I_FLAG : DropReason.VXLAN_TOO_SHORT;
    }
    if (vxlan.vni(buf, off) !== this.vni) return DropReason.VXLAN_UNKNOWN_VNI;
    const inner = off + vxlan.HEADER_LEN;
    const innerLen = len - vxlan.HEADER_LEN;
    // The group bit is the low bit of the first octet: no station sends from a group address.
    if ((buf[inner + ethernet.field.SRC]! & 1) !== 0) return DropReason.L2_BAD_SOURCE;
    const src = ethernet.srcKey(buf, inner);
    if (src === 0) return DropReason.L2_BAD_SOURCE;
    const r = this.learn(src, from, l2.port);
    this.learnResult = r;
    if (r !== LEARN_REFRESHED) {
      const c = this.counters.l2;
      if (r === LEARN_NEW) c.learned++;
      else if (r === LEARN_MOVED) c.moved++;
      else if (r === LEARN_REFUSED) c.fdbRefused++; // still delivered: only the table is full
      else if (r === LEARN_STATIC_CONFLICT) return DropReason.L2_STATIC_MAC;
    }
    if (l2.arp !== null && ethernet.etherType(buf, inner) === ethernet.ETHERTYPE_ARP) this.snoopArp(l2.arp, buf, inner, innerLen);
    // Split horizon: to the TAP only. There is no queue to the network here.
    toTap.push(inner, innerLen);
    return Verdict.DECAP;
  }

  /**
   * L2 learning's one write to the FDB (LEARN_*). A method, so that the dry
   * run of `vxtap explain` (switch/dry-run.ts DryPipeline) can ask instead of
   * write without a check here: the live pipeline's code is the same.
   */
  protected learn(src: number, from: number, port: number): number {
    return this.fdb.observe(src, from, port, this.now);
  }

  /** The VTEP the last LEARN_MOVED took the MAC from (the dry run keeps its own: it must not write the FDB's). */
  protected movedFrom(): number {
    return this.fdb.movedFrom;
  }

  /**
   * ARP suppression's learning: a reply, or a gratuitous ARP (sender IP =
   * target IP), gives sender IP -> sender MAC. Any other request only updates
   * an entry the table holds already (RFC 826's merge: the sender's pair
   * replaces a known one, a new one is not added): an address that came back
   * with another MAC (a replaced container) is answered with the new MAC as
   * soon as its owner speaks, not with the old one until ageing.
   */
  protected snoopArp(table: L2ArpTable, buf: Buffer, inner: number, innerLen: number): void {
    const l3 = inner + ethernet.l3Offset(buf, inner);
    if (!arp.isEthIpv4(buf, l3, inner + innerLen - l3)) return;
    const ip = arp.senderIp(buf, l3);
    if (ip === 0) return; // a probe (RFC 5227): the sender has no address yet
    const op = arp.op(buf, l3);
    if (op === arp.OP_REPLY || (op === arp.OP_REQUEST && ip === arp.targetIp(buf, l3))) {
      table.snoop(ip, arp.senderMacKey(buf, l3), this.now);
    } else if (op === arp.OP_REQUEST) {
      table.merge(ip, arp.senderMacKey(buf, l3), this.now);
    }
  }

  /** Stage 4: checkInnerSource against the sender's row; INNER_OK or why not (also the trace's explanation). */
  innerSource(buf: Buffer, off: number, len: number, from: number): number {
    const row = this.peers!.get(from);
    if (row === undefined) return this.acceptUnknownVteps ? INNER_OK : INNER_NO_ROW;
    return checkInnerSource(row, buf, off, len);
  }
}
