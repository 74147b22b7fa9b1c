/**
 * IPv4 header (RFC 791 section 3.1).
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |Version|  IHL  |   DSCP/ECN    |          Total Length         |  bytes 0-3
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |         Identification        |Flags|      Fragment Offset    |  bytes 4-7
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Time to Live |    Protocol   |         Header Checksum       |  bytes 8-11
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                       Source Address                          |  bytes 12-15
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    Destination Address                        |  bytes 16-19
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    Options (IHL > 5)          |    Padding    |  bytes 20..IHL*4
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Version is the high nibble of byte 0, IHL (header length in 32-bit words)
 * the low nibble. Flags are the top 3 bits of bytes 6-7: reserved, DF, MF.
 * The checksum covers the header only (RFC 791: "checksum on the header
 * only"), so it is recomputed by whoever changes a header field.
 *
 * Total Length may be shorter than the Ethernet payload: frames under 60
 * bytes are padded on the wire. The payload ends at Total Length, never at
 * the end of the frame.
 */
import { WireError } from '../errors';
import { formatIpv4, parseIpv4, readIpv4, writeIpv4 } from './addr';
import * as csum from './checksum';

export const field = {
  VER_IHL: 0,
  DSCP_ECN: 1,
  LENGTH: 2,
  IDENT: 4,
  FLG_OFF: 6,
  TTL: 8,
  PROTOCOL: 9,
  CHECKSUM: 10,
  SRC: 12,
  DST: 16,
  OPTIONS: 20,
} as const;

/** The header without options (IHL 5). */
export const HEADER_LEN = field.OPTIONS;
/** IHL is 4 bits of 32-bit words: 15 * 4. */
export const MAX_HEADER_LEN = 60;
export const VERSION = 4;

/** In the 16 bits at FLG_OFF. */
export const FLAG_DF = 0x4000;
export const FLAG_MF = 0x2000;
export const FRAG_OFFSET_MASK = 0x1fff;

export const PROTO_ICMP = 1;
export const PROTO_IGMP = 2;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_ICMPV6 = 58;

const PROTO_NAMES: ReadonlyMap<number, string> = new Map([
  [PROTO_ICMP, 'ICMP'],
  [PROTO_IGMP, 'IGMP'],
  [PROTO_TCP, 'TCP'],
  [PROTO_UDP, 'UDP'],
  [PROTO_ICMPV6, 'ICMPv6'],
]);

/** 'ICMP', 'TCP', 'UDP', ...; unknown protocols print as their number. */
export function protocolName(p: number): string {
  return PROTO_NAMES.get(p) ?? String(p);
}

// ---------------------------------------------------------------------------
// Hot path: no allocation. The caller has checked the header fits.

export function version(buf: Uint8Array, off: number): number { return buf[off + field.VER_IHL]! >>> 4; }
/** Header length in bytes (IHL * 4). */
export function headerLen(buf: Uint8Array, off: number): number { return (buf[off + field.VER_IHL]! & 0x0f) << 2; }
export function totalLen(buf: Uint8Array, off: number): number { return (buf[off + field.LENGTH]! << 8) | buf[off + field.LENGTH + 1]!; }
export function ttl(buf: Uint8Array, off: number): number { return buf[off + field.TTL]!; }
export function protocol(buf: Uint8Array, off: number): number { return buf[off + field.PROTOCOL]!; }
/** Source address, host-order u32. */
export function src(buf: Uint8Array, off: number): number { return readIpv4(buf, off + field.SRC); }
/** Destination address, host-order u32. */
export function dst(buf: Uint8Array, off: number): number { return readIpv4(buf, off + field.DST); }

/** The header checksum the header should carry (its checksum field counted as zero). */
export function computeChecksum(buf: Uint8Array, off: number): number {
  const hl = headerLen(buf, off);
  // Sum around the checksum field instead of zeroing it: the buffer stays untouched.
  const acc = csum.sum(buf, off, field.CHECKSUM);
  return csum.checksum(buf, off + field.CHECKSUM + 2, hl - field.CHECKSUM - 2, acc);
}

/** True when the header checksum is right. */
export function verifyChecksum(buf: Uint8Array, off: number): boolean {
  return csum.verify(buf, off, headerLen(buf, off));
}

/** Computes and writes the header checksum. */
export function fillChecksum(buf: Uint8Array, off: number): void {
  const c = computeChecksum(buf, off);
  buf[off + field.CHECKSUM] = c >>> 8;
  buf[off + field.CHECKSUM + 1] = c & 0xff;
}

