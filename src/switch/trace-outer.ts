/**
 * The outer headers of an encapsulated frame as the kernel will put them on
 * the wire (issue #12), for the encap trace: one header a line, numbered as
 * the decap side numbers its layers, each saying what is known and what is
 * the kernel's choice.
 *
 *   header 1  Ethernet  our underlay interface's MAC > the next hop's MAC,
 *                       from the route lookup and the neighbour table
 *                       (control/underlay-route.ts, cached, looked up off the
 *                       per-frame path);
 *   header 2  IPv4      source and destination, TTL and DF as the socket
 *                       makes them (SendPath), the ID left to the kernel;
 *   header 3  UDP       the source port and the inner fields hashed into it
 *                       (flow-hash.ts), the checksum as the send path leaves it;
 *   header 4  VXLAN     the 8 bytes as the pipeline wrote them, in hex;
 *   header 5..          the frame from the TAP, shown above it.
 *
 * What vxtap does not know is said, never made up: the IPv4 ID is chosen by
 * the kernel when it sends; a next hop with no neighbour entry has no MAC
 * yet (the kernel ARPs for it first); facts not looked up yet are "not known yet".
 *
 * Pure: the facts come in (UnderlayFacts, SendPath), the record goes out.
 */
import { formatIpv4 } from '../wire/addr';
import * as ethernet from '../wire/ethernet';
import * as ipv4 from '../wire/ipv4';
import * as udp from '../wire/udp';
import * as vxlan from '../wire/vxlan';
import { flowFieldsText, flowSourcePort } from './flow-hash';

/** What the kernel will do for one remote VTEP, as last looked up (control/underlay-route.ts). */
export interface UnderlayFacts {
  /** The remote VTEP, dotted quad. */
  vtep: string;
  /** When it was looked up, ms since the epoch. */
  at: number;
  /** Why the lookup failed ('RTM_GETROUTE 192.168.9.9: ENETUNREACH'), or null. */
  error: string | null;
  /** The output interface: name, index, its own MAC ('' when it has none) and MTU. */
  dev: string | null;
  oif: number | null;
  devMac: string | null;
  mtu: number | null;
  /** The route's preferred source (RTA_PREFSRC), or null. */
  src: string | null;
  /** The route's gateway, or null when the VTEP is on-link (then the next hop is the VTEP itself). */
  gateway: string | null;
  /** The next hop: the gateway, or the VTEP. */
  nextHop: string;
  /** The next hop's neighbour entry: its MAC (null: none learned) and NUD state (null: no entry at all). */
  neighMac: string | null;
  neighState: string | null;
  /** The route's hoplimit metric, or null (then net.ipv4.ip_default_ttl applies). */
  hoplimit: number | null;
  /** The route's MTU metric or a learned path MTU, or null (then the interface's MTU applies). */
  routeMtu: number | null;
  /** net.ipv4.ip_default_ttl in the daemon's namespace, or null when it could not be read. */
  defaultTtl: number | null;
}

/**
 * How the UDP port sends, which fixes DF, TTL, the UDP checksum and the
 * source port (set by the CLI from the port it opened, cli/ports.ts).
 */
export interface SendPath {
  /** 'raw': a raw IPPROTO_UDP socket, vxtap writes the UDP header; 'gso-pool': 64 UDP sockets, one per source port; 'dgram': Node's socket. */
  kind: 'raw' | 'gso-pool' | 'dgram';
  /**
   * The socket's IP_MTU_DISCOVER mode. native/udp.cc sets IP_PMTUDISC_DONT
   * on the raw and the pool sockets (AllowFragments): no DF, the kernel
   * fragments (tcpdump on a veth underlay: flags [none]). Node's socket keeps
   * the kernel's default, IP_PMTUDISC_WANT unless net.ipv4.ip_no_pmtu_disc is
   * set, which sets DF on every datagram that fits the path MTU (tcpdump on
   * a veth underlay: flags [DF] on a 148-byte ping) and fragments, without
   * DF, one that does not (__ip_make_skb).
   */
  pmtudisc: 'dont' | 'want' | 'do';
  /** IP_TTL set on the socket, or null (none of vxtap's sockets sets it). */
  ttl: number | null;
  /** The UDP checksum: 'zero' (the raw socket's header says none, valid over IPv4) or 'kernel' (the kernel or the NIC fills it). */
  checksum: 'zero' | 'kernel';
  /** The source ports the flow hash folds into, or null: every datagram has the socket's own port. */
  srcPorts: { min: number; count: number } | null;
  /** The IPv4 source the socket is bound to, or null: the route's preferred source. */
  srcIp: string | null;
}

/** What the recorder asks for the outer headers. */
export interface OuterContext {
  sendPath: SendPath;
  /** The last known facts for a VTEP (host-order u32), or null when not looked up yet; asking may start a lookup. */
  underlay: ((vtep: number) => UnderlayFacts | null) | null;
}

export type WireValue = string | number | boolean | null;

