/**
 * What the fuzzer sends: malformed (and a few well-formed) VXLAN datagrams
 * for the UDP port, and malformed Ethernet frames for the TAP, drawn from a
 * seeded generator so that a failing run can be replayed with its seed.
 *
 * Each datagram has a kind, and the kind says which of the daemon's checks
 * it aims at (the drop reason it should end in when it arrives); random
 * bytes may land anywhere, which is the point of them.
 */
import * as ethernet from '../../src/wire/ethernet';
import * as ipv4 from '../../src/wire/ipv4';
import * as vxlan from '../../src/wire/vxlan';
import { macKeyFromString, parseIpv4, writeIpv4 } from '../../src/wire/addr';

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** 0 .. n-1 */
  int(n: number): number {
    return this.next() % n;
  }
  fill(buf: Buffer, off = 0, end = buf.length): void {
    for (let i = off; i < end; i++) buf[i] = this.next() & 0xff;
  }
}

/** Datagram kinds, each with its weight in the mix. */
export const NET_KINDS = {
  /** Random bytes of random length, from the known peer. */
  random: 20,
  /** Random bytes from a stranger (no known VTEP). */
  'random-stranger': 5,
  /** A zero-length datagram (from the peer or a stranger). */
  zero: 5,
  /** 1-21 bytes: a VXLAN header cut short, or no room for the inner Ethernet header. */
  'short-header': 10,
  /** A whole datagram with the I flag clear. */
  'no-i-flag': 10,
  /** Another VNI. */
  'wrong-vni': 10,
  /** Well-formed, from a stranger. */
  stranger: 10,
  /** From the peer, inner source MAC not its VTEP MAC. */
  'spoof-mac': 8,
  /** From the peer, inner IPv4 source outside its subnet. */
  'spoof-ip': 8,
  /** From the peer, ARP with a sender outside its subnet. */
  'spoof-arp': 4,
  /** Longer than a receive slot (fragmented on the underlay, reassembled by the kernel). */
  oversized: 5,
  /** Well-formed and legitimate: an ICMP echo reply to the host (which answers nothing). */
  legit: 5,
} as const;
export type NetKind = keyof typeof NET_KINDS;

/** TAP frame kinds, with weights. */
export const TAP_KINDS = {
  /**
   * 14-59 bytes: shorter than Ethernet's 60-byte minimum, random after the
   * header. (A frame shorter than the 14-byte header, the `runt` drop, cannot
   * reach the TAP from the kernel: a packet socket refuses it with EINVAL.
   * The unit tests feed those.)
   */
  runt: 20,
  /** A random EtherType to a random unicast MAC (an FDB miss) or a multicast one (a flood). */
  'garbage-type': 30,
  /** EtherType ARP, to broadcast, with a body that is not an Ethernet/IPv4 ARP request we can answer. */
  'bad-arp': 20,
  /** A well-formed ARP request for an address nobody has. */
  'arp-unknown': 10,
  /** An ARP request for the peer's address: answered locally. */
  'arp-peer': 10,
  /** Random payload to the peer's VTEP MAC: encapsulated and sent (the peer drops what it makes of it). */
  'to-peer': 10,
} as const;
export type TapKind = keyof typeof TAP_KINDS;

export interface FuzzNet {
  vni: number;
  /** The daemon under test: its VTEP MAC and subnet address (x.x.x.0). */
  selfMac: string;
  selfNet: string;
  /** The peer: its VTEP MAC and subnet address. */
  peerMac: string;
  peerNet: string;
  /** The largest datagram the daemon's receive slots hold (longer is `oversized`). */
  slotCapacity: number;
}

/** Picks a kind by weight. */
export function pick<K extends string>(rng: Rng, weights: Readonly<Record<K, number>>): K {
  const keys = Object.keys(weights) as K[];
  let total = 0;
  for (const k of keys) total += weights[k];
  let r = rng.int(total);
  for (const k of keys) {
    r -= weights[k];
    if (r < 0) return k;
  }
  return keys[keys.length - 1]!;
}

