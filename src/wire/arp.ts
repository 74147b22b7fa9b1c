/**
 * ARP (RFC 826) for Ethernet and IPv4, the only pairing a VTEP answers.
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Hardware type (0-1) = 1     |  Protocol type (2-3) = 0x0800 |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | HW len (4) = 6| Proto len (5)=4|      Operation (6-7)         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |          Sender hardware address (SHA, bytes 8-13)            |
 * +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                               | Sender protocol address (SPA, |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+   bytes 14-17)                +
 * |                               |  Target hardware address      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+  (THA, bytes 18-23)           +
 * |                                                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |          Target protocol address (TPA, bytes 24-27)           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The address offsets hold only for hlen 6 and plen 4: RFC 826 sizes the
 * addresses by those two bytes. Other pairings are kept readable (htype,
 * ptype, hlen, plen, op) but have no address accessors.
 */
import { WireError } from '../errors';
import {
  MAC_LEN, formatIpv4, formatMac, macKey, parseIpv4, parseMac, readIpv4, writeIpv4, writeMacKey,
} from './addr';
import { ETHERTYPE_IPV4 } from './ethernet';

const IPV4_LEN = 4;

/** Start offsets; SHA..TPA hold for Ethernet/IPv4 ARP only. */
export const field = {
  HTYPE: 0,
  PTYPE: 2,
  HLEN: 4,
  PLEN: 5,
  OPER: 6,
  SHA: 8,
  SPA: 8 + MAC_LEN,
  THA: 8 + MAC_LEN + IPV4_LEN,
  TPA: 8 + 2 * MAC_LEN + IPV4_LEN,
  END: 8 + 2 * MAC_LEN + 2 * IPV4_LEN,
} as const;

/** The part every ARP packet has, whatever its address sizes. */
export const FIXED_LEN = field.SHA;
/** Length of an Ethernet/IPv4 ARP packet. */
export const HEADER_LEN = field.END;

export const HTYPE_ETHERNET = 1;
export const PTYPE_IPV4 = ETHERTYPE_IPV4;
export const HLEN_ETHERNET = MAC_LEN;
export const PLEN_IPV4 = IPV4_LEN;

export const OP_REQUEST = 1;
export const OP_REPLY = 2;

/** 'request', 'reply', or the number for anything else (RARP and friends). */
export function opName(op: number): string {
  return op === OP_REQUEST ? 'request' : op === OP_REPLY ? 'reply' : String(op);
}

// ---------------------------------------------------------------------------
// Hot path: no allocation.

/** True when buf[off..off+len) is a whole Ethernet/IPv4 ARP packet, so the address offsets apply. */
export function isEthIpv4(buf: Uint8Array, off: number, len: number): boolean {
  return len >= HEADER_LEN &&
    ((buf[off + field.HTYPE]! << 8) | buf[off + field.HTYPE + 1]!) === HTYPE_ETHERNET &&
    ((buf[off + field.PTYPE]! << 8) | buf[off + field.PTYPE + 1]!) === PTYPE_IPV4 &&
    buf[off + field.HLEN] === HLEN_ETHERNET &&
    buf[off + field.PLEN] === PLEN_IPV4;
}

export function op(buf: Uint8Array, off: number): number {
  return (buf[off + field.OPER]! << 8) | buf[off + field.OPER + 1]!;
}
export function senderMacKey(buf: Uint8Array, off: number): number { return macKey(buf, off + field.SHA); }
export function senderIp(buf: Uint8Array, off: number): number { return readIpv4(buf, off + field.SPA); }
export function targetMacKey(buf: Uint8Array, off: number): number { return macKey(buf, off + field.THA); }
export function targetIp(buf: Uint8Array, off: number): number { return readIpv4(buf, off + field.TPA); }

/**
 * Writes a whole Ethernet/IPv4 ARP packet (e.g. a proxy reply) at buf[off];
 * returns HEADER_LEN. MACs are 48-bit keys, IPs host-order u32s.
 */
export function emitEthIpv4(
  buf: Uint8Array, off: number, oper: number, sha: number, spa: number, tha: number, tpa: number,
): number {
  buf[off + field.HTYPE] = 0; buf[off + field.HTYPE + 1] = HTYPE_ETHERNET;
  buf[off + field.PTYPE] = PTYPE_IPV4 >>> 8; buf[off + field.PTYPE + 1] = PTYPE_IPV4 & 0xff;
  buf[off + field.HLEN] = HLEN_ETHERNET;
  buf[off + field.PLEN] = PLEN_IPV4;
  buf[off + field.OPER] = oper >>> 8; buf[off + field.OPER + 1] = oper & 0xff;
  writeMacKey(buf, off + field.SHA, sha);
  writeIpv4(buf, off + field.SPA, spa);
  writeMacKey(buf, off + field.THA, tha);
  writeIpv4(buf, off + field.TPA, tpa);
  return HEADER_LEN;
}

