/** Small frame builders for tests: bytes made with the wire emitters, nothing clever. */
import * as arp from '../../src/wire/arp';
import * as ethernet from '../../src/wire/ethernet';
import * as icmpv6 from '../../src/wire/icmpv6';
import * as ipv6 from '../../src/wire/ipv6';
import * as ipv4 from '../../src/wire/ipv4';
import { macKeyFromString, parseIpv4, writeIpv4 } from '../../src/wire/addr';
import { FrameBatch } from '../../src/io/port';

export function arpRequest(senderMac: string, senderIp: string, targetIp: string, dstMac = 'ff:ff:ff:ff:ff:ff'): Buffer {
  const b = Buffer.alloc(ethernet.HEADER_LEN + arp.HEADER_LEN);
  ethernet.emitHeader(b, 0, macKeyFromString(dstMac), macKeyFromString(senderMac), ethernet.ETHERTYPE_ARP);
  arp.emitEthIpv4(b, ethernet.HEADER_LEN, arp.OP_REQUEST, macKeyFromString(senderMac), parseIpv4(senderIp), 0, parseIpv4(targetIp));
  return b;
}

/** An Ethernet/IPv4 frame with a 4-byte L4 "ports" word then `payloadLen` bytes of pattern. */
export function ipv4Frame(dstMac: string, srcMac: string, srcIp: string, dstIp: string, proto: number, sport: number, dport: number, payloadLen = 32): Buffer {
  const l4 = 8 + payloadLen;
  const b = Buffer.alloc(ethernet.HEADER_LEN + ipv4.HEADER_LEN + l4);
  ethernet.emitHeader(b, 0, macKeyFromString(dstMac), macKeyFromString(srcMac), ethernet.ETHERTYPE_IPV4);
  const ip = ethernet.HEADER_LEN;
  b[ip + ipv4.field.VER_IHL] = 0x45;
  b.writeUInt16BE(ipv4.HEADER_LEN + l4, ip + ipv4.field.LENGTH);
  b[ip + ipv4.field.TTL] = 64;
  b[ip + ipv4.field.PROTOCOL] = proto;
  writeIpv4(b, ip + ipv4.field.SRC, parseIpv4(srcIp));
  writeIpv4(b, ip + ipv4.field.DST, parseIpv4(dstIp));
  ipv4.fillChecksum(b, ip);
  b.writeUInt16BE(sport, ip + ipv4.HEADER_LEN);
  b.writeUInt16BE(dport, ip + ipv4.HEADER_LEN + 2);
  for (let i = 0; i < payloadLen; i++) b[ip + ipv4.HEADER_LEN + 8 + i] = i & 0xff;
  return b;
}

/**
 * An Ethernet frame with an IPv6 Neighbor Solicitation for `target`: from
 * `srcIp` to the target's solicited-node group (33:33:ff:..) by default, or
 * to `dstIp` (unicast). A Source Link-Layer Address option with `srcMac`
 * unless srcIp is "::" (DAD) or `sourceLla` is false.
 */
export function nsFrame(srcMac: string, srcIp: string, target: string, opts: { dstIp?: string; dstMac?: string; sourceLla?: boolean } = {}): Buffer {
  const dstIp = opts.dstIp ?? ipv6.formatAddress(ipv6.solicitedNode(ipv6.parseAddress(target)));
  const dstMac = opts.dstMac ?? (opts.dstIp === undefined ? ipv6.multicastMacKey(ipv6.parseAddress(dstIp), 0) : macKeyFromString('02:00:00:00:00:ee'));
  const lla = srcIp !== '::' && opts.sourceLla !== false ? srcMac : undefined;
  const repr: icmpv6.NsRepr = { kind: 'ns', src: srcIp, dst: dstIp, target, sourceLinkLayer: lla };
  const b = Buffer.alloc(ethernet.HEADER_LEN + icmpv6.bufferLen(repr));
  ethernet.emitHeader(b, 0, typeof dstMac === 'number' ? dstMac : macKeyFromString(dstMac), macKeyFromString(srcMac), ethernet.ETHERTYPE_IPV6);
  icmpv6.emit(repr, b, ethernet.HEADER_LEN);
  return b;
}

/** A batch holding `frames` (with their sender address/port for datagram batches). */
export function batchOf(frames: Buffer[], opts: { slotSize?: number; headroom?: number; addr?: number; port?: number } = {}): FrameBatch {
  const b = new FrameBatch(Math.max(frames.length, 1), opts.slotSize ?? 2048, opts.headroom ?? 64);
  frames.forEach((f, i) => {
    f.copy(b.slab, b.frameStart(i));
    b.sizes[i] = f.length;
    b.setSender(i, opts.addr ?? 0, opts.port ?? 0);
  });
  b.count = frames.length;
  return b;
}