// ---------------------------------------------------------------------------
// View

export class Ipv4Packet {
  constructor(readonly buf: Buffer, readonly off: number, readonly len: number) {}

  /**
   * Checks version, IHL, and that header and Total Length fit in len.
   * It does not check the header checksum: a tracer wants to show a packet
   * with a bad checksum, and checksumOk says whether it is.
   */
  static checked(buf: Buffer, off: number, len: number): Ipv4Packet {
    if (off < 0 || len < 0 || off + len > buf.length) {
      throw new WireError(`IPv4 packet at offset ${off} of ${len} bytes runs past the ${buf.length}-byte buffer`);
    }
    if (len < HEADER_LEN) {
      throw new WireError(`IPv4 packet is ${len} bytes, the header needs ${HEADER_LEN} (${HEADER_LEN - len} short)`);
    }
    const p = new Ipv4Packet(buf, off, len);
    if (p.version !== VERSION) throw new WireError(`IPv4 version field is ${p.version}, not ${VERSION}`);
    const hl = p.headerLen;
    if (hl < HEADER_LEN) throw new WireError(`IPv4 IHL is ${hl >>> 2} (${hl} bytes), under the minimum 5 (${HEADER_LEN} bytes)`);
    if (hl > len) throw new WireError(`IPv4 IHL says a ${hl}-byte header, the packet is ${len} bytes (${hl - len} short)`);
    const tl = p.totalLen;
    if (tl < hl) throw new WireError(`IPv4 total length ${tl} is under the header length ${hl}`);
    if (tl > len) throw new WireError(`IPv4 total length ${tl} is over the ${len} bytes present (${tl - len} short)`);
    return p;
  }

  get version(): number { return version(this.buf, this.off); }
  get headerLen(): number { return headerLen(this.buf, this.off); }
  /** Sets version 4 and the IHL for a header of `bytes` bytes (a multiple of 4). */
  setVersionAndHeaderLen(bytes: number): void { this.buf[this.off + field.VER_IHL] = (VERSION << 4) | (bytes >>> 2); }
  get dscpEcn(): number { return this.buf[this.off + field.DSCP_ECN]!; }
  set dscpEcn(v: number) { this.buf[this.off + field.DSCP_ECN] = v; }
  get totalLen(): number { return this.buf.readUInt16BE(this.off + field.LENGTH); }
  set totalLen(v: number) { this.buf.writeUInt16BE(v, this.off + field.LENGTH); }
  get ident(): number { return this.buf.readUInt16BE(this.off + field.IDENT); }
  set ident(v: number) { this.buf.writeUInt16BE(v, this.off + field.IDENT); }
  /** The raw 16 bits of flags and fragment offset. */
  get flagsFragOff(): number { return this.buf.readUInt16BE(this.off + field.FLG_OFF); }
  set flagsFragOff(v: number) { this.buf.writeUInt16BE(v, this.off + field.FLG_OFF); }
  get dontFrag(): boolean { return (this.flagsFragOff & FLAG_DF) !== 0; }
  get moreFrags(): boolean { return (this.flagsFragOff & FLAG_MF) !== 0; }
  /** In 8-byte units, as on the wire. */
  get fragOffset(): number { return this.flagsFragOff & FRAG_OFFSET_MASK; }
  /** True for any piece of a fragmented datagram: its payload is not a whole L4 header + data. */
  get isFragment(): boolean { return (this.flagsFragOff & (FLAG_MF | FRAG_OFFSET_MASK)) !== 0; }
  get ttl(): number { return this.buf[this.off + field.TTL]!; }
  set ttl(v: number) { this.buf[this.off + field.TTL] = v; }
  get protocol(): number { return this.buf[this.off + field.PROTOCOL]!; }
  set protocol(v: number) { this.buf[this.off + field.PROTOCOL] = v; }
  get checksum(): number { return this.buf.readUInt16BE(this.off + field.CHECKSUM); }
  set checksum(v: number) { this.buf.writeUInt16BE(v, this.off + field.CHECKSUM); }
  /** Host-order u32. */
  get src(): number { return readIpv4(this.buf, this.off + field.SRC); }
  set src(ip: number) { writeIpv4(this.buf, this.off + field.SRC, ip); }
  get dst(): number { return readIpv4(this.buf, this.off + field.DST); }
  set dst(ip: number) { writeIpv4(this.buf, this.off + field.DST, ip); }

