/**
 * The trace hook: what the trace edge (trace-edge.ts, middleware around the
 * Switch's two batch handlers) calls when a tracer is set, and nothing else.
 * The Pipeline knows none of it: it records its decisions (decisions.ts)
 * traced or not, and everything below is built only when tracing is on.
 *
 *   - the edge calls frame() once per frame, after the batch: a copy of the
 *     frame taken before the decision (an ARP answer rewrites the frame in
 *     place), the verdict, the lookups, and where it was queued;
 *     explainEncap / explainDecap (below) add the table lookups behind the
 *     recorded verdict and where the frame was queued;
 *   - then it calls endBatch() once per batch with the lists as the ports
 *     answered them (SendList.status), so that a refused frame becomes the
 *     udp-send / tap-write drop it is.
 *
 * The tracer that implements it (trace.ts) records (trace-record.ts), renders
 * (trace-render.ts) and writes (trace-sink.ts).
 */
import type { SendList } from '../io/port';
import * as arp from '../wire/arp';
import * as ethernet from '../wire/ethernet';
import * as icmpv6 from '../wire/icmpv6';
import * as ipv6 from '../wire/ipv6';
import * as vxlan from '../wire/vxlan';
import type { ArpTable } from './arp-table';
import type { NdTable } from './nd-table';
import { DropReason } from './drops';
import { LEARN_MOVED, LEARN_NEW, LEARN_REFRESHED, LEARN_REFUSED, LEARN_STATIC, LEARN_STATIC_CONFLICT, type Fdb, type FdbEntry } from './fdb';
import type { PipelineL2 } from './pipeline';
import type { PeerRow, PeerTable } from './peer-table';

/** Where a frame came from: read from the TAP, or received from the underlay. */
export type Direction = 'tap' | 'net';
/** What the switch did with it. */
export type Action = 'arp-reply' | 'encap' | 'decap' | 'drop';

/** One table probe behind a decision. Addresses are host-order u32, MACs 48-bit keys. */
export type Lookup =
  /** The ARP table, for the target of an ARP request. */
  | { table: 'arp'; ip: number; mac: number | null }
  /** The IPv6 neighbour table, for the target of a Neighbor Solicitation (RFC 5952 text). */
  | { table: 'nd'; target: string; mac: number | null }
  /** The FDB, for the destination MAC. */
  | { table: 'fdb'; mac: number; entry: FdbEntry | null }
  /** Decap's source check: does some FDB entry point at the sender? (`required` false: unknown VTEPs are accepted.) */
  | { table: 'vtep'; addr: number; known: boolean; required: boolean; l2?: boolean }
  /** The VXLAN header's VNI against ours. */
  | { table: 'vni'; vni: number; ours: number }
  /**
   * The inner source check (switch/peer-table.ts): the sender's row (null:
   * none) and checkInnerSource's result (INNER_*). The record reads the inner
   * source from the frame.
   */
  | { table: 'peer'; addr: number; row: PeerRow | null; result: number }
  /**
   * L2 mode: why a frame from the TAP was flooded, and to which VTEPs (the
   * flood list at the decision; empty: a flood-no-vteps drop).
   */
  | { table: 'flood'; why: 'broadcast' | 'multicast' | 'unknown unicast'; vteps: number[] }
  /**
   * L2 mode: learning from a decapsulated frame's inner source MAC (LEARN_*
   * of fdb.ts), behind `vtep`; `from` is the VTEP it moved from (-1: none),
   * `max` the FDB's limit.
   */
  | { table: 'learn'; mac: number; vtep: number; result: number; from: number; max: number }
  /** L2 mode: the ARP suppression table, for an ARP request's target, and the FDB entry of its MAC. */
  | { table: 'l2arp'; ip: number; mac: number | null; entry: FdbEntry | null }
  /** L2 mode: a decapsulated frame goes to the TAP only (nothing is asked: the rule is structural). */
  | { table: 'split-horizon' };

