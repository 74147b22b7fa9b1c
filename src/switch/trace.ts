/**
 * The teaching trace: every frame's path through the switch, layer by layer,
 * with the decision and the table lookups behind it (smoltcp's Tracer device,
 * printed the gopacket way).
 *
 *   #3 12:00:01.000120 from TAP, 98 bytes
 *     PACKET: 98 bytes
 *     - Layer 1 (14 bytes) = Ethernet {02:76:c0:a8:5a:01 > 02:76:c0:a8:5a:02 type IPv4}
 *     - Layer 2 (20 bytes) = IPv4 {10.44.1.0 > 10.44.2.0 ttl 64 proto ICMP len 84}
 *     ...
 *     lookup  FDB hit 02:76:c0:a8:5a:02 → VTEP 192.168.90.2:4789 (static)
 *     =>      encap VNI 7, UDP 51234→4789, +50 bytes → 192.168.90.2:4789
 *
 * How it is fed (the hook contract, `Tracer`):
 *   - the Pipeline calls frame() once per frame, when a tracer is set, with a
 *     copy of the frame taken before the decision (an ARP answer rewrites the
 *     frame in place), the verdict, the lookups, and where it was queued;
 *   - the Switch calls endBatch() once per batch with the lists as the ports
 *     answered them (SendList.status): a refused frame becomes the udp-send /
 *     tap-write drop it is, and the batch is rendered and written out in one
 *     write.
 * Used without a Switch, call flush() after each batch.
 *
 * Frames from the network: the UDP socket gives the payload (VXLAN header on)
 * and the sender, not the outer headers. They are rebuilt (wire/underlay.ts)
 * from the sender and the local address, decoded with the inner frame, and
 * marked as rebuilt. A frame that fails to decode is shown up to the failing
 * layer, with the error and a hex dump of each layer (never skipped).
 *
 * Output is text (ANSI colours on a terminal, none when not a TTY or when
 * NO_COLOR is set; times of day in UTC, to the microsecond) or JSON, one
 * object per frame (TraceRecord), for tools. `--trace-filter` is
 * switch/trace-filter.ts.
 * If the output stream falls behind, frames are skipped and the gap is said.
 */
import { performance } from 'node:perf_hooks';
import { ConfigError } from '../errors';
import { SENT, type SendList } from '../io/port';
import { formatIpv4, macStringFromKey, parseIpv4 } from '../wire/addr';
import { decodeFrame, formatLayers, type DecodedLayer } from '../wire/decode';
import * as arp from '../wire/arp';
import * as ethernet from '../wire/ethernet';
import * as ipv4 from '../wire/ipv4';
import { WIRE_OVERHEAD, wrapPayload } from '../wire/underlay';
import * as vxlan from '../wire/vxlan';
import { DROP_NAMES, DropReason } from './counters';
import type { FdbEntry } from './fdb';
import * as peerTable from './peer-table';
import type { PeerRow } from './peer-table';
import { parseTraceFilter, type FilterSubject, type TraceFilter } from './trace-filter';

export { parseTraceFilter, type FilterSubject, type TraceFilter } from './trace-filter';

// ---------------------------------------------------------------------------
// The hook contract (what Pipeline and Switch call)

/** Where a frame came from: read from the TAP, or received from the underlay. */
export type Direction = 'tap' | 'net';
/** What the switch did with it. */
export type Action = 'arp-reply' | 'encap' | 'decap' | 'drop';

/** One table probe behind a decision. Addresses are host-order u32, MACs 48-bit keys. */
export type Lookup =
  /** The ARP table, for the target of an ARP request. */
  | { table: 'arp'; ip: number; mac: number | null }
  /** The FDB, for the destination MAC. */
  | { table: 'fdb'; mac: number; entry: FdbEntry | null }
  /** Decap's source check: does some FDB entry point at the sender? (`required` false: unknown VTEPs are accepted.) */
  | { table: 'vtep'; addr: number; known: boolean; required: boolean }
  /** The VXLAN header's VNI against ours. */
  | { table: 'vni'; vni: number; ours: number }
  /**
   * The inner source check (switch/peer-table.ts): the sender's row (null:
   * none) and checkInnerSource's result (INNER_*). The record reads the inner
   * source from the frame.
   */
  | { table: 'peer'; addr: number; row: PeerRow | null; result: number };

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
  /** For 'encap': the VNI, the destination VTEP and port, and the UDP source port (0: the socket's own port). */
  encap: { vni: number; vtep: number; port: number; srcPort: number } | null;
  /** For 'arp-reply': a copy of the reply sent back to the TAP. */
  reply: Buffer | null;
  /** The send list the frame was queued on ('net' from the TAP side, 'tap' either side), and its index there. */
  queued: 'net' | 'tap' | null;
  index: number;
}

