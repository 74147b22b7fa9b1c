/**
 * TCP header (RFC 9293 section 3.1). The switch never terminates TCP; it
 * reads headers to trace them and, one day, to clamp MSS.
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |       Source Port (0-1)       |   Destination Port (2-3)      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    Sequence Number (4-7)                      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                 Acknowledgment Number (8-11)                  |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Data |       |C|E|U|A|P|R|S|F|                               |
 * | Offset| Rsrvd |W|C|R|C|S|S|Y|I|       Window (14-15)          |
 * | (12)  |       |R|E|G|K|H|T|N|N|                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |        Checksum (16-17)       |    Urgent Pointer (18-19)     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |               Options (20 .. Data Offset * 4)                 |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Data Offset (high nibble of byte 12) is the header length in 32-bit
 * words. Byte 13 holds the eight flags, FIN in the lowest bit. The low
 * nibble of byte 12 is reserved (its last bit was RFC 3540's NS, now
 * historic) and is kept raw.
 */
import { WireError } from '../errors';
import * as csum from './checksum';

export const field = {
  SRC_PORT: 0,
  DST_PORT: 2,
  SEQ: 4,
  ACK: 8,
  DATA_OFF: 12,
  FLAGS: 13,
  WINDOW: 14,
  CHECKSUM: 16,
  URGENT: 18,
  OPTIONS: 20,
} as const;

/** Header without options. */
export const HEADER_LEN = field.OPTIONS;
/** Data Offset is 4 bits of 32-bit words. */
export const MAX_HEADER_LEN = 60;
export const IPPROTO_TCP = 6;

export const FLAG_FIN = 0x01;
export const FLAG_SYN = 0x02;
export const FLAG_RST = 0x04;
export const FLAG_PSH = 0x08;
export const FLAG_ACK = 0x10;
export const FLAG_URG = 0x20;
export const FLAG_ECE = 0x40;
export const FLAG_CWR = 0x80;

/** In bit order, lowest first: that is the order flagsToString prints. */
const FLAG_NAMES: readonly (readonly [number, string])[] = [
  [FLAG_FIN, 'FIN'], [FLAG_SYN, 'SYN'], [FLAG_RST, 'RST'], [FLAG_PSH, 'PSH'],
  [FLAG_ACK, 'ACK'], [FLAG_URG, 'URG'], [FLAG_ECE, 'ECE'], [FLAG_CWR, 'CWR'],
];

/** "SYN,ACK", "PSH,ACK", "FIN,ACK"; '' for no flags. */
export function flagsToString(flags: number): string {
  let s = '';
  for (const [bit, name] of FLAG_NAMES) if (flags & bit) s += (s ? ',' : '') + name;
  return s;
}

// ---------------------------------------------------------------------------
// Hot path

export function srcPort(buf: Uint8Array, off: number): number { return (buf[off + field.SRC_PORT]! << 8) | buf[off + field.SRC_PORT + 1]!; }
export function dstPort(buf: Uint8Array, off: number): number { return (buf[off + field.DST_PORT]! << 8) | buf[off + field.DST_PORT + 1]!; }
export function flags(buf: Uint8Array, off: number): number { return buf[off + field.FLAGS]!; }
/** Header length in bytes (Data Offset * 4). */
export function headerLen(buf: Uint8Array, off: number): number { return (buf[off + field.DATA_OFF]! >>> 4) << 2; }

/** The checksum for the segment buf[off..off+len) over IPv4, its field counted as zero. */
export function checksumIpv4(buf: Uint8Array, off: number, len: number, src: number, dst: number): number {
  let acc = csum.pseudoHeaderSumIpv4(src, dst, IPPROTO_TCP, len);
  acc = csum.sum(buf, off, field.CHECKSUM, acc);
  return csum.checksum(buf, off + field.CHECKSUM + 2, len - field.CHECKSUM - 2, acc);
}

export function verifyChecksumIpv4(buf: Uint8Array, off: number, len: number, src: number, dst: number): boolean {
  return csum.verify(buf, off, len, csum.pseudoHeaderSumIpv4(src, dst, IPPROTO_TCP, len));
}

// ---------------------------------------------------------------------------
// View

/** A view over a segment; len is the IP payload length (TCP has no length field of its own). */
export class TcpPacket {
  constructor(readonly buf: Buffer, readonly off: number, readonly len: number) {}

  static checked(buf: Buffer, off: number, len: number): TcpPacket {
    if (off < 0 || len < 0 || off + len > buf.length) {
      throw new WireError(`TCP segment at offset ${off} of ${len} bytes runs past the ${buf.length}-byte buffer`);
    }
    if (len < HEADER_LEN) {
      throw new WireError(`TCP segment is ${len} bytes, the header needs ${HEADER_LEN} (${HEADER_LEN - len} short)`);
    }
    const p = new TcpPacket(buf, off, len);
    const hl = p.headerLen;
    if (hl < HEADER_LEN) throw new WireError(`TCP data offset is ${hl >>> 2} (${hl} bytes), under the minimum 5 (${HEADER_LEN} bytes)`);
    if (hl > len) throw new WireError(`TCP data offset says a ${hl}-byte header, the segment is ${len} bytes (${hl - len} short)`);
    return p;
  }