/** One outer header: named and sized as a decoded layer, fields for JSON, one line for text. */
export interface WireHeader {
  name: 'Ethernet' | 'IPv4' | 'UDP' | 'VXLAN';
  length: number;
  fields: Record<string, WireValue>;
  /** Without the name: what goes between the braces. */
  summary: string;
}

/** The packet on the wire: the outer headers, then the inner frame (the record's layers). */
export interface WireRecord {
  /** Bytes on the wire, the outer Ethernet header included. */
  len: number;
  headers: WireHeader[];
  /** A flooded frame: one line for each copy after the first (its VTEP, next hop and MAC). */
  copies: string[];
}

/** The inputs of one encapsulated frame. */
export interface WireInput {
  /** The inner frame, as read from the TAP. */
  inner: Buffer;
  vni: number;
  /** The VTEPs of the copies (host-order u32); the first is the one shown in full. */
  vteps: number[];
  dstPort: number;
  /** The outer UDP source port as queued. */
  srcPort: number;
  /** The 8 VXLAN bytes as the pipeline wrote them, or null (then they are built from the VNI). */
  vxlanHeader: Buffer | null;
}

const OUTER = ethernet.HEADER_LEN + ipv4.HEADER_LEN + udp.HEADER_LEN + vxlan.HEADER_LEN;

/** The outer headers of one encapsulated frame. */
export function wireRecord(w: WireInput, path: SendPath, factsOf: (vtep: number) => UnderlayFacts | null): WireRecord {
  const vtep = w.vteps[0] ?? 0;
  const facts = factsOf(vtep);
  const ipLen = ipv4.HEADER_LEN + udp.HEADER_LEN + vxlan.HEADER_LEN + w.inner.length;
  const headers = [
    ethernetHeader(formatIpv4(vtep), facts),
    ipv4Header(formatIpv4(vtep), ipLen, path, facts),
    udpHeader(w, path),
    vxlanHeader(w),
  ];
  const copies = w.vteps.slice(1).map((v) => copyLine(formatIpv4(v), factsOf(v)));
  return { len: OUTER + w.inner.length, headers, copies };
}

/** The text lines of a WireRecord, without indentation: a title, a line per header, the inner frame's place. */
export function renderWire(w: WireRecord, innerLen: number): string[] {
  const lines = [`ON THE WIRE: ${w.len} bytes as the kernel will send them (${w.len - innerLen} bytes of outer headers, then the frame above)`];
  w.headers.forEach((h, i) => lines.push(`- header ${i + 1} (${String(h.length).padStart(2, '0')} bytes) = ${h.name} {${h.summary}}`));
  lines.push(`- header ${w.headers.length + 1}.. = the frame above (${innerLen} bytes)`);
  for (const c of w.copies) lines.push(`- copy ${c}`);
  return lines;
}

function notYet(vtep: string): string {
  return `the route to ${vtep} is not looked up yet (asked now: later frames show it)`;
}

function neighbourText(f: UnderlayFacts): string {
  const hop = f.gateway === null ? `next hop ${f.nextHop} (on-link: the VTEP itself)` : `next hop ${f.nextHop} (gateway)`;
  if (f.neighState === null) return `${hop}: no neighbour entry yet (the kernel will ARP for it)`;
  if (f.neighMac === null) return `${hop}: neighbour ${f.neighState}, no MAC yet (the kernel ARPs for it; the frame waits or is dropped)`;
  return `${f.neighMac} (${hop}, neighbour ${f.neighState})`;
}

function ethernetHeader(vtep: string, f: UnderlayFacts | null): WireHeader {
  if (f === null || f.error !== null) {
    const why = f === null ? notYet(vtep) : `${f.error}: the kernel will refuse the send`;
    return { name: 'Ethernet', length: ethernet.HEADER_LEN, fields: { src: null, dev: null, dst: null, nextHop: null, neighState: null, known: false, note: why }, summary: `? > ? type IPv4: ${why}` };
  }
  const src = f.devMac === null || f.devMac === '' ? `(${f.dev ?? '?'} has no MAC)` : `${f.devMac} (${f.dev}, mtu ${f.mtu ?? '?'})`;
  return {
    name: 'Ethernet',
    length: ethernet.HEADER_LEN,
    fields: { src: f.devMac, dev: f.dev, oif: f.oif, mtu: f.mtu, dst: f.neighMac, nextHop: f.nextHop, gateway: f.gateway, neighState: f.neighState, known: true },
    summary: `${src} > ${neighbourText(f)} type IPv4`,
  };
}

/** TTL as sent: the socket's IP_TTL, else the route's hoplimit, else net.ipv4.ip_default_ttl (ip4_dst_hoplimit). */
function ttlOf(path: SendPath, f: UnderlayFacts | null): { ttl: number | null; from: string } {
  if (path.ttl !== null) return { ttl: path.ttl, from: 'the socket\'s IP_TTL' };
  if (f === null) return { ttl: null, from: 'not known yet' };
  if (f.hoplimit !== null) return { ttl: f.hoplimit, from: 'the route\'s hoplimit' };
  if (f.defaultTtl !== null) return { ttl: f.defaultTtl, from: 'net.ipv4.ip_default_ttl' };
  return { ttl: null, from: 'net.ipv4.ip_default_ttl, not readable' };
}