export interface Tracer {
  /** One frame decided (called by the Pipeline). */
  frame(t: FrameTrace): void;
  /**
   * The batch went to the ports (called by the Switch): a frame queued at
   * index k of the 'net' or the 'tap' list was refused when that list's
   * status[k] is not SENT (null: nothing was refused that way). Renders and
   * writes the batch.
   */
  endBatch(toNet: SendList | null, toTap: SendList | null): void;
}

// ---------------------------------------------------------------------------
// Records (the JSON output, one per frame)

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
  /** The drop counter name (counters.ts), or null. */
  drop: string | null;
  /** The decision in one line. */
  reason: string;
  lookups: LookupRecord[];
  encap: { vni: number; vtep: string; dstPort: number; srcPort: number; overhead: number; wireLen: number } | null;
  /** For 'arp-reply': the reply's layers. */
  reply: DecodedLayer[] | null;
}

// ---------------------------------------------------------------------------
// The tracer

export type TraceFormat = 'text' | 'json';
export const TRACE_FORMATS: readonly TraceFormat[] = ['text', 'json'];

/** The stream the trace is written to (process.stdout, a file stream, a test's sink). */
export interface TraceOutput {
  write(chunk: string): boolean;
  readonly isTTY?: boolean;
  /** Bytes queued and not yet written; when it grows past maxBuffered, frames are skipped. */
  readonly writableLength?: number;
  /** Streams get an 'error' listener: a closed pipe (`| head`) ends the trace, not the switch. */
  on?(event: 'error', listener: (err: Error) => void): unknown;
}

export interface TracerOptions {
  out: TraceOutput;
  format?: TraceFormat;
  /** A parsed filter, the filter's text, or null for every frame. */
  filter?: TraceFilter | string | null;
  /** The peer behind an IP (an overlay address from the ARP table or a VTEP address): e.g. "lease 10.44.2.0/24, host 192.168.90.2". */
  describePeer?: ((ip: number) => string | null) | null;
  /** Our VNI. */
  vni: number;
  /** Our UDP port: the destination of received datagrams, and the source port of sends that cannot choose one. */
  port: number;
  /** Our underlay IPv4 (dotted quad or host-order u32), shown as the receiver of datagrams. Default 0.0.0.0. */
  localIp?: string | number;
  /** ANSI colours. Default: when `out` is a TTY and NO_COLOR is unset or empty. */
  color?: boolean;
  /** Skip frames while the stream holds more than this many unwritten bytes. Default 8 MiB. */
  maxBuffered?: number;
  /** Milliseconds since the epoch (fractional); for tests. */
  clock?: () => number;
  /** Told once when the output fails (EPIPE, ...); tracing stops, forwarding goes on. */
  onError?: ((err: Error) => void) | null;
}

export interface TracerStats {
  /** Frames the pipeline gave us. */
  traced: number;
  shown: number;
  /** Not matched by the filter. */
  filtered: number;
  /** Skipped because the output fell behind. */
  skipped: number;
  /** The output's error, once it failed: nothing more is written. */
  outputError: Error | null;
}

const DEFAULT_MAX_BUFFERED = 8 << 20;

const ANSI = { reset: '\x1b[0m', bold: '\x1b[1m', dim: '\x1b[2m', red: '\x1b[31m', green: '\x1b[32m', yellow: '\x1b[33m', cyan: '\x1b[36m' } as const;
type Style = keyof typeof ANSI;

