/**
 * `vxtap explain`'s made-up packets: a small grammar, and the frames it
 * builds with the wire codecs (src/wire).
 *
 * From the TAP (--from-tap):
 *
 *   [ether SRC-MAC > DST-MAC :] PACKET
 *   PACKET := icmp SRC-IP > DST-IP
 *           | tcp SRC-IP:PORT > DST-IP:PORT
 *           | udp SRC-IP:PORT > DST-IP:PORT
 *           | arp who-has TARGET-IP tell SENDER-IP
 *
 * From the network (--from-net), a VXLAN datagram and the frame inside it:
 *
 *   vxlan [vni N] [no-i-flag] from IP[:PORT] : [ether SRC-MAC > DST-MAC :] PACKET
 *
 * e.g. `icmp 10.44.1.2 > 10.44.2.2`, `tcp 10.44.1.2:1234 > 10.44.2.2:80`,
 * `arp who-has 10.44.2.0 tell 10.44.1.0`,
 * `vxlan vni 1 from 192.168.93.12 : icmp 10.44.2.2 > 10.44.1.2`.
 * ">" and ":" may touch their neighbours ("10.44.1.2>10.44.2.2"); a ":"
 * that separates parts stands alone or ends a word ("from 192.168.93.12:").
 * MACs left out are filled in by the caller (the TAP's MAC, the next hop's
 * ARP answer, the peer's VTEP MAC). Errors are ConfigErrors that name the
 * word that is wrong (exit 2).
 */
import { ConfigError } from '../errors';
import * as arp from '../wire/arp';
import * as ethernet from '../wire/ethernet';
import * as icmp from '../wire/icmp';
import * as ipv4 from '../wire/ipv4';
import * as tcp from '../wire/tcp';
import * as udp from '../wire/udp';
import * as vxlan from '../wire/vxlan';
import { isIpv4, isMac, macKeyFromString, parseIpv4 } from '../wire/addr';

export type Packet =
  | { readonly kind: 'icmp'; readonly src: string; readonly dst: string }
  | { readonly kind: 'tcp' | 'udp'; readonly src: string; readonly srcPort: number; readonly dst: string; readonly dstPort: number }
  | { readonly kind: 'arp'; readonly target: string; readonly sender: string };

/** A frame from the TAP: its MACs when given, and the packet. */
export interface TapSpec {
  readonly ether: { readonly src: string; readonly dst: string } | null;
  readonly packet: Packet;
}

/** A VXLAN datagram from the network. */
export interface NetSpec {
  /** null: the daemon's own VNI. */
  readonly vni: number | null;
  /** Clear the I flag (to see the vxlan-no-i-flag drop). */
  readonly noIFlag: boolean;
  readonly from: string;
  /** null: the daemon's own UDP port. */
  readonly fromPort: number | null;
  readonly inner: TapSpec;
}

function fail(flag: string, spec: string, msg: string): never {
  throw new ConfigError(`${flag} ${JSON.stringify(spec)}: ${msg}`, flag.replace(/^--/, ''));
}

/** Words, with ">" always its own word, and ":" its own word when it ends a word (a separator, not a port's). */
export function words(spec: string): string[] {
  return spec.replace(/>/g, ' > ').split(/\s+/).filter((w) => w !== '')
    .flatMap((w) => (w.length > 1 && w.endsWith(':') && !isMac(w.slice(0, -1)) ? [w.slice(0, -1), ':'] : [w]));
}

export function parseTapSpec(spec: string, flag = '--from-tap'): TapSpec {
  return tapSpecOf(words(spec), spec, flag);
}

function tapSpecOf(w: string[], spec: string, flag: string): TapSpec {
  const bad = (msg: string): never => fail(flag, spec, msg);
  let ether: TapSpec['ether'] = null;
  if (w[0] === 'ether') {
    const [, src, gt, dst, colon] = w;
    if (src === undefined || !isMac(src)) bad(`after "ether", the source MAC (aa:bb:cc:dd:ee:ff), got ${JSON.stringify(src ?? '')}`);
    if (gt !== '>') bad(`"ether SRC > DST": expected ">" after ${src}`);
    if (dst === undefined || !isMac(dst)) bad(`the destination MAC after ">", got ${JSON.stringify(dst ?? '')}`);
    if (colon !== ':') bad('"ether SRC > DST" ends with " : " and the packet, e.g. "ether 02:00:00:00:00:01 > 02:00:00:00:00:02 : icmp 10.0.0.1 > 10.0.0.2"');
    ether = { src: src!.toLowerCase(), dst: dst!.toLowerCase() };
    w = w.slice(5);
  }
  return { ether, packet: packetOf(w, spec, flag) };
}

