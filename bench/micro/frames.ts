/**
 * Frame builders for the microbenchmarks: bytes made with the wire emitters
 * (the idea of test/helpers/frames.ts; bench code does not import test/).
 * Checksums are right, so a traced frame decodes as it would on a real TAP.
 * Built once, before timing: nothing here is measured.
 */
import { macKeyFromString, parseIpv4 } from '../../src/wire/addr';
import * as arp from '../../src/wire/arp';
import * as ethernet from '../../src/wire/ethernet';
import * as icmp from '../../src/wire/icmp';
import * as ipv4 from '../../src/wire/ipv4';
import * as ipv6 from '../../src/wire/ipv6';
import * as tcp from '../../src/wire/tcp';
import * as udp from '../../src/wire/udp';
import * as vxlan from '../../src/wire/vxlan';
import { FrameBatch } from '../../src/io/port';

/** A TCP header with NOP, NOP, timestamps (what Linux sends on an established connection): 32 bytes. */
const TCP_TS_OPTIONS = Buffer.from([1, 1, 8, 10, 0, 0, 0x12, 0x34, 0, 0, 0x56, 0x78]);

export interface Ipv4Flow {
  dstMac: string;
  srcMac: string;
  srcIp: string;
  dstIp: string;
  sport: number;
  dport: number;
}

function pattern(b: Buffer, from: number): void {
  for (let i = from; i < b.length; i++) b[i] = i & 0xff;
}

function ipv4Frame(f: Ipv4Flow, protocol: number, l4Len: number): { b: Buffer; l3: number; l4: number } {
  const b = Buffer.alloc(ethernet.HEADER_LEN + ipv4.HEADER_LEN + l4Len);
  ethernet.emitHeader(b, 0, macKeyFromString(f.dstMac), macKeyFromString(f.srcMac), ethernet.ETHERTYPE_IPV4);
  const l3 = ethernet.HEADER_LEN;
  ipv4.emit({ src: f.srcIp, dst: f.dstIp, protocol, ttl: 64, payloadLen: l4Len, ident: 0x1c46, dontFrag: true }, b, l3);
  return { b, l3, l4: l3 + ipv4.HEADER_LEN };
}

/** Ethernet + IPv4 + TCP (timestamps option) + `payload` bytes; ACK, with PSH when there is data. */
export function tcpFrame(f: Ipv4Flow, payload: number): Buffer {
  const hl = tcp.HEADER_LEN + TCP_TS_OPTIONS.length;
  const { b, l4 } = ipv4Frame(f, ipv4.PROTO_TCP, hl + payload);
  tcp.emit({
    srcPort: f.sport, dstPort: f.dport, seq: 0x10000000, ack: 0x20000000,
    flags: tcp.FLAG_ACK | (payload > 0 ? tcp.FLAG_PSH : 0), window: 502, checksum: 0, urgent: 0,
    options: TCP_TS_OPTIONS, payloadLen: payload,
  }, b, l4);
  pattern(b, l4 + hl);
  const c = tcp.checksumIpv4(b, l4, hl + payload, parseIpv4(f.srcIp), parseIpv4(f.dstIp));
  b.writeUInt16BE(c, l4 + tcp.field.CHECKSUM);
  return b;
}

/** Ethernet + IPv4 + UDP + `payload` bytes, with its checksum. */
export function udpFrame(f: Ipv4Flow, payload: number): Buffer {
  const { b, l4 } = ipv4Frame(f, ipv4.PROTO_UDP, udp.HEADER_LEN + payload);
  udp.emit({ srcPort: f.sport, dstPort: f.dport, payloadLen: payload, checksum: 0 }, b, l4);
  pattern(b, l4 + udp.HEADER_LEN);
  const c = udp.checksumIpv4(b, l4, udp.HEADER_LEN + payload, parseIpv4(f.srcIp), parseIpv4(f.dstIp));
  b.writeUInt16BE(c, l4 + udp.field.CHECKSUM);
  return b;
}