/** NO_COLOR (no-color.org): set and not empty means no colour. */
export function colorWanted(out: TraceOutput, env: NodeJS.ProcessEnv = process.env): boolean {
  return out.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === '');
}

/** `--trace-format`: throws ConfigError for anything but text or json. */
export function parseTraceFormat(text: string): TraceFormat {
  if (!(TRACE_FORMATS as readonly string[]).includes(text)) {
    throw new ConfigError(`--trace-format: must be one of ${TRACE_FORMATS.join(', ')}, got ${JSON.stringify(text)}`, 'trace-format');
  }
  return text as TraceFormat;
}

interface Pending {
  ev: FrameTrace;
  ms: number;
  seq: number;
}

export class FrameTracer implements Tracer {
  readonly stats: TracerStats = { traced: 0, shown: 0, filtered: 0, skipped: 0, outputError: null };
  private readonly out: TraceOutput;
  private readonly format: TraceFormat;
  private readonly filter: TraceFilter | null;
  private readonly describePeer: ((ip: number) => string | null) | null;
  private readonly vni: number;
  private readonly port: number;
  private readonly localIp: number;
  private readonly color: boolean;
  private readonly maxBuffered: number;
  private readonly clock: () => number;
  private pending: Pending[] = [];
  /** Frames skipped since the last notice. */
  private behind = 0;

  constructor(opts: TracerOptions) {
    this.out = opts.out;
    this.format = opts.format ?? 'text';
    this.filter = typeof opts.filter === 'string' ? parseTraceFilter(opts.filter) : opts.filter ?? null;
    this.describePeer = opts.describePeer ?? null;
    this.vni = opts.vni;
    this.port = opts.port;
    this.localIp = typeof opts.localIp === 'string' ? parseIpv4(opts.localIp) : (opts.localIp ?? 0) >>> 0;
    this.color = this.format === 'text' && (opts.color ?? colorWanted(opts.out));
    this.maxBuffered = opts.maxBuffered ?? DEFAULT_MAX_BUFFERED;
    this.clock = opts.clock ?? (() => performance.timeOrigin + performance.now());
    const onError = opts.onError ?? null;
    opts.out.on?.('error', (err: Error) => {
      if (this.stats.outputError !== null) return;
      this.stats.outputError = err;
      onError?.(err);
    });
  }

  frame(ev: FrameTrace): void {
    this.pending.push({ ev, ms: this.clock(), seq: ++this.stats.traced });
  }

  endBatch(toNet: SendList | null, toTap: SendList | null): void {
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    if (this.stats.outputError !== null) return;
    let text = '';
    for (const p of batch) {
      const ev = p.ev;
      if (ev.queued === 'net' && refusedAt(toNet, ev.index)) refuse(ev, DropReason.UDP_SEND);
      else if (ev.queued === 'tap' && refusedAt(toTap, ev.index)) refuse(ev, ev.dir === 'tap' ? DropReason.ARP_REPLY_WRITE : DropReason.TAP_WRITE);
      const { rec, buf } = this.analyse(ev, p.ms, p.seq);
      if (this.filter !== null && !this.filter.matches(subjectOf(rec))) {
        this.stats.filtered++;
        continue;
      }
      if ((this.out.writableLength ?? 0) + text.length > this.maxBuffered) {
        this.stats.skipped++;
        this.behind++;
        continue;
      }
      if (this.behind > 0) {
        text += this.notice(`... ${this.behind} frame(s) not shown: the trace output fell behind`);
        this.behind = 0;
      }
      this.stats.shown++;
      text += this.format === 'json' ? JSON.stringify(rec) + '\n' : this.renderText(rec, buf);
    }
    if (text !== '') this.out.write(text);
  }

  /** Renders what is pending as if every queued frame was taken (for a Pipeline used without a Switch). */
  flush(): void {
    this.endBatch(null, null);
  }

