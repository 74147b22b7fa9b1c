/**
 * IPv6 fixed header (RFC 8200 section 3). Extension headers are not parsed:
 * the switch forwards IPv6 frames by MAC and only needs to print them.
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |Version| Traffic Class |           Flow Label                  |  bytes 0-3
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |         Payload Length        |  Next Header  |   Hop Limit   |  bytes 4-7
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                                                               |
 * +                   Source Address (bytes 8-23)                 +
 * |                                                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                                                               |
 * +                Destination Address (bytes 24-39)              +
 * |                                                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Version is bits 0-3, Traffic Class bits 4-11, Flow Label bits 12-31.
 * Payload Length counts everything after these 40 bytes, extension headers
 * included; like IPv4's Total Length it ends the packet before any padding.
 */
import { WireError } from '../errors';

export const ADDR_LEN = 16;

export const field = {
  VER_TC_FLOW: 0,
  PAYLOAD_LEN: 4,
  NEXT_HEADER: 6,
  HOP_LIMIT: 7,
  SRC: 8,
  DST: 8 + ADDR_LEN,
  PAYLOAD: 8 + 2 * ADDR_LEN,
} as const;

export const HEADER_LEN = field.PAYLOAD;
export const VERSION = 6;

/** Bit layout of the first 32-bit word. */
const VERSION_SHIFT = 28;
const TC_SHIFT = 20;
const TC_MASK = 0xff;
export const FLOW_LABEL_MASK = 0xfffff;

export const NH_HOPOPT = 0;
export const NH_TCP = 6;
export const NH_UDP = 17;
export const NH_ROUTING = 43;
export const NH_FRAGMENT = 44;
export const NH_ICMPV6 = 58;
export const NH_NONE = 59;
export const NH_DSTOPTS = 60;

const NH_NAMES: ReadonlyMap<number, string> = new Map([
  [NH_HOPOPT, 'HOPOPT'],
  [NH_TCP, 'TCP'],
  [NH_UDP, 'UDP'],
  [NH_ROUTING, 'Routing'],
  [NH_FRAGMENT, 'Fragment'],
  [NH_ICMPV6, 'ICMPv6'],
  [NH_NONE, 'NoNxt'],
  [NH_DSTOPTS, 'DestOpts'],
]);

/** IANA keyword for known next-header values; the number for the rest. */
export function nextHeaderName(nh: number): string {
  return NH_NAMES.get(nh) ?? String(nh);
}

// ---------------------------------------------------------------------------
// Addresses

/**
 * The 16 bytes at buf[off] in RFC 5952 text: lower case, no leading zeros,
 * the longest run of two or more zero groups (the first one on a tie) as
 * "::", and IPv4-mapped addresses as ::ffff:a.b.c.d (section 5).
 */
export function formatAddress(buf: Uint8Array, off = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((buf[off + 2 * i]! << 8) | buf[off + 2 * i + 1]!);
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${buf[off + 12]}.${buf[off + 13]}.${buf[off + 14]}.${buf[off + 15]}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  // RFC 5952 section 4.2.2: a single zero group is not shortened.
  if (bestLen < 2) return g.map((x) => x.toString(16)).join(':');
  const head = g.slice(0, bestStart).map((x) => x.toString(16)).join(':');
  const tail = g.slice(bestStart + bestLen).map((x) => x.toString(16)).join(':');
  return `${head}::${tail}`;
}

/** IPv6 text (with "::" and an optional dotted IPv4 tail) to 16 bytes; throws WireError otherwise. */
export function parseAddress(text: string): Buffer {
  const bad = (why: string): WireError => new WireError(`not an IPv6 address (${why}): ${JSON.stringify(text)}`);
  const halves = text.split('::');
  if (halves.length > 2) throw bad('more than one "::"');
  const groups = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    const items = part.split(':');
    items.forEach((item, i) => {
      if (i === items.length - 1 && item.includes('.')) {
        const q = item.split('.');
        if (q.length !== 4 || !q.every((d) => /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/.test(d))) throw bad(`bad IPv4 tail ${item}`);
        const n = q.map(Number);
        out.push((n[0]! << 8) | n[1]!, (n[2]! << 8) | n[3]!);
        return;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(item)) throw bad(`bad group ${JSON.stringify(item)}`);
      out.push(parseInt(item, 16));
    });
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) throw bad(`${head.length + tail.length} groups`);
  const all = [...head, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...tail];
  const out = Buffer.alloc(ADDR_LEN);
  all.forEach((v, i) => out.writeUInt16BE(v, 2 * i));
  return out;
}

// ---------------------------------------------------------------------------
// Address kinds and multicast mapping: no allocation, for the data plane.

/** ff02::1, all nodes on the link (RFC 4291 section 2.7.1). */
export const ALL_NODES: Readonly<Buffer> = parseAddress('ff02::1');

/** The first 13 bytes of a solicited-node group, ff02::1:ff00:0/104 (RFC 4291 section 2.7.1). */
const SOLICITED_NODE_PREFIX: readonly number[] = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff];

/** True for a multicast address (ff00::/8). */
export function isMulticastAddr(buf: Uint8Array, off: number): boolean {
  return buf[off] === 0xff;
}

