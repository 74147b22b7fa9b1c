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
 */
import { writeIpv4 } from './addr';
import * as ethernet from './ethernet';
import * as ipv4 from './ipv4';
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
