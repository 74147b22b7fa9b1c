/**
 * The outer headers of a VXLAN packet as it is on the underlay wire:
 *
 *   outer Ethernet (14) | outer IPv4 (20) | UDP (8) | VXLAN (8) | inner frame
 *
 * A UDP socket gives us the UDP payload (from the VXLAN header on) and the
 * peer's address, never the headers the kernel adds or strips. The pcap
 * recorder and the trace rebuild them here from what is known: the local and
 * the remote IPv4 address and UDP port. They are a faithful picture, not a
 * copy of the wire:
 * - the MACs are placeholders, 02:00 followed by the IPv4 address (a locally
 *   administered MAC, so each host shows as itself in Wireshark);
 * - IPv4: no options, DF set (Linux UDP sockets do path-MTU discovery), TTL 64,
 *   a header checksum that is right;
 * - the UDP checksum is 0 ("none"), as RFC 7348 section 5 says VXLAN senders
 *   SHOULD send it.
 *
 * Over an IPv6 underlay (emitOuter6) the outer headers are 62 bytes, 70 with
 * VXLAN:
 *
 *   outer Ethernet (14) | outer IPv6 (40) | UDP (8) | VXLAN (8) | inner frame
 *
 * - the MACs are placeholders too: 02:00 followed by the low 32 bits of the
 *   IPv6 address (distinct for the hosts of one underlay /96 or longer);
 * - IPv6: hop limit 64, traffic class 0, and flow label 0 unless one is
 *   given. The kernel's vxlan does the same: its outer flow label is the
 *   device's fixed `flowlabel` (0 unless set; `flowlabel inherit` copies the
 *   inner one), never a hash of the inner flow, as the kernel-made fixture
 *   kernel-vxlan6-vni42.pcap shows;
 * - the UDP checksum is computed, always. Over IPv6 it is mandatory (RFC
 *   8200 section 8.1); RFC 6935 and 6936 let a tunnel send zero only where
 *   both ends are configured for it, which the kernel's vxlan is not by
 *   default (`udp6zerocsumtx` and `udp6zerocsumrx` are off). A receiver
 *   drops a zero one: see udp.verifyChecksumIpv6.
 */
import { writeIpv4 } from './addr';
import * as ethernet from './ethernet';
import * as ipv4 from './ipv4';
import * as ipv6 from './ipv6';
import * as udp from './udp';
import * as vxlan from './vxlan';

/** Outer Ethernet + IPv4 + UDP: what is rebuilt in front of a UDP payload. */
export const OUTER_LEN = ethernet.HEADER_LEN + ipv4.HEADER_LEN + udp.HEADER_LEN;
/** What encapsulation adds to an inner frame on the wire: outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8 = 50. */
export const WIRE_OVERHEAD = OUTER_LEN + vxlan.HEADER_LEN;
/** The TTL written in rebuilt headers (the real one is not known to a UDP socket). */
export const DEFAULT_TTL = 64;

/** The placeholder MAC for a host: 02:00 + its IPv4 address, as a 48-bit key. */
export function placeholderMacKey(ip: number): number {
  return 0x0200 * 0x1_0000_0000 + (ip >>> 0);
}

export interface UnderlayAddrs {
  /** IPv4 source, host-order u32. */
  srcIp: number;
  srcPort: number;
  /** IPv4 destination, host-order u32. */
  dstIp: number;
  dstPort: number;
  /** IPv4 identification (cosmetic: a counter makes each packet distinct in Wireshark). */
  ident?: number;
}

/**
 * Writes outer Ethernet + IPv4 + UDP headers at buf[off] for a UDP payload of
 * `payloadLen` bytes that the caller puts at buf[off + OUTER_LEN]. Returns
 * OUTER_LEN. The IPv4 checksum is filled in; the UDP checksum is 0.
 * Addresses are host-order u32s. No allocation.
 */
export function emitOuter(
  buf: Uint8Array, off: number, srcIp: number, srcPort: number, dstIp: number, dstPort: number, payloadLen: number, ident = 0,
): number {
  emitOuterIp(buf, off, srcIp, dstIp, udp.HEADER_LEN + payloadLen, ident);
  udp.emitHeader(buf, off + ethernet.HEADER_LEN + ipv4.HEADER_LEN, srcPort, dstPort, udp.HEADER_LEN + payloadLen, 0);
  return OUTER_LEN;
}

/**
 * Writes outer Ethernet + IPv4 headers at buf[off] for a whole UDP datagram
 * (header included) of `udpLen` bytes at buf[off + 34]. For spans that
 * already carry their UDP header (raw-socket sends). Returns 34.
 */
export function emitOuterIp(buf: Uint8Array, off: number, srcIp: number, dstIp: number, udpLen: number, ident = 0): number {
  ethernet.emitHeader(buf, off, placeholderMacKey(dstIp), placeholderMacKey(srcIp), ethernet.ETHERTYPE_IPV4);
  const ip = off + ethernet.HEADER_LEN;
  const total = ipv4.HEADER_LEN + udpLen;
  buf[ip + ipv4.field.VER_IHL] = (ipv4.VERSION << 4) | (ipv4.HEADER_LEN >>> 2);
  buf[ip + ipv4.field.DSCP_ECN] = 0;
  buf[ip + ipv4.field.LENGTH] = total >>> 8; buf[ip + ipv4.field.LENGTH + 1] = total & 0xff;
  buf[ip + ipv4.field.IDENT] = (ident >>> 8) & 0xff; buf[ip + ipv4.field.IDENT + 1] = ident & 0xff;
  buf[ip + ipv4.field.FLG_OFF] = ipv4.FLAG_DF >>> 8; buf[ip + ipv4.field.FLG_OFF + 1] = 0;
  buf[ip + ipv4.field.TTL] = DEFAULT_TTL;
  buf[ip + ipv4.field.PROTOCOL] = ipv4.PROTO_UDP;
  buf[ip + ipv4.field.CHECKSUM] = 0; buf[ip + ipv4.field.CHECKSUM + 1] = 0;
  writeIpv4(buf, ip + ipv4.field.SRC, srcIp);
  writeIpv4(buf, ip + ipv4.field.DST, dstIp);
  ipv4.fillChecksum(buf, ip);
  return ethernet.HEADER_LEN + ipv4.HEADER_LEN;
}

