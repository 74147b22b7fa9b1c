/**
 * ICMPv6 (RFC 4443) and the two Neighbor Discovery messages a VTEP answers:
 * Neighbor Solicitation and Neighbor Advertisement (RFC 4861 sections 4.3,
 * 4.4), with the link-layer address options (section 4.6.1).
 *
 * Every ICMPv6 message starts with this header (RFC 4443 section 2.1):
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Type (0)    |   Code (1)    |        Checksum (2-3)         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    Message Body (4 on) ...                    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Unlike ICMPv4, the checksum covers the IPv6 pseudo-header too (RFC 4443
 * section 2.3, RFC 8200 section 8.1): source, destination, the ICMPv6
 * length and next header 58. So every checksum function here takes the
 * offsets of the two addresses, normally the IPv6 header in front.
 *
 * The ND functions work on the whole IPv6 packet (`ip` is the offset of its
 * header), because half of RFC 4861's validity checks are about IPv6 fields:
 * hop limit 255, an unspecified source only towards a solicited-node group.
 * ND messages carried behind IPv6 extension headers are not read (next
 * header must be 58 directly): Linux sends none, and a VTEP answering for
 * its peers has no use for them.
 */
import { WireError } from '../errors';
import { formatMac, macKey, parseMac, writeMacKey } from './addr';
import * as csum from './checksum';
import * as ipv6 from './ipv6';

export const field = {
  TYPE: 0,
  CODE: 1,
  CHECKSUM: 2,
  BODY: 4,
} as const;

export const HEADER_LEN = field.BODY;
export const NEXT_HEADER = ipv6.NH_ICMPV6;

export const TYPE_DEST_UNREACHABLE = 1;
export const TYPE_PACKET_TOO_BIG = 2;
export const TYPE_TIME_EXCEEDED = 3;
export const TYPE_PARAMETER_PROBLEM = 4;
export const TYPE_ECHO_REQUEST = 128;
export const TYPE_ECHO_REPLY = 129;
export const TYPE_MLD_QUERY = 130;
export const TYPE_MLD_REPORT = 131;
export const TYPE_MLD_DONE = 132;
export const TYPE_ROUTER_SOLICITATION = 133;
export const TYPE_ROUTER_ADVERTISEMENT = 134;
export const TYPE_NEIGHBOR_SOLICITATION = 135;
export const TYPE_NEIGHBOR_ADVERTISEMENT = 136;
export const TYPE_REDIRECT = 137;
export const TYPE_MLDV2_REPORT = 143;

const TYPE_NAMES: ReadonlyMap<number, string> = new Map([
  [TYPE_DEST_UNREACHABLE, 'dest-unreachable'],
  [TYPE_PACKET_TOO_BIG, 'packet-too-big'],
  [TYPE_TIME_EXCEEDED, 'time-exceeded'],
  [TYPE_PARAMETER_PROBLEM, 'parameter-problem'],
  [TYPE_ECHO_REQUEST, 'echo-request'],
  [TYPE_ECHO_REPLY, 'echo-reply'],
  [TYPE_MLD_QUERY, 'mld-query'],
  [TYPE_MLD_REPORT, 'mld-report'],
  [TYPE_MLD_DONE, 'mld-done'],
  [TYPE_ROUTER_SOLICITATION, 'router-solicitation'],
  [TYPE_ROUTER_ADVERTISEMENT, 'router-advertisement'],
  [TYPE_NEIGHBOR_SOLICITATION, 'neighbor-solicitation'],
  [TYPE_NEIGHBOR_ADVERTISEMENT, 'neighbor-advertisement'],
  [TYPE_REDIRECT, 'redirect'],
  [TYPE_MLDV2_REPORT, 'mldv2-report'],
]);

/** Stable kebab-case names ('neighbor-solicitation', ...); 'type-42' for unknown types. */
export function typeName(type: number): string {
  return TYPE_NAMES.get(type) ?? `type-${type}`;
}

export function isEcho(type: number): boolean {
  return type === TYPE_ECHO_REQUEST || type === TYPE_ECHO_REPLY;
}

export function isNd(type: number): boolean {
  return type === TYPE_NEIGHBOR_SOLICITATION || type === TYPE_NEIGHBOR_ADVERTISEMENT;
}