/** One frame, as the pipeline saw and decided it. */
export interface FrameTrace {
  dir: Direction;
  /** A copy of the frame as it arrived, before any rewrite (network: the UDP payload, from the VXLAN header on). */
  data: Buffer;
  /** Network frames: the sender's IPv4 (host-order u32) and UDP port; 0 for TAP frames. */
  addr: number;
  port: number;
  action: Action;
  /** A DropReason index when action is 'drop', else -1. */
  drop: number;
  lookups: Lookup[];
  /**
   * For 'encap': the VNI, the destination VTEP and port, the UDP source port
   * (0: the socket's own port), and a copy of the 8 VXLAN bytes as the
   * pipeline wrote them (null when they could not be found in the span).
   */
  encap: { vni: number; vtep: number; port: number; srcPort: number; header: Buffer | null } | null;
  /**
   * For a flooded 'encap' (L2 mode): every copy's VTEP, in the order queued
   * (entries index .. index + flood.length - 1 of the 'net' list); null: not flooded.
   */
  flood: number[] | null;
  /** Set by endBatch: how many copies of a flooded frame the socket refused (0: none). */
  floodRefused: number;
  /** For 'arp-reply': a copy of the reply sent back to the TAP. */
  reply: Buffer | null;
  /** The send list the frame was queued on ('net' from the TAP side, 'tap' either side), and its index there. */
  queued: 'net' | 'tap' | null;
  index: number;
  /** Set by endBatch for a frame the port refused: its SendList.status errno (0: not refused). */
  refusedErrno: number;
}

export interface Tracer {
  /** One frame decided (called by the trace edge, after the batch). */
  frame(t: FrameTrace): void;
  /**
   * The batch went to the ports (called by the trace edge): a frame queued at
   * index k of the 'net' or the 'tap' list was refused when that list's
   * status[k] is not SENT (null: nothing was refused that way). Renders and
   * writes the batch.
   */
  endBatch(toNet: SendList | null, toTap: SendList | null): void;
}

// ---------------------------------------------------------------------------
// The explanation: what the Pipeline's tables said about a decided frame.
// Off the hot path (only with a tracer), it allocates freely. It runs after
// the batch; the tables it asks do not change within a batch (learning does,
// and its results are in the records: decisions.ts), so asking them again
// gives the answers the decision had.

/** What the explanation reads of the Pipeline (its own tables and settings). */
export interface PipelineTables {
  readonly vni: number;
  readonly fdb: Fdb;
  readonly arp: ArpTable;
  /** The IPv6 neighbour table, or null when IPv6 ND is not answered. */
  readonly nd: NdTable | null;
  readonly peers: PeerTable | null;
  readonly acceptUnknownVteps: boolean;
  /** The Pipeline's own inner source check (stage 4): INNER_OK or why not. */
  innerSource(buf: Buffer, off: number, len: number, from: number): number;
  /** L2 mode's tables, or null (routed mode). */
  readonly l2: PipelineL2 | null;
}

/** Where a frame from the TAP was queued (`at`: its first entry on toNet or toTap) and, for a flood, how many copies. */
export interface EncapPlace {
  at: number;
  copies: number;
}

/** What L2 learning did for a datagram (decisions.ts): LEARN_* (-1: none), and for a move the VTEP before. */
export interface LearnFacts {
  result: number;
  movedFrom: number;
}

/** A decided frame, before its explanation: `drop` >= 0 makes it a drop. */
export function frameTrace(dir: Direction, data: Buffer, addr: number, port: number, action: Action, drop: number): FrameTrace {
  return { dir, data, addr, port, lookups: [], action, drop, encap: null, flood: null, floodRefused: 0, reply: null, queued: null, index: -1, refusedErrno: 0 };
}

/**
 * A frame from the TAP, decided: its ARP and FDB lookups, the reply it became
 * (`buf[off..]` after the decision) or the VTEP it was encapsulated for, and
 * where it was queued (`q.at` of toTap or toNet).
 */
