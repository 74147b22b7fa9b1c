/**
 * UDP header (RFC 768).
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |      Source Port (0-1)        |    Destination Port (2-3)     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |         Length (4-5)          |        Checksum (6-7)         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Data (8 on) ...
 * +-+-+-+-+-+-+-+-+
 *
 * Length counts header and data. Over IPv4 a zero checksum means "none
 * computed" (RFC 768), which is what VXLAN senders normally put in the
 * outer header (RFC 7348 section 5: "SHOULD be transmitted as zero");
 * a computed checksum of zero is therefore sent as 0xffff.
 */
import { WireError } from '../errors';
import * as csum from './checksum';

export const field = {
  SRC_PORT: 0,
  DST_PORT: 2,
  LENGTH: 4,
  CHECKSUM: 6,
  PAYLOAD: 8,
} as const;

export const HEADER_LEN = field.PAYLOAD;
export const IPPROTO_UDP = 17;

// ---------------------------------------------------------------------------
// Hot path

export function srcPort(buf: Uint8Array, off: number): number { return (buf[off + field.SRC_PORT]! << 8) | buf[off + field.SRC_PORT + 1]!; }
export function dstPort(buf: Uint8Array, off: number): number { return (buf[off + field.DST_PORT]! << 8) | buf[off + field.DST_PORT + 1]!; }
export function length(buf: Uint8Array, off: number): number { return (buf[off + field.LENGTH]! << 8) | buf[off + field.LENGTH + 1]!; }

/** Writes the 8-byte header at buf[off]; `length` is header + payload. Returns HEADER_LEN. */
export function emitHeader(
  buf: Uint8Array, off: number, srcPort: number, dstPort: number, length: number, checksum = 0,
): number {
  buf[off + field.SRC_PORT] = srcPort >>> 8; buf[off + field.SRC_PORT + 1] = srcPort & 0xff;
  buf[off + field.DST_PORT] = dstPort >>> 8; buf[off + field.DST_PORT + 1] = dstPort & 0xff;
  buf[off + field.LENGTH] = length >>> 8; buf[off + field.LENGTH + 1] = length & 0xff;
  buf[off + field.CHECKSUM] = checksum >>> 8; buf[off + field.CHECKSUM + 1] = checksum & 0xff;
  return HEADER_LEN;
}

/**
 * The checksum for the datagram buf[off..off+len) over IPv4 (header
 * included, its checksum field counted as zero), with the pseudo-header of
 * src and dst (host-order u32s). Returns 0xffff for a computed zero, since 0
 * on the wire means "no checksum".
 */
export function checksumIpv4(buf: Uint8Array, off: number, len: number, src: number, dst: number): number {
  let acc = csum.pseudoHeaderSumIpv4(src, dst, IPPROTO_UDP, len);
  acc = csum.sum(buf, off, field.CHECKSUM, acc);
  const c = csum.checksum(buf, off + HEADER_LEN, len - HEADER_LEN, acc);
  return c === 0 ? 0xffff : c;
}

/** True when the checksum is absent (0) or right. */
export function verifyChecksumIpv4(buf: Uint8Array, off: number, len: number, src: number, dst: number): boolean {
  const stored = (buf[off + field.CHECKSUM]! << 8) | buf[off + field.CHECKSUM + 1]!;
  if (stored === 0) return true;
  return csum.verify(buf, off, len, csum.pseudoHeaderSumIpv4(src, dst, IPPROTO_UDP, len));
}

/**
 * The checksum for the datagram buf[off..off+len) over IPv6, with the
 * pseudo-header of the addresses at buf[src..src+16) and buf[dst..dst+16)
 * (normally the IPv6 header in front). Over IPv6 the checksum is mandatory
 * (RFC 8200 section 8.1): a computed zero is sent as 0xffff. RFC 6935 lets a
 * tunnel send zero instead; we never do (the kernel's `udp6zerocsumtx` is off
 * by default too). No allocation.
 */
export function checksumIpv6(buf: Uint8Array, off: number, len: number, src: number, dst: number): number {
  let acc = csum.pseudoHeaderSumIpv6(buf, src, dst, IPPROTO_UDP, len);
  acc = csum.sum(buf, off, field.CHECKSUM, acc);
  const c = csum.checksum(buf, off + HEADER_LEN, len - HEADER_LEN, acc);
  return c === 0 ? 0xffff : c;
}