// ---------------------------------------------------------------------------
// Checksum (hot path: no allocation)

export function type(buf: Uint8Array, off: number): number { return buf[off + field.TYPE]!; }
export function code(buf: Uint8Array, off: number): number { return buf[off + field.CODE]!; }

/**
 * The checksum the message at buf[off..off+len) should carry (its own field
 * counted as zero), with the pseudo-header of the addresses at buf[src] and
 * buf[dst]. Unlike UDP, a computed zero stays zero: ICMPv6 has no "no
 * checksum" value (RFC 4443 section 2.3).
 */
export function computeChecksum(buf: Uint8Array, off: number, len: number, src: number, dst: number): number {
  let acc = csum.pseudoHeaderSumIpv6(buf, src, dst, NEXT_HEADER, len);
  acc = csum.sum(buf, off, field.CHECKSUM, acc);
  return csum.checksum(buf, off + field.CHECKSUM + 2, len - field.CHECKSUM - 2, acc);
}

export function verifyChecksum(buf: Uint8Array, off: number, len: number, src: number, dst: number): boolean {
  return csum.verify(buf, off, len, csum.pseudoHeaderSumIpv6(buf, src, dst, NEXT_HEADER, len));
}

export function fillChecksum(buf: Uint8Array, off: number, len: number, src: number, dst: number): void {
  const c = computeChecksum(buf, off, len, src, dst);
  buf[off + field.CHECKSUM] = c >>> 8;
  buf[off + field.CHECKSUM + 1] = c & 0xff;
}

/** The checksum of an ICMPv6 message right after a 40-byte IPv6 header at buf[ip]. */
export function checksumAfterIpv6(buf: Uint8Array, ip: number, len: number): number {
  return computeChecksum(buf, ip + ipv6.HEADER_LEN, len, ip + ipv6.field.SRC, ip + ipv6.field.DST);
}

// ---------------------------------------------------------------------------
// Neighbor Solicitation and Advertisement (RFC 4861)

/**
 * Neighbor Solicitation (RFC 4861 section 4.3), type 135:
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Type (0)=135 |   Code (1)=0  |        Checksum (2-3)         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                        Reserved (4-7)                         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                                                               |
 * +                                                               +
 * |                   Target Address (8-23)                       |
 * +                                                               +
 * |                                                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Options (24 on) ...
 * +-+-+-+-+-+-+-+-+-+-+-+-
 *
 * Neighbor Advertisement (RFC 4861 section 4.4), type 136: the same layout,
 * with three flags in the first bits of what is Reserved above:
 *
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Type (0)=136 |   Code (1)=0  |        Checksum (2-3)         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |R|S|O|                  Reserved (4-7)                         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                   Target Address (8-23)                       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Options (24 on) ...
 *
 * R (bit 32): the sender is a router. S (bit 33): sent in answer to a
 * solicitation. O (bit 34): override an existing cache entry.
 *
 * Options (section 4.6) are type, length in units of 8 bytes (0 is
 * invalid), then data. The link-layer address options (section 4.6.1) over
 * Ethernet (RFC 2464 section 6) are 8 bytes:
 *
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Type (0)=1|2  |  Length (1)=1 |  Link-Layer Address (2-7) ... |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * type 1: Source Link-Layer Address (in an NS), type 2: Target Link-Layer
 * Address (in an NA).
 */
export const ndField = {
  FLAGS: 4,
  TARGET: 8,
  OPTIONS: 8 + ipv6.ADDR_LEN,
} as const;

/** An NS or NA without options: 24 bytes, the least RFC 4861 section 7.1 accepts. */
export const ND_MIN_LEN = ndField.OPTIONS;
/** The link-layer address options over Ethernet: 8 bytes. */
export const LLA_OPTION_LEN = 8;
/** The NA this switch sends: header, target and a Target Link-Layer Address option. */
export const NA_LEN = ND_MIN_LEN + LLA_OPTION_LEN;
/** ND messages are sent with, and only accepted at, hop limit 255 (RFC 4861 section 7.1): proof they were not routed. */
export const ND_HOP_LIMIT = 255;

export const OPT_SOURCE_LLA = 1;
export const OPT_TARGET_LLA = 2;
/** An option's length byte counts units of this many bytes. */
export const OPTION_UNIT = 8;

