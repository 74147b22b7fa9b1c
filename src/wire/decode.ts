/**
 * Layer-by-layer decoding of a whole frame, for the tracer and for tests
 * (after gopacket's packet.go). Not for the hot path: it allocates freely.
 *
 *   Ethernet -> [802.1Q] -> ARP | IPv4 | IPv6
 *   IPv4 -> ICMPv4 | UDP | TCP
 *   IPv6 -> ICMPv6 | UDP | TCP           (behind extension headers: Payload)
 *   UDP to a VXLAN port -> VXLAN -> Ethernet -> ... (recursively)
 *
 * A layer that cannot be decoded becomes a DecodeFailure layer holding the
 * remaining bytes and the error, and decoding stops there: a partial decode
 * is shown, never thrown away.
 */
import { formatIpv4 } from './addr';
import * as arp from './arp';
import * as ethernet from './ethernet';
import * as icmp from './icmp';
import * as icmpv6 from './icmpv6';
import * as ipv4 from './ipv4';
import * as ipv6 from './ipv6';
import * as tcp from './tcp';
import * as udp from './udp';
import * as vxlan from './vxlan';

export type LayerName =
  | 'Ethernet' | '802.1Q' | 'ARP' | 'IPv4' | 'IPv6' | 'ICMPv4' | 'ICMPv6' | 'UDP' | 'TCP' | 'VXLAN'
  | 'Payload' | 'DecodeFailure';

export interface DecodedLayer {
  name: LayerName;
  /** Offset in the decoded buffer of this layer's first byte. */
  offset: number;
  /** Bytes this layer's header covers (for Payload and DecodeFailure, all their bytes). */
  length: number;
  fields: Record<string, string | number>;
  /** One line, starting with the layer name, the way tcpdump would say it. */
  summary: string;
  /** Set on DecodeFailure layers. */
  error?: string;
}

export interface DecodeOptions {
  /** UDP destination ports whose payload is VXLAN; default [4789, 8472]. */
  vxlanPorts?: readonly number[];
}

export const DEFAULT_VXLAN_PORTS: readonly number[] = [vxlan.PORT_IANA, vxlan.PORT_LINUX];

/** At most this many bytes of a failed layer are kept as hex in its fields. */
const FAILURE_HEX_MAX = 64;

function hex(v: number, digits: number): string {
  return '0x' + v.toString(16).padStart(digits, '0');
}

/** The message of a codec's WireError (or of anything else thrown while decoding). */
function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

class Decoder {
  readonly layers: DecodedLayer[] = [];
  /** Where each Ethernet layer's frame ends (its padding included). */
  private readonly frameEnds = new Map<DecodedLayer, number>();
  constructor(readonly buf: Buffer, readonly vxlanPorts: readonly number[]) {}

  push(name: LayerName, offset: number, length: number, fields: Record<string, string | number>, summary: string): void {
    this.layers.push({ name, offset, length, fields, summary });
  }

  fail(what: string, off: number, len: number, e: unknown): void {
    const error = errorText(e);
    const shown = this.buf.subarray(off, off + Math.min(len, FAILURE_HEX_MAX)).toString('hex');
    this.layers.push({
      name: 'DecodeFailure',
      offset: off,
      length: len,
      fields: { layer: what, hex: len > FAILURE_HEX_MAX ? `${shown}...` : shown },
      summary: `DecodeFailure ${what}: ${error}`,
      error,
    });
  }

  payload(off: number, len: number): void {
    if (len <= 0) return;
    this.push('Payload', off, len, { length: len }, `Payload ${len} bytes`);
  }

  /**
   * Each step catches its own checked-constructor errors; this catches the
   * rest (a decoder bug), keeping the layers decoded so far.
   */
  guard(what: string, off: number, len: number, step: () => void): void {
    try {
      step();
    } catch (e) {
      this.fail(what, off, len, e);
    }
  }