/** Computes checksumIpv6 and writes it into the datagram's checksum field. */
export function fillChecksumIpv6(buf: Uint8Array, off: number, len: number, src: number, dst: number): void {
  const c = checksumIpv6(buf, off, len, src, dst);
  buf[off + field.CHECKSUM] = c >>> 8;
  buf[off + field.CHECKSUM + 1] = c & 0xff;
}

/**
 * True when the datagram's checksum over IPv6 is right. A zero checksum is
 * refused unless `acceptZero`: RFC 8200 section 8.1 says a receiver discards
 * it, and RFC 6936 section 5 allows zero only on a tunnel port configured
 * for it (the kernel's `udp6zerocsumrx`, off by default).
 */
export function verifyChecksumIpv6(buf: Uint8Array, off: number, len: number, src: number, dst: number, acceptZero = false): boolean {
  const stored = (buf[off + field.CHECKSUM]! << 8) | buf[off + field.CHECKSUM + 1]!;
  if (stored === 0) return acceptZero;
  return csum.verify(buf, off, len, csum.pseudoHeaderSumIpv6(buf, src, dst, IPPROTO_UDP, len));
}

// ---------------------------------------------------------------------------
// View

/** A view over a datagram; len is what the IP layer holds (the Length field may be less). */
export class UdpPacket {
  constructor(readonly buf: Buffer, readonly off: number, readonly len: number) {}

  /** Checks the header fits and that Length is within [HEADER_LEN, len]. */
  static checked(buf: Buffer, off: number, len: number): UdpPacket {
    if (off < 0 || len < 0 || off + len > buf.length) {
      throw new WireError(`UDP datagram at offset ${off} of ${len} bytes runs past the ${buf.length}-byte buffer`);
    }
    if (len < HEADER_LEN) {
      throw new WireError(`UDP datagram is ${len} bytes, the header needs ${HEADER_LEN} (${HEADER_LEN - len} short)`);
    }
    const p = new UdpPacket(buf, off, len);
    const l = p.length;
    if (l < HEADER_LEN) throw new WireError(`UDP length field ${l} is under the header length ${HEADER_LEN}`);
    if (l > len) throw new WireError(`UDP length field ${l} is over the ${len} bytes present (${l - len} short)`);
    return p;
  }

  get srcPort(): number { return this.buf.readUInt16BE(this.off + field.SRC_PORT); }
  set srcPort(v: number) { this.buf.writeUInt16BE(v, this.off + field.SRC_PORT); }
  get dstPort(): number { return this.buf.readUInt16BE(this.off + field.DST_PORT); }
  set dstPort(v: number) { this.buf.writeUInt16BE(v, this.off + field.DST_PORT); }
  get length(): number { return this.buf.readUInt16BE(this.off + field.LENGTH); }
  set length(v: number) { this.buf.writeUInt16BE(v, this.off + field.LENGTH); }
  get checksum(): number { return this.buf.readUInt16BE(this.off + field.CHECKSUM); }
  set checksum(v: number) { this.buf.writeUInt16BE(v, this.off + field.CHECKSUM); }

  get payloadOffset(): number { return this.off + HEADER_LEN; }
  /** From the Length field. */
  get payloadLen(): number { return this.length - HEADER_LEN; }
  get payload(): Buffer { return this.buf.subarray(this.payloadOffset, this.off + this.length); }
}

// ---------------------------------------------------------------------------
// Repr

/**
 * A UDP header. The checksum is kept raw rather than recomputed: emit()
 * writes what the Repr says, and checksumIpv4() computes one when wanted
 * (the outer VXLAN header carries zero, and captures made before checksum
 * offload carry a partial sum that must survive a round trip).
 */
export interface UdpRepr {
  srcPort: number;
  dstPort: number;
  payloadLen: number;
  checksum: number;
}

export function parse(p: UdpPacket): UdpRepr {
  return { srcPort: p.srcPort, dstPort: p.dstPort, payloadLen: p.payloadLen, checksum: p.checksum };
}

export function bufferLen(_r: UdpRepr): number {
  return HEADER_LEN;
}

/** Writes the header at buf[off]; returns HEADER_LEN. The payload is the caller's. */
export function emit(r: UdpRepr, buf: Buffer, off: number): number {
  const l = HEADER_LEN + r.payloadLen;
  if (l > 0xffff) throw new WireError(`UDP length ${l} is over 65535`);
  return emitHeader(buf, off, r.srcPort, r.dstPort, l, r.checksum);
}