function vxlanHeader(buf: Buffer, flags: number, vni: number): void {
  vxlan.emit(buf, 0, vni);
  buf[vxlan.field.FLAGS] = flags;
}

/** An Ethernet + IPv4 + ICMP echo reply frame, `extra` payload bytes, checksums right. */
function icmpFrame(rng: Rng, dstMac: string, srcMac: string, src: number, dst: number, extra: number): Buffer {
  const l3 = ethernet.HEADER_LEN;
  const icmpLen = 8 + extra;
  const f = Buffer.alloc(l3 + ipv4.HEADER_LEN + icmpLen);
  ethernet.emitHeader(f, 0, macKeyFromString(dstMac), macKeyFromString(srcMac), ethernet.ETHERTYPE_IPV4);
  f[l3] = 0x45;
  f.writeUInt16BE(ipv4.HEADER_LEN + icmpLen, l3 + 2);
  f[l3 + 8] = 64;
  f[l3 + 9] = ipv4.PROTO_ICMP;
  writeIpv4(f, l3 + 12, src);
  writeIpv4(f, l3 + 16, dst);
  ipv4.fillChecksum(f, l3);
  const icmp = l3 + ipv4.HEADER_LEN;
  f[icmp] = 0; // echo reply: the host answers nothing
  f.writeUInt16BE(rng.int(65536), icmp + 4);
  rng.fill(f, icmp + 8);
  let sum = 0;
  for (let i = icmp; i < f.length; i += 2) sum += (f[i]! << 8) | (f[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  f.writeUInt16BE(~sum & 0xffff, icmp + 2);
  return f;
}

function arpFrame(dstMac: string, srcMac: string, senderMac: string, senderIp: number, targetIp: number): Buffer {
  const f = Buffer.alloc(ethernet.HEADER_LEN + 28);
  ethernet.emitHeader(f, 0, macKeyFromString(dstMac), macKeyFromString(srcMac), ethernet.ETHERTYPE_ARP);
  const a = ethernet.HEADER_LEN;
  f.writeUInt16BE(1, a); // Ethernet
  f.writeUInt16BE(ethernet.ETHERTYPE_IPV4, a + 2);
  f[a + 4] = 6;
  f[a + 5] = 4;
  f.writeUInt16BE(1, a + 6); // request
  Buffer.from(senderMac.split(':').map((h) => parseInt(h, 16))).copy(f, a + 8);
  writeIpv4(f, a + 14, senderIp);
  writeIpv4(f, a + 24, targetIp);
  return f;
}

/** One datagram of `kind`: its payload (from the VXLAN header on) and whether a stranger sends it. */
export function netDatagram(kind: NetKind, rng: Rng, n: FuzzNet): { data: Buffer; stranger: boolean } {
  const peerNet = parseIpv4(n.peerNet);
  const selfNet = parseIpv4(n.selfNet);
  const inPeer = (): number => (peerNet + rng.int(256)) >>> 0;
  const wrap = (flags: number, vni: number, inner: Buffer): Buffer => {
    const d = Buffer.alloc(vxlan.HEADER_LEN + inner.length);
    vxlanHeader(d, flags, vni);
    inner.copy(d, vxlan.HEADER_LEN);
    return d;
  };
  const legit = (): Buffer => icmpFrame(rng, n.selfMac, n.peerMac, inPeer(), selfNet, rng.int(200));
  switch (kind) {
    case 'random':
    case 'random-stranger': {
      const d = Buffer.alloc(rng.int(n.slotCapacity));
      rng.fill(d);
      return { data: d, stranger: kind === 'random-stranger' };
    }
    case 'zero':
      return { data: Buffer.alloc(0), stranger: rng.int(2) === 0 };
    case 'short-header': {
      const d = Buffer.alloc(1 + rng.int(vxlan.MIN_LEN - 1));
      rng.fill(d);
      if (d.length >= 1) d[0] = vxlan.FLAG_I;
      return { data: d, stranger: false };
    }
    case 'no-i-flag':
      return { data: wrap(rng.int(256) & ~vxlan.FLAG_I, n.vni, legit()), stranger: false };
    case 'wrong-vni':
      return { data: wrap(vxlan.FLAG_I, (n.vni + 1 + rng.int(vxlan.VNI_MAX - 1)) % (vxlan.VNI_MAX + 1), legit()), stranger: false };
    case 'stranger':
      return { data: wrap(vxlan.FLAG_I, n.vni, legit()), stranger: true };
    case 'spoof-mac': {
      const mac = `02:${[0, 0, 0, 0, 0].map(() => rng.int(256).toString(16).padStart(2, '0')).join(':')}`;
      return { data: wrap(vxlan.FLAG_I, n.vni, icmpFrame(rng, n.selfMac, mac === n.peerMac ? '02:00:00:00:00:01' : mac, inPeer(), selfNet, rng.int(200))), stranger: false };
    }
    case 'spoof-ip': {
      let src = rng.next();
      if (((src ^ peerNet) & 0xffffff00) === 0) src ^= 0x00000100; // never inside the peer's /24
      return { data: wrap(vxlan.FLAG_I, n.vni, icmpFrame(rng, n.selfMac, n.peerMac, src >>> 0, selfNet, rng.int(200))), stranger: false };
    }
    case 'spoof-arp': {
      let sender = rng.next();
      if (((sender ^ peerNet) & 0xffffff00) === 0) sender ^= 0x00000100;
      return { data: wrap(vxlan.FLAG_I, n.vni, arpFrame('ff:ff:ff:ff:ff:ff', n.peerMac, n.peerMac, sender >>> 0, selfNet)), stranger: false };
    }
    case 'oversized':
      return { data: wrap(vxlan.FLAG_I, n.vni, icmpFrame(rng, n.selfMac, n.peerMac, inPeer(), selfNet, n.slotCapacity + rng.int(6000))), stranger: false };
    case 'legit':
      return { data: wrap(vxlan.FLAG_I, n.vni, legit()), stranger: false };
  }
}

/** One Ethernet frame of `kind` for the TAP (the daemon reads it as if the host had sent it). */
export function tapFrame(kind: TapKind, rng: Rng, n: FuzzNet): Buffer {
  const selfNet = parseIpv4(n.selfNet);
  switch (kind) {
    case 'runt': {
      const f = Buffer.alloc(ethernet.HEADER_LEN + rng.int(60 - ethernet.HEADER_LEN));
      rng.fill(f);
      return f;
    }
    case 'garbage-type': {
      const f = Buffer.alloc(ethernet.HEADER_LEN + rng.int(200));
      rng.fill(f);
      if (rng.int(2) === 0) f[0] = f[0]! & 0xfe; // unicast: an FDB miss (a random MAC is nobody's)
      else f[0] = f[0]! | 0x01; // multicast: a flood
      if (f.readUInt16BE(12) === ethernet.ETHERTYPE_ARP || f.readUInt16BE(12) === ethernet.ETHERTYPE_VLAN) f.writeUInt16BE(0x88b5, 12);
      return f;
    }
    case 'bad-arp': {
      const f = Buffer.alloc(ethernet.HEADER_LEN + rng.int(40));
      rng.fill(f);
      ethernet.emitHeader(f, 0, ethernet.BROADCAST_KEY, macKeyFromString(n.selfMac), ethernet.ETHERTYPE_ARP);
      if (f.length >= ethernet.HEADER_LEN + 2) f.writeUInt16BE(2 + rng.int(100), ethernet.HEADER_LEN); // never HTYPE Ethernet
      return f;
    }
    case 'arp-unknown':
      return arpFrame('ff:ff:ff:ff:ff:ff', n.selfMac, n.selfMac, selfNet, (parseIpv4('10.250.0.0') + rng.int(65536)) >>> 0);
    case 'arp-peer':
      return arpFrame('ff:ff:ff:ff:ff:ff', n.selfMac, n.selfMac, selfNet, parseIpv4(n.peerNet));
    case 'to-peer': {
      const f = Buffer.alloc(ethernet.HEADER_LEN + rng.int(300));
      rng.fill(f);
      ethernet.emitHeader(f, 0, macKeyFromString(n.peerMac), macKeyFromString(n.selfMac), 0x88b5);
      return f;
    }
  }
}