/** True for the unspecified address "::". */
export function isUnspecifiedAddr(buf: Uint8Array, off: number): boolean {
  for (let i = 0; i < ADDR_LEN; i++) if (buf[off + i] !== 0) return false;
  return true;
}

/** True when the 16 bytes at a[aOff] and b[bOff] are the same address. */
export function addrEquals(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number): boolean {
  for (let i = 0; i < ADDR_LEN; i++) if (a[aOff + i] !== b[bOff + i]) return false;
  return true;
}

/** True when the address at buf[off] is a solicited-node group, any of ff02::1:ff00:0/104. */
export function isSolicitedNode(buf: Uint8Array, off: number): boolean {
  for (let i = 0; i < SOLICITED_NODE_PREFIX.length; i++) if (buf[off + i] !== SOLICITED_NODE_PREFIX[i]) return false;
  return true;
}

/**
 * Writes the solicited-node group of the address at buf[off] (ff02::1:ff
 * followed by its low 24 bits, RFC 4291 section 2.7.1) at out[outOff]. A node
 * joins it for each of its addresses; a Neighbor Solicitation for the address
 * goes to it (RFC 4861 section 7.2.2).
 */
export function writeSolicitedNode(buf: Uint8Array, off: number, out: Uint8Array, outOff: number): void {
  // The low bytes first: buf and out may be the same bytes.
  out[outOff + 13] = buf[off + 13]!; out[outOff + 14] = buf[off + 14]!; out[outOff + 15] = buf[off + 15]!;
  for (let i = 0; i < SOLICITED_NODE_PREFIX.length; i++) out[outOff + i] = SOLICITED_NODE_PREFIX[i]!;
}

/** The solicited-node group of an address, as a new 16-byte buffer (edges and tests). */
export function solicitedNode(addr: Uint8Array): Buffer {
  const out = Buffer.alloc(ADDR_LEN);
  writeSolicitedNode(addr, 0, out, 0);
  return out;
}

/**
 * The Ethernet MAC of the IPv6 multicast address at buf[off], as a 48-bit
 * key: 33:33 and the address's low 32 bits (RFC 2464 section 7). For a
 * solicited-node group that is 33:33:ff:XX:XX:XX.
 */
export function multicastMacKey(buf: Uint8Array, off: number): number {
  return 0x3333 * 0x1_0000_0000 +
    (((buf[off + 12]! << 24) | (buf[off + 13]! << 16) | (buf[off + 14]! << 8) | buf[off + 15]!) >>> 0);
}

// ---------------------------------------------------------------------------
// Prefixes (RFC 4291 section 2.3): for subnets and their gateways.

/** An IPv6 prefix: `addr` is the network address (host bits zero), 16 bytes. */
export interface Ipv6Cidr {
  readonly addr: Buffer;
  readonly len: number;
}

/** The address at buf[off] with every bit past the first `len` cleared, as a new buffer. */
export function networkOf(buf: Uint8Array, off: number, len: number): Buffer {
  if (!Number.isInteger(len) || len < 0 || len > 128) throw new WireError(`IPv6 prefix length ${len} is outside 0..128`);
  const out = Buffer.alloc(ADDR_LEN);
  for (let i = 0; i < ADDR_LEN; i++) out[i] = buf[off + i]! & byteMask(len, i);
  return out;
}

/** The mask of byte i of a /len prefix. */
function byteMask(len: number, i: number): number {
  const bits = len - 8 * i;
  return bits >= 8 ? 0xff : bits <= 0 ? 0 : (0xff << (8 - bits)) & 0xff;
}

/**
 * "fd00:1::/64" to {addr, len}. As for IPv4 subnets (addr.ts parseCidr),
 * host bits set are an error: a subnet names a network, not a host.
 */
export function parseCidr(text: string): Ipv6Cidr {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (!m) throw new WireError(`not an IPv6 CIDR (addr/len): ${JSON.stringify(text)}`);
  const addr = parseAddress(m[1]!);
  const len = Number(m[2]);
  if (len > 128) throw new WireError(`prefix length ${len} is over 128 in ${JSON.stringify(text)}`);
  const net = networkOf(addr, 0, len);
  if (!net.equals(addr)) {
    throw new WireError(`host bits are set in ${JSON.stringify(text)} (did you mean ${formatAddress(net)}/${len}?)`);
  }
  return { addr, len };
}

export function formatCidr(c: Ipv6Cidr): string {
  return `${formatAddress(c.addr)}/${c.len}`;
}

/** True when the address at buf[off] is inside the prefix. No allocation. */
export function cidrContains(c: Ipv6Cidr, buf: Uint8Array, off = 0): boolean {
  for (let i = 0; i < ADDR_LEN; i++) {
    const m = byteMask(c.len, i);
    if (m === 0) return true;
    if ((buf[off + i]! & m) !== c.addr[i]) return false;
  }
  return true;
}

/**
 * The subnet's own address, `<subnet>::` (host bits all zero): what flannel
 * gives the VTEP device of an IPv6 subnet and routes the peers' subnets via,
 * the counterpart of `<subnet>.0` over IPv4. As text.
 */
