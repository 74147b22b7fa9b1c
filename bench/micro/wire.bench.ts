/**
 * Suite 1, the codecs: for each of Ethernet, ARP, IPv4, IPv6, ICMP, UDP, TCP
 * and VXLAN, the two levels of src/wire side by side (one op = one header):
 *
 *   hot read     the plain functions over (buf, off) the data plane calls;
 *   hot write    the codec's allocation-free writer (emitHeader, emit, a checksum);
 *   checked view `X.checked(buf, off, len)` and the same fields through its getters;
 *   parse        checked view, then `parse()` to a Repr (strings, objects);
 *   emit         `emit(repr, buf, off)`, from a Repr.
 *
 * IPv6 has no hot writer (the switch forwards it by MAC), so no such case.
 * No tracing here: the trace hook lives in the pipeline (suites encap, decap).
 */
import { add } from 'benny';
import { macKeyFromString, parseIpv4 } from '../../src/wire/addr';
import * as arp from '../../src/wire/arp';
import * as ethernet from '../../src/wire/ethernet';
import * as icmp from '../../src/wire/icmp';
import * as ipv4 from '../../src/wire/ipv4';
import * as ipv6 from '../../src/wire/ipv6';
import * as tcp from '../../src/wire/tcp';
import * as udp from '../../src/wire/udp';
import * as vxlan from '../../src/wire/vxlan';
import { main, runSuite, sink, type Case } from './common';
import { arpRequestFrame, icmpEchoFrame, ipv6Frame, tcpFrame, udpFrame, vxlanDatagram } from './frames';

export const SUITE = 'wire';

const flow = { dstMac: '02:76:c0:a8:5a:02', srcMac: '02:76:c0:a8:5a:01', srcIp: '10.44.1.2', dstIp: '10.44.2.10', sport: 40000, dport: 5201 };
const L3 = ethernet.HEADER_LEN;
const L4 = L3 + ipv4.HEADER_LEN;

/** A full-sized TCP segment: Ethernet 14 + IPv4 20 + TCP 32 + 1448. */
const tcpF = tcpFrame(flow, 1448);
const arpF = arpRequestFrame(flow.srcMac, '10.44.1.0', '10.44.2.0');
const icmpF = icmpEchoFrame(flow, 1);
const udpF = udpFrame({ ...flow, dport: 53 }, 40);
const udp6 = Buffer.alloc(udp.HEADER_LEN + 40);
udp.emitHeader(udp6, 0, 40000, 53, udp6.length);
const ipv6F = ipv6Frame(flow.dstMac, flow.srcMac, 'fd00:44:1::2', 'fd00:44:2::10', ipv6.NH_UDP, udp6);
const vxlanD = vxlanDatagram(1, tcpF);

const tcpLen = tcpF.length - L4;
const icmpLen = icmpF.length - L4;
const udpLen = udpF.length - L4;
const src = parseIpv4(flow.srcIp);
const dst = parseIpv4(flow.dstIp);
const dstKey = macKeyFromString(flow.dstMac);
const srcKey = macKeyFromString(flow.srcMac);

/**
 * Where the header writers write: a scratch buffer no case reads. (The
 * checksum writers rewrite the checksum their frame already has: same bytes.)
 */
const out = Buffer.alloc(2048);

interface Codec {
  name: string;
  hotRead: () => void;
  /** [what it is, the op]; absent when the codec has none. */
  hotWrite?: [string, () => void];
  view: () => void;
  parse: () => void;
  emit: () => void;
}

const ethRepr = ethernet.parse(ethernet.EthernetFrame.checked(tcpF, 0, tcpF.length));
const arpRepr = arp.parse(arp.ArpPacket.checked(arpF, L3, arp.HEADER_LEN));
const ipv4Repr = ipv4.parse(ipv4.Ipv4Packet.checked(tcpF, L3, tcpF.length - L3));
const ipv6Repr = ipv6.parse(ipv6.Ipv6Packet.checked(ipv6F, L3, ipv6F.length - L3));
const icmpRepr = icmp.parse(icmp.IcmpPacket.checked(icmpF, L4, icmpLen));
const udpRepr = udp.parse(udp.UdpPacket.checked(udpF, L4, udpLen));
const tcpRepr = tcp.parse(tcp.TcpPacket.checked(tcpF, L4, tcpLen));
const vxlanRepr = vxlan.parse(vxlan.VxlanPacket.checked(vxlanD, 0, vxlanD.length));

