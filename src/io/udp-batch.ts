/**
 * BatchUdpPort: the VXLAN underlay over the addon. Receives on a bound UDP
 * socket with recvmmsg (a batch per event-loop wakeup); sends a batch per
 * call, in one of two ways:
 *
 *  - raw (no offloads): a raw IPPROTO_UDP socket and sendmmsg. The caller
 *    writes the 8-byte UDP header in the headroom (source port = a hash of
 *    the inner flow in 49152-65535, RFC 7348 section 5, so ECMP spreads
 *    flows; checksum 0, valid over IPv4); the kernel adds the IPv4 header.
 *  - UDP GSO (offloads): a pool of 64 UDP sockets bound to 64 contiguous
 *    source ports (io/udp-pool.ts). The flow hash picks one of those ports
 *    (`sourcePorts`), and its socket; runs of equal-sized datagrams to one
 *    VTEP leave as one UDP_SEGMENT message. The kernel writes the UDP header
 *    with a checksum (UDP GSO requires one; the NIC or veth offloads it).
 *    A GSO send the kernel refuses falls back for that send only; GsoPolicy
 *    (io/udp-pool.ts) decides when refusals turn GSO off.
 *
 * Offloads on the receive side: UDP_GRO on the bound socket, so datagrams the
 * kernel coalesced (GRO on a NIC, or a peer's GSO send over a veth) arrive as
 * one message and are cut into slots in the addon (reader kind 'udp-gro').
 * Either way, a datagram that holds a whole VXLAN TCP super-frame (a kernel
 * vxlan peer's TSO, which a veth passes whole) is cut into segments that fit
 * the batch's MTU (FrameBatch.mtu; native/read-udp.cc).
 *
 * An IPv6 underlay (bindIp and srcIp IPv6: AF_INET6 sockets, IPV6_V6ONLY)
 * always sends through the pool, with or without GSO: a raw IPv6 socket
 * reads msg_name's port as a protocol number, so it cannot send to the
 * endpoint records, and a zero UDP checksum is not valid over IPv6 (RFC
 * 6935/6936) while the pool's UDP sockets have the kernel compute it. The
 * receive socket keeps the kernel's default UDP_NO_CHECK6_RX off: a
 * datagram with a zero checksum is dropped by the kernel before it is read
 * (counted in /proc/net/snmp6 Udp6InErrors/Udp6InCsumErrors, not here).
 *
 * `writesUdpHeader` is true either way: the pipeline writes the header (the
 * GSO path skips it, but tracing and pcap read the source port from it).
 * Opening needs root: CAP_NET_RAW for the raw socket, and the *FORCE buffer
 * options.
 */
import { SystemError } from '../errors';
import { WHOLE, notWhole, type DatagramPort, type PortStats, type SendList, type SourcePortRange, type WholeSuperFrames } from './port';
import { loadAddon, toSystemError, type Addon } from './native';
import { NativePort } from './native-port';
import { closeSendPool, GsoPolicy, openSendPool, PoolSend, type GsoCounters, type SendPool } from './udp-pool';

export interface BatchUdpOptions {
  /** Address to receive on ('0.0.0.0' = all). */
  bindIp: string;
  /** UDP port to receive on (4789 for VXLAN; 0 = ephemeral, see localPort). */
  port: number;
  /** Source of sent datagrams (the family of bindIp). Default: bindIp, or the route's choice when bindIp is '0.0.0.0' or '::'. */
  srcIp?: string;
  /** Receive buffer in bytes (SO_RCVBUFFORCE as root). */
  rcvbuf?: number;
  /** Send buffer in bytes (SO_SNDBUFFORCE as root). */
  sndbuf?: number;
  /** UDP GSO on send and UDP GRO on receive, each probed; refused ones fall back (see `offload`). */
  offload?: boolean;
}

/** One UDP offload: on, or why not. */
export interface UdpOffloadState {
  enabled: boolean;
  /** 'on', 'not requested', or what refused it ('UDP_SEGMENT: ENOPROTOOPT', 'send pool: EADDRINUSE ...', ...). */
  reason: string;
}

export class BatchUdpPort extends NativePort implements DatagramPort {
  readonly writesUdpHeader = true;
  /** The source ports the pipeline may write: the pool's with GSO, else the whole dynamic range. */
  readonly sourcePorts: SourcePortRange | undefined;

  private constructor(
    addon: Addon,
    /** The bound receive socket. */
    readonly fd: number,
    /** The raw send socket, or -1 when the GSO pool sends. */
    readonly rawFd: number,
    private readonly pool: SendPool | null,
    /** The bound UDP port (the real one when port 0 was asked). */
    readonly localPort: number,
    /** What the offloads came to. */
    readonly offload: { gso: UdpOffloadState; gro: UdpOffloadState },
  ) {
    super(addon, fd, offload.gro.enabled ? 'udp-gro' : 'udp', 'the UDP port');
    this.sourcePorts = pool === null ? undefined : { min: pool.min, count: pool.fds.length };
    this.gso = new GsoPolicy(offload.gso.enabled);
    this.poolSend = pool === null ? null : new PoolSend(addon, pool, this.errOut, this.gso.out);
  }

  /** The pool send's request, bound once (io/udp-pool.ts); null with the raw socket. */
  private readonly poolSend: PoolSend | null;

  /** When a refused GSO send falls back, and when GSO goes off; its counters are stats.gso. */
  private readonly gso: GsoPolicy;

