/**
 * The trace hook: what the Pipeline and the Switch call when a tracer is set,
 * and nothing else. With no tracer the pipeline pays one null check per frame
 * (`this.tracer === null`) and allocates nothing; everything below is built
 * only when tracing is on.
 *
 *   - the Pipeline calls frame() once per frame, with a copy of the frame
 *     taken before the decision (an ARP answer rewrites the frame in place),
 *     the verdict, the lookups, and where it was queued;
 *   - the Switch calls endBatch() once per batch with how many queued frames
 *     each port took, so that a refused frame becomes the udp-send /
 *     tap-write drop it is.
 *
 * The tracer that implements it (trace.ts) records (trace-record.ts), renders
 * (trace-render.ts) and writes (trace-sink.ts).
 */
import type { FdbEntry } from './fdb';
import type { PeerRow } from './peer-table';

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
   * The batch went to the ports (called by the Switch): queued frames at
   * index >= netTaken on the 'net' list, or >= tapTaken on the 'tap' list,
   * were refused. Renders and writes the batch.
   */
  endBatch(netTaken: number, tapTaken: number): void;
}
