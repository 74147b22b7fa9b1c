/**
 * Ethernet II frames (IEEE 802.3 with an EtherType), with at most one
 * IEEE 802.1Q VLAN tag.
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                 Destination MAC (bytes 0-5)                   |
 * +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                               |  Source MAC (bytes 6-11)      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
 * |                                                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   EtherType (bytes 12-13)     |  Payload (byte 14 on) ...
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * With an 802.1Q tag the EtherType slot holds the TPID 0x8100, then comes
 * the tag control information, then the real EtherType:
 *
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   TPID 0x8100 (bytes 12-13)   | PCP |D|  VID (bytes 14-15)    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   EtherType (bytes 16-17)     |  Payload (byte 18 on) ...
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * PCP is the 3-bit priority (bits 0-2 of the TCI), D the drop eligible
 * indicator (bit 3), VID the 12-bit VLAN id (bits 4-15).
 *
 * The frame check sequence is not here: TAP devices and pcap files hand us
 * frames without it.
 */
import { WireError } from '../errors';
import { MAC_LEN, formatMac, macKey, parseMac, writeMacKey } from './addr';

/** Start offsets of the untagged header's fields. */
export const field = {
  DST: 0,
  SRC: MAC_LEN,
  ETHERTYPE: 2 * MAC_LEN,
  PAYLOAD: 2 * MAC_LEN + 2,
} as const;

/** Start offsets with one 802.1Q tag. */
export const vlanField = {
  TPID: field.ETHERTYPE,
  TCI: field.ETHERTYPE + 2,
  ETHERTYPE: field.ETHERTYPE + 4,
  PAYLOAD: field.ETHERTYPE + 6,
} as const;

export const HEADER_LEN = field.PAYLOAD;
/** Header length with one 802.1Q tag. */
export const VLAN_HEADER_LEN = vlanField.PAYLOAD;
/** Bytes one 802.1Q tag adds. */
export const VLAN_TAG_LEN = VLAN_HEADER_LEN - HEADER_LEN;

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_IPV6 = 0x86dd;
/** 802.1ad outer tag (QinQ). Named for printing; not skipped by etherType(). */
export const ETHERTYPE_QINQ = 0x88a8;

/** TCI bit fields (IEEE 802.1Q section 9.6). */
export const TCI_PCP_SHIFT = 13;
export const TCI_DEI = 0x1000;
export const TCI_VID_MASK = 0x0fff;

/** The I/G bit: the lowest bit of the first byte of a MAC says group (multicast) address. */
export const IG_BIT = 0x01;

export const BROADCAST = 'ff:ff:ff:ff:ff:ff';
export const BROADCAST_KEY = 0xffff_ffff_ffff;

const ETHERTYPE_NAMES: ReadonlyMap<number, string> = new Map([
  [ETHERTYPE_IPV4, 'IPv4'],
  [ETHERTYPE_ARP, 'ARP'],
  [ETHERTYPE_VLAN, '802.1Q'],
  [ETHERTYPE_IPV6, 'IPv6'],
  [ETHERTYPE_QINQ, '802.1ad'],
]);

/** 'IPv4', 'ARP', ... for known EtherTypes; '0x1234' for the rest, so unknown values survive printing. */
export function etherTypeName(t: number): string {
  return ETHERTYPE_NAMES.get(t) ?? hex16(t);
}

function hex16(v: number): string {
  return '0x' + v.toString(16).padStart(4, '0');
}

// ---------------------------------------------------------------------------
// Hot path: plain functions over (buf, off). The caller has checked that the
// frame is at least HEADER_LEN bytes; nothing here allocates.

/**
 * The EtherType of the payload: the one after an 802.1Q tag when the frame
 * has one. A tagged frame needs VLAN_HEADER_LEN bytes; compare l3Offset()
 * with the frame length before reading the payload.
 */