export function explainEncap(p: PipelineTables, ev: FrameTrace, buf: Buffer, off: number, toNet: SendList, q: EncapPlace): FrameTrace {
  const data = ev.data;
  const len = data.length;
  if (ev.drop === DropReason.RUNT) return ev;
  if (p.l2 !== null) return explainEncapL2(p, p.l2, ev, buf, off, toNet, q);
  if (ethernet.etherType(data, 0) === ethernet.ETHERTYPE_ARP) {
    const l3 = ethernet.l3Offset(data, 0);
    if (arp.isEthIpv4(data, l3, len - l3) && arp.op(data, l3) === arp.OP_REQUEST) {
      const ip = arp.targetIp(data, l3);
      ev.lookups.push({ table: 'arp', ip, mac: p.arp.lookup(ip) ?? null });
    }
  } else if (p.nd !== null && ethernet.etherType(data, 0) === ethernet.ETHERTYPE_IPV6) {
    const l3 = ethernet.l3Offset(data, 0);
    // The copy is the NS as it came (the NA overwrote the slot): its target is what was looked up.
    if (len >= l3 + ipv6.HEADER_LEN + icmpv6.ND_MIN_LEN && ipv6.nextHeader(data, l3) === icmpv6.NEXT_HEADER &&
        data[l3 + ipv6.HEADER_LEN] === icmpv6.TYPE_NEIGHBOR_SOLICITATION && ev.drop !== DropReason.ND_MALFORMED) {
      const t = icmpv6.targetOffset(l3);
      ev.lookups.push({ table: 'nd', target: ipv6.formatAddress(data, t), mac: p.nd.lookup(data, t) ?? null });
    }
  }
  if (ev.action === 'arp-reply') {
    // An NA may be longer than its NS: the reply's own length is on toTap.
    ev.reply = Buffer.from(buf.subarray(off, off + replyLen(p, ev, len)));
    ev.queued = 'tap';
    ev.index = q.at;
  } else if (ev.action === 'encap' || ev.drop === DropReason.FDB_MISS) {
    const mac = ethernet.dstKey(data, 0);
    ev.lookups.push({ table: 'fdb', mac, entry: p.fdb.lookup(mac) ?? null });
  }
  if (ev.action === 'encap') {
    const k = q.at;
    ev.encap = encapOf(p, toNet, k, buf, len);
    ev.queued = 'net';
    ev.index = k;
  }
  return ev;
}

/** The length of the answer written over a frame of `len` bytes: an NA's is its own, an ARP reply's the request's. */
function replyLen(p: PipelineTables, ev: FrameTrace, len: number): number {
  if (p.nd === null || !ev.lookups.some((l) => l.table === 'nd')) return len;
  return ethernet.l3Offset(ev.data, 0) + ipv6.HEADER_LEN + icmpv6.NA_LEN;
}

/**
 * The encap facts of entry k of toNet. The span ends with the inner frame
 * (`innerLen` bytes), and the VXLAN header sits right before it, whether or
 * not the port has the pipeline write the UDP header too.
 */
function encapOf(p: PipelineTables, toNet: SendList, k: number, buf: Buffer, innerLen: number): NonNullable<FrameTrace['encap']> {
  const at = toNet.starts[k]! + toNet.lens[k]! - innerLen - vxlan.HEADER_LEN;
  const header = k < toNet.count && at >= 0 && toNet.lens[k]! >= innerLen + vxlan.HEADER_LEN && at + vxlan.HEADER_LEN <= buf.length
    ? Buffer.from(buf.subarray(at, at + vxlan.HEADER_LEN)) : null;
  return { vni: p.vni, vtep: toNet.addr(k), port: toNet.port(k), srcPort: toNet.srcPorts[k]!, header };
}

/** explainEncap in L2 mode: ARP suppression, the FDB, the flood. */
function explainEncapL2(p: PipelineTables, l2: PipelineL2, ev: FrameTrace, buf: Buffer, off: number, toNet: SendList, q: EncapPlace): FrameTrace {
  const data = ev.data;
  const len = data.length;
  const multi = ethernet.isMulticast(data, 0);
  if (multi && l2.arp !== null && ethernet.etherType(data, 0) === ethernet.ETHERTYPE_ARP) {
    const l3 = ethernet.l3Offset(data, 0);
    if (arp.isEthIpv4(data, l3, len - l3) && arp.op(data, l3) === arp.OP_REQUEST) {
      const ip = arp.targetIp(data, l3);
      const mac = l2.arp.lookup(ip) ?? null;
      ev.lookups.push({ table: 'l2arp', ip, mac, entry: mac === null ? null : p.fdb.lookup(mac) ?? null });
    }
  }
  if (ev.action === 'arp-reply') {
    ev.reply = Buffer.from(buf.subarray(off, off + len));
    ev.queued = 'tap';
    ev.index = q.at;
    return ev;
  }
  if (!multi) {
    const mac = ethernet.dstKey(data, 0);
    ev.lookups.push({ table: 'fdb', mac, entry: p.fdb.lookup(mac) ?? null });
  }
  const flooded = ev.action === 'encap' && ev.lookups.every((l) => l.table !== 'fdb' || l.entry === null);
  if (flooded || ev.drop === DropReason.FLOOD_NO_VTEPS) {
    const why = !multi ? 'unknown unicast' : ethernet.isBroadcast(data, 0) ? 'broadcast' : 'multicast';
    const n = flooded ? q.copies : 0;
    const vteps: number[] = [];
    for (let k = q.at; k < q.at + n; k++) vteps.push(toNet.addr(k));
    ev.lookups.push({ table: 'flood', why, vteps });
    if (flooded) {
      const k = q.at;
      ev.encap = encapOf(p, toNet, k, buf, len);
      ev.flood = vteps;
      ev.queued = 'net';
      ev.index = k;
    }
    return ev;
  }
  if (ev.action === 'encap') {
    const k = q.at;
    ev.encap = encapOf(p, toNet, k, buf, len);
    ev.queued = 'net';
    ev.index = k;
  }
  return ev;
}

