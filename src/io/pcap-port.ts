/**
 * Recording both sides of the switch to one pcap file (smoltcp's PcapWriter
 * device): middleware ports that wrap a FramePort and a DatagramPort, pass
 * every call through, and record what actually went in and out.
 *
 *   TAP side      the Ethernet frames read from and written to the TAP, as they are;
 *   underlay side each VXLAN datagram received or sent, as the full wire packet
 *                 Ethernet / IPv4 / UDP / VXLAN / inner frame, with the outer
 *                 headers rebuilt (wire/underlay.ts) from the local and the
 *                 remote address and port (the socket gives the payload only).
 *
 * The file is classic pcap, LINKTYPE_ETHERNET, microseconds, one file for both
 * sides (`tshark -r`, Wireshark and io/pcap.ts readPcap all read it; pcapng
 * with an interface per side would name the sides, but readPcap refuses
 * pcapng). The sides are told apart by their shape: underlay packets are
 * IPv4/UDP to the VXLAN port (Wireshark: `-d udp.port==PORT,vxlan` for a port
 * other than 4789), TAP frames are the inner frames themselves.
 *
 * Writing: the file header is written at open. Records are staged in one
 * buffer and written with one synchronous write per batch (per port call), so
 * the file is readable while the daemon runs and only ever holds whole
 * records; close() writes what is staged and closes the file synchronously
 * (call it from the SIGINT/SIGTERM path). Synchronous writes go to the page
 * cache: a batch costs one write(2), which is the price of a file that never
 * ends in half a record. A failed write (disk full) stops the recording, not
 * the switch.
 *
 * Recording off costs nothing: the middleware is simply not inserted.
 * Reads are recorded before the switch sees the batch (it rewrites frames in
 * place); writes and sends after the port call, and only the entries the
 * port took (SendList.status: a refused one may sit between taken ones).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { ConfigError } from '../errors';
import { parseIpv4 } from '../wire/addr';
import * as ethernet from '../wire/ethernet';
import * as ipv4 from '../wire/ipv4';
import { OUTER_LEN, emitOuter, emitOuterIp } from '../wire/underlay';
import { DEFAULT_SNAPLEN, LINKTYPE_ETHERNET, RECORD_HEADER_LEN, pcapFileHeader, writePcapRecordHeader } from './pcap';
import { SENT, notWhole, type WholeSuperFrames, type BatchHandler, type CallCounts, type DatagramPort, type FrameBatch, type FramePort, type PortErrorHandler, type PortStats, type SendList, type SourcePortRange } from './port';

/** Outer Ethernet + IPv4: what is rebuilt in front of a UDP datagram that has its own header. */
const OUTER_IP_LEN = ethernet.HEADER_LEN + ipv4.HEADER_LEN;

export interface PcapRecorderOptions {
  /** Bytes kept of each packet (the rest is counted in its original length). Default 65535. */
  snaplen?: number;
  /** The staging buffer: a batch that fits is one write. Default 1 MiB. */
  bufferSize?: number;
  /** Microseconds since the epoch; for tests. Read once per batch. */
  clock?: () => number;
  /** Told once when a write fails; the recording stops, the switch goes on. Default: a process warning. */
  onError?: ((err: Error) => void) | null;
}

export class PcapRecorder {
  /** Records written or staged. */
  records = 0;
  /** Set when a write failed: nothing more is recorded. */
  error: Error | null = null;
  private fd: number;
  private stage: Buffer;
  private used = 0;
  /** The timestamp of the batch being staged, or -1 to read the clock at the next record. */
  private tsUs = -1;
  private ident = 0;
  private readonly snaplen: number;
  private readonly clock: () => number;
  private readonly onError: ((err: Error) => void) | null;

  /**
   * Creates (or truncates) `path` and writes the file header. Throws
   * ConfigError naming the path when it cannot be opened.
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
    const header = pcapFileHeader(LINKTYPE_ETHERNET, this.snaplen);
    this.writeOut(header, header.length);
  }

  get closed(): boolean {
    return this.fd < 0;
  }

  /** An Ethernet frame buf[off..off+len), as it is. */
  frame(buf: Uint8Array, off: number, len: number): void {
    const at = this.reserve(len);
    if (at < 0) return;
    this.stage.set(buf.subarray(off, off + Math.min(len, this.snaplen)), at);
    this.commit(len);
  }