function packetOf(w: string[], spec: string, flag: string): Packet {
  const bad = (msg: string): never => fail(flag, spec, msg);
  const kind = w[0];
  const ip = (word: string | undefined, what: string): string => {
    if (word === undefined || !isIpv4(word)) return bad(`${what}: expected an IPv4 address, got ${JSON.stringify(word ?? '')}`);
    return word;
  };
  const endpoint = (word: string | undefined, what: string): { ip: string; port: number } => {
    const m = /^([^:]+):(\d+)$/.exec(word ?? '');
    if (m === null) return bad(`${what}: expected IP:PORT, got ${JSON.stringify(word ?? '')}`);
    const port = Number(m[2]);
    if (port < 0 || port > 65535) bad(`${what}: port ${port} is outside 0..65535`);
    return { ip: ip(m[1], what), port };
  };
  const rest = (n: number): void => { if (w.length > n) bad(`unexpected ${JSON.stringify(w.slice(n).join(' '))} at the end`); };
  switch (kind) {
    case 'icmp': {
      if (w[2] !== '>') bad('expected "icmp SRC > DST"');
      const src = ip(w[1], 'the source');
      const dst = ip(w[3], 'the destination');
      rest(4);
      return { kind: 'icmp', src, dst };
    }
    case 'tcp':
    case 'udp': {
      if (w[2] !== '>') bad(`expected "${kind} SRC:PORT > DST:PORT"`);
      const s = endpoint(w[1], 'the source');
      const d = endpoint(w[3], 'the destination');
      rest(4);
      return { kind, src: s.ip, srcPort: s.port, dst: d.ip, dstPort: d.port };
    }
    case 'arp': {
      if (w[1] !== 'who-has' || w[3] !== 'tell') bad('expected "arp who-has TARGET tell SENDER" (a request, as tcpdump prints it)');
      const target = ip(w[2], 'who-has');
      const sender = ip(w[4], 'tell');
      rest(5);
      return { kind: 'arp', target, sender };
    }
    default:
      return bad(`expected icmp, tcp, udp or arp${flag === '--from-tap' ? ' (or "ether SRC > DST : ...")' : ''}, got ${JSON.stringify(kind ?? '')}`);
  }
}

export function parseNetSpec(spec: string, flag = '--from-net'): NetSpec {
  const bad = (msg: string): never => fail(flag, spec, msg);
  const w = words(spec);
  if (w[0] !== 'vxlan') bad('expected "vxlan [vni N] from IP[:PORT] : PACKET"');
  let i = 1;
  let vni: number | null = null;
  let noIFlag = false;
  let from: string | null = null;
  let fromPort: number | null = null;
  while (i < w.length && w[i] !== ':') {
    const word = w[i]!;
    if (word === 'vni') {
      const n = Number(w[i + 1]);
      if (!/^\d+$/.test(w[i + 1] ?? '') || n > vxlan.VNI_MAX) bad(`vni: expected 0..${vxlan.VNI_MAX}, got ${JSON.stringify(w[i + 1] ?? '')}`);
      vni = n;
      i += 2;
    } else if (word === 'no-i-flag') {
      noIFlag = true;
      i++;
    } else if (word === 'from') {
      const m = /^(\d+\.\d+\.\d+\.\d+)(?::(\d+))?$/.exec(w[i + 1] ?? '');
      if (m === null || !isIpv4(m[1]!)) bad(`from: expected IP or IP:PORT, got ${JSON.stringify(w[i + 1] ?? '')}`);
      from = m![1]!;
      if (m![2] !== undefined) {
        fromPort = Number(m![2]);
        if (fromPort < 1 || fromPort > 65535) bad(`from: port ${fromPort} is outside 1..65535`);
      }
      i += 2;
    } else {
      bad(`unexpected ${JSON.stringify(word)} (vxlan takes "vni N", "no-i-flag", "from IP[:PORT]", then " : " and the inner packet)`);
    }
  }
  if (from === null) bad('"from IP" is required: the datagram\'s source (a peer\'s public IP)');
  if (w[i] !== ':') bad('expected " : " and the inner packet after the VXLAN part');
  return { vni, noIFlag, from: from!, fromPort, inner: tapSpecOf(w.slice(i + 1), spec, flag) };
}