  ethernet(off: number, len: number): void {
    let f: ethernet.EthernetFrame;
    try {
      f = ethernet.EthernetFrame.checked(this.buf, off, len);
    } catch (e) {
      this.fail('Ethernet', off, len, e);
      return;
    }
    const type = f.etherType;
    const index = this.layers.length;
    this.push('Ethernet', off, ethernet.HEADER_LEN,
      { dst: f.dst, src: f.src, etherType: ethernet.etherTypeName(type) },
      `Ethernet ${f.src} > ${f.dst} type ${ethernet.etherTypeName(type)}`);
    if (f.tagged) {
      const t = f.payloadType;
      this.push('802.1Q', off + ethernet.HEADER_LEN, ethernet.VLAN_TAG_LEN,
        { vid: f.vid, pcp: f.pcp, dei: f.dei ? 1 : 0, etherType: ethernet.etherTypeName(t) },
        `802.1Q vlan ${f.vid} pri ${f.pcp}${f.dei ? ' dei' : ''} type ${ethernet.etherTypeName(t)}`);
    }
    this.l3(f.payloadType, f.payloadOffset, f.payloadLen);
    // Bytes after the last layer are padding up to the 60-byte minimum (or a
    // trailer): shown on the Ethernet layer, as gopacket's Ethernet.Padding.
    const eth = this.layers[index]!;
    this.frameEnds.set(eth, off + len);
    const after = this.layers.slice(index + 1);
    if (after.some((l) => l.name === 'DecodeFailure')) return;
    const end = after.reduce((m, l) => Math.max(m, this.frameEnds.get(l) ?? l.offset + l.length), f.payloadOffset);
    const padding = off + len - end;
    if (padding > 0) {
      eth.fields.padding = padding;
      eth.summary += ` padding ${padding}`;
    }
  }

  l3(type: number, off: number, len: number): void {
    switch (type) {
      case ethernet.ETHERTYPE_ARP: return this.arp(off, len);
      case ethernet.ETHERTYPE_IPV4: return this.ipv4(off, len);
      case ethernet.ETHERTYPE_IPV6: return this.ipv6(off, len);
      default: return this.payload(off, len);
    }
  }

  arp(off: number, len: number): void {
    let p: arp.ArpPacket;
    try {
      p = arp.ArpPacket.checked(this.buf, off, len);
    } catch (e) {
      this.fail('ARP', off, len, e);
      return;
    }
    if (!p.isEthIpv4) {
      const hl = arp.FIXED_LEN + 2 * p.hlen + 2 * p.plen;
      this.push('ARP', off, hl,
        { htype: p.htype, ptype: hex(p.ptype, 4), hlen: p.hlen, plen: p.plen, op: p.op, opName: arp.opName(p.op) },
        `ARP ${arp.opName(p.op)} htype ${p.htype} ptype ${hex(p.ptype, 4)} (not Ethernet/IPv4)`);
      this.payload(off + hl, len - hl);
      return;
    }
    const spa = formatIpv4(p.spa);
    const tpa = formatIpv4(p.tpa);
    const fields = { op: p.op, opName: arp.opName(p.op), sha: p.sha, spa, tha: p.tha, tpa };
    const summary = p.op === arp.OP_REQUEST ? `ARP who-has ${tpa} tell ${spa}`
      : p.op === arp.OP_REPLY ? `ARP ${spa} is-at ${p.sha}`
        : `ARP op ${p.op} ${p.sha} ${spa} > ${p.tha} ${tpa}`;
    this.push('ARP', off, arp.HEADER_LEN, fields, summary);
    // Anything after the 28 bytes is Ethernet padding, not a layer.
  }