/** A new buffer: rebuilt outer headers followed by a copy of the UDP payload. */
export function wrapPayload(payload: Uint8Array, a: UnderlayAddrs): Buffer {
  const b = Buffer.allocUnsafe(OUTER_LEN + payload.length);
  emitOuter(b, 0, a.srcIp, a.srcPort, a.dstIp, a.dstPort, payload.length, a.ident ?? 0);
  b.set(payload, OUTER_LEN);
  return b;
}

// ---------------------------------------------------------------------------
// IPv6 underlay

/** Outer Ethernet + IPv6 + UDP: 62 bytes. */
export const OUTER6_LEN = ethernet.HEADER_LEN + ipv6.HEADER_LEN + udp.HEADER_LEN;
/** What encapsulation over IPv6 adds to an inner frame on the wire: 14 + 40 + 8 + 8 = 70. */
export const WIRE_OVERHEAD6 = OUTER6_LEN + vxlan.HEADER_LEN;
/** The hop limit written in the outer IPv6 header (the kernel's default for a vxlan device, `ttl` unset). */
export const DEFAULT_HOP_LIMIT = 64;

/** The placeholder MAC for an IPv6 host: 02:00 + the low 32 bits of its address, as a 48-bit key. */
export function placeholderMacKey6(addr: Uint8Array, off = 0): number {
  return 0x0200 * 0x1_0000_0000 +
    (((addr[off + 12]! << 24) | (addr[off + 13]! << 16) | (addr[off + 14]! << 8) | addr[off + 15]!) >>> 0);
}

/**
 * Writes outer Ethernet + IPv6 + UDP headers at buf[off] for a UDP payload
 * (the VXLAN header and inner frame) of `payloadLen` bytes that is already
 * at buf[off + OUTER6_LEN]: the UDP checksum covers it, so it must be there
 * first. Returns OUTER6_LEN. `src` and `dst` are 16-byte addresses at
 * srcAddr[srcOff] and dstAddr[dstOff]. No allocation.
 */
export function emitOuter6(
  buf: Uint8Array, off: number,
  srcAddr: Uint8Array, srcOff: number, srcPort: number,
  dstAddr: Uint8Array, dstOff: number, dstPort: number,
  payloadLen: number, flowLabel = 0, hopLimit = DEFAULT_HOP_LIMIT,
): number {
  const udpLen = udp.HEADER_LEN + payloadLen;
  if (udpLen > 0xffff) throw new RangeError(`a UDP datagram of ${udpLen} bytes does not fit IPv6 without a jumbogram`);
  ethernet.emitHeader(buf, off, placeholderMacKey6(dstAddr, dstOff), placeholderMacKey6(srcAddr, srcOff), ethernet.ETHERTYPE_IPV6);
  const ip = off + ethernet.HEADER_LEN;
  const fl = flowLabel & ipv6.FLOW_LABEL_MASK;
  buf[ip] = ipv6.VERSION << 4; buf[ip + 1] = fl >>> 16; buf[ip + 2] = (fl >>> 8) & 0xff; buf[ip + 3] = fl & 0xff;
  buf[ip + ipv6.field.PAYLOAD_LEN] = udpLen >>> 8; buf[ip + ipv6.field.PAYLOAD_LEN + 1] = udpLen & 0xff;
  buf[ip + ipv6.field.NEXT_HEADER] = ipv6.NH_UDP;
  buf[ip + ipv6.field.HOP_LIMIT] = hopLimit;
  for (let i = 0; i < ipv6.ADDR_LEN; i++) {
    buf[ip + ipv6.field.SRC + i] = srcAddr[srcOff + i]!;
    buf[ip + ipv6.field.DST + i] = dstAddr[dstOff + i]!;
  }
  const u = ip + ipv6.HEADER_LEN;
  udp.emitHeader(buf, u, srcPort, dstPort, udpLen, 0);
  udp.fillChecksumIpv6(buf, u, udpLen, ip + ipv6.field.SRC, ip + ipv6.field.DST);
  return OUTER6_LEN;
}

export interface Underlay6Addrs {
  /** 16 bytes. */
  src: Uint8Array;
  srcPort: number;
  /** 16 bytes. */
  dst: Uint8Array;
  dstPort: number;
  flowLabel?: number;
}

/** A new buffer: the payload behind rebuilt IPv6 outer headers (checksum included). */
export function wrapPayload6(payload: Uint8Array, a: Underlay6Addrs): Buffer {
  const b = Buffer.allocUnsafe(OUTER6_LEN + payload.length);
  b.set(payload, OUTER6_LEN);
  emitOuter6(b, 0, a.src, 0, a.srcPort, a.dst, 0, a.dstPort, payload.length, a.flowLabel ?? 0);
  return b;
}
