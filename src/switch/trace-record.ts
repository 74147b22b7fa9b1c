/**
 * The trace record: what one traced frame becomes once its outcome is known.
 * It is the JSON output (one object per frame), what the filter sees
 * (subjectOf) and what the text renderer prints (trace-render.ts), so `vxtap
 * run --trace` and `vxtap lab trace` (which reads the JSON back) say the same.
 *
 * Frames from the network: the UDP socket gives the payload (VXLAN header on)
 * and the sender, not the outer headers. They are rebuilt (wire/underlay.ts)
 * from the sender and the local address, decoded with the inner frame, and
 * marked as rebuilt. A frame that fails to decode is kept up to the failing
 * layer, with the error and its bytes in hex (never skipped).
 */
import { constants as osConstants } from 'node:os';
import { formatIpv4, macStringFromKey } from '../wire/addr';
import { formatVtep, isV6Key, writeKey6 } from '../io/vtep-key';
import { decodeFrame, type DecodedLayer } from '../wire/decode';
import * as arp from '../wire/arp';
import * as ethernet from '../wire/ethernet';
import * as icmpv6 from '../wire/icmpv6';
import * as ipv4 from '../wire/ipv4';
import * as ipv6 from '../wire/ipv6';
import { WIRE_OVERHEAD, WIRE_OVERHEAD6, wrapPayload, wrapPayload6 } from '../wire/underlay';
import * as vxlan from '../wire/vxlan';
import { DROP_NAMES, DropReason } from './drops';
import { wireRecord, type OuterContext, type UnderlayFacts, type WireRecord } from './trace-outer';
import * as peerTable from './peer-table';
import { LEARN_MOVED, LEARN_NEW, LEARN_REFRESHED, LEARN_REFUSED, LEARN_STATIC, LEARN_STATIC_CONFLICT } from './fdb';
import { learnText, type Action, type Direction, type FrameTrace, type Lookup } from './trace-hook';
import type { FilterSubject } from './trace-filter';

export interface LookupRecord {
  table: Lookup['table'];
  /** What was looked up: an IP, a MAC, a VNI. */
  key: string;
  hit: boolean;
  /** What the hit gave (a MAC, "ip:port"), or null. */
  result: string | null;
  /** The peer behind it, from describePeer, or null. */
  peer: string | null;
  /** The line the text output prints. */
  text: string;
}

export interface TraceRecord {
  /** Frames traced so far, this one included (shown or not: gaps are filtered frames). */
  seq: number;
  /** When the pipeline saw the frame: ISO 8601, UTC. */
  time: string;
  /** The same, in microseconds since the epoch (as pcap timestamps). */
  tsUs: number;
  dir: Direction;
  /** Bytes as received (network: the UDP payload). */
  len: number;
  /** Network frames: the underlay sender and receiver (the outer IPv4/UDP layers are rebuilt from these). */
  outer: { src: string; srcPort: number; dst: string; dstPort: number } | null;
  /** Decoded layers. Network frames start with the rebuilt outer IPv4 and UDP; offsets count from the first layer. */
  layers: DecodedLayer[];
  /** The first DecodeFailure's error, or null. */
  decodeError: string | null;
  /** The frame as received in hex, when it failed to decode. */
  hex: string | null;
  decision: Action;
  /** The drop counter name (drops.ts), or null. */
  drop: string | null;
  /** The decision in one line. */
  reason: string;
  lookups: LookupRecord[];
  encap: { vni: number; vtep: string; dstPort: number; srcPort: number; overhead: number; wireLen: number } | null;
  /**
   * L2 mode, a flooded frame: the VTEPs of its copies (head-end
   * replication; `encap.vtep` is the first) and how many the socket
   * refused; null when not flooded.
   */
  flood: { vteps: string[]; refused: number } | null;
  /** For 'arp-reply': the reply's layers. */
  reply: DecodedLayer[] | null;
  /**
   * For 'encap': the outer headers as the kernel will put them on the wire
   * (trace-outer.ts: next hop and MACs, TTL, DF, the source port and what
   * it hashes, the VXLAN bytes); null when the tracer has no send path to
   * go by, or for other decisions.
   */
  wire: WireRecord | null;
}

