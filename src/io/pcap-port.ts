/**
 * Recording both sides of the switch to one pcapng file (smoltcp's
 * PcapWriter device): middleware ports that wrap a FramePort and a
 * DatagramPort, pass every call through, and record what actually went in
 * and out. The file (io/pcapng.ts) names the two sides as interfaces:
 *
 *   interface 0, the TAP (if_name = the TAP's name): the Ethernet frames read
 *       from and written to the TAP, the real bytes.
 *   interface 1, the underlay (if_name = the underlay interface, e.g. eth0):
 *       each VXLAN datagram received or sent, as the full wire packet
 *       Ethernet / IPv4 / UDP / VXLAN / inner frame. Either
 *       - rebuilt (the default): the socket gives the UDP payload and the
 *         peer's address only, so the outer headers are rebuilt
 *         (wire/underlay-rebuild.ts) from facts: the addresses and ports, the
 *         local interface's MAC, the next hop's MAC when a resolver knows it,
 *         the TTL and DF the socket really sends, a UDP checksum computed as
 *         the kernel computes it. Each such packet carries an opt_comment
 *         saying exactly what was reconstructed and what is unknown (the IPv4
 *         ID the kernel picks, shown as 0; an unknown MAC, shown as zeros);
 *       - or real (`--pcap-underlay`, io/packet-capture.ts): an AF_PACKET
 *         capture of our UDP port on the underlay interface gives the frames
 *         as they were on the wire, both directions, with the kernel's
 *         timestamps; then no rebuilt packet is written. Real bytes carry no
 *         comment.
 *
 * Direction (epb_flags) is always set, from the named interface's point of
 * view, as `tcpdump -i IF` shows it (Wireshark: frame.packet_flags_direction,
 * 1 inbound, 2 outbound):
 *   TAP   a frame vxtap reads from the TAP is one the TAP device transmitted
 *         (the host's stack sent it out of the TAP): outbound; a frame vxtap
 *         writes to the TAP is one the device received: inbound.
 *   underlay  a datagram vxtap receives: inbound; one it sends: outbound.
 *
 * One packet per datagram: a UDP GSO send of many datagrams is recorded as
 * its datagrams, as a wire that segments carries them (a veth underlay
 * passes the GSO super-packet whole: --pcap-underlay and tcpdump show that
 * one big packet instead).
 *
 * Writing: the section header and both interface blocks are written at
 * open. Blocks are staged in one buffer and written with one synchronous
 * write per batch (per port call), so the file is readable while the daemon
 * runs and only ever holds whole blocks; close() writes what is staged and
 * closes the file synchronously (call it from the SIGINT/SIGTERM path). A
 * failed write (disk full) stops the recording, not the switch.
 *
 * Recording off costs nothing: the middleware is simply not inserted.
 * Reads are recorded before the switch sees the batch (it rewrites frames in
 * place); writes and sends after the port call, and only the entries the
 * port took (SendList.status: a refused one may sit between taken ones).
 * Comments are encoded once per kind, not per packet.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { ConfigError } from '../errors';
import { HEADER_LEN as UDP_HEADER_LEN, srcPort as udpSrcPort } from '../wire/udp';
import { OUTER_IP_LEN, OUTER_UDP_LEN, emitIp, emitUdp, type OuterFacts } from '../wire/underlay-rebuild';
import { OUTER6_LEN, emitOuter6 } from '../wire/underlay';
import { formatVtep, isV6Key, vtepKey, writeKey6 } from './vtep-key';
import { DEFAULT_SNAPLEN, LINKTYPE_ETHERNET } from './pcap';
import { DIR_INBOUND, DIR_OUTBOUND, epbField, epbLen, interfaceDescription, sectionHeader, writeEpbHead, writeEpbTail } from './pcapng';
import { SENT, notWhole, type WholeSuperFrames, type BatchHandler, type CallCounts, type DatagramPort, type FrameBatch, type FramePort, type PortErrorHandler, type PortStats, type SendList, type SourcePortRange } from './port';

/** The interface numbers in the file (the order of the IDBs written at open). */
export const IFACE_TAP = 0;
export const IFACE_UNDERLAY = 1;

/** The outer MACs toward a remote VTEP: ours (src) and the next hop's (dst). */
export interface OuterMacs {
  src: Uint8Array;
  dst: Uint8Array;
}