const CODECS: Codec[] = [
  {
    name: 'ethernet',
    hotRead: () => { sink.n += ethernet.etherType(tcpF, 0) + ethernet.l3Offset(tcpF, 0) + (ethernet.isMulticast(tcpF, 0) ? 1 : 0) + ethernet.dstKey(tcpF, 0); },
    hotWrite: ['emitHeader', () => { sink.n += ethernet.emitHeader(out, 0, dstKey, srcKey, ethernet.ETHERTYPE_IPV4); }],
    view: () => { const e = ethernet.EthernetFrame.checked(tcpF, 0, tcpF.length); sink.n += e.payloadType + e.headerLen + (e.isMulticast ? 1 : 0) + e.dstKey; },
    parse: () => { sink.o = ethernet.parse(ethernet.EthernetFrame.checked(tcpF, 0, tcpF.length)); },
    emit: () => { sink.n += ethernet.emit(ethRepr, out, 0); },
  },
  {
    name: 'arp',
    hotRead: () => { sink.n += (arp.isEthIpv4(arpF, L3, arp.HEADER_LEN) ? 1 : 0) + arp.op(arpF, L3) + arp.targetIp(arpF, L3) + arp.senderIp(arpF, L3); },
    hotWrite: ['emitEthIpv4', () => { sink.n += arp.emitEthIpv4(out, 0, arp.OP_REPLY, dstKey, dst, srcKey, src); }],
    view: () => { const a = arp.ArpPacket.checked(arpF, L3, arp.HEADER_LEN); sink.n += (a.isEthIpv4 ? 1 : 0) + a.op + a.tpa + a.spa; },
    parse: () => { sink.o = arp.parse(arp.ArpPacket.checked(arpF, L3, arp.HEADER_LEN)); },
    emit: () => { sink.n += arp.emit(arpRepr, out, 0); },
  },
  {
    name: 'ipv4',
    hotRead: () => { sink.n += ipv4.version(tcpF, L3) + ipv4.headerLen(tcpF, L3) + ipv4.totalLen(tcpF, L3) + ipv4.protocol(tcpF, L3) + ipv4.src(tcpF, L3) + ipv4.dst(tcpF, L3); },
    hotWrite: ['fillChecksum', () => { ipv4.fillChecksum(tcpF, L3); }],
    view: () => { const p = ipv4.Ipv4Packet.checked(tcpF, L3, tcpF.length - L3); sink.n += p.protocol + p.src + p.dst + p.payloadOffset + p.payloadLen; },
    parse: () => { sink.o = ipv4.parse(ipv4.Ipv4Packet.checked(tcpF, L3, tcpF.length - L3)); },
    emit: () => { sink.n += ipv4.emit(ipv4Repr, out, 0); },
  },
  {
    name: 'ipv6',
    hotRead: () => { sink.n += ipv6.version(ipv6F, L3) + ipv6.payloadLen(ipv6F, L3) + ipv6.nextHeader(ipv6F, L3); },
    view: () => { const p = ipv6.Ipv6Packet.checked(ipv6F, L3, ipv6F.length - L3); sink.n += p.nextHeader + p.payloadLen + p.payloadOffset + p.hopLimit; },
    parse: () => { sink.o = ipv6.parse(ipv6.Ipv6Packet.checked(ipv6F, L3, ipv6F.length - L3)); },
    emit: () => { sink.n += ipv6.emit(ipv6Repr, out, 0); },
  },
  {
    name: 'icmp',
    hotRead: () => { sink.n += icmp.type(icmpF, L4) + icmp.code(icmpF, L4) + (icmp.verifyChecksum(icmpF, L4, icmpLen) ? 1 : 0); },
    hotWrite: ['fillChecksum, 64 B', () => { icmp.fillChecksum(icmpF, L4, icmpLen); }],
    view: () => { const p = icmp.IcmpPacket.checked(icmpF, L4, icmpLen); sink.n += p.type + p.code + p.ident + p.seq; },
    parse: () => { sink.o = icmp.parse(icmp.IcmpPacket.checked(icmpF, L4, icmpLen)); },
    emit: () => { sink.n += icmp.emit(icmpRepr, out, 0); },
  },
  {
    name: 'udp',
    hotRead: () => { sink.n += udp.srcPort(udpF, L4) + udp.dstPort(udpF, L4) + udp.length(udpF, L4); },
    hotWrite: ['emitHeader', () => { sink.n += udp.emitHeader(out, 0, 49152, vxlan.PORT_LINUX, 1564, 0); }],
    view: () => { const p = udp.UdpPacket.checked(udpF, L4, udpLen); sink.n += p.srcPort + p.dstPort + p.payloadOffset + p.payloadLen; },
    parse: () => { sink.o = udp.parse(udp.UdpPacket.checked(udpF, L4, udpLen)); },
    emit: () => { sink.n += udp.emit(udpRepr, out, 0); },
  },
  {
    name: 'tcp',
    hotRead: () => { sink.n += tcp.srcPort(tcpF, L4) + tcp.dstPort(tcpF, L4) + tcp.flags(tcpF, L4) + tcp.headerLen(tcpF, L4); },
    hotWrite: ['checksumIpv4, 1480 B', () => { sink.n += tcp.checksumIpv4(tcpF, L4, tcpLen, src, dst); }],
    view: () => { const p = tcp.TcpPacket.checked(tcpF, L4, tcpLen); sink.n += p.srcPort + p.dstPort + p.flags + p.payloadOffset; },
    parse: () => { sink.o = tcp.parse(tcp.TcpPacket.checked(tcpF, L4, tcpLen)); },
    emit: () => { sink.n += tcp.emit(tcpRepr, out, 0); },
  },
  {
    name: 'vxlan',
    hotRead: () => { sink.n += vxlan.check(vxlanD, 0, vxlanD.length) + vxlan.vni(vxlanD, 0); },
    hotWrite: ['emit', () => { sink.n += vxlan.emit(out, 0, 1); }],
    view: () => { const p = vxlan.VxlanPacket.checked(vxlanD, 0, vxlanD.length); sink.n += p.vni + p.payloadOffset + p.payloadLen; },
    parse: () => { sink.o = vxlan.parse(vxlan.VxlanPacket.checked(vxlanD, 0, vxlanD.length)); },
    emit: () => { sink.n += vxlan.emitRepr(vxlanRepr, out, 0); },
  },
];

export function cases(): Case[] {
  const all: Case[] = [];
  for (const c of CODECS) {
    all.push(add(`${c.name}: hot read`, c.hotRead));
    if (c.hotWrite) all.push(add(`${c.name}: hot write (${c.hotWrite[0]})`, c.hotWrite[1]));
    all.push(add(`${c.name}: checked view`, c.view));
    all.push(add(`${c.name}: parse → Repr`, c.parse));
    all.push(add(`${c.name}: emit Repr`, c.emit));
  }
  return all;
}

export function run(): Promise<unknown> {
  return runSuite(SUITE, 'wire: codecs, one header per op', 'fast', cases());
}

if (require.main === module) main(run);