/** What a record needs to know of the switch it came from. */
export interface RecordContext {
  /** Our VNI. */
  vni: number;
  /** Our UDP port: the destination of received datagrams, and the source port of sends that cannot choose one. */
  port: number;
  /** Our underlay address as a VTEP key (io/vtep-key.ts: an IPv4 u32, or an IPv6 key), shown as the receiver of datagrams. */
  localIp: number;
  /** The peer behind an IP (an overlay address from the ARP table or a VTEP address), or null. */
  describePeer: ((ip: number) => string | null) | null;
  /** How the UDP port sends and the underlay facts per VTEP, for the encap's outer headers; absent or null: not shown. */
  outer?: OuterContext | null;
}

/** What the trace says of the outer IPv4 fields a UDP socket does not hand over. */
export const NOT_SEEN = 'not seen (the socket gives only the payload and the addresses)';

/** Makes records of decided frames (FrameTrace) for one switch. */
export class FrameRecorder {
  constructor(private readonly ctx: RecordContext) {}

  /** The record of one frame, and the bytes its layers' offsets refer to (network frames: with the rebuilt outer IPv4 + UDP). */
  record(ev: FrameTrace, ms: number, seq: number): { rec: TraceRecord; buf: Buffer } {
    const isNet = ev.dir === 'net';
    const outer = isNet
      ? { src: formatVtep(ev.addr), srcPort: ev.port, dst: formatVtep(this.ctx.localIp), dstPort: this.ctx.port }
      : null;
    const { layers, buf } = isNet ? this.decodeDatagram(ev) : { layers: decodeFrame(ev.data), buf: ev.data };
    const failure = layers.find((l) => l.name === 'DecodeFailure');
    const lookups = ev.lookups.map((l) => this.lookupRecord(l, ev));
    const encap = ev.encap === null ? null : {
      vni: ev.encap.vni,
      vtep: formatVtep(ev.encap.vtep),
      dstPort: ev.encap.port,
      srcPort: ev.encap.srcPort === 0 ? this.ctx.port : ev.encap.srcPort,
      overhead: isV6Key(ev.encap.vtep) ? WIRE_OVERHEAD6 : WIRE_OVERHEAD,
      wireLen: ev.data.length + (isV6Key(ev.encap.vtep) ? WIRE_OVERHEAD6 : WIRE_OVERHEAD),
    };
    const rec: TraceRecord = {
      seq,
      time: new Date(ms).toISOString(),
      tsUs: Math.floor(ms * 1000),
      dir: ev.dir,
      len: ev.data.length,
      outer,
      layers,
      decodeError: failure?.error ?? null,
      hex: failure ? ev.data.toString('hex') : null,
      decision: ev.action,
      drop: ev.drop >= 0 ? DROP_NAMES[ev.drop] ?? `drop-${ev.drop}` : null,
      reason: '',
      lookups,
      encap,
      flood: ev.flood === null ? null : { vteps: ev.flood.map(formatIpv4), refused: ev.floodRefused },
      reply: ev.reply === null ? null : decodeFrame(ev.reply),
      wire: this.wire(ev),
    };
    rec.reason = this.reason(ev, rec);
    return { rec, buf };
  }

  /**
   * Outer IPv4 + UDP rebuilt around the payload, decoded with the VXLAN header
   * and the inner frame. The placeholder Ethernet layer is left out; the
   * rebuilt layers keep only what the socket told us (addresses, ports, lengths).
   */
  private decodeDatagram(ev: FrameTrace): { layers: DecodedLayer[]; buf: Buffer } {
    const wire = isV6Key(ev.addr) ? this.wrap6(ev) : wrapPayload(ev.data, { srcIp: ev.addr, srcPort: ev.port, dstIp: this.ctx.localIp, dstPort: this.ctx.port });
    const layers = decodeFrame(wire, { vxlanPorts: [this.ctx.port] }).slice(1);
    const shift = ethernet.HEADER_LEN;
    for (const l of layers) l.offset -= shift;
    const ip = layers[0];
    if (ip?.name === 'IPv4') {
      const { src, dst, length } = ip.fields;
      // TTL, DF, ID and TOS are in the rebuilt bytes only as placeholders (wire/underlay.ts): the socket never gives them.
      ip.fields = { src: src!, dst: dst!, protocol: 'UDP', length: length!, rebuilt: 'from the socket: addresses only', ttl: NOT_SEEN, df: NOT_SEEN, id: NOT_SEEN, tos: NOT_SEEN };
      ip.summary = `IPv4 ${src} > ${dst} proto UDP len ${length} (outer, rebuilt; ttl, DF, id, tos ${NOT_SEEN})`;
    }
    if (ip?.name === 'IPv6') {
      const { src, dst } = ip.fields;
      ip.fields = { src: src!, dst: dst!, nextHeader: 'UDP', rebuilt: 'from the socket: addresses only', hopLimit: NOT_SEEN, flowLabel: NOT_SEEN, trafficClass: NOT_SEEN };
      ip.summary = `IPv6 ${src} > ${dst} next UDP (outer, rebuilt; hop limit, flow label, traffic class ${NOT_SEEN})`;
    }
    const u = layers[1];
    if (u?.name === 'UDP') {
      const { srcPort, dstPort, length } = u.fields;
      u.fields = { srcPort: srcPort!, dstPort: dstPort!, length: length!, rebuilt: 'from the socket: ports only' };
      u.summary = `UDP ${srcPort} > ${dstPort} len ${length} (outer, rebuilt)`;
    }
    return { layers, buf: wire.subarray(shift) };
  }