/** What the recorder knows of the underlay, for the interface block and for rebuilt packets. */
export interface UnderlayFacts {
  /** The underlay interface's name (if_name of interface 1). */
  name: string;
  /** if_description of interface 1. Default: "vxtap's UDP socket on IP:PORT" when rebuilt. */
  description?: string;
  /** The underlay interface's own MAC, or null when not known (zeros in rebuilt packets). */
  localMac: Uint8Array | null;
  /** The TTL our socket sends (its IP_TTL, else net.ipv4.ip_default_ttl). */
  ttl: number;
  /** Whether our socket's datagrams carry DF (IP_MTU_DISCOVER: native sockets DONT = clear; Node's dgram WANT = set). */
  df: boolean;
  /** The MACs toward a remote VTEP (host-order IPv4) when a neighbour lookup knows them; called per rebuilt packet, so it must not allocate. */
  outerMacs?: (remoteIpv4: number) => OuterMacs | null;
}

export interface PcapRecorderOptions {
  /** Bytes kept of each packet (the rest is counted in its original length). Default 65535. */
  snaplen?: number;
  /** The staging buffer: a batch that fits is one write. Default 1 MiB. */
  bufferSize?: number;
  /** Microseconds since the epoch; for tests. Read once per batch. */
  clock?: () => number;
  /** Told once when a write fails; the recording stops, the switch goes on. Default: a process warning. */
  onError?: ((err: Error) => void) | null;
  /** Interface 0's name. Default 'tap'. */
  tapName?: string;
  /** Interface 1. Default: named 'underlay', no MAC, TTL 64, DF clear. */
  underlay?: UnderlayFacts;
}

/** What a rebuilt packet was built from: its comment is chosen by these. */
const SENT_PAYLOAD = 0;
const SENT_DATAGRAM = 1;
const RECEIVED = 2;
/** Sent through the UDP GSO pool: one datagram of a send that may have left as one GSO message. */
const SENT_GSO = 3;

const ZERO_MAC = '00:00:00:00:00:00';

export class PcapRecorder {
  /** Packets written or staged. */
  records = 0;
  /** Set when a write failed: nothing more is recorded. */
  error: Error | null = null;
  private fd: number;
  private stage: Buffer;
  private used = 0;
  /** The timestamp of the batch being staged, or -1 to read the clock at the next record. */
  private tsUs = -1;
  private readonly snaplen: number;
  private readonly clock: () => number;
  private readonly onError: ((err: Error) => void) | null;
  private readonly underlay: UnderlayFacts;
  /** Reused for every rebuilt packet (no allocation per packet). */
  private readonly facts: OuterFacts;
  /** The comments of rebuilt packets, encoded once: [kind * 2 + (MACs known ? 1 : 0)]. */
  private readonly comments: Buffer[];

  /**
   * Creates (or truncates) `path` and writes the section header and the two
   * interface blocks. Throws ConfigError naming the path when it cannot be
   * opened.
   */
  static open(path: string, opts: PcapRecorderOptions = {}): PcapRecorder {
    let fd: number;
    try {
      fd = openSync(path, 'w');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new ConfigError(`--pcap: cannot open ${JSON.stringify(path)} for writing: ${e.code ?? e.message}`, 'pcap');
    }
    return new PcapRecorder(fd, path, opts);
  }

  private constructor(fd: number, readonly path: string, opts: PcapRecorderOptions) {
    this.fd = fd;
    this.snaplen = opts.snaplen ?? DEFAULT_SNAPLEN;
    this.stage = Buffer.allocUnsafe(opts.bufferSize ?? 1 << 20);
    this.clock = opts.clock ?? (() => Math.floor((performance.timeOrigin + performance.now()) * 1000));
    this.onError = opts.onError ?? null;
    this.underlay = opts.underlay ?? { name: 'underlay', localMac: null, ttl: 64, df: false };
    this.facts = { srcMac: null, dstMac: null, ttl: this.underlay.ttl, df: this.underlay.df };
    this.comments = [SENT_PAYLOAD, SENT_DATAGRAM, RECEIVED, SENT_GSO].flatMap((k) => [false, true].map((known) => Buffer.from(rebuiltComment(k, known, this.underlay), 'utf8')));
    const header = Buffer.concat([
      sectionHeader('vxtap'),
      interfaceDescription({ linktype: LINKTYPE_ETHERNET, snaplen: this.snaplen, name: opts.tapName ?? 'tap', description: 'the TAP device vxtap switches for', tsresol: 6 }),
      interfaceDescription({ linktype: LINKTYPE_ETHERNET, snaplen: this.snaplen, name: this.underlay.name, tsresol: 6,
        ...(this.underlay.description !== undefined ? { description: this.underlay.description } : {}) }),
    ]);
    this.writeOut(header, header.length);
  }