  ipv4(off: number, len: number): void {
    let p: ipv4.Ipv4Packet;
    try {
      p = ipv4.Ipv4Packet.checked(this.buf, off, len);
    } catch (e) {
      this.fail('IPv4', off, len, e);
      return;
    }
    const proto = ipv4.protocolName(p.protocol);
    const flags = [p.dontFrag ? 'DF' : '', p.moreFrags ? 'MF' : ''].filter(Boolean).join(',');
    const ok = p.checksumOk;
    const fields: Record<string, string | number> = {
      version: p.version, headerLen: p.headerLen, dscpEcn: p.dscpEcn, length: p.totalLen, id: p.ident,
      flags, fragOffset: p.fragOffset, ttl: p.ttl, protocol: proto,
      checksum: hex(p.checksum, 4), checksumStatus: ok ? 'ok' : 'bad',
      src: formatIpv4(p.src), dst: formatIpv4(p.dst),
    };
    let summary = `IPv4 ${fields.src} > ${fields.dst} ttl ${p.ttl} proto ${proto} len ${p.totalLen}`;
    if (p.isFragment) summary += ` frag ${p.moreFrags ? '+' : ''}${p.fragOffset * 8}`;
    if (!ok) summary += ' bad-cksum';
    this.push('IPv4', off, p.headerLen, fields, summary);
    // A non-first fragment holds no L4 header, and a first one only part of it.
    if (p.isFragment) return this.payload(p.payloadOffset, p.payloadLen);
    this.l4(p.protocol, p.payloadOffset, p.payloadLen);
  }

  ipv6(off: number, len: number): void {
    let p: ipv6.Ipv6Packet;
    try {
      p = ipv6.Ipv6Packet.checked(this.buf, off, len);
    } catch (e) {
      this.fail('IPv6', off, len, e);
      return;
    }
    const nh = ipv6.nextHeaderName(p.nextHeader);
    this.push('IPv6', off, ipv6.HEADER_LEN,
      {
        version: p.version, trafficClass: p.trafficClass, flowLabel: p.flowLabel, payloadLen: p.payloadLen,
        nextHeader: nh, hopLimit: p.hopLimit, src: p.src, dst: p.dst,
      },
      `IPv6 ${p.src} > ${p.dst} hlim ${p.hopLimit} next ${nh} len ${p.payloadLen}`);
    if (p.nextHeader === ipv6.NH_TCP || p.nextHeader === ipv6.NH_UDP) {
      this.l4(p.nextHeader, p.payloadOffset, p.payloadLen);
    } else if (p.nextHeader === ipv6.NH_ICMPV6) {
      this.icmpv6(off, len, p.payloadOffset, p.payloadLen);
    } else {
      this.payload(p.payloadOffset, p.payloadLen);
    }
  }

  /**
   * ICMPv6 right after the IPv6 header at `ip` (its addresses are in the
   * checksum). Echo shows id and seq, an NS or NA its target, flags and
   * link-layer address, and whether it passes RFC 4861's validity checks.
   */
  icmpv6(ip: number, ipLen: number, off: number, len: number): void {
    let p: icmpv6.Icmpv6Packet;
    try {
      p = icmpv6.Icmpv6Packet.checked(this.buf, off, len);
    } catch (e) {
      this.fail('ICMPv6', off, len, e);
      return;
    }
    const ok = p.checksumOk(ip + ipv6.field.SRC, ip + ipv6.field.DST);
    const typeName = icmpv6.typeName(p.type);
    const fields: Record<string, string | number> = {
      type: p.type, code: p.code, typeName, checksum: hex(p.checksum, 4), checksumStatus: ok ? 'ok' : 'bad',
    };
    let summary = `ICMPv6 ${typeName}`;
    let headerLen: number = icmpv6.HEADER_LEN;
    if (icmpv6.isNd(p.type)) {
      const check = icmpv6.checkNd(this.buf, ip, ipLen);
      fields.ndCheck = icmpv6.ndCheckName(check);
      if (len >= icmpv6.ND_MIN_LEN) {
        const nd = new icmpv6.NdPacket(this.buf, ip, ipLen);
        fields.target = nd.target;
        // Options are walked only in a valid message: a bad length could run anywhere.
        const optType = nd.isSolicitation ? icmpv6.OPT_SOURCE_LLA : icmpv6.OPT_TARGET_LLA;
        const lla = check === icmpv6.ND_OK ? nd.linkLayer(optType) : undefined;
        if (nd.isSolicitation) {
          summary += ` who-has ${nd.target}`;
          if (lla !== undefined) { fields.sourceLinkLayer = lla; summary += ` from ${lla}`; }
        } else {
          const flags = [nd.router ? 'R' : '', nd.solicited ? 'S' : '', nd.override ? 'O' : ''].filter(Boolean).join(',');
          fields.flags = flags;
          summary += ` ${nd.target}`;
          if (lla !== undefined) { fields.targetLinkLayer = lla; summary += ` is-at ${lla}`; }
          summary += ` [${flags || 'none'}]`;
        }
        headerLen = len;
      }
      if (check !== icmpv6.ND_OK && check !== icmpv6.ND_BAD_CHECKSUM) summary += ` invalid (${fields.ndCheck})`;
    } else if (icmpv6.isEcho(p.type) && len >= 8) {
      fields.ident = p.ident;
      fields.seq = p.seq;
      summary += ` id ${p.ident} seq ${p.seq}`;
      headerLen = 8;
    } else if (p.type === icmpv6.TYPE_PACKET_TOO_BIG && len >= 8) {
      fields.mtu = p.mtu;
      summary += ` mtu ${p.mtu}`;
      headerLen = 8;
    } else if (p.type < 128 && len >= 8) {
      // The other error messages: 4 bytes unused (or a pointer), then the invoking packet.
      summary += ` code ${p.code}`;
      headerLen = 8;
    } else {
      summary += ` code ${p.code}`;
    }
    if (!ok) summary += ' bad-cksum';
    this.push('ICMPv6', off, headerLen, fields, summary);
    this.payload(off + headerLen, len - headerLen);
  }