  /** Outer IPv6 + UDP rebuilt around a datagram from an IPv6 VTEP (the checksum computed, as the kernel checked it). An unknown sender ('?') shows as ::. */
  private wrap6(ev: FrameTrace): Buffer {
    const src = Buffer.alloc(16);
    const dst = Buffer.alloc(16);
    try { writeKey6(ev.addr, src, 0); } catch { /* V6_UNKNOWN: left :: */ }
    if (isV6Key(this.ctx.localIp)) writeKey6(this.ctx.localIp, dst, 0);
    return wrapPayload6(ev.data, { src, srcPort: ev.port, dst, dstPort: this.ctx.port });
  }

  /** The outer headers of an encapsulated frame, when the context says how the port sends. */
  private wire(ev: FrameTrace): WireRecord | null {
    const o = this.ctx.outer ?? null;
    // Only for a frame that went out: a send the socket refused became a drop, and put nothing on the wire.
    if (o === null || ev.encap === null || ev.action !== 'encap') return null;
    const e = ev.encap;
    const ask = o.underlay;
    const factsOf = (vtep: number): UnderlayFacts | null => {
      if (ask === null) return null;
      try {
        return ask(vtep);
      } catch {
        return null;
      }
    };
    return wireRecord({
      inner: ev.data, vni: e.vni, vteps: ev.flood ?? [e.vtep], dstPort: e.port,
      srcPort: e.srcPort === 0 ? this.ctx.port : e.srcPort, vxlanHeader: e.header,
    }, o.sendPath, factsOf);
  }

  private peer(ip: number): string | null {
    if (this.ctx.describePeer === null) return null;
    try {
      return this.ctx.describePeer(ip);
    } catch {
      return null;
    }
  }

