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

export class MemoryFramePort implements FramePort {
  /** Copies of the frames written, in order. */
  readonly written: Buffer[] = [];
  /** How many frames one write() accepts at most (the rest are refused, as at EAGAIN). */
  acceptLimit = Infinity;
  closed = false;
  readonly stats: PortStats = { rxTruncated: 0, rxErrors: 0, txSkipped: 0, lastTxError: null };
  /** Counted like the real ports': one rx call per inject() batch, one tx call per write()/send(). */
  readonly calls = new CallCounts();
  /** Never called: a memory port has no reads that fail. */
  onError: PortErrorHandler | null = null;
  private batch: FrameBatch | null = null;
  private handler: BatchHandler | null = null;

  constructor(readonly name = 'mem0') {}

  get started(): boolean {
    return this.batch !== null;
  }

  start(batch: FrameBatch, onBatch: BatchHandler): void {
    if (this.closed) throw new Error(`${this.name} is closed`);
    this.batch = batch;
    this.handler = onBatch;
  }

  stop(): void {
    this.batch = null;
    this.handler = null;
  }

  /**
   * Delivers frames as the kernel would: copied into the batch's slots, one
   * onBatch call per batch.slots frames. Returns how many were delivered.
   */
  inject(frames: readonly Buffer[]): number {
    if (this.batch === null || this.handler === null) throw new Error(`${this.name}: inject() before start()`);
    return deliver(this.batch, this.handler, frames, (f) => f, () => undefined, () => { this.stats.rxTruncated++; });
  }

  write(slab: Buffer, list: SendList): number {
    if (this.closed) throw new Error(`${this.name} is closed`);
    const n = Math.min(list.count, this.acceptLimit);
    for (let k = 0; k < n; k++) {
      const start = list.starts[k]!;
      this.written.push(Buffer.from(slab.subarray(start, start + list.lens[k]!)));
    }
    return n;
  }

  close(): void {
    this.closed = true;
    this.stop();
  }
}

export interface MemoryDatagramPortOptions {
  /** As DatagramPort.writesUdpHeader: true mimics BatchUdpPort (raw sends), false DgramUdpPort. Default false. */
  writesUdpHeader?: boolean;
  /** The port's own UDP port (the source port of sends when !writesUdpHeader). Default 4789. */
  localPort?: number;
}

export class MemoryDatagramPort implements DatagramPort {
  readonly writesUdpHeader: boolean;
  readonly localPort: number;
  /** What send() was given, in order. */
  readonly sent: SentDatagram[] = [];
  /** How many datagrams one send() accepts at most. */
  acceptLimit = Infinity;
  closed = false;
  readonly stats: PortStats = { rxTruncated: 0, rxErrors: 0, txSkipped: 0, lastTxError: null };
  /** Counted like the real ports': one rx call per inject() batch, one tx call per write()/send(). */
  readonly calls = new CallCounts();
  /** Never called: a memory port has no reads that fail. */
  onError: PortErrorHandler | null = null;
  private batch: FrameBatch | null = null;
  private handler: BatchHandler | null = null;

  constructor(opts: MemoryDatagramPortOptions = {}) {
    this.writesUdpHeader = opts.writesUdpHeader ?? false;
    this.localPort = opts.localPort ?? 4789;
  }

  get started(): boolean {
    return this.batch !== null;
  }

  start(batch: FrameBatch, onBatch: BatchHandler): void {
    if (this.closed) throw new Error('MemoryDatagramPort is closed');
    this.batch = batch;
    this.handler = onBatch;
  }

  stop(): void {
    this.batch = null;
    this.handler = null;
  }

  /** Delivers datagrams (payload at the headroom, sender in addrs/ports), one onBatch per batch.slots. Returns how many were delivered. */
  inject(datagrams: readonly InjectedDatagram[]): number {
    const batch = this.batch;
    if (batch === null || this.handler === null) throw new Error('MemoryDatagramPort: inject() before start()');
    return deliver(batch, this.handler, datagrams, (d) => d.data, (d, i) => {
      batch.addrs[i] = typeof d.addr === 'string' ? parseIpv4(d.addr) : d.addr >>> 0;
      batch.ports[i] = d.port;
    }, () => { this.stats.rxTruncated++; });
  }

  send(slab: Buffer, list: SendList): number {
    if (this.closed) throw new Error('MemoryDatagramPort is closed');
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

  close(): void {
    this.closed = true;
    this.stop();
  }
}
