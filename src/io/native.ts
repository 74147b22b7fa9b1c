/**
 * The native addon (native/, built by `npm ci` into build/Release/vxtap.node):
 * typed declarations of its contract, loading, and errno errors as
 * SystemError. The contract of each function is written in full next to its
 * C++ (native/tap.cc, native/udp.cc, native/reader.cc and its read sources); this file mirrors it.
 *
 * Common rules: every fd is nonblocking and close-on-exec; memory (slab,
 * typed arrays) belongs to the caller; JS is called once per batch, never per
 * frame; a failed system call throws an Error with `code` = errno name
 * (`EBUSY`), `errno` = number, `syscall`; bad arguments throw TypeError or
 * RangeError.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { PrerequisiteError, SystemError } from '../errors';

/** An error as the addon throws it (or passes to a Reader's onError). */
export interface NativeError extends Error {
  /** errno name, e.g. 'EBUSY'. */
  code: string;
  /** errno number (positive). */
  errno: number;
  /** e.g. 'ioctl(TUNSETIFF)', 'bind', 'sendmmsg', 'read', 'recvmmsg'. */
  syscall: string;
  /** Reader errors only: true when the reader has stopped for good. */
  fatal?: boolean;
  /** tapWrite only: frames written before the error. */
  written?: number;
  /** udpSend only: datagrams sent before the error. */
  sent?: number;
}

export interface SocketBufferOptions {
  /** SO_RCVBUF in bytes (SO_RCVBUFFORCE is tried first). */
  rcvbuf?: number;
  /** SO_SNDBUF in bytes (SO_SNDBUFFORCE is tried first). */
  sndbuf?: number;
  /** A send-only socket: a drop-all filter keeps anything received for its port from queueing (the send pool). */
  sendOnly?: boolean;
}

/**
 * A batch reader on the event loop (uv_poll, readable): one shell
 * (native/reader.cc) over one read source per kind (native/read-source.h,
 * read-tap.cc, read-udp.cc). Reads up to `slots` frames into slot i at
 * i*slotSize + headroom (TAP: read() per frame; UDP: one recvmmsg, also
 * filling names), then calls onBatch(n) once; drains up to 8 full
 * batches per wakeup. Frames longer than a slot are dropped and counted in
 * `truncated`. Transient errors reach onError with fatal=false; any other
 * errno stops the reader, then reaches onError with fatal=true.
 */
export interface NativeReader {
  /** Stops polling, releases the handle and the pinned slab; never closes the fd. Idempotent, safe inside onBatch. */
  stop(): void;
  /** Frames/datagrams dropped because they were longer than a slot. */
  readonly truncated: number;
  readonly active: boolean;
  /** The source's work under the port counters' names (all 0 for 'tap'): see ReaderOffloadStats. */
  readonly offload: ReaderOffloadStats;
  /** The source's own counters, each name meaning one thing (see ReaderCounters). Readable after stop(). */
  readonly counters: ReaderCounters;
}

export type ReaderKind = 'tap' | 'tap-vnet' | 'tap-vnet-whole' | 'udp' | 'udp-gro' | 'packet';

/**
 * What an offload reader did, as the port counters name it (README
 * "Offloads"; each source maps its own counters onto these, native
 * read-tap.cc / read-udp.cc). 'tap-vnet': super-frames read and cut.
 * 'tap-vnet-whole': super-frames read and kept whole. 'udp-gro' (and 'udp'):
 * gsoFrames = GRO messages that held more than one datagram and VXLAN TCP
 * super-datagrams (a kernel vxlan peer's TSO across a veth), segments =
 * datagrams cut from them.
 */
export interface ReaderOffloadStats {
  /** TCP GSO super-frames read (udp: coalesced messages and super-datagrams). */
  gsoFrames: number;
  /** Frames cut from them (each MTU-sized, in its own slot). */
  segments: number;
  /** Frames (not GSO) whose partial checksum (NEEDS_CSUM) was completed. */
  csumCompleted: number;
  /** Frames dropped: another GSO type, or headers that do not parse. */
  dropped: number;
  /** 'tap-vnet-whole': super-frames kept whole (cut at the send, PoolSend), not in the reader. */
  whole: number;
}

/** What a vnet TAP's writes coalesced (native/coalesce.h): TCP segments written as GSO super-frames. */
export interface WriteCoalesceStats {
  /** Super-frames written. */
  superFrames: number;
  /** Segments written inside them (the rest went out one per write). */
  segments: number;
}

/** TUNSETOFFLOAD flags (include/uapi/linux/if_tun.h). */
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;

/**
 * A read source's own counters, by kind: every kind has `truncated`;
 * 'tap-vnet' superFrames, segments, csumCompleted, dropped; 'tap-vnet-whole'
 * superFrames, keptWhole, csumCompleted, dropped; 'udp' superDatagrams,
 * superSegments; 'udp-gro' those and groMessages, groDatagrams.
 */