  get closed(): boolean {
    return this.fd < 0;
  }

  /** A TAP frame buf[off..off+len), as it is; dir DIR_OUTBOUND for a frame read from the TAP, DIR_INBOUND for one written to it. */
  frame(buf: Uint8Array, off: number, len: number, dir: number): void {
    const capLen = Math.min(len, this.snaplen);
    const at = this.reserve(capLen, null);
    if (at < 0) return;
    this.stage.set(buf.subarray(off, off + capLen), at);
    this.commit(IFACE_TAP, capLen, len, dir, null, -1);
  }

  /**
   * A UDP payload buf[off..off+len) with rebuilt outer Ethernet + IPv4 + UDP
   * headers (addresses host-order u32). `local` is our side: the source of a
   * send (dir DIR_OUTBOUND), the destination of a receive (DIR_INBOUND).
   * gso: sent through the UDP GSO pool (the comment says so).
   */
  udpPayload(buf: Uint8Array, off: number, len: number, srcIp: number, srcPort: number, dstIp: number, dstPort: number, dir: number, gso = false): void {
    if (isV6Key(srcIp) || isV6Key(dstIp)) {
      this.udpPayload6(buf, off, len, srcIp, srcPort, dstIp, dstPort, dir, gso);
      return;
    }
    const total = OUTER_UDP_LEN + len;
    const kind = dir !== DIR_OUTBOUND ? RECEIVED : gso ? SENT_GSO : SENT_PAYLOAD;
    const comment = this.comments[kind * 2 + (this.setMacs(dir === DIR_OUTBOUND ? dstIp : srcIp, dir) ? 1 : 0)]!;
    // The sender's DF is not known on receive: shown clear, as the comment says.
    this.facts.df = dir === DIR_OUTBOUND && this.underlay.df;
    // Room for the whole packet: the UDP checksum covers all of it, even what the snaplen cuts.
    const at = this.reserve(total, comment);
    if (at < 0) return;
    this.stage.set(buf.subarray(off, off + len), at + OUTER_UDP_LEN);
    emitUdp(this.stage, at, this.facts, srcIp, srcPort, dstIp, dstPort, len);
    this.commit(IFACE_UNDERLAY, Math.min(total, this.snaplen), total, dir, comment, -1);
  }

  /** The two 16-byte addresses of an IPv6 rebuild (reused: no allocation per packet). */
  private readonly src6 = Buffer.alloc(16);
  private readonly dst6 = Buffer.alloc(16);

  /**
   * udpPayload over an IPv6 underlay (issue #13; addresses are IPv6 VTEP
   * keys, io/vtep-key.ts): outer Ethernet (placeholder MACs: the next hop's
   * is not looked up over IPv6 yet) + IPv6 (hop limit the underlay's TTL,
   * flow label 0) + UDP with its checksum, as wire/underlay.ts emitOuter6
   * writes them. An IPv6 sender no configuration named shows as ::.
   */
  private udpPayload6(buf: Uint8Array, off: number, len: number, srcIp: number, srcPort: number, dstIp: number, dstPort: number, dir: number, gso: boolean): void {
    const total = OUTER6_LEN + len;
    const kind = dir !== DIR_OUTBOUND ? RECEIVED : gso ? SENT_GSO : SENT_PAYLOAD;
    const comment = this.comments[kind * 2]!;
    const at = this.reserve(total, comment);
    if (at < 0) return;
    this.stage.set(buf.subarray(off, off + len), at + OUTER6_LEN);
    this.src6.fill(0);
    this.dst6.fill(0);
    if (isV6Key(srcIp)) { try { writeKey6(srcIp, this.src6, 0); } catch { /* unknown sender: :: */ } }
    if (isV6Key(dstIp)) { try { writeKey6(dstIp, this.dst6, 0); } catch { /* unknown: :: */ } }
    emitOuter6(this.stage, at, this.src6, 0, srcPort, this.dst6, 0, dstPort, len, 0, this.underlay.ttl);
    this.commit(IFACE_UNDERLAY, Math.min(total, this.snaplen), total, dir, comment, -1);
  }

