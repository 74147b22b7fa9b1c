/**
 * Test doubles for the switch's unit tests (after wireguard-go's
 * tuntest.ChannelTUN and bindtest): ports in memory that record what is
 * written or sent (copies, with the destination) and let a test inject frames
 * or datagrams as batches, through the same FrameBatch the real ports fill.
 *
 * Like the real ports: a frame longer than a slot is dropped and counted
 * (stats.rxTruncated), and a port can be told to accept fewer frames than it
 * is given (`acceptLimit`), as a kernel does at EAGAIN.
 */
import { parseIpv4 } from '../wire/addr';
import { CallCounts, type BatchHandler, type DatagramPort, type FrameBatch, type FramePort, type PortErrorHandler, type PortStats, type SendList } from './port';

/** A datagram to inject: payload (from the VXLAN header on), sender address (dotted quad or host-order u32) and port. */
export interface InjectedDatagram {
  data: Buffer;
  addr: number | string;
  port: number;
}

/** A datagram a MemoryDatagramPort was asked to send. */
export interface SentDatagram {
  /** The whole span as given (with the UDP header when writesUdpHeader). */
  data: Buffer;
  /** The bytes after the UDP header (writesUdpHeader), else the same as data. */
  payload: Buffer;
  /** Destination IPv4, host-order u32 (list.addrs[k]). */
  addr: number;
  /** Destination port: from the UDP header when writesUdpHeader, else list.ports[k]. */
  port: number;
  /** Source port: from the UDP header when writesUdpHeader, else the port's localPort. */
  srcPort: number;
}

const UDP_HEADER_LEN = 8;

/** Fills `batch` with `items` (in chunks of batch.slots) and calls onBatch once per chunk. Returns the number delivered. */
function deliver<T>(
  batch: FrameBatch,
  onBatch: BatchHandler,
  items: readonly T[],
  bytes: (item: T) => Buffer,
  fill: (item: T, slot: number) => void,
  dropped: () => void,
): number {
  let n = 0;
  let delivered = 0;
  for (const item of items) {
    const data = bytes(item);
    if (data.length > batch.capacity) {
      dropped();
      continue;
    }
    data.copy(batch.slab, batch.frameStart(n));
    batch.sizes[n] = data.length;
    fill(item, n);
    n++;
    if (n === batch.slots) {
      batch.count = n;
      onBatch(batch);
      delivered += n;
      n = 0;
    }
  }
  if (n > 0) {
    batch.count = n;
    onBatch(batch);
    delivered += n;
  }
  return delivered;
}

/** What both memory ports share: the batch they fill, the counters, start/stop/close. */
abstract class MemoryPort {
  /** How many frames or datagrams one write()/send() accepts at most (the rest are refused, as at EAGAIN). */
  acceptLimit = Infinity;
  closed = false;
  readonly stats: PortStats = { rxTruncated: 0, rxErrors: 0, txSkipped: 0, lastTxError: null };
  /** Counted like the real ports': one rx call per inject() batch, one tx call per write()/send(). */
  readonly calls = new CallCounts();
  /** Never called: a memory port has no reads that fail. */
  onError: PortErrorHandler | null = null;
  private batch: FrameBatch | null = null;
  private handler: BatchHandler | null = null;

  protected constructor(private readonly what: string) {}

  get started(): boolean {
    return this.batch !== null;
  }

  start(batch: FrameBatch, onBatch: BatchHandler): void {
    if (this.closed) throw new Error(`${this.what} is closed`);
    this.batch = batch;
    this.handler = onBatch;
  }

  stop(): void {
    this.batch = null;
    this.handler = null;
  }

  close(): void {
    this.closed = true;
    this.stop();
  }

  /** Fills the started batch with `items` (deliver()); a too-long one counts in stats.rxTruncated. */
  protected injectItems<T>(items: readonly T[], bytes: (item: T) => Buffer, fill: (batch: FrameBatch, item: T, slot: number) => void): number {
    const batch = this.batch;
    if (batch === null || this.handler === null) throw new Error(`${this.what}: inject() before start()`);
    return deliver(batch, this.handler, items, bytes, (item, i) => fill(batch, item, i), () => { this.stats.rxTruncated++; });
  }

  protected checkOpen(): void {
    if (this.closed) throw new Error(`${this.what} is closed`);
  }
}

export class MemoryFramePort extends MemoryPort implements FramePort {
  /** Copies of the frames written, in order. */
  readonly written: Buffer[] = [];

  constructor(readonly name = 'mem0') {
    super(name);
  }

  /**
   * Delivers frames as the kernel would: copied into the batch's slots, one
   * onBatch call per batch.slots frames. Returns how many were delivered.
   */
  inject(frames: readonly Buffer[]): number {
    return this.injectItems(frames, (f) => f, () => undefined);
  }

  write(slab: Buffer, list: SendList): number {
    this.checkOpen();
    const n = Math.min(list.count, this.acceptLimit);
    for (let k = 0; k < n; k++) {
      const start = list.starts[k]!;
      this.written.push(Buffer.from(slab.subarray(start, start + list.lens[k]!)));
    }
    return n;
  }
}

export interface MemoryDatagramPortOptions {
  /** As DatagramPort.writesUdpHeader: true mimics BatchUdpPort (raw sends), false DgramUdpPort. Default false. */
  writesUdpHeader?: boolean;
  /** The port's own UDP port (the source port of sends when !writesUdpHeader). Default 4789. */
  localPort?: number;
}

export class MemoryDatagramPort extends MemoryPort implements DatagramPort {
  readonly writesUdpHeader: boolean;
  readonly localPort: number;
  /** What send() was given, in order. */
  readonly sent: SentDatagram[] = [];

  constructor(opts: MemoryDatagramPortOptions = {}) {
    super('MemoryDatagramPort');
    this.writesUdpHeader = opts.writesUdpHeader ?? false;
    this.localPort = opts.localPort ?? 4789;
  }

  /** Delivers datagrams (payload at the headroom, sender in addrs/ports), one onBatch per batch.slots. Returns how many were delivered. */
  inject(datagrams: readonly InjectedDatagram[]): number {
    return this.injectItems(datagrams, (d) => d.data, (batch, d, i) => {
      batch.addrs[i] = typeof d.addr === 'string' ? parseIpv4(d.addr) : d.addr >>> 0;
      batch.ports[i] = d.port;
    });
  }

  send(slab: Buffer, list: SendList): number {
    this.checkOpen();
    const n = Math.min(list.count, this.acceptLimit);
    for (let k = 0; k < n; k++) {
      const start = list.starts[k]!;
      const data = Buffer.from(slab.subarray(start, start + list.lens[k]!));
      if (this.writesUdpHeader) {
        if (data.length < UDP_HEADER_LEN) throw new RangeError(`span ${k} is ${data.length} bytes: shorter than a UDP header`);
        this.sent.push({ data, payload: data.subarray(UDP_HEADER_LEN), addr: list.addrs[k]!, port: data.readUInt16BE(2), srcPort: data.readUInt16BE(0) });
      } else {
        this.sent.push({ data, payload: data, addr: list.addrs[k]!, port: list.ports[k]!, srcPort: this.localPort });
      }
    }
    return n;
  }
}
