/**
 * The outer headers of a VXLAN packet rebuilt for a capture (io/pcap-port.ts)
 * from what is known, without inventing the rest:
 *
 *   outer Ethernet (14) | outer IPv4 (20) | UDP (8) | VXLAN (8) | inner frame
 *
 * A UDP socket hands over the payload and the peer's address only. What the
 * caller knows goes in as facts (OuterFacts): the MACs when it has them (the
 * local interface's, a next hop's from the neighbour table), the TTL and DF
 * the socket really sends. What nobody knows is written as 0 and must be
 * said so by the caller (the pcapng packet comment):
 * - a MAC not known: 00:00:00:00:00:00;
 * - the IPv4 ID: the kernel picks it at send time (ip_select_ident; with DF
 *   clear a per-destination counter), so 0;
 * - the IPv4 header checksum is computed, so that Wireshark shows the header
 *   as valid; the UDP checksum is computed over the pseudo-header and the
 *   whole datagram, as the kernel (or the NIC it offloads to) does for a
 *   socket that has not turned checksums off.
 * wire/underlay.ts's emitOuter (placeholder MACs, DF, TTL 64) stays for the
 * trace; this file is the capture's.
 */
import { writeIpv4 } from './addr';
import * as ethernet from './ethernet';
import * as ipv4 from './ipv4';
import * as udp from './udp';

/** Outer Ethernet + IPv4: what is rebuilt in front of a whole UDP datagram. */
export const OUTER_IP_LEN = ethernet.HEADER_LEN + ipv4.HEADER_LEN;
/** Outer Ethernet + IPv4 + UDP: what is rebuilt in front of a UDP payload. */
export const OUTER_UDP_LEN = OUTER_IP_LEN + udp.HEADER_LEN;

export interface OuterFacts {
  /** The frame's source MAC (6 bytes), or null when not known (written as zeros). */
  srcMac: Uint8Array | null;
  /** The frame's destination MAC, or null when not known. */
  dstMac: Uint8Array | null;
  /** The TTL as sent (for a received packet: whatever the caller chose to show). */
  ttl: number;
  /** The DF bit as sent. */
  df: boolean;
}

function writeMac(buf: Uint8Array, off: number, mac: Uint8Array | null): void {
  if (mac === null) buf.fill(0, off, off + 6);
  else buf.set(mac.subarray(0, 6), off);
}

/**
 * Writes outer Ethernet + IPv4 at buf[off] for a whole UDP datagram of
 * `udpLen` bytes at buf[off + OUTER_IP_LEN]. IPv4 ID 0 (not known), header
 * checksum computed. Addresses are host-order u32s. Returns OUTER_IP_LEN. No
 * allocation.
 */
export function emitIp(buf: Uint8Array, off: number, f: OuterFacts, srcIp: number, dstIp: number, udpLen: number): number {
  writeMac(buf, off + ethernet.field.DST, f.dstMac);
  writeMac(buf, off + ethernet.field.SRC, f.srcMac);
  buf[off + ethernet.field.ETHERTYPE] = ethernet.ETHERTYPE_IPV4 >>> 8;
  buf[off + ethernet.field.ETHERTYPE + 1] = ethernet.ETHERTYPE_IPV4 & 0xff;
  const ip = off + ethernet.HEADER_LEN;
  const total = ipv4.HEADER_LEN + udpLen;
  buf[ip + ipv4.field.VER_IHL] = (ipv4.VERSION << 4) | (ipv4.HEADER_LEN >>> 2);
  buf[ip + ipv4.field.DSCP_ECN] = 0;
  buf[ip + ipv4.field.LENGTH] = total >>> 8; buf[ip + ipv4.field.LENGTH + 1] = total & 0xff;
  buf[ip + ipv4.field.IDENT] = 0; buf[ip + ipv4.field.IDENT + 1] = 0;
  buf[ip + ipv4.field.FLG_OFF] = f.df ? ipv4.FLAG_DF >>> 8 : 0; buf[ip + ipv4.field.FLG_OFF + 1] = 0;
  buf[ip + ipv4.field.TTL] = f.ttl & 0xff;
  buf[ip + ipv4.field.PROTOCOL] = ipv4.PROTO_UDP;
  buf[ip + ipv4.field.CHECKSUM] = 0; buf[ip + ipv4.field.CHECKSUM + 1] = 0;
  writeIpv4(buf, ip + ipv4.field.SRC, srcIp);
  writeIpv4(buf, ip + ipv4.field.DST, dstIp);
  ipv4.fillChecksum(buf, ip);
  return OUTER_IP_LEN;
}

/**
 * Writes outer Ethernet + IPv4 + UDP at buf[off] for a UDP payload of
 * `payloadLen` bytes that is already at buf[off + OUTER_UDP_LEN] (the UDP
 * checksum covers it). Returns OUTER_UDP_LEN. No allocation.
 */
export function emitUdp(
  buf: Uint8Array, off: number, f: OuterFacts, srcIp: number, srcPort: number, dstIp: number, dstPort: number, payloadLen: number,
): number {
  const udpLen = udp.HEADER_LEN + payloadLen;
  emitIp(buf, off, f, srcIp, dstIp, udpLen);
  const u = off + OUTER_IP_LEN;
  udp.emitHeader(buf, u, srcPort, dstPort, udpLen, 0);
  const c = udp.checksumIpv4(buf, u, udpLen, srcIp, dstIp);
  buf[u + udp.field.CHECKSUM] = c >>> 8; buf[u + udp.field.CHECKSUM + 1] = c & 0xff;
  return OUTER_UDP_LEN;
}