  /** A whole UDP datagram buf[off..off+len) (its header included, as sent) with rebuilt outer Ethernet + IPv4 headers. */
  udpDatagram(buf: Uint8Array, off: number, len: number, srcIp: number, dstIp: number): void {
    if ((isV6Key(srcIp) || isV6Key(dstIp)) && len >= 8) {
      // No raw socket sends over IPv6 (io/udp-batch.ts); a port that hands over whole datagrams is rebuilt around their payload, checksum computed.
      this.udpPayload6(buf, off + 8, len - 8, srcIp, (buf[off]! << 8) | buf[off + 1]!, dstIp, (buf[off + 2]! << 8) | buf[off + 3]!, DIR_OUTBOUND, false);
      return;
    }
    const total = OUTER_IP_LEN + len;
    const comment = this.comments[SENT_DATAGRAM * 2 + (this.setMacs(dstIp, DIR_OUTBOUND) ? 1 : 0)]!;
    this.facts.df = this.underlay.df;
    const capLen = Math.min(total, this.snaplen);
    const at = this.reserve(capLen, comment);
    if (at < 0) return;
    emitIp(this.stage, at, this.facts, srcIp, dstIp, len);
    this.stage.set(buf.subarray(off, off + Math.max(0, capLen - OUTER_IP_LEN)), at + OUTER_IP_LEN);
    this.commit(IFACE_UNDERLAY, capLen, total, DIR_OUTBOUND, comment, -1);
  }

  /**
   * A real underlay frame (an AF_PACKET capture): capLen bytes of a frame of
   * origLen, at the capture's own timestamp (µs since the epoch). No comment.
   */
  wireFrame(buf: Uint8Array, off: number, capLen: number, origLen: number, dir: number, tsUs: number): void {
    const cap = Math.min(capLen, this.snaplen);
    const at = this.reserve(cap, null);
    if (at < 0) return;
    this.stage.set(buf.subarray(off, off + cap), at);
    this.commit(IFACE_UNDERLAY, cap, origLen, dir, null, tsUs);
  }

  /** Writes the staged blocks (whole blocks only). The next packet starts a new batch timestamp. */
  flush(): void {
    this.tsUs = -1;
    if (this.used === 0 || this.fd < 0) return;
    const n = this.used;
    this.used = 0;
    this.writeOut(this.stage, n);
  }

  /** Flushes and closes the file, synchronously. Idempotent. */
  close(): void {
    if (this.fd < 0) return;
    this.flush();
    const fd = this.fd;
    this.fd = -1;
    try {
      closeSync(fd);
    } catch (err) {
      this.fail(err);
    }
  }

  /** Fills this.facts' MACs for a packet to or from `remote`; true when the next hop's MAC is known. */
  private setMacs(remote: number, dir: number): boolean {
    const u = this.underlay;
    const m = u.outerMacs !== undefined ? u.outerMacs(remote) : null;
    const local = m !== null ? m.src : u.localMac;
    const peer = m !== null ? m.dst : null;
    // Sent: from us to the next hop; received: from the next hop (the sender's side) to us.
    this.facts.srcMac = dir === DIR_OUTBOUND ? local : peer;
    this.facts.dstMac = dir === DIR_OUTBOUND ? peer : local;
    return m !== null;
  }

  /**
   * Makes room for a block of `bytes` packet bytes (and the comment) and
   * returns where the packet's bytes go in the stage, or -1 when not
   * recording. commit() then writes the block's header and tail.
   */
  private reserve(bytes: number, comment: Buffer | null): number {
    if (this.fd < 0) return -1;
    const need = epbLen(bytes, true, comment?.length ?? 0);
    if (this.used + need > this.stage.length) {
      const ts = this.tsUs;
      this.flush();
      this.tsUs = ts;
      if (this.fd < 0) return -1;
      if (need > this.stage.length) this.stage = Buffer.allocUnsafe(need);
    }
    return this.used + epbField.DATA;
  }

  /** Writes the block around capLen packet bytes already in place; tsUs -1: the batch's clock. */
  private commit(iface: number, capLen: number, origLen: number, dir: number, comment: Buffer | null, tsUs: number): void {
    if (tsUs < 0) {
      if (this.tsUs < 0) this.tsUs = this.clock();
      tsUs = this.tsUs;
    }
    const total = epbLen(capLen, true, comment?.length ?? 0);
    writeEpbHead(this.stage, this.used, total, iface, tsUs, capLen, origLen);
    writeEpbTail(this.stage, this.used, capLen, dir, comment);
    this.used += total;
    this.records++;
  }

