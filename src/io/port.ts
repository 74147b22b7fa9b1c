/**
 * The one batch contract every port follows (after wireguard-go's tun.Device
 * and conn.Bind): frames move in batches through caller-owned, preallocated
 * buffers, and every buffer keeps `headroom` bytes in front of the frame so a
 * header (VXLAN + UDP) can be written in place, without a copy.
 *
 * A FrameBatch is one slab cut into `slots` fixed slots. Slot i spans
 * slab[i*slotSize, (i+1)*slotSize); its frame starts at i*slotSize + headroom
 * and is sizes[i] bytes long. `bufs[i]` is a view of slot i, made once.
 * Nothing here allocates per frame.
 */
import type { SystemError } from '../errors';
import { EP_RECORD, EndpointTable, recordIpv4, recordPort, wordsVtepKey, writeIpv4Record, writeIpv6Record } from './endpoints';
import { isV6Key } from './vtep-key';
import { SuperFrames } from './super-frames';

export class FrameBatch {
  readonly slab: Buffer;
  /** bufs[i] is slot i (a view into slab, made once): frame at bufs[i][headroom .. headroom + sizes[i]). */
  readonly bufs: Buffer[];
  /** Frame length per slot, not counting headroom. */
  readonly sizes: Uint32Array;
  /**
   * For datagram ports: the sender of slot i as an endpoint record (the
   * socket address, io/endpoints.ts) at names[i * EP_RECORD, +EP_RECORD),
   * as the reader got it from the kernel. senderIpv4(i) / senderPort(i)
   * read it back.
   */
  readonly names: Buffer;
  /** `names` as 32-bit words (io/endpoints.ts wordsIpv4: the decap's sender key in one load). */
  readonly names32: Uint32Array;
  /** How many slots hold a frame now. */
  count = 0;
  /**
   * Super-frames kept whole (keepWhole(); null until then): a vnet TAP's
   * reader leaves a TSO super-frame in `aux` uncut, puts its segment 0 in
   * the slot, and says so in slot i's record of `superFrames` (offset in
   * aux, length, MSS, segments; io/super-frames.ts). The send cuts it
   * (PoolSend). A batch with superFrames is what asks a reader to keep
   * super-frames whole: the one sign of that mode.
   */
  aux: Buffer | null = null;
  superFrames: SuperFrames | null = null;
  /** superFrames.table (the u32 records the addon fills), or null. */
  whole: Uint32Array | null = null;
  /**
   * The overlay's MTU, for a datagram port: a peer's VXLAN datagram that
   * holds a whole TCP super-frame (kernel vxlan's TSO across a veth) is cut
   * into segments whose IP packets fit it. 0: unknown, cut to fit a slot.
   */
  mtu = 0;

  constructor(
    readonly slots: number,
    readonly slotSize: number,
    readonly headroom: number,
  ) {
    if (!Number.isInteger(slots) || slots < 1) throw new RangeError(`slots must be >= 1, got ${slots}`);
    if (headroom >= slotSize) throw new RangeError(`headroom ${headroom} leaves no room in a ${slotSize}-byte slot`);
    // allocUnsafeSlow: a slab of our own, never a view into Node's shared pool,
    // so that slab.byteOffset is 0 and the addon can address it directly.
    this.slab = Buffer.allocUnsafeSlow(slots * slotSize);
    this.bufs = [];
    for (let i = 0; i < slots; i++) this.bufs.push(this.slab.subarray(i * slotSize, (i + 1) * slotSize));
    this.sizes = new Uint32Array(slots);
    // allocUnsafeSlow: byteOffset 0, as for the slab (the addon writes it). Zeroed: a slot no datagram filled reads as family 0.
    this.names = Buffer.allocUnsafeSlow(slots * EP_RECORD).fill(0);
    this.names32 = new Uint32Array(this.names.buffer, this.names.byteOffset, this.names.length / 4);
  }

  /** Slot i's sender's IPv4 address, host-order u32 (an AF_INET record). */
  senderIpv4(i: number): number {
    return recordIpv4(this.names, i * EP_RECORD);
  }

  /** Slot i's sender's VTEP key (io/vtep-key.ts): its IPv4 u32, or an IPv6 VTEP's key (V6_UNKNOWN when no configuration named it). */
  senderKey(i: number): number {
    return wordsVtepKey(this.names32, i);
  }

  /** Slot i's sender's UDP port. */
  senderPort(i: number): number {
    return recordPort(this.names, i * EP_RECORD);
  }

  /** Writes slot i's sender (the dgram port, memory ports, tests). */
  setSender(i: number, ipv4: number, port: number): void {
    // A VTEP key: an IPv4 u32 (d.addr >>> 0 as before), or an IPv6 key, which gets an AF_INET6 record.
    if (isV6Key(ipv4)) writeIpv6Record(this.names, i * EP_RECORD, ipv4, port);
    else writeIpv4Record(this.names, i * EP_RECORD, ipv4 >>> 0, port);
  }