export function etherType(buf: Uint8Array, off: number): number {
  const t = (buf[off + field.ETHERTYPE]! << 8) | buf[off + field.ETHERTYPE + 1]!;
  if (t !== ETHERTYPE_VLAN) return t;
  // Indexing past the end yields undefined, which `|` turns into 0: a short
  // tagged frame reads EtherType 0, never throws.
  return (buf[off + vlanField.ETHERTYPE]! << 8) | buf[off + vlanField.ETHERTYPE + 1]!;
}

/** Offset of the layer 3 header from the frame start: 14, or 18 with an 802.1Q tag. */
export function l3Offset(buf: Uint8Array, off: number): number {
  const t = (buf[off + field.ETHERTYPE]! << 8) | buf[off + field.ETHERTYPE + 1]!;
  return t === ETHERTYPE_VLAN ? VLAN_HEADER_LEN : HEADER_LEN;
}

/** True for a group destination (I/G bit set): multicast, and broadcast too. Such frames flood. */
export function isMulticast(buf: Uint8Array, off: number): boolean {
  return (buf[off + field.DST]! & IG_BIT) !== 0;
}

/** True when the destination is ff:ff:ff:ff:ff:ff. */
export function isBroadcast(buf: Uint8Array, off: number): boolean {
  const d = off + field.DST;
  return (buf[d]! & buf[d + 1]! & buf[d + 2]! & buf[d + 3]! & buf[d + 4]! & buf[d + 5]!) === 0xff;
}

/** Destination MAC as a 48-bit table key (see ./addr). */
export function dstKey(buf: Uint8Array, off: number): number {
  return macKey(buf, off + field.DST);
}

/** Source MAC as a 48-bit table key (see ./addr). */
export function srcKey(buf: Uint8Array, off: number): number {
  return macKey(buf, off + field.SRC);
}

/** Writes an untagged header; returns HEADER_LEN. MACs are 48-bit keys. */
export function emitHeader(buf: Uint8Array, off: number, dst: number, src: number, type: number): number {
  writeMacKey(buf, off + field.DST, dst);
  writeMacKey(buf, off + field.SRC, src);
  buf[off + field.ETHERTYPE] = type >>> 8;
  buf[off + field.ETHERTYPE + 1] = type & 0xff;
  return HEADER_LEN;
}

// ---------------------------------------------------------------------------
// View

/** A view over an Ethernet frame at buf[off..off+len). `new` does no checks; use checked() for untrusted bytes. */
export class EthernetFrame {
  constructor(readonly buf: Buffer, readonly off: number, readonly len: number) {}

  /** Checks that the header (with its tag, if any) fits in len, and len in buf. */
  static checked(buf: Buffer, off: number, len: number): EthernetFrame {
    if (off < 0 || len < 0 || off + len > buf.length) {
      throw new WireError(`Ethernet frame at offset ${off} of ${len} bytes runs past the ${buf.length}-byte buffer`);
    }
    if (len < HEADER_LEN) {
      throw new WireError(`Ethernet frame is ${len} bytes, the header needs ${HEADER_LEN} (${HEADER_LEN - len} short)`);
    }
    const f = new EthernetFrame(buf, off, len);
    if (f.tagged && len < VLAN_HEADER_LEN) {
      throw new WireError(`802.1Q-tagged Ethernet frame is ${len} bytes, the tagged header needs ${VLAN_HEADER_LEN} (${VLAN_HEADER_LEN - len} short)`);
    }
    return f;
  }

  get dst(): string { return formatMac(this.buf, this.off + field.DST); }
  set dst(mac: string) { parseMac(mac).copy(this.buf, this.off + field.DST); }
  get dstKey(): number { return macKey(this.buf, this.off + field.DST); }
  set dstKey(key: number) { writeMacKey(this.buf, this.off + field.DST, key); }