  private lookupRecord(l: Lookup, ev: FrameTrace): LookupRecord {
    switch (l.table) {
      case 'arp': {
        const key = formatIpv4(l.ip);
        if (l.mac === null) {
          const how = ethernet.isMulticast(ev.data, 0) ? '' : ' (a unicast ARP: forwarded like any unicast)';
          return { table: 'arp', key, hit: false, result: null, peer: null, text: `ARP who-has ${key} → not in the ARP table${how}` };
        }
        const mac = macStringFromKey(l.mac);
        const peer = this.peer(l.ip);
        return {
          table: 'arp', key, hit: true, result: mac, peer,
          text: `ARP who-has ${key} → answered locally: is-at ${mac}${peer ? ` (${peer})` : ''}`,
        };
      }
      case 'nd': {
        const key = l.target;
        if (l.mac === null) {
          const how = ethernet.isMulticast(ev.data, 0) ? '' : ' (a unicast NS: forwarded like any unicast)';
          return { table: 'nd', key, hit: false, result: null, peer: null, text: `ND who-has ${key} → not in the neighbour table${how}` };
        }
        const mac = macStringFromKey(l.mac);
        return { table: 'nd', key, hit: true, result: mac, peer: null, text: `ND who-has ${key} → answered locally: neighbor advertisement, ${key} is-at ${mac}` };
      }
      case 'fdb': {
        const key = macStringFromKey(l.mac);
        if (l.entry === null) return { table: 'fdb', key, hit: false, result: null, peer: null, text: `FDB miss ${key}` };
        const result = `${formatVtep(l.entry.vtep)}:${l.entry.port}`;
        const peer = this.peer(l.entry.vtep);
        return {
          table: 'fdb', key, hit: true, result, peer,
          text: `FDB hit ${key} → VTEP ${result} (${l.entry.kind}${peer ? `, ${peer}` : ''})`,
        };
      }
      case 'vtep': {
        const key = formatIpv4(l.addr);
        const peer = this.peer(l.addr);
        const text = l.known
          ? `source ${key} is a known VTEP${peer ? ` (${peer})` : ''}`
          : `source ${key} is no known VTEP (${l.l2 === true ? 'not on the flood list, no static FDB entry points at it' : 'no FDB entry points at it'})${l.required ? '' : ': accepted, unknown VTEPs are allowed'}`;
        return { table: 'vtep', key, hit: l.known, result: null, peer, text };
      }
      case 'peer': {
        const key = formatIpv4(l.addr);
        const hit = l.result === peerTable.INNER_OK;
        if (l.row === null) {
          const text = l.result === peerTable.INNER_OK
            ? `inner source of ${key}: no peer row, not checked (unknown VTEPs are accepted)`
            : `inner source of ${key}: no peer row (the FDB knows this VTEP, but no installed peer has it)`;
          return { table: 'peer', key, hit, result: null, peer: null, text };
        }
        const r = l.row;
        const peer = `VTEP MAC ${macStringFromKey(r.mac)}, subnet ${formatIpv4(r.net)}/${r.prefixLen}`;
        return { table: 'peer', key, hit, result: peer, peer: this.peer(l.addr), text: `inner source ${innerSourceText(ev.data, vxlan.HEADER_LEN)} from ${key} (${peer}): ${innerResultText(l.result)}` };
      }
      case 'flood': {
        const n = l.vteps.length;
        const text = n === 0
          ? `${l.why}: the flood list is empty, no VTEP to replicate to`
          : `${l.why}: flooded to ${n} VTEP${n === 1 ? '' : 's'} (head-end replication): ${l.vteps.map(formatIpv4).join(', ')}`;
        return { table: 'flood', key: l.why, hit: n > 0, result: n > 0 ? String(n) : null, peer: null, text };
      }
      case 'learn': {
        const key = macStringFromKey(l.mac);
        const vtep = formatVtep(l.vtep);
        let text: string;
        switch (l.result) {
          case LEARN_NEW: text = `learned ${key} behind ${vtep}`; break;
          case LEARN_REFRESHED: text = `${key} behind ${vtep}: known, refreshed`; break;
          case LEARN_MOVED: text = `moved ${key} from ${formatVtep(l.from)} to ${vtep}`; break;
          case LEARN_STATIC: text = `${key} behind ${vtep}: a static entry, not learned`; break;
          case LEARN_STATIC_CONFLICT: text = `${key} is pinned (static) behind ${vtep}: not moved by traffic`; break;
          case LEARN_REFUSED: text = `refused: FDB full (${l.max}); ${key} not learned, the frame is still delivered`; break;
          default: text = `${key}: ${learnText(l.result)}`;
        }
        const hit = l.result !== LEARN_REFUSED && l.result !== LEARN_STATIC_CONFLICT;
        return { table: 'learn', key, hit, result: learnText(l.result), peer: this.peer(l.vtep), text };
      }
      case 'l2arp': {
        const key = formatIpv4(l.ip);
        if (l.mac === null) return { table: 'l2arp', key, hit: false, result: null, peer: null, text: `ARP who-has ${key} → not in the suppression table: flooded` };
        const mac = macStringFromKey(l.mac);
        if (l.entry === null) {
          return { table: 'l2arp', key, hit: false, result: mac, peer: null, text: `ARP who-has ${key} → ${mac} in the suppression table, but no FDB entry places it behind a VTEP: flooded` };
        }
        const vtep = formatVtep(l.entry.vtep);
        return {
          table: 'l2arp', key, hit: true, result: mac, peer: this.peer(l.entry.vtep),
          text: `ARP suppressed from the table (${key} is-at ${mac}, behind ${vtep})`,
        };
      }
      case 'split-horizon':
        return { table: 'split-horizon', key: '', hit: true, result: null, peer: null, text: 'split horizon: not flooded back to the network' };
      case 'vni': {
        const key = String(l.vni);
        const hit = l.vni === l.ours;
        return { table: 'vni', key, hit, result: null, peer: null, text: hit ? `VNI ${l.vni} is ours` : `VNI ${l.vni} is not ours (${l.ours})` };
      }
    }
  }