  /** The record of one frame (what the JSON output prints and the filter sees), and the bytes its layers' offsets refer to. */
  analyse(ev: FrameTrace, ms: number, seq: number): { rec: TraceRecord; buf: Buffer } {
    const isNet = ev.dir === 'net';
    const outer = isNet
      ? { src: formatIpv4(ev.addr), srcPort: ev.port, dst: formatIpv4(this.localIp), dstPort: this.port }
      : null;
    const { layers, buf } = isNet ? this.decodeDatagram(ev) : { layers: decodeFrame(ev.data), buf: ev.data };
    const failure = layers.find((l) => l.name === 'DecodeFailure');
    const lookups = ev.lookups.map((l) => this.lookupRecord(l, ev));
    const encap = ev.encap === null ? null : {
      vni: ev.encap.vni,
      vtep: formatIpv4(ev.encap.vtep),
      dstPort: ev.encap.port,
      srcPort: ev.encap.srcPort === 0 ? this.port : ev.encap.srcPort,
      overhead: WIRE_OVERHEAD,
      wireLen: ev.data.length + WIRE_OVERHEAD,
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
      reply: ev.reply === null ? null : decodeFrame(ev.reply),
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
    const wire = wrapPayload(ev.data, { srcIp: ev.addr, srcPort: ev.port, dstIp: this.localIp, dstPort: this.port });
    const layers = decodeFrame(wire, { vxlanPorts: [this.port] }).slice(1);
    const shift = ethernet.HEADER_LEN;
    for (const l of layers) l.offset -= shift;
    const ip = layers[0];
    if (ip?.name === 'IPv4') {
      const { src, dst, length } = ip.fields;
      ip.fields = { src: src!, dst: dst!, protocol: 'UDP', length: length!, rebuilt: 'from the socket: addresses only' };
      ip.summary = `IPv4 ${src} > ${dst} proto UDP len ${length} (outer, rebuilt)`;
    }
    const u = layers[1];
    if (u?.name === 'UDP') {
      const { srcPort, dstPort, length } = u.fields;
      u.fields = { srcPort: srcPort!, dstPort: dstPort!, length: length!, rebuilt: 'from the socket: ports only' };
      u.summary = `UDP ${srcPort} > ${dstPort} len ${length} (outer, rebuilt)`;
    }
    return { layers, buf: wire.subarray(shift) };
  }

  private peer(ip: number): string | null {
    if (this.describePeer === null) return null;
    try {
      return this.describePeer(ip);
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
      case 'fdb': {
        const key = macStringFromKey(l.mac);
        if (l.entry === null) return { table: 'fdb', key, hit: false, result: null, peer: null, text: `FDB miss ${key}` };
        const result = `${formatIpv4(l.entry.vtep)}:${l.entry.port}`;
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
          : `source ${key} is no known VTEP (no FDB entry points at it)${l.required ? '' : ': accepted, unknown VTEPs are allowed'}`;
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
        const arpLayer = rec.reply?.find((l) => l.name === 'ARP');
        return `answered locally: ${arpLayer ? arpLayer.summary : 'ARP reply'} back to the TAP (never crosses the network)`;
      }
      case 'encap': {
        const e = rec.encap!;
        const chosen = ev.encap!.srcPort !== 0 ? '' : ' (the socket\'s own port)';
        return `encap VNI ${e.vni}, UDP ${e.srcPort}→${e.dstPort}${chosen}, +${WIRE_OVERHEAD} bytes → ${e.vtep}:${e.dstPort}`;
      }
      case 'decap': {
        const vni = len >= vxlan.HEADER_LEN ? vxlan.vni(ev.data, 0) : this.vni;
        return `decap from ${formatIpv4(ev.addr)} (VNI ${vni}): ${len - vxlan.HEADER_LEN}-byte inner frame to the TAP, -${WIRE_OVERHEAD} bytes of the wire packet`;
      }
      case 'drop':
        return `drop: ${rec.drop} (${this.dropDetail(ev, rec)})`;
    }
  }

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
        return `unknown VNI ${vxlan.vni(d, 0)}; ours is ${v && v.table === 'vni' ? v.ours : this.vni}`;
      }
      case DropReason.UNKNOWN_VTEP:
        return `${formatIpv4(ev.addr)}: no FDB entry points at this VTEP`;
      case DropReason.UDP_SEND:
        return `encapsulated for ${rec.encap ? `${rec.encap.vtep}:${rec.encap.dstPort}` : 'the network'}, but the socket did not take it: its send buffer is full`;
      case DropReason.TAP_WRITE:
        return 'the TAP did not take it: its queue is full, or the link is down';
      case DropReason.INNER_SPOOF: {
        const p = ev.lookups.find((l) => l.table === 'peer');
        const why = p && p.table === 'peer' ? innerResultText(p.result) : 'the inner source is not the sending peer\'s';
        return `${why}; a peer may only send from its VTEP MAC and its own subnet (--no-inner-source-check turns this off)`;
      }
      case DropReason.ARP_REPLY_WRITE:
        return 'the TAP did not take the ARP reply: its queue is full, or the link is down';
      default:
        return `reason ${ev.drop}`;
    }
  }

  private paint(style: Style, s: string): string {
    return this.color ? ANSI[style] + s + ANSI.reset : s;
  }

  private notice(s: string): string {
    return this.format === 'json' ? JSON.stringify({ notice: s }) + '\n' : this.paint('yellow', s) + '\n';
  }

  private renderText(rec: TraceRecord, buf: Buffer): string {
    const clock = rec.time.slice(11, 23) + String(rec.tsUs % 1000).padStart(3, '0');
    const from = rec.outer
      ? `from network ${rec.outer.src}:${rec.outer.srcPort} → ${rec.outer.dst}:${rec.outer.dstPort}, ${rec.len} bytes of UDP payload`
      : `from TAP, ${rec.len} bytes`;
    const lines = [this.paint('bold', `#${rec.seq} ${clock} ${from}`)];
    // With a DecodeFailure: a hex dump under every layer (gopacket's habit).
    const body = formatLayers(rec.layers, rec.decodeError !== null ? { buf } : {}).split('\n');
    body[0] = rec.outer
      ? `PACKET: ${buf.length} bytes (outer IPv4 + UDP rebuilt from the socket's addresses)`
      : `PACKET: ${buf.length} bytes`;
    for (const l of body) {
      const bad = l.includes('= DecodeFailure {');
      lines.push('  ' + (bad ? this.paint('red', l) : l.startsWith('    ') ? this.paint('dim', l) : l));
    }
    for (const l of rec.lookups) lines.push('  ' + this.paint('cyan', 'lookup') + '  ' + l.text);
    const style: Style = rec.decision === 'drop' ? 'red' : 'green';
    lines.push('  ' + this.paint(style, '=>') + '      ' + this.paint(style, rec.reason));
    return lines.join('\n') + '\n\n';
  }
}