  l4(proto: number, off: number, len: number): void {
    switch (proto) {
      case ipv4.PROTO_ICMP: return this.icmp(off, len);
      case ipv4.PROTO_UDP: return this.udp(off, len);
      case ipv4.PROTO_TCP: return this.tcp(off, len);
      default: return this.payload(off, len);
    }
  }

  icmp(off: number, len: number): void {
    let p: icmp.IcmpPacket;
    try {
      p = icmp.IcmpPacket.checked(this.buf, off, len);
    } catch (e) {
      this.fail('ICMPv4', off, len, e);
      return;
    }
    const ok = p.checksumOk;
    const typeName = icmp.typeName(p.type);
    const fields: Record<string, string | number> = {
      type: p.type, code: p.code, typeName, checksum: hex(p.checksum, 4), checksumStatus: ok ? 'ok' : 'bad',
    };
    let summary = `ICMPv4 ${typeName}`;
    if (icmp.isEcho(p.type)) {
      fields.ident = p.ident;
      fields.seq = p.seq;
      summary += ` id ${p.ident} seq ${p.seq}`;
    } else if (p.type === icmp.TYPE_DEST_UNREACHABLE || p.type === icmp.TYPE_TIME_EXCEEDED) {
      fields.codeName = icmp.codeName(p.type, p.code);
      summary += ` ${fields.codeName}`;
      if (p.type === icmp.TYPE_DEST_UNREACHABLE && p.code === icmp.CODE_FRAG_NEEDED) {
        fields.nextHopMtu = p.nextHopMtu;
        summary += ` mtu ${p.nextHopMtu}`;
      }
    } else {
      summary += ` code ${p.code}`;
    }
    if (!ok) summary += ' bad-cksum';
    this.push('ICMPv4', off, icmp.HEADER_LEN, fields, summary);
    this.payload(p.dataOffset, p.dataLen);
  }

  udp(off: number, len: number): void {
    let p: udp.UdpPacket;
    try {
      p = udp.UdpPacket.checked(this.buf, off, len);
    } catch (e) {
      this.fail('UDP', off, len, e);
      return;
    }
    this.push('UDP', off, udp.HEADER_LEN,
      { srcPort: p.srcPort, dstPort: p.dstPort, length: p.length, checksum: hex(p.checksum, 4) },
      `UDP ${p.srcPort} > ${p.dstPort} len ${p.length}`);
    if (this.vxlanPorts.includes(p.dstPort)) return this.vxlan(p.payloadOffset, p.payloadLen);
    this.payload(p.payloadOffset, p.payloadLen);
  }