  get srcPort(): number { return this.buf.readUInt16BE(this.off + field.SRC_PORT); }
  set srcPort(v: number) { this.buf.writeUInt16BE(v, this.off + field.SRC_PORT); }
  get dstPort(): number { return this.buf.readUInt16BE(this.off + field.DST_PORT); }
  set dstPort(v: number) { this.buf.writeUInt16BE(v, this.off + field.DST_PORT); }
  get seq(): number { return this.buf.readUInt32BE(this.off + field.SEQ); }
  set seq(v: number) { this.buf.writeUInt32BE(v >>> 0, this.off + field.SEQ); }
  get ack(): number { return this.buf.readUInt32BE(this.off + field.ACK); }
  set ack(v: number) { this.buf.writeUInt32BE(v >>> 0, this.off + field.ACK); }
  get headerLen(): number { return headerLen(this.buf, this.off); }
  /** Sets Data Offset for a header of `bytes` bytes (a multiple of 4), keeping the reserved bits. */
  set headerLen(bytes: number) {
    const i = this.off + field.DATA_OFF;
    this.buf[i] = ((bytes >>> 2) << 4) | (this.buf[i]! & 0x0f);
  }
  /** The low nibble of byte 12 (reserved; NS was its last bit). */
  get reserved(): number { return this.buf[this.off + field.DATA_OFF]! & 0x0f; }
  get flags(): number { return this.buf[this.off + field.FLAGS]!; }
  set flags(v: number) { this.buf[this.off + field.FLAGS] = v; }
  get window(): number { return this.buf.readUInt16BE(this.off + field.WINDOW); }
  set window(v: number) { this.buf.writeUInt16BE(v, this.off + field.WINDOW); }
  get checksum(): number { return this.buf.readUInt16BE(this.off + field.CHECKSUM); }
  set checksum(v: number) { this.buf.writeUInt16BE(v, this.off + field.CHECKSUM); }
  get urgent(): number { return this.buf.readUInt16BE(this.off + field.URGENT); }
  set urgent(v: number) { this.buf.writeUInt16BE(v, this.off + field.URGENT); }

  get fin(): boolean { return (this.flags & FLAG_FIN) !== 0; }
  get syn(): boolean { return (this.flags & FLAG_SYN) !== 0; }
  get rst(): boolean { return (this.flags & FLAG_RST) !== 0; }
  get psh(): boolean { return (this.flags & FLAG_PSH) !== 0; }
  get ackFlag(): boolean { return (this.flags & FLAG_ACK) !== 0; }

  get options(): Buffer { return this.buf.subarray(this.off + HEADER_LEN, this.off + this.headerLen); }
  get payloadOffset(): number { return this.off + this.headerLen; }
  get payloadLen(): number { return this.len - this.headerLen; }
  get payload(): Buffer { return this.buf.subarray(this.payloadOffset, this.off + this.len); }
}

// ---------------------------------------------------------------------------
// Repr

/**
 * A TCP header, checksum raw (as UDP's Repr, for round trips; checksumIpv4
 * computes one). Options are kept as raw bytes, not parsed.
 */
export interface TcpRepr {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  checksum: number;
  urgent: number;
  options: Buffer;
  payloadLen: number;
}

export function parse(p: TcpPacket): TcpRepr {
  return {
    srcPort: p.srcPort, dstPort: p.dstPort, seq: p.seq, ack: p.ack, flags: p.flags,
    window: p.window, checksum: p.checksum, urgent: p.urgent,
    options: Buffer.from(p.options), payloadLen: p.payloadLen,
  };
}

export function bufferLen(r: TcpRepr): number {
  return HEADER_LEN + r.options.length;
}

/** Writes the header with options at buf[off]; returns its length. The payload is the caller's. */
export function emit(r: TcpRepr, buf: Buffer, off: number): number {
  const hl = bufferLen(r);
  if (hl % 4 !== 0 || hl > MAX_HEADER_LEN) throw new WireError(`TCP options of ${r.options.length} bytes: need a multiple of 4, at most ${MAX_HEADER_LEN - HEADER_LEN}`);
  buf.writeUInt16BE(r.srcPort, off + field.SRC_PORT);
  buf.writeUInt16BE(r.dstPort, off + field.DST_PORT);
  buf.writeUInt32BE(r.seq >>> 0, off + field.SEQ);
  buf.writeUInt32BE(r.ack >>> 0, off + field.ACK);
  buf[off + field.DATA_OFF] = (hl >>> 2) << 4;
  buf[off + field.FLAGS] = r.flags;
  buf.writeUInt16BE(r.window, off + field.WINDOW);
  buf.writeUInt16BE(r.checksum, off + field.CHECKSUM);
  buf.writeUInt16BE(r.urgent, off + field.URGENT);
  r.options.copy(buf, off + HEADER_LEN);
  return hl;
}
