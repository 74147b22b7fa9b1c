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
 *   4. decap     the inner frame's span is queued for the TAP.
 * The caller (Switch) hands the queues to the ports once per batch.
 *
 * Nothing here allocates per frame: the queues are preallocated SendLists and
 * the tables are keyed by integers.
 */
import * as ethernet from '../wire/ethernet';
import * as udp from '../wire/udp';
import * as vxlan from '../wire/vxlan';
import type { FrameBatch, SendList } from '../io/port';
import type { ArpTable } from './arp-table';
import { answerArpInPlace } from './arp-responder';
import { DropReason, type Counters } from './counters';
import type { Fdb } from './fdb';
import { flowSourcePort } from './flow-hash';

/** Headroom every batch must keep in front of a frame: UDP + VXLAN headers, written in place. */
export const ENCAP_HEADROOM = udp.HEADER_LEN + vxlan.HEADER_LEN;

export interface PipelineOptions {
  vni: number;
  fdb: Fdb;
  arp: ArpTable;
  counters: Counters;
  /** True when the network port sends through a raw socket and wants the UDP header written here. */
  writesUdpHeader: boolean;
  /** Accept VXLAN from sources the FDB does not know (off by default: a datagram from anywhere else is a drop). */
  acceptUnknownVteps?: boolean;
}

export class Pipeline {
  readonly vni: number;
  private readonly fdb: Fdb;
  private readonly arp: ArpTable;
  private readonly counters: Counters;
  private readonly writesUdpHeader: boolean;
  private readonly acceptUnknownVteps: boolean;
  /** Bytes in front of the inner frame that one encap adds to the span we send. */
  readonly encapOverhead: number;

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
    this.encapOverhead = vxlan.HEADER_LEN + (this.writesUdpHeader ? udp.HEADER_LEN : 0);
  }

  /** Frames from the TAP: fills `toNet` (encapsulated spans) and `toTap` (local ARP replies). */
  encapBatch(b: FrameBatch, toNet: SendList, toTap: SendList): void {
    const c = this.counters;
    const buf = b.slab;
    c.tapBatches++;
    c.tapInFrames += b.count;
    if (b.headroom < this.encapOverhead) throw new RangeError(`batch headroom ${b.headroom} < ${this.encapOverhead}`);
    for (let i = 0; i < b.count; i++) {
      const off = b.frameStart(i);
      const len = b.sizes[i]!;
      if (len < ethernet.HEADER_LEN) {
        c.drop(DropReason.RUNT);
        continue;
      }
      if (ethernet.etherType(buf, off) === ethernet.ETHERTYPE_ARP) {
        if (answerArpInPlace(buf, off, len, off + ethernet.l3Offset(buf, off), this.arp) >= 0) {
          c.arpAnswered++;
          toTap.push(off, len);
          continue;
        }
        if (ethernet.isMulticast(buf, off)) {
          c.drop(DropReason.ARP_MISS);
          continue;
        }
        // A unicast ARP we cannot answer (a reply to a remote asker, a probe
        // for an address we do not hold) is forwarded like any unicast.
      } else if (ethernet.isMulticast(buf, off)) {
        c.drop(DropReason.FLOOD);
        continue;
      }
      const entry = this.fdb.lookup(ethernet.dstKey(buf, off));
      if (entry === undefined) {
        c.drop(DropReason.FDB_MISS);
        continue;
      }
      const hdr = off - vxlan.HEADER_LEN;
      vxlan.emit(buf, hdr, this.vni);
      if (this.writesUdpHeader) {
        const u = hdr - udp.HEADER_LEN;
        const srcPort = flowSourcePort(buf, off, len);
        udp.emitHeader(buf, u, srcPort, entry.port, len + this.encapOverhead, 0);
        toNet.push(u, len + this.encapOverhead, entry.vtep, entry.port, srcPort);
      } else {
        toNet.push(hdr, len + this.encapOverhead, entry.vtep, entry.port);
      }
      c.encapFrames++;
      c.encapBytes += len;
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
      if (!this.acceptUnknownVteps && !this.fdb.knowsVtep(b.addrs[i]!)) {
        c.drop(DropReason.UNKNOWN_VTEP);
        continue;
      }
      const fault = vxlan.check(buf, off, len);
      if (fault !== vxlan.CHECK_OK) {
        c.drop(fault === vxlan.CHECK_NO_I_FLAG ? DropReason.VXLAN_NO_I_FLAG : DropReason.VXLAN_TOO_SHORT);
        continue;
      }
      if (vxlan.vni(buf, off) !== this.vni) {
        c.drop(DropReason.VXLAN_UNKNOWN_VNI);
        continue;
      }
      toTap.push(off + vxlan.HEADER_LEN, len - vxlan.HEADER_LEN);
      c.decapFrames++;
      c.decapBytes += len - vxlan.HEADER_LEN;
    }
  }
}
