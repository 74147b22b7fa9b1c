/**
 * TCP and UDP frames with a chosen checksum state, for the partial-checksum
 * tests (partial-csum.test.ts, child-tap.ts's `partial-csum`): finished (what
 * a NIC or software puts on a wire), partial (the folded pseudo-header sum,
 * what the kernel leaves under CHECKSUM_PARTIAL: native/offload.h), bad (the
 * finished value + 1), or none (UDP over IPv4: 0). Built with the project's
 * wire code (src/wire), independent of the addon's C++.
 */
import * as csum from '../../src/wire/checksum';
import * as ipv4 from '../../src/wire/ipv4';
import { parseIpv4 } from '../../src/wire/addr';
import * as ipv6 from '../../src/wire/ipv6';

export type CsumState = 'finished' | 'partial' | 'bad' | 'none';

export interface L4FrameOpts {
  proto: 'tcp' | 'udp';
  /** Dotted quad, or an IPv6 address (then the frame is IPv6). */
  src: string;
  dst: string;
  sport: number;
  dport: number;
  payload: Buffer;
  csum: CsumState;
  dstMac?: string;
  srcMac?: string;
  /** An 802.1Q tag with this VLAN id in front of the EtherType. */
  vlan?: number;
  /** IPv4 options (a multiple of 4 bytes). */
  ipOptions?: Buffer;
  /** Bytes after the IP datagram (Ethernet padding). */
  pad?: number;
  /** TCP flags (default ACK | PSH); TCP sequence number. */
  flags?: number;
  seq?: number;
  /** IPv4 fragment field (flags + offset), default DF. */
  frag?: number;
}

const TCP_HDR = 20;
const UDP_HDR = 8;

function macBytes(text: string): Buffer {
  return Buffer.from(text.replace(/:/g, ''), 'hex');
}

/** Where the parts of a frame built by l4Frame are. */
export interface L4Layout {
  l3: number;
  l4: number;
  /** The checksum field's offset from l4: 16 TCP, 6 UDP. */
  csumOffset: number;
  /** The end of the IP datagram (padding follows). */
  end: number;
}

/** The not-folded pseudo-header sum of a segment (IPv4: RFC 793 / 768; IPv6: RFC 8200 section 8.1). */
export function pseudoSum(src: string, dst: string, proto: number, len: number): number {
  if (!src.includes(':')) return csum.pseudoHeaderSumIpv4(parseIpv4(src), parseIpv4(dst), proto, len);
  const p = Buffer.alloc(40);
  ipv6.parseAddress(src).copy(p, 0);
  ipv6.parseAddress(dst).copy(p, 16);
  p.writeUInt32BE(len, 32);
  p[39] = proto;
  return csum.sum(p, 0, 40);
}

export function l4Frame(o: L4FrameOpts): { frame: Buffer; at: L4Layout } {
  const v6 = o.src.includes(':');
  const l4len = (o.proto === 'tcp' ? TCP_HDR : UDP_HDR) + o.payload.length;
  const opts = o.ipOptions ?? Buffer.alloc(0);
  const l3 = o.vlan === undefined ? 14 : 18;
  const ipHdr = v6 ? 40 : 20 + opts.length;
  const l4 = l3 + ipHdr;
  const end = l4 + l4len;
  const f = Buffer.alloc(end + (o.pad ?? 0));
  macBytes(o.dstMac ?? '02:76:c0:a8:5a:01').copy(f, 0);
  macBytes(o.srcMac ?? '02:76:c0:a8:5a:02').copy(f, 6);
  if (o.vlan !== undefined) {
    f.writeUInt16BE(0x8100, 12);
    f.writeUInt16BE(o.vlan, 14);
  }
  f.writeUInt16BE(v6 ? 0x86dd : 0x0800, l3 - 2);
  const proto = o.proto === 'tcp' ? 6 : 17;
  if (v6) {
    f.writeUInt32BE(0x60000000, l3);
    f.writeUInt16BE(l4len, l3 + 4);
    f[l3 + 6] = proto;
    f[l3 + 7] = 64;
    ipv6.parseAddress(o.src).copy(f, l3 + 8);
    ipv6.parseAddress(o.dst).copy(f, l3 + 24);
  } else {
    f[l3] = 0x40 | (ipHdr / 4);
    f.writeUInt16BE(ipHdr + l4len, l3 + 2);
    f.writeUInt16BE(0x1234, l3 + 4);
    f.writeUInt16BE(o.frag ?? ipv4.FLAG_DF, l3 + 6);
    f[l3 + 8] = 64;
    f[l3 + 9] = proto;
    f.writeUInt32BE(parseIpv4(o.src), l3 + 12);
    f.writeUInt32BE(parseIpv4(o.dst), l3 + 16);
    opts.copy(f, l3 + 20);
    f.writeUInt16BE(csum.checksum(f, l3, ipHdr), l3 + 10);
  }
  f.writeUInt16BE(o.sport, l4);
  f.writeUInt16BE(o.dport, l4 + 2);
  let csumOffset: number;
  if (o.proto === 'tcp') {
    f.writeUInt32BE((o.seq ?? 1000) >>> 0, l4 + 4);
    f.writeUInt32BE(o.flags === 0x02 ? 0 : 0x01020304, l4 + 8);
    f[l4 + 12] = (TCP_HDR / 4) << 4;
    f[l4 + 13] = o.flags ?? 0x18;
    f.writeUInt16BE(64240, l4 + 14);
    csumOffset = 16;
  } else {
    f.writeUInt16BE(l4len, l4 + 4);
    csumOffset = 6;
  }
  o.payload.copy(f, l4 + l4len - o.payload.length);
  const pseudo = pseudoSum(o.src, o.dst, proto, l4len);
  let c: number;
  switch (o.csum) {
    case 'partial': c = csum.fold(pseudo); break;
    case 'none': c = 0; break;
    default: {
      c = csum.checksum(f, l4, l4len, pseudo);
      if (c === 0 && o.proto === 'udp') c = 0xffff; // RFC 768: a computed 0 is sent as all ones
      if (o.csum === 'bad') c = (c + 1) & 0xffff;
    }
  }
  f.writeUInt16BE(c, l4 + csumOffset);
  return { frame: f, at: { l3, l4, csumOffset, end } };
}