  /** The decision in one line. */
  private reason(ev: FrameTrace, rec: TraceRecord): string {
    const len = ev.data.length;
    switch (ev.action) {
      case 'arp-reply': {
        const arpLayer = rec.reply?.find((l) => l.name === 'ARP' || l.name === 'ICMPv6');
        const nd = ev.lookups.some((l) => l.table === 'nd');
        return `answered locally: ${arpLayer ? arpLayer.summary : nd ? 'neighbor advertisement' : 'ARP reply'} back to the TAP (never crosses the network)`;
      }
      case 'encap': {
        const e = rec.encap!;
        const chosen = ev.encap!.srcPort !== 0 ? '' : ' (the socket\'s own port)';
        const f = rec.flood;
        if (f !== null) {
          const refused = f.refused > 0 ? `; the socket refused ${f.refused} of them` : '';
          return `flooded to ${f.vteps.length} VTEP${f.vteps.length === 1 ? '' : 's'} (head-end replication): encap VNI ${e.vni} once, UDP ${e.srcPort}→${e.dstPort}${chosen}, +${WIRE_OVERHEAD} bytes → ${f.vteps.join(', ')}${refused}`;
        }
        return `encap VNI ${e.vni}, UDP ${e.srcPort}→${e.dstPort}${chosen}, +${WIRE_OVERHEAD} bytes → ${e.vtep}:${e.dstPort}`;
      }
      case 'decap': {
        const vni = len >= vxlan.HEADER_LEN ? vxlan.vni(ev.data, 0) : this.ctx.vni;
        if (ev.lookups.some((l) => l.table === 'split-horizon')) {
          return `decap from ${formatVtep(ev.addr)} (VNI ${vni}): ${len - vxlan.HEADER_LEN}-byte inner frame to the TAP only (split horizon: not flooded back to the network), -${WIRE_OVERHEAD} bytes of the wire packet`;
        }
        return `decap from ${formatVtep(ev.addr)} (VNI ${vni}): ${len - vxlan.HEADER_LEN}-byte inner frame to the TAP, -${WIRE_OVERHEAD} bytes of the wire packet`;
      }
      case 'drop':
        return `drop: ${rec.drop} (${this.dropDetail(ev, rec)})`;
    }
  }

