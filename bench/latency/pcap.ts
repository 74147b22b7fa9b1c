/**
 * Just enough of a pcap reader for the latency budget: the classic pcap file
 * that `tcpdump -w` writes (microsecond or, with --time-stamp-precision nano,
 * nanosecond timestamps; either byte order), Ethernet link type, and the ICMP
 * echo inside each frame, plain or in VXLAN (UDP port 4789), so that a frame
 * on the TAP and the datagram on the underlay pair by ICMP id and sequence.
 *
 * The timestamps are what AF_PACKET took (CLOCK_REALTIME), the clock the
 * addon's stamps use (native/stamps.h).
 */

export interface PcapRecord { ns: bigint; data: Buffer }

const MAGIC_US = 0xa1b2c3d4;
const MAGIC_NS = 0xa1b23c4d;
const LINKTYPE_ETHERNET = 1;

export class PcapError extends Error {
  readonly code = 'VXTAP_ERR_PCAP';
}

/** Every record of a pcap file (a capture cut short ends at its last whole record). */
export function readPcap(buf: Buffer): PcapRecord[] {
  if (buf.length < 24) throw new PcapError(`a pcap file has a 24-byte header, got ${buf.length} bytes`);
  let le = true;
  let magic = buf.readUInt32LE(0);
  if (magic !== MAGIC_US && magic !== MAGIC_NS) {
    le = false;
    magic = buf.readUInt32BE(0);
    if (magic !== MAGIC_US && magic !== MAGIC_NS) throw new PcapError(`not a pcap file (magic 0x${buf.readUInt32LE(0).toString(16)})`);
  }
  const u32 = (o: number): number => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const link = u32(20) & 0x0fffffff;
  if (link !== LINKTYPE_ETHERNET) throw new PcapError(`link type ${link}, only Ethernet (1) is read`);
  const fracNs = magic === MAGIC_NS ? 1n : 1000n;
  const out: PcapRecord[] = [];
  for (let o = 24; o + 16 <= buf.length;) {
    const incl = u32(o + 8);
    if (o + 16 + incl > buf.length) break;
    out.push({ ns: BigInt(u32(o)) * 1_000_000_000n + BigInt(u32(o + 4)) * fracNs, data: buf.subarray(o + 16, o + 16 + incl) });
    o += 16 + incl;
  }
  return out;
}

export interface IcmpEcho {
  /** 8: echo request, 0: echo reply. */
  type: 0 | 8;
  id: number;
  seq: number;
  /** Found inside a VXLAN datagram (the underlay), not as the frame itself (a TAP). */
  vxlan: boolean;
}

const VXLAN_PORT = 4789;

/** The ICMP echo in an Ethernet frame, directly or in VXLAN over UDP/IPv4; null for anything else. */
export function icmpEcho(frame: Buffer, inVxlan = false): IcmpEcho | null {
  if (frame.length < 14 + 20 || frame.readUInt16BE(12) !== 0x0800) return null;
  const ip = 14;
  const ihl = (frame[ip]! & 0x0f) * 4;
  if (frame[ip]! >> 4 !== 4 || ihl < 20) return null;
  const l4 = ip + ihl;
  const proto = frame[ip + 9];
  if (proto === 1) {
    if (frame.length < l4 + 8) return null;
    const type = frame[l4];
    if (type !== 0 && type !== 8) return null;
    return { type, id: frame.readUInt16BE(l4 + 4), seq: frame.readUInt16BE(l4 + 6), vxlan: inVxlan };
  }
  if (proto === 17 && !inVxlan && frame.length >= l4 + 8 + 8 && frame.readUInt16BE(l4 + 2) === VXLAN_PORT) {
    return icmpEcho(frame.subarray(l4 + 8 + 8), true);
  }
  return null;
}