/** NA flag bits in byte 4. */
export const NA_FLAG_ROUTER = 0x80;
export const NA_FLAG_SOLICITED = 0x40;
export const NA_FLAG_OVERRIDE = 0x20;

// The RFC 4861 section 7.1.1 / 7.1.2 validity checks, by result: 0 is valid,
// anything else is why not. The numbers and names are stable (the trace and
// error `reason`s print the names).
export const ND_OK = 0;
/** The IPv6 header or its payload length does not fit the bytes there are, or the message is under 24 bytes. */
export const ND_TOO_SHORT = 1;
/** Not an NS or NA (only from the checked constructors). */
export const ND_NOT_ND = 2;
export const ND_HOP_LIMIT_NOT_255 = 3;
export const ND_CODE_NOT_0 = 4;
export const ND_BAD_CHECKSUM = 5;
export const ND_TARGET_MULTICAST = 6;
export const ND_OPTION_ZERO_LENGTH = 7;
/** An option's length runs past the end of the message. */
export const ND_OPTION_OVERRUN = 8;
/** A link-layer address option that is not 8 bytes (Ethernet's, RFC 2464 section 6). */
export const ND_LLA_OPTION_LENGTH = 9;
/** An NS from the unspecified address (duplicate address detection) not sent to a solicited-node group. */
export const ND_DAD_NOT_SOLICITED_NODE = 10;
/** An NS from the unspecified address with a Source Link-Layer Address option. */
export const ND_DAD_WITH_SOURCE_LLA = 11;
/** An NA to a multicast address with the Solicited flag set. */
export const ND_SOLICITED_TO_MULTICAST = 12;

const ND_CHECK_NAMES: readonly string[] = [
  'ok',
  'nd-too-short',
  'nd-not-nd',
  'nd-hop-limit',
  'nd-code',
  'nd-checksum',
  'nd-target-multicast',
  'nd-option-zero-length',
  'nd-option-overrun',
  'nd-lla-option-length',
  'nd-dad-not-solicited-node',
  'nd-dad-with-source-lla',
  'nd-solicited-to-multicast',
];

const ND_CHECK_TEXT: readonly string[] = [
  'valid',
  'shorter than its headers say, or under the 24 bytes of an NS/NA',
  'not a neighbor solicitation or advertisement',
  'hop limit is not 255: it may have come through a router',
  'ICMPv6 code is not 0',
  'the ICMPv6 checksum is wrong',
  'the target address is multicast',
  'an option has length 0',
  'an option runs past the end of the message',
  'a link-layer address option is not 8 bytes long',
  'from the unspecified address (DAD) but not to a solicited-node group',
  'from the unspecified address (DAD) with a source link-layer address option',
  'to a multicast address with the Solicited flag set',
];

/** A stable name for a check result ('nd-hop-limit'), usable as a reason. */
export function ndCheckName(check: number): string {
  return ND_CHECK_NAMES[check] ?? `nd-check-${check}`;
}

/** What a check result means, in a few words, for the trace. */
export function ndCheckText(check: number): string {
  return ND_CHECK_TEXT[check] ?? `check ${check}`;
}

/** An NS or NA that failed a validity check: `reason` is the stable ndCheckName, `check` its number. */
export class NdError extends WireError {
  readonly reason: string;
  constructor(readonly check: number, message: string) {
    super(message);
    this.reason = ndCheckName(check);
  }
}

/** Offset of the ICMPv6 message in an IPv6 packet at buf[ip]. */
function icmpOff(ip: number): number {
  return ip + ipv6.HEADER_LEN;
}

/**
 * The RFC 4861 validity checks (section 7.1.1 for an NS, 7.1.2 for an NA)
 * of the IPv6 packet at buf[ip..ip+len) whose next header is ICMPv6 and type
 * 135 or 136. Returns ND_OK or the first failed check. `len` is what there
 * is of the packet (Ethernet padding may follow; the payload length ends it).
 * No allocation, no exceptions.
 *
 * Checked, in this order: the lengths, the type, hop limit 255, code 0, the
 * checksum, the target not multicast, every option's length non-zero and
 * inside the message (and a link-layer address option 8 bytes), then for an
 * NS from "::" a solicited-node destination and no source link-layer
 * option, and for an NA to a multicast address the Solicited flag clear.
 * Reserved bits are ignored, as the RFC says a receiver must.
 */