  /**
   * With the GSO pool, send() cuts whole super-frames itself
   * (SendList.wholeOf); it still does after GSO went off at run time
   * (one datagram per message then). The raw socket sends spans as given.
   */
  wholeSuperFrames(): WholeSuperFrames {
    return this.pool !== null ? WHOLE : notWhole(`the UDP port sends through a raw socket, which does not cut super-frames (UDP GSO: ${this.offload.gso.reason})`);
  }

  /** Opens the sockets. Throws SystemError (EADDRINUSE, EADDRNOTAVAIL, EPERM without CAP_NET_RAW, ...). */
  static open(opts: BatchUdpOptions): BatchUdpPort {
    const addon = loadAddon();
    const bufs = { rcvbuf: opts.rcvbuf, sndbuf: opts.sndbuf };
    const srcIp = opts.srcIp ?? opts.bindIp;
    const off = { gso: { enabled: false, reason: 'not requested' }, gro: { enabled: false, reason: 'not requested' } };
    const v6 = opts.bindIp.includes(':');
    if (v6 !== srcIp.includes(':')) throw new RangeError(`bindIp ${opts.bindIp} and srcIp ${srcIp} are not one family`);
    let fd = -1;
    let pool: SendPool | null = null;
    try {
      fd = addon.udpOpen(opts.bindIp, opts.port, bufs);
      if (v6 && opts.offload !== true) {
        // No raw socket over IPv6 (see the file header): the pool, GSO off.
        pool = openSendPool(addon, srcIp, { sndbuf: opts.sndbuf });
      }
      if (opts.offload === true) {
        const gro = addon.udpOffload(fd, 'gro');
        off.gro = gro === null ? { enabled: true, reason: 'on' } : { enabled: false, reason: `UDP_GRO: ${gro}` };
        const gso = addon.udpOffload(fd, 'gso');
        if (gso !== null) {
          off.gso.reason = `UDP_SEGMENT: ${gso}`;
        } else {
          try {
            pool = openSendPool(addon, srcIp, { sndbuf: opts.sndbuf });
            off.gso = { enabled: true, reason: 'on' };
          } catch (err) {
            if (v6) throw err; // no raw socket to fall back on over IPv6
            off.gso.reason = `send pool: ${(err as Error).message}`;
          }
        }
        if (v6 && pool === null) pool = openSendPool(addon, srcIp, { sndbuf: opts.sndbuf });
      }
      const rawFd = pool === null ? addon.rawUdpOpen(srcIp, { sndbuf: opts.sndbuf }) : -1;
      return new BatchUdpPort(addon, fd, rawFd, pool, addon.localPort(fd), off);
    } catch (err) {
      if (pool !== null) closeSendPool(addon, pool);
      if (fd >= 0) addon.close(fd);
      throw toSystemError(err);
    }
  }

  /** The port's counters, with GSO's when the send pool is open and the GRO reader's when it is on. */
  override get stats(): PortStats & { gso?: GsoCounters; gro?: { messages: number; datagrams: number } } {
    const base: PortStats & { gso?: GsoCounters; gro?: { messages: number; datagrams: number } } = this.statsBase();
    if (this.pool !== null) base.gso = { ...this.gso.counters };
    if (!this.offload.gro.enabled) return base;
    const o = this.reader.offload;
    return { ...base, gro: { messages: o.gsoFrames, datagrams: o.segments } };
  }

  /**
   * Sends each span (UDP header first) to the endpoint list.eps[k] (a
   * record of list.endpoints, which the addon sends to as it is). Raw: one
   * sendmmsg, the destination port is the one in the caller's header. GSO:
   * from the pool socket of list.srcPorts[k] to the endpoint's port. Returns how many were
   * sent, and list.status says which; the rest are drops (after EAGAIN, or refused one by one:
   * stats.txSkipped). A GSO send the kernel refuses is sent again datagram
   * by datagram, that send only (stats.gso.fallbacks); when well-formed ones
   * keep being refused (GsoPolicy) GSO goes off, and onError hears of it
   * once (not fatal).
   */
  send(slab: Buffer, list: SendList): number {
    if (this.closed) throw new SystemError('sendmmsg', 'EBADF', 'send on a closed UDP port');
    if (list.count === 0) return 0;
    let n: number;
    try {
      n = this.poolSend === null
        ? this.addon.udpSend(this.rawFd, slab, list.starts, list.lens, list.endpoints.buf, list.eps, list.count, this.errOut, list.status)
        : this.poolSend.send(slab, list, this.gso.gsoArg());
    } catch (err) {
      throw toSystemError(err);
    }
    if (this.pool !== null && this.gso.out[3]! + this.gso.out[1]! + this.gso.out[7]! > 0) {
      const off = this.gso.afterSend((e) => this.addon.errnoName(e));
      if (off !== null) this.gsoOff(off);
    }
    return this.afterTx(n);
  }

  private gsoOff(reason: string): void {
    this.offload.gso.enabled = false;
    this.offload.gso.reason = reason;
    const code = this.gso.counters.lastRefusal ?? 'EIO';
    const err = new SystemError('sendmmsg', code, `UDP GSO ${reason}: sending one datagram per message from now on`);
    this.onError?.(err, false);
  }

  /** Stops the reader, then closes the sockets. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reader.stop();
    try {
      this.addon.close(this.fd);
      if (this.rawFd >= 0) this.addon.close(this.rawFd);
      if (this.pool !== null) closeSendPool(this.addon, this.pool);
    } catch (err) {
      throw toSystemError(err);
    }
  }
}
