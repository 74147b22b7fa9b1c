/**
 * Test doubles for the switch's unit tests (after wireguard-go's
 * tuntest.ChannelTUN and bindtest): ports in memory that record what is
 * written or sent (copies, with the destination) and let a test inject frames
 * or datagrams as batches, through the same FrameBatch the real ports fill.
 *
 * Like the real ports: a frame longer than a slot is dropped and counted
 * (stats.rxTruncated), a port can be told to accept fewer frames than it is
 * given (`acceptLimit`), as a kernel does at EAGAIN, or to refuse single
 * entries in the middle of a batch (`refuse`), as a kernel refuses a runt or
 * a datagram it cannot route; either way list.status says which.
 */
import { constants } from 'node:os';
import { vtepKey } from './vtep-key';
import { EP_RECORD } from './endpoints';
import { CallCounts, SENT, WHOLE, notWhole, type WholeSuperFrames, type BatchHandler, type DatagramPort, type FrameBatch, type FramePort, type PortErrorHandler, type PortStats, type SendList } from './port';

/** A datagram to inject: payload (from the VXLAN header on), sender address (IPv4 or IPv6 text, or a VTEP key: io/vtep-key.ts) and port. */
export interface InjectedDatagram {
  data: Buffer;
  addr: number | string;
  port: number;
  /** The sender's record as the kernel would write it (EP_RECORD bytes), instead of addr/port: e.g. an IPv6 address no configuration named. */
  record?: Buffer;
}

/** A datagram a MemoryDatagramPort was asked to send. */
export interface SentDatagram {
  /** The whole span as given (with the UDP header when writesUdpHeader). */
  data: Buffer;
  /** The bytes after the UDP header (writesUdpHeader), else the same as data. */
  payload: Buffer;
  /** Destination IPv4, host-order u32 (list.addr(k)). */
  addr: number;
  /** Destination port: from the UDP header when writesUdpHeader, else list.port(k). */
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
  /**
   * Asked per entry (its bytes as given, its index in the list): 0 to take
   * it, or an errno to refuse it alone and go on with the next, as a kernel
   * does (EINVAL for a runt on a TAP, EACCES or EMSGSIZE for a datagram).
   */
  refuse: ((data: Buffer, k: number) => number) | null = null;
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

  /**
   * One write()/send() as a kernel answers it: entries past acceptLimit get
   * EAGAIN, those `refuse` names their errno (counted in stats.txSkipped),
   * the others are handed to `take`. Fills list.status; returns how many were taken.
   */
  protected transmit(slab: Buffer, list: SendList, take: (data: Buffer, k: number) => void): number {
    this.checkOpen();
    let taken = 0;
    for (let k = 0; k < list.count; k++) {
      if (taken >= this.acceptLimit) {
        list.status[k] = constants.errno.EAGAIN;
        continue;
      }
      const start = list.starts[k]!;
      const data = Buffer.from(slab.subarray(start, start + list.lens[k]!));
      const err = this.refuse === null ? 0 : this.refuse(data, k);
      if (err !== 0) {
        list.status[k] = err;
        this.stats.txSkipped++;
        this.stats.lastTxError = errnoName(err);
        continue;
      }
      take(data, k);
      list.status[k] = SENT;
      taken++;
    }
    this.calls.txCalls++;
    this.calls.txFrames += taken;
    return taken;
  }
}

/** 'EINVAL' for 22, as the addon's errnoName. */
function errnoName(errno: number): string {
  for (const [name, n] of Object.entries(constants.errno)) if (n === errno) return name;
  return `ERRNO_${errno}`;
}

/**
 * The memory ports' answers to the offload negotiation are "no" unless a
 * test's subclass declares `readonly keepsWhole = true` (MemoryFramePort:
 * act as a vnet TAP; the test fills FrameBatch.superFrames itself) or
 * `readonly sendsWhole = true` (MemoryDatagramPort: act as BatchUdpPort
 * with UDP GSO; `sent` records segment 0 only). They are not members here,
 * so that such a subclass needs no `override`.
 */
interface Knobs {
  readonly keepsWhole?: boolean;
  readonly sendsWhole?: boolean;
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
    return this.transmit(slab, list, (data) => { this.written.push(data); });
  }

  wholeSuperFrames(): WholeSuperFrames {
    return (this as Knobs).keepsWhole === true ? WHOLE : notWhole(`memory port ${this.name} reads no super-frames (no keepsWhole)`);
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

  /** Delivers datagrams (payload at the headroom, sender in names), one onBatch per batch.slots. Returns how many were delivered. */
  inject(datagrams: readonly InjectedDatagram[]): number {
    return this.injectItems(datagrams, (d) => d.data, (batch, d, i) => {
      if (d.record !== undefined) d.record.copy(batch.names, i * EP_RECORD, 0, EP_RECORD);
      else batch.setSender(i, typeof d.addr === 'string' ? vtepKey(d.addr) : d.addr, d.port);
    });
  }

  wholeSuperFrames(): WholeSuperFrames {
    return (this as Knobs).sendsWhole === true ? WHOLE : notWhole('MemoryDatagramPort does not cut super-frames (no sendsWhole)');
  }

  send(slab: Buffer, list: SendList): number {
    if (this.writesUdpHeader) {
      // Checked up front, as the addon checks spans before any send.
      for (let k = 0; k < list.count; k++) {
        if (list.lens[k]! < UDP_HEADER_LEN) throw new RangeError(`span ${k} is ${list.lens[k]!} bytes: shorter than a UDP header`);
      }
    }
    return this.transmit(slab, list, (data, k) => {
      if (this.writesUdpHeader) {
        this.sent.push({ data, payload: data.subarray(UDP_HEADER_LEN), addr: list.addr(k), port: data.readUInt16BE(2), srcPort: data.readUInt16BE(0) });
      } else {
        this.sent.push({ data, payload: data, addr: list.addr(k), port: list.port(k), srcPort: this.localPort });
      }
    });
  }
}