/** A frame the port did not take: the decision stands, the outcome is a drop. */
function refuse(ev: FrameTrace, reason: number): void {
  ev.action = 'drop';
  ev.drop = reason;
}

/** Whether the port refused entry k of `list` (its status; a null list: nothing refused). */
function refusedAt(list: SendList | null, k: number): boolean {
  return list !== null && k >= 0 && k < list.count && list.status[k] !== SENT;
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

/** The tracer the CLI makes for `vxtap run --trace`. Throws ConfigError for a bad filter. */
export function createTracer(opts: TracerOptions): FrameTracer {
  return new FrameTracer(opts);
}

/** The inner frame's source as the check sees it: MAC, and the IPv4 source or ARP sender. */
function innerSourceText(data: Buffer, off: number): string {
  if (data.length < off + ethernet.HEADER_LEN) return '(no inner frame)';
  const mac = macStringFromKey(ethernet.srcKey(data, off));
  const type = ethernet.etherType(data, off);
  const l3 = off + ethernet.l3Offset(data, off);
  if (type === ethernet.ETHERTYPE_IPV4 && data.length >= l3 + ipv4.HEADER_LEN) return `${mac} ${formatIpv4(ipv4.src(data, l3))}`;
  if (type === ethernet.ETHERTYPE_ARP && arp.isEthIpv4(data, l3, data.length - l3)) return `${mac} (ARP sender ${macStringFromKey(arp.senderMacKey(data, l3))} ${formatIpv4(arp.senderIp(data, l3))})`;
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
    default: return `check result ${result}`;
  }
}
