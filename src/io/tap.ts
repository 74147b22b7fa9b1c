/**
 * TapPort: Ethernet frames to and from a TAP device, over the addon.
 *
 * Reading is batched by the native Reader (read() per frame into the batch's
 * slots, one JS call per batch); writing is one write() per frame in one
 * addon call per batch. Opening a name that exists as a persistent TAP
 * (`ip tuntap add dev X mode tap user U`) attaches to it, so user U needs no
 * privileges.
 *
 * Offloads (`TapPort.open(name, {offload: true})`, which `vxtap run` asks for
 * by default): the TAP is opened with IFF_VNET_HDR and
 * TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6), so the kernel hands
 * over TCP super-frames (up to 64 KB) in one read and leaves checksums
 * partial. The native reader ('tap-vnet', native/read-tap.cc) cuts
 * each super-frame into MTU-sized frames, one per batch slot, and completes
 * partial checksums, so the batch holds ordinary finished frames, as without
 * offloads. On the way back, consecutive TCP segments of one flow in a
 * write batch are coalesced into one GSO super-frame (native/coalesce.h:
 * the kernel's GRO rules, checksums verified first), so the kernel's TCP
 * stack takes one skb per up to 64 KB; other frames carry a zeroed
 * virtio_net_hdr (writev). Decapsulated TCP/UDP frames whose checksum is
 * partial (a kernel vxlan peer across a veth leaves the pseudo-header sum
 * for a NIC to finish; native/offload.h) have it finished in the addon, or
 * covered by a coalesced super-frame's NEEDS_CSUM, on either kind of TAP;
 * counted in stats.csumRepaired. When the UDP port can
 * cut super-frames itself (UDP GSO), a batch that keepWhole() gets them
 * whole instead (reader 'tap-vnet-whole').
 */
import { SystemError } from '../errors';
import { WHOLE, notWhole, type FramePort, type PortStats, type SendList, type WholeSuperFrames } from './port';
import { loadAddon, toSystemError, TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, type Addon, type ReaderOffloadStats, type WriteCoalesceStats } from './native';
import { NativePort } from './native-port';

/** Whether the TAP runs with offloads, and why not when asked for and refused. */
export interface TapOffloadState {
  enabled: boolean;
  /** 'not requested', 'TUNSETOFFLOAD: <ERRNO>', 'IFF_VNET_HDR: <message>', or 'on: TUN_F_CSUM|TUN_F_TSO4|TUN_F_TSO6' (or without TSO6). */
  reason: string;
}

export interface TapOpenOptions {
  /** Ask for IFF_VNET_HDR + TSO4/checksum offloads; falls back to a plain TAP when refused. */
  offload?: boolean;
}

export class TapPort extends NativePort implements FramePort {
  private constructor(
    addon: Addon,
    /** The TAP's file descriptor (nonblocking, cloexec); -1 after close(). */
    private fdValue: number,
    /** The interface name the kernel used. */
    readonly name: string,
    /** Offloads on (the fd has IFF_VNET_HDR), or why not. */
    readonly offload: TapOffloadState,
  ) {
    super(addon, fdValue, offload.enabled ? 'tap-vnet' : 'tap', `TAP ${name}`);
  }

  /**
   * Creates or attaches to TAP `name` ('' or a template like 'vx%d': the
   * kernel picks). Throws SystemError: EBUSY (open elsewhere), EPERM (a
   * persistent TAP of another user), EINVAL (bad name: over 15 bytes, or a
   * device that is not a TAP), EACCES (no access to /dev/net/tun).
   * opts.offload: see the top of this file; a refusal is not thrown but
   * recorded in `offload.reason`, and the TAP is opened plain.
   */
  static open(name: string, opts: TapOpenOptions = {}): TapPort {
    const addon = loadAddon();
    let reason = 'not requested';
    if (opts.offload === true) {
      let opened: { fd: number; name: string } | null = null;
      try {
        opened = addon.tapOpen(name, { vnetHdr: true });
      } catch (err) {
        // The same open without IFF_VNET_HDR below reports a real failure (EBUSY, EPERM...).
        reason = `IFF_VNET_HDR: ${(err as Error).message}`;
      }
      if (opened !== null) {
        // TSO6 too where the kernel takes it; else TSO4 alone (IPv6 TCP then comes segmented by the kernel).
        if (addon.tapSetOffload(opened.fd, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) === null) {
          return new TapPort(addon, opened.fd, opened.name, { enabled: true, reason: 'on: TUN_F_CSUM|TUN_F_TSO4|TUN_F_TSO6' });
        }
        const refused = addon.tapSetOffload(opened.fd, TUN_F_CSUM | TUN_F_TSO4);
        if (refused === null) return new TapPort(addon, opened.fd, opened.name, { enabled: true, reason: 'on: TUN_F_CSUM|TUN_F_TSO4' });
        reason = `TUNSETOFFLOAD: ${refused}`;
        addon.close(opened.fd); // reopened plain below (a non-persistent TAP is created again)
      }
    }
    try {
      const { fd, name: actual } = addon.tapOpen(name);
      return new TapPort(addon, fd, actual, { enabled: false, reason });
    } catch (err) {
      throw toSystemError(err);
    }
  }

  private readonly coalesced: WriteCoalesceStats = { superFrames: 0, segments: 0 };
  private csumRepaired = 0;

  /**
   * The port's counters: csumRepaired (frames written whose partial TCP/UDP
   * checksum was finished, or covered by a super-frame's NEEDS_CSUM), and the
   * offload reader's and the write coalescer's when offloads are on.
   */
  override get stats(): PortStats & { csumRepaired: number; offload?: ReaderOffloadStats & { coalesced: WriteCoalesceStats } } {
    const base = { ...super.stats, csumRepaired: this.csumRepaired };
    return this.offload.enabled ? { ...base, offload: { ...this.reader.offload, coalesced: { ...this.coalesced } } } : base;
  }

  /** A vnet TAP can leave super-frames whole in a batch that keepWhole() (reader 'tap-vnet-whole'); a plain one reads no super-frames. */
  wholeSuperFrames(): WholeSuperFrames {
    return this.offload.enabled ? WHOLE : notWhole(`TAP ${this.name} runs without offloads (${this.offload.reason}): it reads no super-frames`);
  }

  get fd(): number {
    return this.fdValue;
  }


  /**
   * Writes list's frames (spans of slab). Returns how many the kernel took,
   * and list.status says which; the rest are drops: after EAGAIN, or
   * refused one by one (EIO while the link is down, EINVAL for a runt; see
   * stats.txSkipped / lastTxError).
   */
  write(slab: Buffer, list: SendList): number {
    if (this.closed) throw new SystemError('write', 'EBADF', `write to TAP ${this.name}: the port is closed`);
    if (list.count === 0) return 0;
    let n: number;
    try {
      n = this.addon.tapWrite(this.fdValue, slab, list.starts, list.lens, list.count, this.errOut, this.offload.enabled, list.status);
    } catch (err) {
      throw toSystemError(err);
    }
    if (this.errOut[2]! > 0) {
      this.coalesced.superFrames += this.errOut[2]!;
      this.coalesced.segments += this.errOut[3]!;
    }
    this.csumRepaired += this.errOut[4]!;
    return this.afterTx(n);
  }

  /** Stops the reader, then closes the fd (a non-persistent TAP disappears). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reader.stop();
    const fd = this.fdValue;
    this.fdValue = -1;
    try {
      this.addon.close(fd);
    } catch (err) {
      throw toSystemError(err);
    }
  }
}