/** Ethernet + IPv4 + ICMP echo request with 56 bytes of data (what `ping` sends). */
export function icmpEchoFrame(f: Omit<Ipv4Flow, 'sport' | 'dport'>, seq: number): Buffer {
  const data = Buffer.alloc(56);
  pattern(data, 0);
  const r = { type: icmp.TYPE_ECHO_REQUEST, code: 0, ident: 0x4d2, seq, data };
  const { b, l4 } = ipv4Frame({ ...f, sport: 0, dport: 0 }, ipv4.PROTO_ICMP, icmp.bufferLen(r));
  icmp.emit(r, b, l4);
  return b;
}

/** An Ethernet/IPv4 ARP request, broadcast unless `dstMac` says otherwise. */
export function arpRequestFrame(senderMac: string, senderIp: string, targetIp: string, dstMac = ethernet.BROADCAST): Buffer {
  const b = Buffer.alloc(ethernet.HEADER_LEN + arp.HEADER_LEN);
  ethernet.emitHeader(b, 0, macKeyFromString(dstMac), macKeyFromString(senderMac), ethernet.ETHERTYPE_ARP);
  arp.emitEthIpv4(b, ethernet.HEADER_LEN, arp.OP_REQUEST, macKeyFromString(senderMac), parseIpv4(senderIp), 0, parseIpv4(targetIp));
  return b;
}

/** Ethernet + IPv6 + `l4` bytes after the fixed header (next header `nh`), to `dstMac`. */
export function ipv6Frame(dstMac: string, srcMac: string, src: string, dst: string, nh: number, l4: Buffer): Buffer {
  const b = Buffer.alloc(ethernet.HEADER_LEN + ipv6.HEADER_LEN + l4.length);
  ethernet.emitHeader(b, 0, macKeyFromString(dstMac), macKeyFromString(srcMac), ethernet.ETHERTYPE_IPV6);
  ipv6.emit({ src, dst, nextHeader: nh, hopLimit: nh === ipv6.NH_ICMPV6 ? 255 : 64, payloadLen: l4.length }, b, ethernet.HEADER_LEN);
  l4.copy(b, ethernet.HEADER_LEN + ipv6.HEADER_LEN);
  return b;
}

/**
 * An IPv6 neighbour solicitation for `target` (its solicited-node multicast
 * group, 33:33:ff:...): the multicast a host sends unprompted, which the
 * switch does not flood. The ICMPv6 body is sized right; its checksum is left 0.
 */
export function neighborSolicitationFrame(srcMac: string, src: string, target: string): Buffer {
  const t = ipv6.parseAddress(target);
  const group = `ff02::1:ff${t[13]!.toString(16).padStart(2, '0')}:${t.readUInt16BE(14).toString(16)}`;
  const mac = `33:33:ff:${[t[13]!, t[14]!, t[15]!].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
  const ns = Buffer.alloc(24);
  ns[0] = 135; // ICMPv6 type: neighbour solicitation (RFC 4861 section 4.3)
  t.copy(ns, 8);
  return ipv6Frame(mac, srcMac, src, group, ipv6.NH_ICMPV6, ns);
}

/** A VXLAN datagram payload: the 8-byte header (flags as given) then the inner frame. */
export function vxlanDatagram(vni: number, inner: Buffer, flags: number = vxlan.FLAG_I): Buffer {
  const b = Buffer.alloc(vxlan.HEADER_LEN + inner.length);
  vxlan.emit(b, 0, vni);
  b[vxlan.field.FLAGS] = flags;
  inner.copy(b, vxlan.HEADER_LEN);
  return b;
}

/** A sender of a datagram: IPv4 host-order u32 and UDP port. */
export interface From {
  addr: number;
  port: number;
}

/** A batch as a port would fill it: slot i holds frames[i] at the headroom (and from[i] as its sender). */
export function batchOf(frames: readonly Buffer[], slotSize: number, headroom: number, from: readonly From[] = []): FrameBatch {
  const b = new FrameBatch(frames.length, slotSize, headroom);
  b.slab.fill(0); // allocUnsafeSlow: zeroed, so that two batches of the same frames are the same bytes
  frames.forEach((f, i) => {
    if (f.length > b.capacity) throw new RangeError(`frame ${i} of ${f.length} bytes does not fit a ${b.capacity}-byte slot`);
    f.copy(b.slab, b.frameStart(i));
    b.sizes[i] = f.length;
    b.setSender(i, from[i]?.addr ?? 0, from[i]?.port ?? 0);
  });
  b.count = frames.length;
  return b;
}