export type ReaderCounters = Readonly<Record<string, number>>;

/** A Reader's batch, kind and callbacks (native/reader.cc). */
export interface ReaderOptions {
  fd: number;
  kind: ReaderKind;
  /** Slot i at i*slotSize + headroom, at most slotSize - headroom bytes; sizes[i] its length. */
  slab: Buffer;
  slotSize: number;
  headroom: number;
  slots: number;
  sizes: Uint32Array;
  onBatch: (n: number) => void;
  onError: (err: NativeError) => void;
  /** 'udp' / 'udp-gro': each slot's sender, an endpoint record of EP_RECORD bytes per slot (FrameBatch.names, io/endpoints.ts). */
  names?: Buffer;
  /** 'udp' / 'udp-gro': the overlay MTU, the size a peer's VXLAN TCP super-datagram is cut to (0 or absent: the slot's). */
  mtu?: number;
  /** 'tap-vnet-whole' only: where super-frames are kept, and per slot {offset, length, MSS, segments} (FrameBatch.superFrames, io/super-frames.ts). */
  aux?: Buffer;
  whole?: Uint32Array;
}

export interface NativeReaderConstructor {
  new (opts: ReaderOptions): NativeReader;
}

export interface Addon {
  /**
   * Opens /dev/net/tun with IFF_TAP | IFF_NO_PI (TUNSETIFF): creates the TAP,
   * or attaches to a persistent one (its owner needs no privilege). '' lets
   * the kernel pick (tap%d). EBUSY: in use; EPERM: owned by another user;
   * EINVAL: bad name (over 15 bytes is checked before the kernel).
   */
  tapOpen(name: string, opts?: { vnetHdr?: boolean }): { fd: number; name: string };
  /**
   * TUNSETOFFLOAD(flags) on a TAP opened with vnetHdr (which also set
   * TUNSETVNETHDRSZ to 10). null when taken, else the errno name (not thrown).
   */
  tapSetOffload(fd: number, flags: number): string | null;
  /**
   * The 'tap-vnet' reader's handling of one read (virtio_net_hdr + frame) as
   * a pure function, for tests: frames into slots 0.. of slab; returns how
   * many (0: dropped). RangeError when `slots` is too few.
   */
  tapSegment(pkt: Buffer, slab: Buffer, slotSize: number, headroom: number, sizes: Uint32Array, slots: number): number;
  /**
   * One write() per frame k < count (slab[starts[k], +lens[k])). Returns
   * frames written; stops at EAGAIN/ENOBUFS. A frame the kernel refuses
   * (EINVAL: runt; EIO: the link is down) is skipped: errOut = [skipped,
   * lastErrno]. status (SendList.status, length >= count): per frame, 0 =
   * written, else the errno that kept it out (EAGAIN/ENOBUFS for every
   * frame from where the queue was full); the count is not a prefix.
   * Throws only when the fd is unusable (EBADF, EBADFD).
   * vnetHdr: consecutive TCP segments (IPv4 or IPv6) of one flow go out as one GSO
   * super-frame (native/coalesce.h); an errOut of length 4 also gets
   * [superFrames, segments in them] of this call. A super-frame's segments
   * share one status.
   * Partial TCP/UDP checksums (what a kernel vxlan peer across a veth sends:
   * the pseudo-header sum only, native/offload.h) are finished in place in
   * frames written alone, and covered by the NEEDS_CSUM of a coalesced
   * super-frame; a checksum neither right nor partial is written as it is.
   * An errOut of length 5 gets in [4] how many written frames had one.
   */
  tapWrite(
    fd: number, slab: Buffer, starts: Uint32Array, lens: Uint32Array, count: number, errOut?: Int32Array, vnetHdr?: boolean,
    status?: Int32Array,
  ): number;
  /**
   * What tapWrite with vnetHdr writes for these frames, one Buffer
   * (virtio_net_hdr + frame) per write, as a pure function for tests. Like
   * tapWrite it rewrites group heads in the slab.
   */
  tapCoalesce(slab: Buffer, starts: Uint32Array, lens: Uint32Array, count: number): Buffer[];
  /**
   * What tapWrite without vnetHdr does to these frames before the write, as
   * a pure function for tests: finishes each partial TCP/UDP checksum in
   * place; returns how many. Every other frame is left as it is.
   */
  tapFinishPartial(slab: Buffer, starts: Uint32Array, lens: Uint32Array, count: number): number;
  /**
   * A received VXLAN datagram too long for a slot, cut as the udp readers
   * cut it: when it holds one TCP super-frame (a kernel vxlan peer's TSO
   * passed whole by a veth), its segments (VXLAN header + finished frame)
   * go to slots first.., sizes filled; returns how many. 0 when it is not
   * that or needs more than slots - first slots (nothing written).
   */
  vxlanSplitSuper(msg: Buffer, slab: Buffer, slotSize: number, headroom: number, first: number, slots: number, sizes: Uint32Array, mtu: number): number;
  /** A UDP socket bound to ip:port ('0.0.0.0' any, port 0 ephemeral; an IPv6 ip ('::' any) gives an AF_INET6 socket with IPV6_V6ONLY), buffers set. Returns the fd. */
  udpOpen(ip: string, port: number, opts?: SocketBufferOptions): number;
  /**
   * A raw IPPROTO_UDP send socket (needs CAP_NET_RAW, EPERM otherwise): the
   * caller writes the 8-byte UDP header (checksum 0), the kernel the IPv4
   * header. Bound to srcIp unless '0.0.0.0'. Receives nothing (a BPF filter
   * drops all).
   */
  rawUdpOpen(srcIp: string, opts?: { sndbuf?: number }): number;
  /**
   * An AF_PACKET capture socket on ifname of IPv4 UDP to or from `port`,
   * both directions (native/packet-capture.h). Needs CAP_NET_RAW (EPERM
   * otherwise). Read it with a Reader of kind 'packet' (headroom >= 16:
   * each frame's facts sit in the 16 bytes before its slot).
   */
  packetOpen(ifname: string, port: number): number;
  /** Frames the kernel dropped for an AF_PACKET socket since the last call (native/packet-capture.h). */
  packetDrops(fd: number): number;
  /** The bound UDP port of fd. */
  localPort(fd: number): number;
  /**
   * sendmmsg(MSG_DONTWAIT) of datagrams k < count to the endpoint record
   * eps[k] of the table `endpoints` (io/endpoints.ts; msg_name is the record
   * itself, its length the family's); on a raw socket the kernel ignores
   * the record's port. An index outside the table is a RangeError. Returns
   * how many were sent; stops at EAGAIN/ENOBUFS. A datagram refused for its
   * own sake (EHOSTUNREACH, EMSGSIZE, EACCES, EPERM, ...) is skipped: errOut =
   * [skipped, lastErrno]; status (as tapWrite's) says which. Throws only
   * when the fd is unusable.
   */
  udpSend(
    fd: number, slab: Buffer, starts: Uint32Array, lens: Uint32Array,
    endpoints: Buffer, eps: Int32Array, count: number, errOut?: Int32Array, status?: Int32Array,
  ): number;
  /**
   * 'gso': whether the kernel has UDP_SEGMENT; 'gro': turns UDP_GRO on for a
   * receiving socket. null when taken, else the errno name (not thrown).
   */
  udpOffload(fd: number, what: 'gso' | 'gro'): string | null;
  /**
   * The pool send (native/udp-pool.cc): `new PoolSend(refs)` binds one
   * request, refs in the slots native/pool-send.h names (io/udp-pool.ts,
   * PS_*), every array pinned; send() then reads the scalars [count, gso,
   * portMin] and sends with no argument crossing. Datagram k (its span
   * starts with the caller's UDP header, skipped: the socket writes its
   * own) goes from fds[srcPorts[k] - portMin] to the endpoint record
   * eps[k]. gso (the longest datagram to segment; 0: off): runs of
   * equal-sized datagrams to one endpoint index from one source port, at
   * most 64 and 65507 bytes, go out as one UDP_SEGMENT message. errOut =
   * [skipped, lastErrno]. A GSO message the kernel refuses
   * (EIO/EINVAL/EMSGSIZE) is sent again one datagram per message, that
   * message only; gsoOut (8 entries, native/udp-pool.cc) says what GSO did:
   * [streak in/out, messages accepted, their datagrams, fallbacks,
   * well-formed refusals, last errno, smallest segment refused with
   * EMSGSIZE, datagrams sent alone as longer than gso]. Throws only when a
   * socket is unusable.
   * wholeOf[k] = slot i >= 0 (with aux and whole in refs): entry k is
   * segment 0 of a super-frame kept whole in aux (slot i's record in whole,
   * io/super-frames.ts, as the 'tap-vnet-whole' reader left it); its other
   * segments are sent from there, payloads in place. Returns the entries
   * whose datagrams were all sent; status (as tapWrite's) says which: 0 for
   * an entry all of whose datagrams (a whole super-frame: segments) were
   * sent, else the errno that kept the first of them out.
   */
  PoolSend: new (refs: unknown[]) => { send(): number };
  /**
   * True when the process started with VXTAP_STAMPS=<file>: the addon then
   * records when each step of the data path ran (native/stamps.h; read by
   * the latency budget, bench/latency/). False otherwise, and then the data
   * path makes no stamp() call.
   */
  readonly stamps: boolean;
  /** One stamp (STAMP_JS_ENTER / STAMP_JS_EXIT, side 0 TAP, 1 UDP), on the addon's clock (CLOCK_REALTIME). Only when `stamps`. */
  stamp(point: number, side: number, frames: number): void;
  /** The endpoint record's size, field offsets and families as the addon uses them (native/endpoints.h; io/endpoints.ts EP_*). */
  readonly endpointFields: {
    readonly record: number; readonly family: number; readonly port: number; readonly addr4: number; readonly flowinfo6: number;
    readonly addr6: number; readonly scope6: number; readonly afInet: number; readonly afInet6: number;
  };
  /** The PoolSend request's slot indices as the addon reads them (native/pool-send.h; io/udp-pool.ts PS_*). */
  readonly poolSendFields: Readonly<Record<string, number>>;
  /** The super-frame record's field indices as the addon uses them (native/super-frames.h; io/super-frames.ts SF_*). */
  readonly superFrameFields: { readonly offset: number; readonly length: number; readonly mss: number; readonly segments: number; readonly fields: number };
  /** Closes fd (EBADF if it is not open). Stop its Reader first. */
  close(fd: number): void;
  /** 'EBUSY' for 16. */
  errnoName(errno: number): string;
  /**
   * sd_notify: one AF_UNIX datagram `message` to `path` ($NOTIFY_SOCKET; a
   * leading '@' is an abstract socket). Throws with the errno name.
   */
  notify(path: string, message: string): void;
  /**
   * An rtnetlink socket (AF_NETLINK, NETLINK_ROUTE, close-on-exec, bound to a
   * kernel-picked port id) whose sends and receives time out after timeoutMs
   * (0: never). BLOCKING, unlike every other fd of the addon: rtnetlink
   * answers inside the sender's system call (native/netlink.cc). Extended
   * acks and capped acks are asked for. Close it with close(fd).
   */
  nlOpen(timeoutMs: number): number;
  /**
   * Sends one netlink message (the whole Buffer; nlmsg_len must equal its
   * length) and returns the bytes of every reply message with the request's
   * sequence number and this socket's port id, up to the answer: NLMSG_DONE
   * or NLMSG_ERROR for a dump, NLMSG_ERROR (the ack) with NLM_F_ACK, else the
   * first reply. Other sequence numbers are skipped. A kernel refusal is an
   * NLMSG_ERROR in the bytes, not an exception. Throws EAGAIN on timeout,
   * EINVAL for a request that is not one message, else the errno of
   * sendto/recv. Blocks the event loop: for tools and tests.
   */
  nlTransact(fd: number, request: Buffer): Buffer;
  /**
   * nlTransact on a libuv pool thread. The caller runs one at a time per fd
   * and does not close the fd while one runs.
   */
  nlTransactAsync(fd: number, request: Buffer): Promise<Buffer>;
  Reader: NativeReaderConstructor;
}