  /** Writes buf[0..len) in full (a short write is continued, never left half done). */
  private writeOut(buf: Buffer, len: number): void {
    let pos = 0;
    try {
      while (pos < len) pos += writeSync(this.fd, buf, pos, len - pos);
    } catch (err) {
      this.fail(err);
    }
  }

  private fail(err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    if (this.fd >= 0) {
      try { closeSync(this.fd); } catch { /* already failing */ }
      this.fd = -1;
    }
    if (this.error !== null) return;
    this.error = e;
    if (this.onError !== null) this.onError(e);
    else process.emitWarning(`pcap recording to ${this.path} stopped: ${e.message}`, { code: 'VXTAP_PCAP_WRITE' });
  }
}

/**
 * The opt_comment of a rebuilt underlay packet: exactly what was
 * reconstructed, and what is shown in place of what is not known.
 */
export function rebuiltComment(kind: number, macsKnown: boolean, u: Pick<UnderlayFacts, 'name' | 'localMac' | 'ttl' | 'df'>): string {
  const localMac = u.localMac !== null ? `${u.name}'s MAC` : `${u.name}'s MAC unknown, ${ZERO_MAC} here`;
  const df = u.df ? 'set' : 'clear';
  if (kind === RECEIVED) {
    const eth = macsKnown
      ? `Ethernet header (source = the neighbour table's MAC for the sender, destination = ${u.name}'s MAC)`
      : `Ethernet header (source MAC unknown, ${ZERO_MAC} here; destination ${localMac})`;
    return `reconstructed by vxtap from the socket's addresses: ${eth}; IPv4 header (ID, TTL and DF are the sender's, unknown: ID 0, TTL ${u.ttl} and DF clear here; header checksum computed); `
      + 'UDP header (length and checksum computed by vxtap: the sender may have sent checksum 0). The VXLAN header and the inner frame are the bytes received.';
  }
  const eth = macsKnown
    ? 'Ethernet header (source and destination MACs from the neighbour table)'
    : `Ethernet header (source ${localMac}; destination = the next hop's MAC, unknown, ${ZERO_MAC} here)`;
  const ip = `IPv4 header (ID chosen by the kernel at send time, unknown, 0 here; TTL ${u.ttl} and DF ${df} as the socket sends them; header checksum computed)`;
  if (kind === SENT_DATAGRAM) {
    return `reconstructed by vxtap from the socket's addresses: ${eth}; ${ip}. The UDP header, the VXLAN header and the inner frame are the bytes sent.`;
  }
  const gso = kind === SENT_GSO
    ? ' Sent through a UDP GSO socket: recorded as one datagram, as a wire that segments carries it; the kernel may have sent it in one GSO message with the datagrams around it (one super-packet on a veth).'
    : '';
  return `reconstructed by vxtap from the socket's addresses: ${eth}; ${ip}; UDP header (length and checksum computed by vxtap as the kernel computes them). `
    + `The VXLAN header and the inner frame are the bytes sent.${gso}`;
}

/** The underlay interface's default description for rebuilt packets. */
export function socketDescription(localIp: number, localPort: number): string {
  return `vxtap's UDP socket on ${isV6Key(localIp) ? `[${formatVtep(localIp)}]` : formatVtep(localIp)}:${localPort} (outer headers rebuilt; see each packet's comment)`;
}

/**
 * A FramePort that records every frame read from and written to the TAP.
 * close() closes the wrapped port, not the recorder (both sides share it).
 */
/** What both recording ports hand straight to the port they wrap: counters, the error handler, close(). */
abstract class Recording<P extends FramePort | DatagramPort> {
  constructor(readonly inner: P, readonly recorder: PcapRecorder) {}

  get stats(): PortStats { return this.inner.stats; }
  get calls(): CallCounts { return this.inner.calls; }
  get onError(): PortErrorHandler | null { return this.inner.onError; }
  set onError(h: PortErrorHandler | null) { this.inner.onError = h; }

  /** Closes the wrapped port, not the recorder (both sides share it). */
  close(): void {
    this.inner.close();
  }
}

/**
 * Why the recording ports answer the offload negotiation "no": they record
 * each slot and each span as one packet, and a super-frame kept whole is
 * one slot and one span for all its segments, so the file would hold its
 * segment 0 alone. Recording instead lets the TAP reader cut super-frames,
 * and every segment is recorded.
 */