  /** Makes room for `superFrames` super-frames of up to 64 KB per batch (see `aux`). */
  keepWhole(superFrames = 8): void {
    this.aux = Buffer.allocUnsafeSlow(superFrames * (65536 + 320) + this.slotSize);
    this.superFrames = new SuperFrames(this.slots);
    this.whole = this.superFrames.table;
  }

  /** Absolute offset in `slab` where slot i's frame starts. */
  frameStart(i: number): number {
    return i * this.slotSize + this.headroom;
  }

  /** Largest frame a slot can hold. */
  get capacity(): number {
    return this.slotSize - this.headroom;
  }
}

/** SendList.sameFrame: the first copy of a flooded frame. */
export const FLOOD_FIRST = 2;
/** SendList.sameFrame: one more copy of the frame before it. */
export const FLOOD_MORE = 1;

/** SendList.status[k] of an entry that went out (written to the TAP, accepted by the kernel to send). */
export const SENT = 0;

/**
 * A list of frames to send, as spans of one slab: frame k is
 * slab[starts[k], starts[k] + lens[k]). For datagram ports, eps[k] is the
 * destination: an index into `endpoints` (the switch's endpoint table,
 * io/endpoints.ts: a socket address record the addon sends to as it is),
 * and srcPorts[k] the UDP source port to use where the port can choose it
 * (the VXLAN flow hash). Preallocated once; `count` is reset per batch.
 *
 * The port's answer is `status`, one result per entry: a batch call can
 * refuse an entry in the middle and carry on with the next (a runt written
 * to a TAP, a datagram without a route), so the count a write()/send()
 * returns says how many went out, not which. Whoever accounts per frame
 * (the switch's counters, the trace, the pcap) reads status.
 */
export class SendList {
  readonly starts: Uint32Array;
  readonly lens: Uint32Array;
  /** Per entry, the destination's index in `endpoints` (-1: none, a TAP list). */
  readonly eps: Int32Array;
  /**
   * The table eps index: whoever fills the list sets it (the pipeline, once
   * per batch, to the switch's); a list starts with a small one of its own,
   * which pushAddr() interns into.
   */
  endpoints: EndpointTable;
  readonly srcPorts: Uint16Array;
  /** The batch slot of a whole super-frame whose segment 0 entry k is, or -1 (see FrameBatch.superFrames). */
  readonly wholeOf: Int32Array;
  /** The batch whose super-frames wholeOf names (null: none). */
  wholeFrom: FrameBatch | null = null;
  /**
   * Head-end replication's marks (FLOOD_FIRST, FLOOD_MORE): entry k is the
   * first copy of a flooded frame (2), one more copy on the same span to
   * another destination (1), or a frame of its own (0). A flood to one VTEP
   * is one entry marked 2. A port sends each entry as it would any other;
   * only the accounts read it (one frame, several copies).
   */
  readonly sameFrame: Uint8Array;
  /**
   * Filled by the port on each write()/send(), for entries 0 .. count-1:
   * SENT (0) when entry k went out, else a positive errno that kept it out,
   * either the refusal of that entry (EINVAL: a runt on a TAP; EACCES,
   * EMSGSIZE, ENETUNREACH, ... for a datagram) or EAGAIN/ENOBUFS for every
   * entry from the one where the queue was full (not tried). A whole
   * super-frame (wholeOf) is one entry: SENT only when all its segments
   * went out. Entries at count and beyond hold stale values.
   */
  readonly status: Int32Array;
  count = 0;

  constructor(readonly capacity: number) {
    this.starts = new Uint32Array(capacity);
    this.lens = new Uint32Array(capacity);
    this.eps = new Int32Array(capacity).fill(-1);
    this.endpoints = new EndpointTable(4);
    this.srcPorts = new Uint16Array(capacity);
    this.wholeOf = new Int32Array(capacity).fill(-1);
    this.sameFrame = new Uint8Array(capacity);
    this.status = new Int32Array(capacity);
  }

  /** Entry k: the span, its destination (an index into `endpoints`; -1 for a TAP), its source port. */
  push(start: number, len: number, ep = -1, srcPort = 0): void {
    const k = this.count++;
    this.wholeOf[k] = -1;
    this.sameFrame[k] = 0;
    this.starts[k] = start;
    this.lens[k] = len;
    this.eps[k] = ep;
    this.srcPorts[k] = srcPort;
  }

  /**
   * push() to ipv4 (host-order u32) : port, interned in `endpoints`: for
   * tests and tools, not the hot path (the reference is kept as long as the
   * table, which is fine for a list's own small table).
   */
  pushAddr(start: number, len: number, ipv4: number, port: number, srcPort = 0): void {
    this.push(start, len, this.endpoints.intern(ipv4, port), srcPort);
  }

  /** Entry k's destination VTEP key (its IPv4 as a host-order u32, or an IPv6 key: io/vtep-key.ts), for the accounts, the trace and the pcap. */
  addr(k: number): number {
    return this.endpoints.key(this.eps[k]!);
  }