/** The repository root: the nearest folder above this file that holds binding.gyp. */
function repoRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (existsSync(path.join(dir, 'binding.gyp'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return path.resolve(__dirname, '..', '..', '..');
    dir = up;
  }
}

/** Where the built addon lives. */
export const addonPath: string = path.join(repoRoot(), 'build', 'Release', 'vxtap.node');

let cached: Addon | null = null;

/** Loads the addon once; throws PrerequisiteError (code VXTAP_ERR_PREREQ) saying how to build it. */
export function loadAddon(): Addon {
  if (cached !== null) return cached;
  const fix = `run \`npm ci\` (or \`npx node-gyp rebuild\`) in ${path.dirname(path.dirname(path.dirname(addonPath)))}`;
  if (!existsSync(addonPath)) {
    throw new PrerequisiteError(`the vxtap native addon is not built (${addonPath} is missing)`, fix);
  }
  try {
    cached = require(addonPath) as Addon;
  } catch (err) {
    throw new PrerequisiteError(`the vxtap native addon at ${addonPath} does not load: ${(err as Error).message}`, fix);
  }
  return cached;
}

/** True when the addon is built and loads. */
export function addonAvailable(): boolean {
  try {
    loadAddon();
    return true;
  } catch {
    return false;
  }
}

function isNativeError(err: unknown): err is NativeError {
  return err instanceof Error && typeof (err as Partial<NativeError>).code === 'string' &&
    typeof (err as Partial<NativeError>).syscall === 'string';
}

/**
 * An addon (or Node system) error as SystemError: errno name, syscall and
 * message kept. Anything else (TypeError, RangeError) is returned as is.
 */
export function toSystemError(err: unknown): unknown {
  if (err instanceof SystemError || !isNativeError(err)) return err;
  return new SystemError(err.syscall, err.code, err.message);
}

export type { PortStats } from './port';

/** See port.ts. `fatal` means the port no longer reads (the fd is still open: close() the port). */
export type { PortErrorHandler } from './port';