export function checkNd(buf: Uint8Array, ip: number, len: number): number {
  if (len < ipv6.HEADER_LEN) return ND_TOO_SHORT;
  const plen = ipv6.payloadLen(buf, ip);
  if (ipv6.HEADER_LEN + plen > len || plen < ND_MIN_LEN) return ND_TOO_SHORT;
  if (ipv6.nextHeader(buf, ip) !== NEXT_HEADER) return ND_NOT_ND;
  const m = icmpOff(ip);
  const t = buf[m + field.TYPE]!;
  if (!isNd(t)) return ND_NOT_ND;
  if (buf[ip + ipv6.field.HOP_LIMIT] !== ND_HOP_LIMIT) return ND_HOP_LIMIT_NOT_255;
  if (buf[m + field.CODE] !== 0) return ND_CODE_NOT_0;
  if (!verifyChecksum(buf, m, plen, ip + ipv6.field.SRC, ip + ipv6.field.DST)) return ND_BAD_CHECKSUM;
  if (ipv6.isMulticastAddr(buf, m + ndField.TARGET)) return ND_TARGET_MULTICAST;
  const end = m + plen;
  let hasSourceLla = false;
  for (let o = m + ndField.OPTIONS; o < end;) {
    if (o + 2 > end) return ND_OPTION_OVERRUN;
    const olen = buf[o + 1]! * OPTION_UNIT;
    if (olen === 0) return ND_OPTION_ZERO_LENGTH;
    if (o + olen > end) return ND_OPTION_OVERRUN;
    const ot = buf[o]!;
    if ((ot === OPT_SOURCE_LLA || ot === OPT_TARGET_LLA) && olen !== LLA_OPTION_LEN) return ND_LLA_OPTION_LENGTH;
    if (ot === OPT_SOURCE_LLA) hasSourceLla = true;
    o += olen;
  }
  if (t === TYPE_NEIGHBOR_SOLICITATION) {
    if (ipv6.isUnspecifiedAddr(buf, ip + ipv6.field.SRC)) {
      if (!ipv6.isSolicitedNode(buf, ip + ipv6.field.DST)) return ND_DAD_NOT_SOLICITED_NODE;
      if (hasSourceLla) return ND_DAD_WITH_SOURCE_LLA;
    }
  } else if (ipv6.isMulticastAddr(buf, ip + ipv6.field.DST) && (buf[m + ndField.FLAGS]! & NA_FLAG_SOLICITED) !== 0) {
    return ND_SOLICITED_TO_MULTICAST;
  }
  return ND_OK;
}

/**
 * The offset of the first option of `optType` in the (valid: checkNd said
 * so) NS or NA in the IPv6 packet at buf[ip], or -1. Its address is at +2.
 */
export function findOption(buf: Uint8Array, ip: number, optType: number): number {
  const m = icmpOff(ip);
  const end = m + ipv6.payloadLen(buf, ip);
  for (let o = m + ndField.OPTIONS; o + 2 <= end;) {
    const olen = buf[o + 1]! * OPTION_UNIT;
    if (olen === 0) return -1;
    if (buf[o] === optType) return o;
    o += olen;
  }
  return -1;
}

/** Offset of the target address of the NS or NA in the IPv6 packet at buf[ip]. */
export function targetOffset(ip: number): number {
  return icmpOff(ip) + ndField.TARGET;
}

/**
 * Writes, at out[o], the IPv6 packet of the Neighbor Advertisement that
 * answers the valid NS in the IPv6 packet at buf[ip], for the NS's target,
 * with `mac` (a 48-bit key) in a Target Link-Layer Address option. Returns
 * its length (72). `out` may be `buf` and `o` may be `ip`: the answer is
 * then written over the question, which is read before it is overwritten.
 * No allocation.
 *
 * RFC 4861 section 7.2.4 and the choices made here:
 * - source: the target address (we answer as its owner would);
 * - destination: the NS's source, or all-nodes ff02::1 when the source is
 *   "::" (duplicate address detection), in which case Solicited is clear;
 * - Solicited set otherwise; Router clear; Override as given (set by the
 *   ND responder, as the kernel vxlan's ND proxy does: the table is the
 *   truth for a peer's address, no real owner on this link competes);
 * - the option is always included (the section allows leaving it out only
 *   for a unicast NS; including it costs nothing and spares a lookup);
 * - hop limit 255, traffic class and flow label 0.
 */