/** explainDecap in L2 mode: the sender, the VNI, learning, and split horizon. */
function explainDecapL2(p: PipelineTables, l2: PipelineL2, ev: FrameTrace, at: number, learn: LearnFacts): FrameTrace {
  const data = ev.data;
  const from = ev.addr;
  const known = l2.floodList.has(from) || p.fdb.knowsStaticVtep(from);
  ev.lookups.push({ table: 'vtep', addr: from, known, required: !p.acceptUnknownVteps, l2: true });
  const r = learn.result;
  if (ev.action === 'decap' || ev.drop === DropReason.VXLAN_UNKNOWN_VNI || r >= 0) {
    ev.lookups.push({ table: 'vni', vni: vxlan.vni(data, 0), ours: p.vni });
  }
  if (r >= 0) {
    const mac = ethernet.srcKey(data, vxlan.HEADER_LEN);
    const e = p.fdb.lookup(mac);
    ev.lookups.push({
      table: 'learn', mac, vtep: r === LEARN_STATIC_CONFLICT && e !== undefined ? e.vtep : from, result: r,
      from: r === LEARN_MOVED ? learn.movedFrom : -1, max: p.fdb.max,
    });
  }
  if (ev.action === 'decap') {
    ev.lookups.push({ table: 'split-horizon' });
    ev.queued = 'tap';
    ev.index = at;
  }
  return ev;
}

/** What a LEARN_* result means, for a reader. */
export function learnText(result: number): string {
  switch (result) {
    case LEARN_NEW: return 'learned';
    case LEARN_REFRESHED: return 'refreshed';
    case LEARN_MOVED: return 'moved';
    case LEARN_STATIC: return 'static';
    case LEARN_STATIC_CONFLICT: return 'static elsewhere';
    case LEARN_REFUSED: return 'refused';
    default: return `learn result ${result}`;
  }
}

/**
 * A datagram from the network, decided: the sender, VNI and inner source
 * checks, and where it was queued (entry `at` of toTap). `learn`: L2 mode's
 * learning for it (ignored in routed mode).
 */
export function explainDecap(p: PipelineTables, ev: FrameTrace, at: number, learn: LearnFacts): FrameTrace {
  if (p.l2 !== null) return explainDecapL2(p, p.l2, ev, at, learn);
  const data = ev.data;
  const from = ev.addr;
  ev.lookups.push({ table: 'vtep', addr: from, known: p.fdb.knowsVtep(from), required: !p.acceptUnknownVteps });
  const decap = ev.action === 'decap';
  const spoof = ev.drop === DropReason.INNER_SPOOF;
  if (decap || spoof || ev.drop === DropReason.VXLAN_UNKNOWN_VNI) {
    ev.lookups.push({ table: 'vni', vni: vxlan.vni(data, 0), ours: p.vni });
  }
  if (p.peers !== null && (decap || spoof)) {
    const inner = vxlan.HEADER_LEN;
    ev.lookups.push({
      table: 'peer', addr: from, row: p.peers.get(from) ?? null,
      result: p.innerSource(data, inner, data.length - inner, from),
    });
  }
  if (decap) {
    ev.queued = 'tap';
    ev.index = at;
  }
  return ev;
}