  /** Entry k's destination UDP port. */
  port(k: number): number {
    return this.endpoints.port(this.eps[k]!);
  }
}

/** Called once per batch. The batch's buffers are valid only during the call. */
export type BatchHandler = (batch: FrameBatch) => void;

/**
 * Told of an error the port met outside any call of ours (a failed read).
 * `fatal` says the port has stopped reading. Without a handler, a fatal error
 * goes to the process and a transient one is only counted.
 */
export type PortErrorHandler = (err: SystemError, fatal: boolean) => void;

/** What a port reports about its errors and drops (counters, not exceptions). */
export interface PortStats {
  /** Received frames dropped because they did not fit a slot. */
  rxTruncated: number;
  /** Transient receive errors (fatal ones go to onError and stop the port). */
  rxErrors: number;
  /** Frames the kernel refused one by one (skipped, not sent). */
  txSkipped: number;
  /** errno name of the last refused frame, or null. */
  lastTxError: string | null;
}

/**
 * Crossings between JavaScript and the kernel side, per direction: how many
 * calls moved how many frames. A batched port moves many frames per call; the
 * ratio (frames per call) is what batching buys, and `vxtap stats` shows it.
 * For the dgram port each received datagram is one call from the native side.
 */
export class CallCounts {
  /** Calls from the native side into JavaScript that delivered frames (one per batch). */
  rxCalls = 0;
  rxFrames = 0;
  /** Calls from JavaScript into the native side to send or write (one per batch). */
  txCalls = 0;
  txFrames = 0;
}

/** Source ports min .. min + count - 1. */
export interface SourcePortRange {
  readonly min: number;
  readonly count: number;
}

/**
 * A port's answer to the one offload negotiation: may TCP super-frames
 * travel whole from the TAP to the UDP send (FrameBatch.superFrames,
 * SendList.wholeOf), each cut only at the send? Every port answers, and
 * every middleware port too (a port that wraps another answers for both);
 * a "no" carries the reason, which the node logs. The Switch asks both of
 * its ports once, when it is made, and keeps super-frames whole only when
 * both say yes (Switch.wholeSuperFrames).
 */
export type WholeSuperFrames = { readonly whole: true } | { readonly whole: false; readonly reason: string };

/** The answer "yes". */
export const WHOLE: WholeSuperFrames = Object.freeze({ whole: true });

/** The answer "no", and why. */
export function notWhole(reason: string): WholeSuperFrames {
  return { whole: false, reason };
}

/** Ethernet frames to and from a TAP device. */
export interface FramePort {
  readonly name: string;
  /** Starts delivering batches into `batch` (the port fills it, then calls `onBatch`). */
  start(batch: FrameBatch, onBatch: BatchHandler): void;
  /**
   * Writes frames (spans of `slab`) to the device. Fills list.status (which
   * ones were written, and why not) and returns how many were written.
   */
  write(slab: Buffer, list: SendList): number;
  /**
   * The offload negotiation (WholeSuperFrames), the reading side: yes when
   * a batch that keepWhole() gets TSO super-frames whole from this port
   * (segment 0 in the slot, the super-frame in aux), as a vnet TAP can.
   */
  wholeSuperFrames(): WholeSuperFrames;
  /** Stops reading and releases the device. Idempotent; a pending read ends. */
  close(): void;
  onError: PortErrorHandler | null;
  readonly stats: PortStats;
  readonly calls: CallCounts;
}

/**
 * VXLAN datagrams to and from the underlay. A received datagram's payload
 * (starting with the VXLAN header) is placed at the slot's headroom; the
 * sender is in batch.names (an endpoint record per slot). To send, the caller writes the 8-byte VXLAN
 * header (and, for ports with `writesUdpHeader`, the 8-byte UDP header in
 * front of it) in the headroom and passes spans that start there.
 */
export interface DatagramPort {
  /**
   * True when the port sends through a raw socket and expects the caller to
   * have written the UDP header (so the source port can vary per flow, as RFC
   * 7348 section 5 asks). False for plain UDP sockets, whose source port is
   * the bound port.
   */
  readonly writesUdpHeader: boolean;
  /**
   * The outer source ports the caller may write (ports with writesUdpHeader
   * only): a UDP GSO port sends from a pool of bound ports. Undefined: any
   * port of RFC 7348's 49152-65535.
   */
  readonly sourcePorts?: SourcePortRange | undefined;
  /**
   * The offload negotiation (WholeSuperFrames), the sending side: yes when
   * send() cuts whole super-frames (SendList.wholeOf) itself.
   */
  wholeSuperFrames(): WholeSuperFrames;
  start(batch: FrameBatch, onBatch: BatchHandler): void;
  /**
   * Sends spans of `slab` to the endpoints list.eps names. Fills list.status (which ones
   * the kernel accepted, and why not) and returns how many it accepted.
   */
  send(slab: Buffer, list: SendList): number;
  close(): void;
  onError: PortErrorHandler | null;
  readonly stats: PortStats;
  readonly calls: CallCounts;
}