export function emitNaForNs(
  buf: Uint8Array, ip: number, out: Uint8Array, o: number, mac: number, override = true, router = false,
): number {
  const dad = ipv6.isUnspecifiedAddr(buf, ip + ipv6.field.SRC);
  // The destination first: it comes from the NS's source, which the NA's
  // source (the target) overwrites next when out is buf.
  if (dad) copyAddr(ipv6.ALL_NODES, 0, out, o + ipv6.field.DST);
  else copyAddr(buf, ip + ipv6.field.SRC, out, o + ipv6.field.DST);
  copyAddr(buf, targetOffset(ip), out, o + ipv6.field.SRC);
  copyAddr(buf, targetOffset(ip), out, targetOffset(o));
  out[o] = ipv6.VERSION << 4; out[o + 1] = 0; out[o + 2] = 0; out[o + 3] = 0;
  out[o + ipv6.field.PAYLOAD_LEN] = NA_LEN >>> 8; out[o + ipv6.field.PAYLOAD_LEN + 1] = NA_LEN & 0xff;
  out[o + ipv6.field.NEXT_HEADER] = NEXT_HEADER;
  out[o + ipv6.field.HOP_LIMIT] = ND_HOP_LIMIT;
  const m = icmpOff(o);
  out[m + field.TYPE] = TYPE_NEIGHBOR_ADVERTISEMENT;
  out[m + field.CODE] = 0;
  out[m + field.CHECKSUM] = 0; out[m + field.CHECKSUM + 1] = 0;
  out[m + ndField.FLAGS] = (router ? NA_FLAG_ROUTER : 0) | (dad ? 0 : NA_FLAG_SOLICITED) | (override ? NA_FLAG_OVERRIDE : 0);
  out[m + ndField.FLAGS + 1] = 0; out[m + ndField.FLAGS + 2] = 0; out[m + ndField.FLAGS + 3] = 0;
  const opt = m + ndField.OPTIONS;
  out[opt] = OPT_TARGET_LLA;
  out[opt + 1] = LLA_OPTION_LEN / OPTION_UNIT;
  writeMacKey(out, opt + 2, mac);
  fillChecksum(out, m, NA_LEN, o + ipv6.field.SRC, o + ipv6.field.DST);
  return ipv6.HEADER_LEN + NA_LEN;
}

function copyAddr(from: Uint8Array, f: number, to: Uint8Array, t: number): void {
  for (let i = 0; i < ipv6.ADDR_LEN; i++) to[t + i] = from[f + i]!;
}

// ---------------------------------------------------------------------------
// View

/** A view over an ICMPv6 message at buf[off..off+len) (len from the IPv6 payload length). */
export class Icmpv6Packet {
  constructor(readonly buf: Buffer, readonly off: number, readonly len: number) {}

  static checked(buf: Buffer, off: number, len: number): Icmpv6Packet {
    if (off < 0 || len < 0 || off + len > buf.length) {
      throw new WireError(`ICMPv6 message at offset ${off} of ${len} bytes runs past the ${buf.length}-byte buffer`);
    }
    if (len < HEADER_LEN) {
      throw new WireError(`ICMPv6 message is ${len} bytes, the header needs ${HEADER_LEN} (${HEADER_LEN - len} short)`);
    }
    return new Icmpv6Packet(buf, off, len);
  }

  get type(): number { return this.buf[this.off + field.TYPE]!; }
  set type(v: number) { this.buf[this.off + field.TYPE] = v; }
  get code(): number { return this.buf[this.off + field.CODE]!; }
  set code(v: number) { this.buf[this.off + field.CODE] = v; }
  get checksum(): number { return this.buf.readUInt16BE(this.off + field.CHECKSUM); }
  set checksum(v: number) { this.buf.writeUInt16BE(v, this.off + field.CHECKSUM); }
  /** Bytes 4-5 and 6-7 of an echo request or reply (RFC 4443 section 4). */
  get ident(): number { return this.buf.readUInt16BE(this.off + 4); }
  get seq(): number { return this.buf.readUInt16BE(this.off + 6); }
  /** Bytes 4-7 of packet too big (RFC 4443 section 3.2). */
  get mtu(): number { return this.buf.readUInt32BE(this.off + 4); }