  tcp(off: number, len: number): void {
    let p: tcp.TcpPacket;
    try {
      p = tcp.TcpPacket.checked(this.buf, off, len);
    } catch (e) {
      this.fail('TCP', off, len, e);
      return;
    }
    const flags = tcp.flagsToString(p.flags);
    this.push('TCP', off, p.headerLen,
      {
        srcPort: p.srcPort, dstPort: p.dstPort, seq: p.seq, ack: p.ack, headerLen: p.headerLen,
        flags, window: p.window, checksum: hex(p.checksum, 4), urgent: p.urgent,
        optionsLen: p.headerLen - tcp.HEADER_LEN, payloadLen: p.payloadLen,
      },
      `TCP ${p.srcPort} > ${p.dstPort} [${flags || 'none'}] seq ${p.seq}` +
      `${p.flags & tcp.FLAG_ACK ? ` ack ${p.ack}` : ''} win ${p.window}` +
      `${p.payloadLen > 0 ? ` len ${p.payloadLen}` : ''}`);
    this.payload(p.payloadOffset, p.payloadLen);
  }

  vxlan(off: number, len: number): void {
    let p: vxlan.VxlanPacket;
    try {
      p = vxlan.VxlanPacket.checked(this.buf, off, len);
    } catch (e) {
      this.fail('VXLAN', off, len, e);
      return;
    }
    this.push('VXLAN', off, vxlan.HEADER_LEN,
      { flags: hex(p.flags, 2), vni: p.vni },
      `VXLAN vni ${p.vni} flags ${hex(p.flags, 2)}`);
    this.ethernet(p.payloadOffset, p.payloadLen);
  }
}

/**
 * Decodes buf as one Ethernet frame, layer by layer. Never throws for bad
 * bytes: the first undecodable layer becomes a DecodeFailure layer.
 */
export function decodeFrame(buf: Buffer, opts: DecodeOptions = {}): DecodedLayer[] {
  const d = new Decoder(buf, opts.vxlanPorts ?? DEFAULT_VXLAN_PORTS);
  d.guard('decoder', 0, buf.length, () => d.ethernet(0, buf.length));
  return d.layers;
}

export interface FormatOptions {
  /** When given (the decoded buffer), each layer is followed by a hex dump of its bytes. */
  buf?: Buffer;
}

/**
 * gopacket-style text:
 *
 *   PACKET: 148 bytes
 *   - header 1 (14 bytes) = Ethernet {02:4d:59:f2:d7:d7 > fe:4d:bb:95:dd:46 type IPv4}
 *   - header 2 (20 bytes) = IPv4 {192.168.95.1 > 192.168.95.2 ttl 64 proto UDP len 134}
 *
 * The braces hold the layer's summary without its leading name.
 */
export function formatLayers(layers: readonly DecodedLayer[], opts: FormatOptions = {}): string {
  // Without the buffer: the layers' extent plus the padding of each frame
  // (nested frames end together, so their paddings sit one after another).
  const extent = layers.reduce((m, l) => Math.max(m, l.offset + l.length), 0);
  const padding = layers.reduce((n, l) => n + (l.name === 'Ethernet' ? Number(l.fields.padding ?? 0) : 0), 0);
  const total = extent + padding;
  const lines = [`PACKET: ${opts.buf?.length ?? total} bytes`];
  layers.forEach((l, i) => {
    const body = l.summary.startsWith(l.name + ' ') ? l.summary.slice(l.name.length + 1) : l.summary;
    lines.push(`- header ${i + 1} (${String(l.length).padStart(2, '0')} bytes) = ${l.name} {${body}}`);
    if (opts.buf) lines.push(...hexDump(opts.buf.subarray(l.offset, l.offset + l.length)));
  });
  return lines.join('\n');
}

/** `00000000  45 00 00 54 ...  |E..T|` lines, indented under their layer. */
function hexDump(b: Buffer): string[] {
  const out: string[] = [];
  for (let i = 0; i < b.length; i += 16) {
    const row = b.subarray(i, i + 16);
    const hexPart = Array.from(row, (x) => x.toString(16).padStart(2, '0')).join(' ').padEnd(47);
    const ascii = Array.from(row, (x) => (x >= 0x20 && x < 0x7f ? String.fromCharCode(x) : '.')).join('');
    out.push(`    ${i.toString(16).padStart(8, '0')}  ${hexPart}  |${ascii}|`);
  }
  return out;
}