  get src(): string { return formatMac(this.buf, this.off + field.SRC); }
  set src(mac: string) { parseMac(mac).copy(this.buf, this.off + field.SRC); }
  get srcKey(): number { return macKey(this.buf, this.off + field.SRC); }
  set srcKey(key: number) { writeMacKey(this.buf, this.off + field.SRC, key); }

  /** The raw field at bytes 12-13: 0x8100 for a tagged frame. */
  get etherType(): number { return this.buf.readUInt16BE(this.off + field.ETHERTYPE); }
  set etherType(t: number) { this.buf.writeUInt16BE(t, this.off + field.ETHERTYPE); }

  get tagged(): boolean { return this.etherType === ETHERTYPE_VLAN; }
  /** The tag control information (bytes 14-15); only meaningful when tagged. */
  get tci(): number { return this.buf.readUInt16BE(this.off + vlanField.TCI); }
  set tci(v: number) { this.buf.writeUInt16BE(v, this.off + vlanField.TCI); }
  get vid(): number { return this.tci & TCI_VID_MASK; }
  get pcp(): number { return this.tci >>> TCI_PCP_SHIFT; }
  get dei(): boolean { return (this.tci & TCI_DEI) !== 0; }

  /** The payload's EtherType: after the tag when tagged. */
  get payloadType(): number {
    return this.tagged ? this.buf.readUInt16BE(this.off + vlanField.ETHERTYPE) : this.etherType;
  }

  get headerLen(): number { return this.tagged ? VLAN_HEADER_LEN : HEADER_LEN; }
  /** Absolute offset in buf of the payload (pass it to the next layer's view). */
  get payloadOffset(): number { return this.off + this.headerLen; }
  get payloadLen(): number { return this.len - this.headerLen; }
  /** The payload as a sub-slice of buf (no copy). */
  get payload(): Buffer { return this.buf.subarray(this.payloadOffset, this.off + this.len); }

  get isMulticast(): boolean { return isMulticast(this.buf, this.off); }
  get isBroadcast(): boolean { return isBroadcast(this.buf, this.off); }
}

// ---------------------------------------------------------------------------
// Repr

export interface VlanTag {
  vid: number;
  pcp: number;
  dei: boolean;
}

/** An Ethernet header as a plain object. `etherType` is the payload's, after any tag. */
export interface EthernetRepr {
  dst: string;
  src: string;
  etherType: number;
  vlan?: VlanTag | undefined;
}

export function parse(f: EthernetFrame): EthernetRepr {
  const r: EthernetRepr = { dst: f.dst, src: f.src, etherType: f.payloadType };
  if (f.tagged) r.vlan = { vid: f.vid, pcp: f.pcp, dei: f.dei };
  return r;
}

/** Header bytes emit() writes. */
export function bufferLen(r: EthernetRepr): number {
  return r.vlan ? VLAN_HEADER_LEN : HEADER_LEN;
}

/** Writes the header at buf[off]; returns its length. The payload is the caller's. */
export function emit(r: EthernetRepr, buf: Buffer, off: number): number {
  parseMac(r.dst).copy(buf, off + field.DST);
  parseMac(r.src).copy(buf, off + field.SRC);
  if (!r.vlan) {
    buf.writeUInt16BE(r.etherType, off + field.ETHERTYPE);
    return HEADER_LEN;
  }
  const { vid, pcp, dei } = r.vlan;
  if (vid < 0 || vid > TCI_VID_MASK) throw new WireError(`802.1Q VID ${vid} is outside 0..${TCI_VID_MASK}`);
  if (pcp < 0 || pcp > 7) throw new WireError(`802.1Q PCP ${pcp} is outside 0..7`);
  buf.writeUInt16BE(ETHERTYPE_VLAN, off + vlanField.TPID);
  buf.writeUInt16BE((pcp << TCI_PCP_SHIFT) | (dei ? TCI_DEI : 0) | vid, off + vlanField.TCI);
  buf.writeUInt16BE(r.etherType, off + vlanField.ETHERTYPE);
  return VLAN_HEADER_LEN;
}