/** DF as sent, from the socket's IP_MTU_DISCOVER mode (SendPath.pmtudisc says what was seen on the wire). */
function dfOf(path: SendPath, ipLen: number, f: UnderlayFacts | null): { df: boolean | null; from: string } {
  switch (path.pmtudisc) {
    case 'dont': return { df: false, from: 'IP_PMTUDISC_DONT: the kernel fragments rather than refuse' };
    case 'do': return { df: true, from: 'IP_PMTUDISC_DO' };
    case 'want': {
      const mtu = f === null ? null : f.routeMtu ?? f.mtu;
      if (mtu === null) return { df: null, from: 'IP_PMTUDISC_WANT: DF if it fits the path MTU, which is not known yet' };
      return ipLen <= mtu
        ? { df: true, from: `IP_PMTUDISC_WANT, the kernel's default: it fits the path MTU ${mtu}` }
        : { df: false, from: `IP_PMTUDISC_WANT: over the path MTU ${mtu}, fragmented without DF` };
    }
  }
}

function ipv4Header(vtep: string, ipLen: number, path: SendPath, f: UnderlayFacts | null): WireHeader {
  const src = path.srcIp ?? (f === null ? null : f.src);
  const srcFrom = path.srcIp !== null ? 'the socket\'s bound address' : src !== null ? 'the route\'s preferred source' : 'the route\'s choice, not known yet';
  const { ttl, from: ttlFrom } = ttlOf(path, f);
  const { df, from: dfFrom } = dfOf(path, ipLen, f);
  const dfText = df === null ? 'DF ?' : df ? 'DF' : 'no DF';
  return {
    name: 'IPv4',
    length: ipv4.HEADER_LEN,
    fields: {
      src, srcFrom, dst: vtep, tos: 0, ttl, ttlFrom, df, dfFrom,
      id: null, idFrom: 'chosen by the kernel when it sends: not known in advance',
      protocol: 'UDP', length: ipLen, checksum: 'computed by the kernel',
    },
    summary: `${src ?? '?'} > ${vtep} tos 0x0 ttl ${ttl ?? '?'} (${ttlFrom}) ${dfText} (${dfFrom}) id: the kernel's choice, not known in advance; proto UDP len ${ipLen}, checksum by the kernel`,
  };
}

function udpHeader(w: WireInput, path: SendPath): WireHeader {
  const len = udp.HEADER_LEN + vxlan.HEADER_LEN + w.inner.length;
  const hashed = flowFieldsText(w.inner, 0, w.inner.length);
  let from: string;
  if (path.srcPorts === null) {
    from = 'the socket\'s own port (Node\'s socket cannot choose one per flow)';
  } else {
    const { min, count } = path.srcPorts;
    const expect = flowSourcePort(w.inner, 0, w.inner.length, min, count);
    from = `${min} + flow hash mod ${count}, the hash of ${hashed}`;
    if (expect !== w.srcPort) from += ` (the hash gives ${expect}: the pipeline chose otherwise)`;
  }
  const checksum = path.checksum === 'zero' ? '0 (none: the raw socket\'s header says so, valid over IPv4)' : 'computed by the kernel or the NIC';
  return {
    name: 'UDP',
    length: udp.HEADER_LEN,
    fields: { srcPort: w.srcPort, srcPortFrom: from, flowFields: path.srcPorts === null ? null : hashed, dstPort: w.dstPort, length: len, checksum },
    summary: `${w.srcPort} > ${w.dstPort} len ${len}, checksum ${checksum}; source port = ${from}`,
  };
}

function vxlanHeader(w: WireInput): WireHeader {
  let b = w.vxlanHeader;
  if (b === null || b.length !== vxlan.HEADER_LEN) {
    b = Buffer.alloc(vxlan.HEADER_LEN);
    vxlan.emit(b, 0, w.vni);
  }
  const flags = b[vxlan.field.FLAGS]!;
  const vni = vxlan.vni(b, 0);
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
  const i = (flags & vxlan.FLAG_I) !== 0;
  const reserved = b[1] === 0 && b[2] === 0 && b[3] === 0 && b[vxlan.field.RESERVED2] === 0 ? 'reserved bytes 0' : 'reserved bytes NOT 0';
  return {
    name: 'VXLAN',
    length: vxlan.HEADER_LEN,
    fields: { hex, flags, iFlag: i, vni },
    summary: `${hex}: flags 0x${flags.toString(16).padStart(2, '0')} (I ${i ? 'set: the VNI is valid' : 'NOT set'}), VNI ${vni}, ${reserved}`,
  };
}

function copyLine(vtep: string, f: UnderlayFacts | null): string {
  if (f === null) return `to ${vtep}: ${notYet(vtep)}`;
  if (f.error !== null) return `to ${vtep}: ${f.error}`;
  return `to ${vtep} via ${f.dev ?? '?'}: Ethernet dst ${neighbourText(f)}`;
}