// ---------------------------------------------------------------------------
// View

export class ArpPacket {
  constructor(readonly buf: Buffer, readonly off: number, readonly len: number) {}

  /**
   * Checks the fixed part and that the addresses, as sized by hlen and plen,
   * fit in len. It does not require Ethernet/IPv4: see isEthIpv4.
   */
  static checked(buf: Buffer, off: number, len: number): ArpPacket {
    if (off < 0 || len < 0 || off + len > buf.length) {
      throw new WireError(`ARP packet at offset ${off} of ${len} bytes runs past the ${buf.length}-byte buffer`);
    }
    if (len < FIXED_LEN) {
      throw new WireError(`ARP packet is ${len} bytes, the fixed part needs ${FIXED_LEN} (${FIXED_LEN - len} short)`);
    }
    const p = new ArpPacket(buf, off, len);
    const need = FIXED_LEN + 2 * p.hlen + 2 * p.plen;
    if (len < need) {
      throw new WireError(`ARP packet is ${len} bytes, hlen ${p.hlen} and plen ${p.plen} need ${need} (${need - len} short)`);
    }
    return p;
  }

  get htype(): number { return this.buf.readUInt16BE(this.off + field.HTYPE); }
  set htype(v: number) { this.buf.writeUInt16BE(v, this.off + field.HTYPE); }
  get ptype(): number { return this.buf.readUInt16BE(this.off + field.PTYPE); }
  set ptype(v: number) { this.buf.writeUInt16BE(v, this.off + field.PTYPE); }
  get hlen(): number { return this.buf[this.off + field.HLEN]!; }
  set hlen(v: number) { this.buf[this.off + field.HLEN] = v; }
  get plen(): number { return this.buf[this.off + field.PLEN]!; }
  set plen(v: number) { this.buf[this.off + field.PLEN] = v; }
  get op(): number { return this.buf.readUInt16BE(this.off + field.OPER); }
  set op(v: number) { this.buf.writeUInt16BE(v, this.off + field.OPER); }

  get isEthIpv4(): boolean { return isEthIpv4(this.buf, this.off, this.len); }

  // Address accessors: Ethernet/IPv4 only (check isEthIpv4 first).
  get sha(): string { return formatMac(this.buf, this.off + field.SHA); }
  set sha(mac: string) { parseMac(mac).copy(this.buf, this.off + field.SHA); }
  get shaKey(): number { return macKey(this.buf, this.off + field.SHA); }
  /** Sender IPv4 address, host-order u32. */
  get spa(): number { return readIpv4(this.buf, this.off + field.SPA); }
  set spa(ip: number) { writeIpv4(this.buf, this.off + field.SPA, ip); }
  get tha(): string { return formatMac(this.buf, this.off + field.THA); }
  set tha(mac: string) { parseMac(mac).copy(this.buf, this.off + field.THA); }
  get thaKey(): number { return macKey(this.buf, this.off + field.THA); }
  /** Target IPv4 address, host-order u32. */
  get tpa(): number { return readIpv4(this.buf, this.off + field.TPA); }
  set tpa(ip: number) { writeIpv4(this.buf, this.off + field.TPA, ip); }
}

// ---------------------------------------------------------------------------
// Repr

/** An Ethernet/IPv4 ARP packet as a plain object; addresses as text. */
export interface ArpRepr {
  op: number;
  sha: string;
  spa: string;
  tha: string;
  tpa: string;
}

/**
 * Throws WireError for other hardware/protocol pairings: this switch only
 * speaks ARP for IPv4 over Ethernet. Any op is kept (a reply to an unknown
 * op is the caller's choice, not the codec's).
 */
export function parse(p: ArpPacket): ArpRepr {
  if (!p.isEthIpv4) {
    throw new WireError(`ARP htype ${p.htype} ptype 0x${p.ptype.toString(16).padStart(4, '0')} hlen ${p.hlen} plen ${p.plen} is not Ethernet/IPv4`);
  }
  return { op: p.op, sha: p.sha, spa: formatIpv4(p.spa), tha: p.tha, tpa: formatIpv4(p.tpa) };
}

export function bufferLen(_r: ArpRepr): number {
  return HEADER_LEN;
}

/** Writes the whole packet at buf[off]; returns HEADER_LEN. */
export function emit(r: ArpRepr, buf: Buffer, off: number): number {
  return emitEthIpv4(
    buf, off, r.op,
    macKey(parseMac(r.sha), 0), parseIpv4(r.spa),
    macKey(parseMac(r.tha), 0), parseIpv4(r.tpa),
  );
}