  /** A UDP payload buf[off..off+len) with rebuilt outer Ethernet + IPv4 + UDP headers (addresses host-order u32). */
  udpPayload(buf: Uint8Array, off: number, len: number, srcIp: number, srcPort: number, dstIp: number, dstPort: number): void {
    const total = OUTER_LEN + len;
    const at = this.reserve(total);
    if (at < 0) return;
    emitOuter(this.stage, at, srcIp, srcPort, dstIp, dstPort, len, this.nextIdent());
    this.stage.set(buf.subarray(off, off + Math.max(0, Math.min(len, this.snaplen - OUTER_LEN))), at + OUTER_LEN);
    this.commit(total);
  }

  /** A whole UDP datagram buf[off..off+len) (its header included) with rebuilt outer Ethernet + IPv4 headers. */
  udpDatagram(buf: Uint8Array, off: number, len: number, srcIp: number, dstIp: number): void {
    const total = OUTER_IP_LEN + len;
    const at = this.reserve(total);
    if (at < 0) return;
    emitOuterIp(this.stage, at, srcIp, dstIp, len, this.nextIdent());
    this.stage.set(buf.subarray(off, off + Math.max(0, Math.min(len, this.snaplen - OUTER_IP_LEN))), at + OUTER_IP_LEN);
    this.commit(total);
  }

  /** Writes the staged records (whole records only). The next record starts a new batch timestamp. */
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

  /**
   * Makes room for a record of `origLen` bytes and writes its header. Returns
   * where the packet's bytes go in the stage, or -1 when not recording.
   */
  private reserve(origLen: number): number {
    if (this.fd < 0) return -1;
    // Room for the whole packet (headers are built in full), of which capLen is kept.
    const need = RECORD_HEADER_LEN + origLen;
    if (this.used + need > this.stage.length) {
      const ts = this.tsUs;
      this.flush();
      this.tsUs = ts;
      if (this.fd < 0) return -1;
      if (need > this.stage.length) this.stage = Buffer.allocUnsafe(need);
    }
    if (this.tsUs < 0) this.tsUs = this.clock();
    const capLen = Math.min(origLen, this.snaplen);
    writePcapRecordHeader(this.stage, this.used, Math.floor(this.tsUs / 1e6), this.tsUs % 1e6, capLen, origLen);
    return this.used + RECORD_HEADER_LEN;
  }

  private commit(origLen: number): void {
    this.used += RECORD_HEADER_LEN + Math.min(origLen, this.snaplen);
    this.records++;
  }

  private nextIdent(): number {
    this.ident = (this.ident + 1) & 0xffff;
    return this.ident;
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
      for (let i = 0; i < b.count; i++) rec.frame(b.slab, b.frameStart(i), b.sizes[i]!);
      rec.flush();
      onBatch(b);
    });
  }

  write(slab: Buffer, list: SendList): number {
    const n = this.inner.write(slab, list);
    for (let k = 0; k < list.count; k++) {
      if (list.status[k] === SENT) this.recorder.frame(slab, list.starts[k]!, list.lens[k]!);
    }
    this.recorder.flush();
    return n;
  }
}

export interface PcapDatagramPortOptions {
  /** Our underlay IPv4 (dotted quad or host-order u32): the source of sends, the destination of receives. */
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
    this.localIp = typeof opts.localIp === 'string' ? parseIpv4(opts.localIp) : opts.localIp >>> 0;
    this.localPort = opts.localPort;
  }

  get writesUdpHeader(): boolean { return this.inner.writesUdpHeader; }
  get sourcePorts(): SourcePortRange | undefined { return this.inner.sourcePorts; }
  wholeSuperFrames(): WholeSuperFrames { return recordingAnswer(this.inner); }

  start(batch: FrameBatch, onBatch: BatchHandler): void {
    const rec = this.recorder;
    this.inner.start(batch, (b) => {
      for (let i = 0; i < b.count; i++) {
        rec.udpPayload(b.slab, b.frameStart(i), b.sizes[i]!, b.senderIpv4(i), b.senderPort(i), this.localIp, this.localPort);
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
      if (this.inner.writesUdpHeader) {
        // The span starts with the UDP header the pipeline wrote (per-flow source port).
        rec.udpDatagram(slab, start, len, this.localIp, list.addr(k));
      } else {
        rec.udpPayload(slab, start, len, this.localIp, this.localPort, list.addr(k), list.port(k));
      }
    }
    rec.flush();
    return n;
  }
}