  /** The checksum with the pseudo-header of the addresses at buf[src], buf[dst]. */
  checksumOk(src: number, dst: number): boolean { return verifyChecksum(this.buf, this.off, this.len, src, dst); }
  computeChecksum(src: number, dst: number): number { return computeChecksum(this.buf, this.off, this.len, src, dst); }
  fillChecksum(src: number, dst: number): void { fillChecksum(this.buf, this.off, this.len, src, dst); }
}

/**
 * A view over a whole IPv6 packet carrying an NS or NA, at buf[ip..ip+len).
 * Build it with checked() from untrusted bytes: that runs every validity
 * check of checkNd() and throws an NdError naming the first that fails.
 */
export class NdPacket {
  constructor(readonly buf: Buffer, readonly ip: number, readonly len: number) {}

  static checked(buf: Buffer, ip: number, len: number): NdPacket {
    if (ip < 0 || len < 0 || ip + len > buf.length) {
      throw new WireError(`IPv6 packet at offset ${ip} of ${len} bytes runs past the ${buf.length}-byte buffer`);
    }
    const check = checkNd(buf, ip, len);
    if (check !== ND_OK) {
      const p = new NdPacket(buf, ip, len);
      const detail = check === ND_HOP_LIMIT_NOT_255 ? ` (hop limit ${buf[ip + ipv6.field.HOP_LIMIT]})`
        : check === ND_BAD_CHECKSUM ? ` (0x${p.checksum.toString(16).padStart(4, '0')}, should be 0x${checksumAfterIpv6(buf, ip, ipv6.payloadLen(buf, ip)).toString(16).padStart(4, '0')})`
          : check === ND_CODE_NOT_0 ? ` (code ${buf[icmpOff(ip) + field.CODE]})` : '';
      throw new NdError(check, `not a valid neighbor solicitation or advertisement: ${ndCheckText(check)}${detail}`);
    }
    return new NdPacket(buf, ip, len);
  }

  get icmpOffset(): number { return icmpOff(this.ip); }
  get icmpLen(): number { return ipv6.payloadLen(this.buf, this.ip); }
  get type(): number { return this.buf[this.icmpOffset + field.TYPE]!; }
  get isSolicitation(): boolean { return this.type === TYPE_NEIGHBOR_SOLICITATION; }
  get checksum(): number { return this.buf.readUInt16BE(this.icmpOffset + field.CHECKSUM); }
  get hopLimit(): number { return this.buf[this.ip + ipv6.field.HOP_LIMIT]!; }
  get src(): string { return ipv6.formatAddress(this.buf, this.ip + ipv6.field.SRC); }
  get dst(): string { return ipv6.formatAddress(this.buf, this.ip + ipv6.field.DST); }
  get target(): string { return ipv6.formatAddress(this.buf, targetOffset(this.ip)); }
  get flags(): number { return this.buf[this.icmpOffset + ndField.FLAGS]! & (NA_FLAG_ROUTER | NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE); }
  get router(): boolean { return (this.flags & NA_FLAG_ROUTER) !== 0; }
  get solicited(): boolean { return (this.flags & NA_FLAG_SOLICITED) !== 0; }
  get override(): boolean { return (this.flags & NA_FLAG_OVERRIDE) !== 0; }

  /** The MAC in the first link-layer address option of the given type, or undefined. */
  linkLayer(optType: number): string | undefined {
    const o = findOption(this.buf, this.ip, optType);
    return o < 0 ? undefined : formatMac(this.buf, o + 2);
  }
  linkLayerKey(optType: number): number {
    const o = findOption(this.buf, this.ip, optType);
    return o < 0 ? -1 : macKey(this.buf, o + 2);
  }
}

// ---------------------------------------------------------------------------
// Repr: an NS or NA as a plain object, with its IPv6 addresses.

export interface NsRepr {
  kind: 'ns';
  /** IPv6 source: "::" for duplicate address detection. */
  src: string;
  /** IPv6 destination: the target's solicited-node group, or the target itself (a unicast NS). */
  dst: string;
  target: string;
  /** The Source Link-Layer Address option, when present. */
  sourceLinkLayer?: string | undefined;
}