export function subnetRouterAddress(c: Ipv6Cidr): string {
  return formatAddress(c.addr);
}

// ---------------------------------------------------------------------------
// Hot path

export function version(buf: Uint8Array, off: number): number { return buf[off + field.VER_TC_FLOW]! >>> 4; }
export function payloadLen(buf: Uint8Array, off: number): number { return (buf[off + field.PAYLOAD_LEN]! << 8) | buf[off + field.PAYLOAD_LEN + 1]!; }
export function nextHeader(buf: Uint8Array, off: number): number { return buf[off + field.NEXT_HEADER]!; }

// ---------------------------------------------------------------------------
// View

export class Ipv6Packet {
  constructor(readonly buf: Buffer, readonly off: number, readonly len: number) {}

  /** Checks version 6 and that the header and Payload Length fit in len. */
  static checked(buf: Buffer, off: number, len: number): Ipv6Packet {
    if (off < 0 || len < 0 || off + len > buf.length) {
      throw new WireError(`IPv6 packet at offset ${off} of ${len} bytes runs past the ${buf.length}-byte buffer`);
    }
    if (len < HEADER_LEN) {
      throw new WireError(`IPv6 packet is ${len} bytes, the header needs ${HEADER_LEN} (${HEADER_LEN - len} short)`);
    }
    const p = new Ipv6Packet(buf, off, len);
    if (p.version !== VERSION) throw new WireError(`IPv6 version field is ${p.version}, not ${VERSION}`);
    const need = HEADER_LEN + p.payloadLen;
    if (need > len) throw new WireError(`IPv6 payload length ${p.payloadLen} needs ${need} bytes, the packet is ${len} (${need - len} short)`);
    return p;
  }

  private get word0(): number { return this.buf.readUInt32BE(this.off + field.VER_TC_FLOW); }
  get version(): number { return this.word0 >>> VERSION_SHIFT; }
  get trafficClass(): number { return (this.word0 >>> TC_SHIFT) & TC_MASK; }
  get flowLabel(): number { return this.word0 & FLOW_LABEL_MASK; }
  /** Writes version 6 with the given traffic class and flow label. */
  setFirstWord(trafficClass: number, flowLabel: number): void {
    const w = ((VERSION << VERSION_SHIFT) | ((trafficClass & TC_MASK) << TC_SHIFT) | (flowLabel & FLOW_LABEL_MASK)) >>> 0;
    this.buf.writeUInt32BE(w, this.off + field.VER_TC_FLOW);
  }
  get payloadLen(): number { return this.buf.readUInt16BE(this.off + field.PAYLOAD_LEN); }
  set payloadLen(v: number) { this.buf.writeUInt16BE(v, this.off + field.PAYLOAD_LEN); }
  get nextHeader(): number { return this.buf[this.off + field.NEXT_HEADER]!; }
  set nextHeader(v: number) { this.buf[this.off + field.NEXT_HEADER] = v; }
  get hopLimit(): number { return this.buf[this.off + field.HOP_LIMIT]!; }
  set hopLimit(v: number) { this.buf[this.off + field.HOP_LIMIT] = v; }
  get src(): string { return formatAddress(this.buf, this.off + field.SRC); }
  set src(a: string) { parseAddress(a).copy(this.buf, this.off + field.SRC); }
  get dst(): string { return formatAddress(this.buf, this.off + field.DST); }
  set dst(a: string) { parseAddress(a).copy(this.buf, this.off + field.DST); }

  /** Absolute offset in buf of what follows the fixed header. */
  get payloadOffset(): number { return this.off + HEADER_LEN; }
  get payload(): Buffer { return this.buf.subarray(this.payloadOffset, this.payloadOffset + this.payloadLen); }
}

// ---------------------------------------------------------------------------
// Repr

export interface Ipv6Repr {
  src: string;
  dst: string;
  nextHeader: number;
  hopLimit: number;
  payloadLen: number;
  trafficClass?: number;
  flowLabel?: number;
}

export function parse(p: Ipv6Packet): Ipv6Repr {
  return {
    src: p.src,
    dst: p.dst,
    nextHeader: p.nextHeader,
    hopLimit: p.hopLimit,
    payloadLen: p.payloadLen,
    trafficClass: p.trafficClass,
    flowLabel: p.flowLabel,
  };
}

export function bufferLen(_r: Ipv6Repr): number {
  return HEADER_LEN;
}

/** Writes the 40-byte header at buf[off]; returns HEADER_LEN. */
export function emit(r: Ipv6Repr, buf: Buffer, off: number): number {
  if (r.payloadLen > 0xffff) throw new WireError(`IPv6 payload length ${r.payloadLen} is over 65535 (jumbograms are not supported)`);
  const p = new Ipv6Packet(buf, off, HEADER_LEN);
  p.setFirstWord(r.trafficClass ?? 0, r.flowLabel ?? 0);
  p.payloadLen = r.payloadLen;
  p.nextHeader = r.nextHeader;
  p.hopLimit = r.hopLimit;
  p.src = r.src;
  p.dst = r.dst;
  return HEADER_LEN;
}
