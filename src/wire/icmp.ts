/**
 * ICMP for IPv4 (RFC 792).
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Type (0)    |   Code (1)    |        Checksum (2-3)         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |      Identifier (4-5)         |    Sequence Number (6-7)      |  echo request/reply
 * |                         unused (4-7)                          |  time exceeded
 * |          unused (4-5)         |    Next-hop MTU (6-7)         |  dest unreachable (RFC 1191)
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Data (8 on): echo data, or the IP header + first 8 bytes of
 * |  the datagram that caused an error
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The checksum covers the whole ICMP message, header and data, with no
 * pseudo-header (unlike UDP and TCP).
 *
 * Like gopacket's ICMPv4 layer, bytes 4-7 are read as identifier and
 * sequence for every type: for the error types they hold "unused" (or the
 * next-hop MTU) and survive a round trip the same way.
 */
import { WireError } from '../errors';
import * as csum from './checksum';

export const field = {
  TYPE: 0,
  CODE: 1,
  CHECKSUM: 2,
  IDENT: 4,
  SEQ: 6,
  /** Same bytes as SEQ, for type 3 code 4 (RFC 1191). */
  NEXT_HOP_MTU: 6,
  DATA: 8,
} as const;

export const HEADER_LEN = field.DATA;

export const TYPE_ECHO_REPLY = 0;
export const TYPE_DEST_UNREACHABLE = 3;
export const TYPE_SOURCE_QUENCH = 4;
export const TYPE_REDIRECT = 5;
export const TYPE_ECHO_REQUEST = 8;
export const TYPE_TIME_EXCEEDED = 11;
export const TYPE_PARAMETER_PROBLEM = 12;

export const CODE_NET_UNREACHABLE = 0;
export const CODE_HOST_UNREACHABLE = 1;
export const CODE_PROTOCOL_UNREACHABLE = 2;
export const CODE_PORT_UNREACHABLE = 3;
export const CODE_FRAG_NEEDED = 4;

export const CODE_TTL_EXCEEDED = 0;
export const CODE_REASSEMBLY_EXCEEDED = 1;

const TYPE_NAMES: ReadonlyMap<number, string> = new Map([
  [TYPE_ECHO_REPLY, 'echo-reply'],
  [TYPE_DEST_UNREACHABLE, 'dest-unreachable'],
  [TYPE_SOURCE_QUENCH, 'source-quench'],
  [TYPE_REDIRECT, 'redirect'],
  [TYPE_ECHO_REQUEST, 'echo-request'],
  [TYPE_TIME_EXCEEDED, 'time-exceeded'],
  [TYPE_PARAMETER_PROBLEM, 'parameter-problem'],
]);

/** Destination unreachable codes, RFC 792 and RFC 1122 section 3.2.2.1, RFC 1812 section 5.2.7.1. */
const UNREACHABLE_CODE_NAMES: readonly string[] = [
  'net-unreachable',
  'host-unreachable',
  'protocol-unreachable',
  'port-unreachable',
  'fragmentation-needed',
  'source-route-failed',
  'net-unknown',
  'host-unknown',
  'source-host-isolated',
  'net-prohibited',
  'host-prohibited',
  'net-unreachable-for-tos',
  'host-unreachable-for-tos',
  'communication-prohibited',
  'host-precedence-violation',
  'precedence-cutoff',
];

const TIME_EXCEEDED_CODE_NAMES: readonly string[] = ['ttl-exceeded', 'reassembly-exceeded'];

/** Stable kebab-case names ('echo-request', ...); 'type-42' for unknown types. */
export function typeName(type: number): string {
  return TYPE_NAMES.get(type) ?? `type-${type}`;
}

/** A name for the code where the type defines codes ('port-unreachable'); 'code-N' otherwise. */
export function codeName(type: number, code: number): string {
  const names = type === TYPE_DEST_UNREACHABLE ? UNREACHABLE_CODE_NAMES
    : type === TYPE_TIME_EXCEEDED ? TIME_EXCEEDED_CODE_NAMES : undefined;
  return names?.[code] ?? `code-${code}`;
}

export function isEcho(type: number): boolean {
  return type === TYPE_ECHO_REQUEST || type === TYPE_ECHO_REPLY;
}

// ---------------------------------------------------------------------------
// Hot path

export function type(buf: Uint8Array, off: number): number { return buf[off + field.TYPE]!; }
export function code(buf: Uint8Array, off: number): number { return buf[off + field.CODE]!; }