  /**
   * A drop, explained for this frame: what drops.ts says of every such drop,
   * with this frame's numbers and addresses in it.
   */
  private dropDetail(ev: FrameTrace, rec: TraceRecord): string {
    const d = ev.data;
    const len = d.length;
    switch (ev.drop) {
      case DropReason.RUNT:
        return `${len} bytes; an Ethernet header needs ${ethernet.HEADER_LEN}`;
      case DropReason.FLOOD: {
        const what = ethernet.isBroadcast(d, 0) ? 'broadcast' : `multicast ${macStringFromKey(ethernet.dstKey(d, 0))}`;
        return `${what}; the flannel scheme routes, it does not flood`;
      }
      case DropReason.FDB_MISS:
        return `no FDB entry for ${macStringFromKey(ethernet.dstKey(d, 0))}, so no VTEP to send to`;
      case DropReason.ARP_MISS: {
        const a = ev.lookups.find((l) => l.table === 'arp');
        return `who-has ${a ? formatIpv4(a.ip) : '?'}: not in the ARP table, and ARP is not flooded`;
      }
      case DropReason.TOO_BIG:
        return `${len} bytes do not fit the slot with the VXLAN headroom`;
      case DropReason.VXLAN_TOO_SHORT:
        return `${len} bytes; the VXLAN header and an inner Ethernet header need ${vxlan.MIN_LEN}`;
      case DropReason.VXLAN_NO_I_FLAG:
        return `flags 0x${d[vxlan.field.FLAGS]!.toString(16).padStart(2, '0')} lack the I bit 0x08, so the VNI is not valid, RFC 7348 section 5`;
      case DropReason.VXLAN_UNKNOWN_VNI: {
        const v = ev.lookups.find((l) => l.table === 'vni');
        return `unknown VNI ${vxlan.vni(d, 0)}; ours is ${v && v.table === 'vni' ? v.ours : this.ctx.vni}`;
      }
      case DropReason.UNKNOWN_VTEP: {
        const v = ev.lookups.find((l) => l.table === 'vtep');
        if (v && v.table === 'vtep' && v.l2 === true) return `${formatVtep(ev.addr)}: not on the flood list, and no static FDB entry points at this VTEP`;
        return `${formatVtep(ev.addr)}: no FDB entry points at this VTEP`;
      }
      case DropReason.UDP_SEND:
        if (rec.flood !== null) return `flooded to ${rec.flood.vteps.join(', ')}, but the socket took no copy: ${refusal(ev.refusedErrno, 'its send buffer is full')}`;
        return `encapsulated for ${rec.encap ? `${rec.encap.vtep}:${rec.encap.dstPort}` : 'the network'}, but the socket did not take it: ${refusal(ev.refusedErrno, 'its send buffer is full')}`;
      case DropReason.TAP_WRITE:
        return `the TAP did not take it: ${refusal(ev.refusedErrno, 'its queue is full, or the link is down')}`;
      case DropReason.INNER_SPOOF: {
        const p = ev.lookups.find((l) => l.table === 'peer');
        const why = p && p.table === 'peer' ? innerResultText(p.result) : 'the inner source is not the sending peer\'s';
        return `${why}; a peer may only send from its VTEP MAC and its own subnet (--no-inner-source-check turns this off)`;
      }
      case DropReason.ARP_REPLY_WRITE:
        return `the TAP did not take the ARP reply: ${refusal(ev.refusedErrno, 'its queue is full, or the link is down')}`;
      case DropReason.FLOOD_NO_VTEPS: {
        const f = ev.lookups.find((l) => l.table === 'flood');
        return `${f && f.table === 'flood' ? f.why : 'a frame to flood'}, and the flood list is empty: no VTEP to replicate to`;
      }
      case DropReason.L2_BAD_SOURCE:
        return len >= vxlan.HEADER_LEN + ethernet.HEADER_LEN
          ? `inner source ${macStringFromKey(ethernet.srcKey(d, vxlan.HEADER_LEN))} is ${ethernet.srcKey(d, vxlan.HEADER_LEN) === 0 ? 'zero' : 'a group address'}: no station sends from it, never learned`
          : 'the inner source MAC is multicast or zero';
      case DropReason.L2_STATIC_MAC: {
        const l = ev.lookups.find((x) => x.table === 'learn');
        return l && l.table === 'learn'
          ? `${macStringFromKey(l.mac)} is pinned (static) behind ${formatVtep(l.vtep)}, but came from ${formatVtep(ev.addr)}: a static entry is never moved by traffic`
          : 'the inner source MAC is pinned (static) behind another VTEP';
      }
      case DropReason.ND_MISS: {
        const l3 = ethernet.l3Offset(d, 0);
        return len >= l3 + ipv6.HEADER_LEN + icmpv6.ND_MIN_LEN
          ? `who-has ${ipv6.formatAddress(d, icmpv6.targetOffset(l3))}: not in the neighbour table, and ND is not flooded`
          : 'a neighbour solicitation for an address not in the table';
      }
      case DropReason.ND_MALFORMED: {
        const l3 = ethernet.l3Offset(d, 0);
        const c = icmpv6.checkNd(d, l3, len - l3);
        return `${icmpv6.ndCheckName(c)}: ${icmpv6.ndCheckText(c)}; RFC 4861 section 7.1 discards it`;
      }
      default:
        return `reason ${ev.drop}`;
    }
  }
}

/** errno numbers to their names (EAGAIN, EMSGSIZE, ...), from Node's own table. */
const ERRNO_NAMES = new Map(Object.entries(osConstants.errno).map(([name, n]) => [n, name]));

/**
 * Why a port refused a frame, from its per-entry status: a full queue says
 * `full` (EAGAIN, ENOBUFS, or no errno known), anything else names the errno.
 */
