/**
 * `--pcap-underlay`: the real underlay frames of our own UDP port, both
 * directions, written to the pcap recorder as interface 1 (io/pcap-port.ts)
 * in place of rebuilt ones.
 *
 * An AF_PACKET socket on the underlay interface with a kernel BPF filter for
 * IPv4 UDP to or from our port (native/packet-capture.h), read by the
 * addon's Reader (kind 'packet': one recvmmsg and one crossing into JS per
 * batch). Each frame comes with the kernel's timestamp, its direction
 * (PACKET_OUTGOING: sent by this host) and its length on the wire. What the
 * socket sees is what tcpdump on the same interface sees: on a veth with
 * GSO/GRO, an outgoing UDP GSO send can be one super-packet longer than the
 * MTU, and an outgoing checksum may still be the partial sum the kernel left
 * for the NIC (counted in `partialChecksums`; the packets are the real bytes,
 * so they carry no comment).
 *
 * Needs CAP_NET_RAW: without it, open() throws a ConfigError naming
 * --pcap-underlay and the capability.
 */
import { ConfigError, SystemError } from '../errors';
import { loadAddon, toSystemError, type Addon, type NativeError, type NativeReader } from './native';
import { DIR_INBOUND, DIR_OUTBOUND } from './pcapng';
import type { PcapRecorder } from './pcap-port';

/** sll_pkttype of a frame this host sent (linux/if_packet.h). */
export const PACKET_OUTGOING = 4;
/** The per-frame facts in front of each slot (native/packet-capture.h). */
export const META_LEN = 16;
export const metaField = {
  PKTTYPE: 0,
  FLAGS: 1,
  TS_SEC: 4,
  TS_NSEC: 8,
  WIRE_LEN: 12,
} as const;
/** FLAGS bit 0: TP_STATUS_CSUMNOTREADY. */
export const META_CSUM_NOT_READY = 1;

/** A slot holds a 64 KB GSO super-packet and its headers whole. */
const SLOT = META_LEN + 65536 + 256;
const SLOTS = 32;

export interface UnderlayCaptureOptions {
  /** Told of a read error; fatal: the capture stopped. Default: a process warning. */
  onError?: (err: Error, fatal: boolean) => void;
  addon?: Addon;
}

export class UnderlayCapture {
  /** Frames recorded. */
  frames = 0;
  /** Of those, frames whose checksum the kernel left for the NIC (TP_STATUS_CSUMNOTREADY). */
  partialChecksums = 0;
  /** Frames the kernel dropped before we read them (a full queue), known at close(): the capture is then not whole. */
  dropped = 0;
  private reader: NativeReader | null;
  private fd: number;

  /**
   * Opens the capture on `ifname` for UDP port `port` and starts writing to
   * `rec`. Throws ConfigError without CAP_NET_RAW or for an unknown interface.
   */
  static open(ifname: string, port: number, rec: PcapRecorder, opts: UnderlayCaptureOptions = {}): UnderlayCapture {
    const addon = opts.addon ?? loadAddon();
    let fd: number;
    try {
      fd = addon.packetOpen(ifname, port);
    } catch (raw) {
      const err = toSystemError(raw);
      if (err instanceof SystemError && err.errno === 'EPERM') {
        throw new ConfigError(`--pcap-underlay: capturing on ${ifname} (an AF_PACKET socket) needs CAP_NET_RAW, which this process does not have: run as root, grant the capability, or drop --pcap-underlay (the underlay packets are then rebuilt)`, 'pcap-underlay');
      }
      if (err instanceof SystemError && err.errno === 'ENODEV') {
        throw new ConfigError(`--pcap-underlay: no interface ${JSON.stringify(ifname)} to capture on`, 'pcap-underlay');
      }
      throw err;
    }
    return new UnderlayCapture(addon, fd, rec, opts.onError ?? null);
  }

  private constructor(private readonly addon: Addon, fd: number, rec: PcapRecorder, onError: ((err: Error, fatal: boolean) => void) | null) {
    this.fd = fd;
    const slab = Buffer.allocUnsafeSlow(SLOT * SLOTS);
    const sizes = new Uint32Array(SLOTS);
    this.reader = new addon.Reader({
      fd,
      kind: 'packet',
      slab,
      slotSize: SLOT,
      headroom: META_LEN,
      slots: SLOTS,
      sizes,
      onBatch: (n) => {
        for (let i = 0; i < n; i++) {
          const meta = i * SLOT;
          const start = meta + META_LEN;
          const dir = slab[meta + metaField.PKTTYPE] === PACKET_OUTGOING ? DIR_OUTBOUND : DIR_INBOUND;
          const tsUs = slab.readUInt32LE(meta + metaField.TS_SEC) * 1e6 + Math.floor(slab.readUInt32LE(meta + metaField.TS_NSEC) / 1000);
          if ((slab[meta + metaField.FLAGS]! & META_CSUM_NOT_READY) !== 0) this.partialChecksums++;
          rec.wireFrame(slab, start, sizes[i]!, slab.readUInt32LE(meta + metaField.WIRE_LEN), dir, tsUs);
        }
        this.frames += n;
        rec.flush();
      },
      onError: (raw: NativeError) => {
        const fatal = raw.fatal === true;
        const err = toSystemError(raw) as Error;
        if (onError !== null) onError(err, fatal);
        else process.emitWarning(`--pcap-underlay: ${err.message}${fatal ? '; the capture stopped' : ''}`, { code: 'VXTAP_PCAP_UNDERLAY' });
      },
    });
  }

  /** Stops reading and closes the socket; `dropped` then says what the capture missed. Idempotent. */
  close(): void {
    this.reader?.stop();
    this.reader = null;
    if (this.fd >= 0) {
      const fd = this.fd;
      this.fd = -1;
      try {
        this.dropped += this.addon.packetDrops(fd);
      } catch {
        // The count is lost, not the close.
      }
      this.addon.close(fd);
    }
  }
}