/** The payload of made-up ICMP/UDP packets: says what it is, in a capture. */
const PAYLOAD = Buffer.from('vxtap explain');

/** The Ethernet frame of a TapSpec, with these MACs (the spec's own win). */
export function buildFrame(s: TapSpec, macs: { src: string; dst: string }): Buffer {
  const src = s.ether?.src ?? macs.src;
  const dst = s.ether?.dst ?? macs.dst;
  const p = s.packet;
  if (p.kind === 'arp') {
    const f = Buffer.alloc(ethernet.HEADER_LEN + arp.HEADER_LEN);
    ethernet.emitHeader(f, 0, macKeyFromString(dst), macKeyFromString(src), ethernet.ETHERTYPE_ARP);
    arp.emitEthIpv4(f, ethernet.HEADER_LEN, arp.OP_REQUEST, macKeyFromString(src), parseIpv4(p.sender), 0, parseIpv4(p.target));
    return f;
  }
  let l4: Buffer;
  let proto: number;
  if (p.kind === 'icmp') {
    proto = 1;
    l4 = Buffer.alloc(icmp.HEADER_LEN + PAYLOAD.length);
    icmp.emit({ type: 8, code: 0, ident: 0x7678, seq: 1, data: PAYLOAD }, l4, 0);
  } else if (p.kind === 'udp') {
    proto = 17;
    l4 = Buffer.alloc(udp.HEADER_LEN + PAYLOAD.length);
    udp.emit({ srcPort: p.srcPort, dstPort: p.dstPort, payloadLen: PAYLOAD.length, checksum: 0 }, l4, 0);
    PAYLOAD.copy(l4, udp.HEADER_LEN);
    l4.writeUInt16BE(udp.checksumIpv4(l4, 0, l4.length, parseIpv4(p.src), parseIpv4(p.dst)) || 0xffff, 6);
  } else {
    proto = 6;
    l4 = Buffer.alloc(tcp.HEADER_LEN);
    tcp.emit({ srcPort: p.srcPort, dstPort: p.dstPort, seq: 1, ack: 0, flags: 0x02, window: 64240, checksum: 0, urgent: 0, options: Buffer.alloc(0), payloadLen: 0 }, l4, 0);
    l4.writeUInt16BE(tcp.checksumIpv4(l4, 0, l4.length, parseIpv4(p.src), parseIpv4(p.dst)), 16);
  }
  const f = Buffer.alloc(ethernet.HEADER_LEN + ipv4.HEADER_LEN + l4.length);
  ethernet.emitHeader(f, 0, macKeyFromString(dst), macKeyFromString(src), ethernet.ETHERTYPE_IPV4);
  ipv4.emit({ src: p.src, dst: p.dst, protocol: proto, ttl: 64, payloadLen: l4.length, dontFrag: true }, f, ethernet.HEADER_LEN);
  l4.copy(f, ethernet.HEADER_LEN + ipv4.HEADER_LEN);
  return f;
}

/** A VXLAN datagram's UDP payload: the header (I flag set unless asked not to), then the inner frame. */
export function buildDatagram(vni: number, noIFlag: boolean, inner: Buffer): Buffer {
  const d = Buffer.alloc(vxlan.HEADER_LEN + inner.length);
  vxlan.emit(d, 0, vni);
  if (noIFlag) d[0] = 0;
  inner.copy(d, vxlan.HEADER_LEN);
  return d;
}

/** The source and destination IPv4 of a packet (ARP: sender and target), for the kernel's route lookup. */
export function addressesOf(p: Packet): { src: string; dst: string } {
  return p.kind === 'arp' ? { src: p.sender, dst: p.target } : { src: p.src, dst: p.dst };
}