function refusal(errno: number, full: string): string {
  const name = ERRNO_NAMES.get(errno);
  if (errno === 0 || name === 'EAGAIN' || name === 'EWOULDBLOCK' || name === 'ENOBUFS') return full;
  return `${name ?? `errno ${errno}`}`;
}

/** What the filter sees of a record. */
export function subjectOf(rec: TraceRecord): FilterSubject {
  const hosts = new Set<string>();
  const protos = new Set<string>();
  const ports = new Set<number>();
  let vni = rec.encap?.vni ?? -1;
  if (rec.outer) {
    hosts.add(rec.outer.src).add(rec.outer.dst);
    ports.add(rec.outer.srcPort).add(rec.outer.dstPort);
  }
  if (rec.encap) {
    hosts.add(rec.encap.vtep);
    ports.add(rec.encap.srcPort).add(rec.encap.dstPort);
  }
  // A flooded frame went to every VTEP of its copies: `host` matches any of them.
  for (const v of rec.flood?.vteps ?? []) hosts.add(v);
  // Network frames: the inner frame starts after the VXLAN layer.
  let inner = rec.outer === null;
  for (const l of rec.layers) {
    if (l.name === 'VXLAN') {
      vni = Number(l.fields.vni);
      inner = true;
      continue;
    }
    if (!inner) continue;
    switch (l.name) {
      case 'ARP':
        protos.add('arp');
        if (typeof l.fields.spa === 'string') hosts.add(l.fields.spa);
        if (typeof l.fields.tpa === 'string') hosts.add(l.fields.tpa);
        break;
      case 'IPv4':
      case 'IPv6':
        protos.add(l.name === 'IPv4' ? 'ipv4' : 'ipv6');
        hosts.add(String(l.fields.src)).add(String(l.fields.dst));
        break;
      case 'ICMPv4':
        protos.add('icmp');
        break;
      case 'TCP':
      case 'UDP':
        protos.add(l.name === 'TCP' ? 'tcp' : 'udp');
        ports.add(Number(l.fields.srcPort)).add(Number(l.fields.dstPort));
        break;
      default:
        break;
    }
  }
  return { dir: rec.dir, drop: rec.drop, hosts, protos, ports, vni };
}

/** The inner frame's source as the check sees it: MAC, and the IPv4 source or ARP sender. */
function innerSourceText(data: Buffer, off: number): string {
  if (data.length < off + ethernet.HEADER_LEN) return '(no inner frame)';
  const mac = macStringFromKey(ethernet.srcKey(data, off));
  const type = ethernet.etherType(data, off);
  const l3 = off + ethernet.l3Offset(data, off);
  if (type === ethernet.ETHERTYPE_IPV4 && data.length >= l3 + ipv4.HEADER_LEN) return `${mac} ${formatIpv4(ipv4.src(data, l3))}`;
  if (type === ethernet.ETHERTYPE_ARP && arp.isEthIpv4(data, l3, data.length - l3)) return `${mac} (ARP sender ${macStringFromKey(arp.senderMacKey(data, l3))} ${formatIpv4(arp.senderIp(data, l3))})`;
  if (type === ethernet.ETHERTYPE_IPV6 && data.length >= l3 + ipv6.HEADER_LEN) return `${mac} ${ipv6.formatAddress(data, l3 + ipv6.field.SRC)}`;
  return mac;
}

function innerResultText(result: number): string {
  switch (result) {
    case peerTable.INNER_OK: return 'the peer\'s own';
    case peerTable.INNER_NO_ROW: return 'no installed peer has this VTEP';
    case peerTable.INNER_BAD_MAC: return 'the source MAC is not the VTEP MAC';
    case peerTable.INNER_BAD_IP: return 'the IPv4 source is outside the peer\'s subnet';
    case peerTable.INNER_BAD_ARP_MAC: return 'the ARP sender MAC is not the VTEP MAC';
    case peerTable.INNER_BAD_ARP_IP: return 'the ARP sender address is outside the peer\'s subnet';
    case peerTable.INNER_SHORT: return 'the IPv4 header is cut short: no source to check';
    case peerTable.INNER_BAD_IP6: return 'the IPv6 source is outside the peer\'s IPv6 subnet';
    case peerTable.INNER_SHORT6: return 'the IPv6 header is cut short: no source to check';
    default: return `check result ${result}`;
  }
}