export interface NaRepr {
  kind: 'na';
  src: string;
  dst: string;
  target: string;
  router: boolean;
  solicited: boolean;
  override: boolean;
  /** The Target Link-Layer Address option, when present. */
  targetLinkLayer?: string | undefined;
}

export type NdRepr = NsRepr | NaRepr;

/** Options other than the link-layer ones (a DAD nonce, ...) are not kept. */
export function parse(p: NdPacket): NdRepr {
  if (p.isSolicitation) {
    return { kind: 'ns', src: p.src, dst: p.dst, target: p.target, sourceLinkLayer: p.linkLayer(OPT_SOURCE_LLA) };
  }
  return {
    kind: 'na', src: p.src, dst: p.dst, target: p.target,
    router: p.router, solicited: p.solicited, override: p.override, targetLinkLayer: p.linkLayer(OPT_TARGET_LLA),
  };
}

/** The whole IPv6 packet emit() writes. */
export function bufferLen(r: NdRepr): number {
  const lla = r.kind === 'ns' ? r.sourceLinkLayer : r.targetLinkLayer;
  return ipv6.HEADER_LEN + ND_MIN_LEN + (lla === undefined ? 0 : LLA_OPTION_LEN);
}

/**
 * Writes the whole IPv6 packet (header, hop limit 255, the message, its
 * option, the checksum) at buf[off]; returns its length. Refuses what
 * RFC 4861 forbids a sender, so every emitted message passes checkNd().
 */
export function emit(r: NdRepr, buf: Buffer, off: number): number {
  const len = bufferLen(r);
  const target = ipv6.parseAddress(r.target);
  if (ipv6.isMulticastAddr(target, 0)) throw new NdError(ND_TARGET_MULTICAST, `ND target ${r.target} is multicast`);
  const src = ipv6.parseAddress(r.src);
  const dst = ipv6.parseAddress(r.dst);
  if (r.kind === 'ns' && ipv6.isUnspecifiedAddr(src, 0)) {
    if (!ipv6.isSolicitedNode(dst, 0)) throw new NdError(ND_DAD_NOT_SOLICITED_NODE, `an NS from :: must go to a solicited-node group, not ${r.dst}`);
    if (r.sourceLinkLayer !== undefined) throw new NdError(ND_DAD_WITH_SOURCE_LLA, 'an NS from :: carries no source link-layer address');
  }
  if (r.kind === 'na' && r.solicited && ipv6.isMulticastAddr(dst, 0)) {
    throw new NdError(ND_SOLICITED_TO_MULTICAST, `a solicited NA goes to the soliciting node, not to ${r.dst}`);
  }
  ipv6.emit({ src: r.src, dst: r.dst, nextHeader: NEXT_HEADER, hopLimit: ND_HOP_LIMIT, payloadLen: len - ipv6.HEADER_LEN }, buf, off);
  const m = icmpOff(off);
  buf[m + field.TYPE] = r.kind === 'ns' ? TYPE_NEIGHBOR_SOLICITATION : TYPE_NEIGHBOR_ADVERTISEMENT;
  buf[m + field.CODE] = 0;
  buf.writeUInt16BE(0, m + field.CHECKSUM);
  buf.writeUInt32BE(0, m + ndField.FLAGS);
  if (r.kind === 'na') {
    buf[m + ndField.FLAGS] = (r.router ? NA_FLAG_ROUTER : 0) | (r.solicited ? NA_FLAG_SOLICITED : 0) | (r.override ? NA_FLAG_OVERRIDE : 0);
  }
  target.copy(buf, m + ndField.TARGET);
  const lla = r.kind === 'ns' ? r.sourceLinkLayer : r.targetLinkLayer;
  if (lla !== undefined) {
    const o = m + ndField.OPTIONS;
    buf[o] = r.kind === 'ns' ? OPT_SOURCE_LLA : OPT_TARGET_LLA;
    buf[o + 1] = LLA_OPTION_LEN / OPTION_UNIT;
    parseMac(lla).copy(buf, o + 2);
  }
  fillChecksum(buf, m, len - ipv6.HEADER_LEN, off + ipv6.field.SRC, off + ipv6.field.DST);
  return len;
}