const PCAP_CUTS = '--pcap records each frame as read and each datagram as sent, so the TAP reader cuts super-frames (a super-frame kept whole would be recorded as its first segment only)';

/** The wrapped port's "no" when it says no, else the recorder's. */
function recordingAnswer(inner: FramePort | DatagramPort): WholeSuperFrames {
  const a = inner.wholeSuperFrames();
  return a.whole ? notWhole(PCAP_CUTS) : a;
}

export class PcapFramePort extends Recording<FramePort> implements FramePort {
  get name(): string { return this.inner.name; }

  wholeSuperFrames(): WholeSuperFrames { return recordingAnswer(this.inner); }

  start(batch: FrameBatch, onBatch: BatchHandler): void {
    const rec = this.recorder;
    this.inner.start(batch, (b) => {
      for (let i = 0; i < b.count; i++) rec.frame(b.slab, b.frameStart(i), b.sizes[i]!, DIR_OUTBOUND);
      rec.flush();
      onBatch(b);
    });
  }

  write(slab: Buffer, list: SendList): number {
    const n = this.inner.write(slab, list);
    for (let k = 0; k < list.count; k++) {
      if (list.status[k] === SENT) this.recorder.frame(slab, list.starts[k]!, list.lens[k]!, DIR_INBOUND);
    }
    this.recorder.flush();
    return n;
  }
}

export interface PcapDatagramPortOptions {
  /** Our underlay address (IPv4 or IPv6 text, or a VTEP key: io/vtep-key.ts): the source of sends, the destination of receives. */
  localIp: string | number;
  /** Our UDP port: the destination of receives, and the source of sends when the port cannot choose one. */
  localPort: number;
}

/**
 * A DatagramPort that records every VXLAN datagram received and sent, as the
 * full underlay packet. close() closes the wrapped port, not the recorder.
 */
export class PcapDatagramPort extends Recording<DatagramPort> implements DatagramPort {
  private readonly localIp: number;
  private readonly localPort: number;

  constructor(inner: DatagramPort, recorder: PcapRecorder, opts: PcapDatagramPortOptions) {
    super(inner, recorder);
    this.localIp = typeof opts.localIp === 'string' ? vtepKey(opts.localIp) : isV6Key(opts.localIp) ? opts.localIp : opts.localIp >>> 0;
    this.localPort = opts.localPort;
  }

  get writesUdpHeader(): boolean { return this.inner.writesUdpHeader; }
  get sourcePorts(): SourcePortRange | undefined { return this.inner.sourcePorts; }
  wholeSuperFrames(): WholeSuperFrames { return recordingAnswer(this.inner); }

  start(batch: FrameBatch, onBatch: BatchHandler): void {
    const rec = this.recorder;
    this.inner.start(batch, (b) => {
      for (let i = 0; i < b.count; i++) {
        rec.udpPayload(b.slab, b.frameStart(i), b.sizes[i]!, b.senderKey(i), b.senderPort(i), this.localIp, this.localPort, DIR_INBOUND);
      }
      rec.flush();
      onBatch(b);
    });
  }

  send(slab: Buffer, list: SendList): number {
    const n = this.inner.send(slab, list);
    const rec = this.recorder;
    for (let k = 0; k < list.count; k++) {
      if (list.status[k] !== SENT) continue;
      const start = list.starts[k]!;
      const len = list.lens[k]!;
      if (this.inner.writesUdpHeader && this.inner.sourcePorts === undefined) {
        // A raw socket: the span is the UDP datagram as sent, the header the pipeline wrote (per-flow source port, checksum 0).
        rec.udpDatagram(slab, start, len, this.localIp, list.addr(k));
      } else if (this.inner.writesUdpHeader) {
        // A UDP GSO pool: the pipeline wrote a header for its source port, but the kernel writes the
        // one on the wire, with a checksum; rebuild it as the kernel does around the payload.
        rec.udpPayload(slab, start + UDP_HEADER_LEN, len - UDP_HEADER_LEN, this.localIp, udpSrcPort(slab, start), list.addr(k), list.port(k), DIR_OUTBOUND, true);
      } else {
        rec.udpPayload(slab, start, len, this.localIp, this.localPort, list.addr(k), list.port(k), DIR_OUTBOUND);
      }
    }
    rec.flush();
    return n;
  }
}