/** The checksum the message at buf[off..off+len) should carry (its field counted as zero). */
export function computeChecksum(buf: Uint8Array, off: number, len: number): number {
  const acc = csum.sum(buf, off, field.CHECKSUM);
  return csum.checksum(buf, off + field.CHECKSUM + 2, len - field.CHECKSUM - 2, acc);
}

export function verifyChecksum(buf: Uint8Array, off: number, len: number): boolean {
  return csum.verify(buf, off, len);
}

export function fillChecksum(buf: Uint8Array, off: number, len: number): void {
  const c = computeChecksum(buf, off, len);
  buf[off + field.CHECKSUM] = c >>> 8;
  buf[off + field.CHECKSUM + 1] = c & 0xff;
}

// ---------------------------------------------------------------------------
// View

/** A view over a whole ICMP message: len is the IPv4 payload length. */
export class IcmpPacket {
  constructor(readonly buf: Buffer, readonly off: number, readonly len: number) {}

  static checked(buf: Buffer, off: number, len: number): IcmpPacket {
    if (off < 0 || len < 0 || off + len > buf.length) {
      throw new WireError(`ICMP message at offset ${off} of ${len} bytes runs past the ${buf.length}-byte buffer`);
    }
    if (len < HEADER_LEN) {
      throw new WireError(`ICMP message is ${len} bytes, the header needs ${HEADER_LEN} (${HEADER_LEN - len} short)`);
    }
    return new IcmpPacket(buf, off, len);
  }

  get type(): number { return this.buf[this.off + field.TYPE]!; }
  set type(v: number) { this.buf[this.off + field.TYPE] = v; }
  get code(): number { return this.buf[this.off + field.CODE]!; }
  set code(v: number) { this.buf[this.off + field.CODE] = v; }
  get checksum(): number { return this.buf.readUInt16BE(this.off + field.CHECKSUM); }
  set checksum(v: number) { this.buf.writeUInt16BE(v, this.off + field.CHECKSUM); }
  get ident(): number { return this.buf.readUInt16BE(this.off + field.IDENT); }
  set ident(v: number) { this.buf.writeUInt16BE(v, this.off + field.IDENT); }
  get seq(): number { return this.buf.readUInt16BE(this.off + field.SEQ); }
  set seq(v: number) { this.buf.writeUInt16BE(v, this.off + field.SEQ); }
  get nextHopMtu(): number { return this.buf.readUInt16BE(this.off + field.NEXT_HOP_MTU); }

  get checksumOk(): boolean { return verifyChecksum(this.buf, this.off, this.len); }
  fillChecksum(): void { fillChecksum(this.buf, this.off, this.len); }

  get dataOffset(): number { return this.off + HEADER_LEN; }
  get dataLen(): number { return this.len - HEADER_LEN; }
  get data(): Buffer { return this.buf.subarray(this.dataOffset, this.off + this.len); }
}

// ---------------------------------------------------------------------------
// Repr

export interface IcmpRepr {
  type: number;
  code: number;
  /** Bytes 4-5: the echo identifier; raw "unused" bits for other types. */
  ident: number;
  /** Bytes 6-7: the echo sequence; raw bits (or next-hop MTU) for other types. */
  seq: number;
  data: Buffer;
}

/** Throws WireError on a bad checksum (RFC 1122 section 3.2.2: silently discard). Copies the data. */
export function parse(p: IcmpPacket): IcmpRepr {
  if (!p.checksumOk) {
    throw new WireError(`ICMP checksum 0x${p.checksum.toString(16).padStart(4, '0')} is wrong (should be 0x${computeChecksum(p.buf, p.off, p.len).toString(16).padStart(4, '0')})`);
  }
  return { type: p.type, code: p.code, ident: p.ident, seq: p.seq, data: Buffer.from(p.data) };
}

/** Header and data: emit() writes the whole message. */
export function bufferLen(r: IcmpRepr): number {
  return HEADER_LEN + r.data.length;
}

/** Writes the whole message with its checksum at buf[off]; returns its length. */
export function emit(r: IcmpRepr, buf: Buffer, off: number): number {
  const len = bufferLen(r);
  buf[off + field.TYPE] = r.type;
  buf[off + field.CODE] = r.code;
  buf.writeUInt16BE(0, off + field.CHECKSUM);
  buf.writeUInt16BE(r.ident, off + field.IDENT);
  buf.writeUInt16BE(r.seq, off + field.SEQ);
  r.data.copy(buf, off + HEADER_LEN);
  fillChecksum(buf, off, len);
  return len;
}