  /** True when the header checksum is right. */
  get checksumOk(): boolean { return verifyChecksum(this.buf, this.off); }
  fillChecksum(): void { fillChecksum(this.buf, this.off); }

  /** Absolute offset in buf of the payload. */
  get payloadOffset(): number { return this.off + this.headerLen; }
  /** Up to Total Length: Ethernet padding after it is not payload. */
  get payloadLen(): number { return this.totalLen - this.headerLen; }
  get payload(): Buffer { return this.buf.subarray(this.payloadOffset, this.off + this.totalLen); }
  /** Options bytes (empty when IHL is 5), a sub-slice. */
  get options(): Buffer { return this.buf.subarray(this.off + HEADER_LEN, this.off + this.headerLen); }
}

// ---------------------------------------------------------------------------
// Repr

export interface Ipv4Repr {
  src: string;
  dst: string;
  protocol: number;
  ttl: number;
  payloadLen: number;
  dscpEcn?: number;
  ident?: number;
  dontFrag?: boolean;
  moreFrags?: boolean;
  /** In 8-byte units. */
  fragOffset?: number;
  /** Raw options, a multiple of 4 bytes. */
  options?: Buffer;
}

/**
 * Throws WireError on a bad header checksum: a Repr is for code that acts on
 * the packet, and RFC 1122 section 3.2.1.2 says to drop such a datagram.
 * All TTLs are accepted: this switch does not route, so TTL 0 is not ours to judge.
 */
export function parse(p: Ipv4Packet): Ipv4Repr {
  if (!p.checksumOk) {
    throw new WireError(`IPv4 header checksum 0x${p.checksum.toString(16).padStart(4, '0')} is wrong (should be 0x${computeChecksum(p.buf, p.off).toString(16).padStart(4, '0')})`);
  }
  const r: Ipv4Repr = {
    src: formatIpv4(p.src),
    dst: formatIpv4(p.dst),
    protocol: p.protocol,
    ttl: p.ttl,
    payloadLen: p.payloadLen,
    dscpEcn: p.dscpEcn,
    ident: p.ident,
    dontFrag: p.dontFrag,
    moreFrags: p.moreFrags,
    fragOffset: p.fragOffset,
  };
  if (p.headerLen > HEADER_LEN) r.options = Buffer.from(p.options);
  return r;
}

export function bufferLen(r: Ipv4Repr): number {
  return HEADER_LEN + (r.options?.length ?? 0);
}

/** Writes the header (with options and checksum) at buf[off]; returns its length. The payload is the caller's. */
export function emit(r: Ipv4Repr, buf: Buffer, off: number): number {
  const hl = bufferLen(r);
  if (hl % 4 !== 0 || hl > MAX_HEADER_LEN) throw new WireError(`IPv4 options of ${hl - HEADER_LEN} bytes: need a multiple of 4, at most ${MAX_HEADER_LEN - HEADER_LEN}`);
  if (hl + r.payloadLen > 0xffff) throw new WireError(`IPv4 total length ${hl + r.payloadLen} is over 65535`);
  const fragOffset = r.fragOffset ?? 0;
  if (fragOffset > FRAG_OFFSET_MASK) throw new WireError(`IPv4 fragment offset ${fragOffset} is over ${FRAG_OFFSET_MASK}`);
  buf[off + field.VER_IHL] = (VERSION << 4) | (hl >>> 2);
  buf[off + field.DSCP_ECN] = r.dscpEcn ?? 0;
  buf.writeUInt16BE(hl + r.payloadLen, off + field.LENGTH);
  buf.writeUInt16BE(r.ident ?? 0, off + field.IDENT);
  buf.writeUInt16BE((r.dontFrag ? FLAG_DF : 0) | (r.moreFrags ? FLAG_MF : 0) | fragOffset, off + field.FLG_OFF);
  buf[off + field.TTL] = r.ttl;
  buf[off + field.PROTOCOL] = r.protocol;
  buf.writeUInt16BE(0, off + field.CHECKSUM);
  writeIpv4(buf, off + field.SRC, parseIpv4(r.src));
  writeIpv4(buf, off + field.DST, parseIpv4(r.dst));
  if (r.options) r.options.copy(buf, off + HEADER_LEN);
  fillChecksum(buf, off);
  return hl;
}
