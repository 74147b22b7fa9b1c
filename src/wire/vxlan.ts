/**
 * VXLAN header (RFC 7348 section 5), carried in UDP to port 4789 (IANA) or
 * 8472 (the Linux default before the IANA port existed; flannel's default).
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |R|R|R|R|I|R|R|R|            Reserved (bits 8-31)               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     VXLAN Network Identifier (VNI, bits 32-55) | Rsvd (56-63) |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Inner Ethernet frame (byte 8 on), without FCS ...
 * +-+-+-+-+-+-+-+-+
 *
 * Flags (byte 0): the I bit (bit 4, value 0x08) "MUST be set to 1 for a
 * valid VXLAN Network ID"; the other seven bits are reserved. Every
 * reserved field "MUST be set to zero on transmission and ignored on
 * receipt", so check() looks at the I bit only: a peer that sets a
 * reserved bit (VXLAN-GPE, GBP extensions) is still understood.
 */
import { WireError } from '../errors';
import { HEADER_LEN as ETHERNET_HEADER_LEN } from './ethernet';

export const field = {
  FLAGS: 0,
  RESERVED1: 1,
  VNI: 4,
  RESERVED2: 7,
  PAYLOAD: 8,
} as const;

export const HEADER_LEN = field.PAYLOAD;
export const VNI_LEN = field.RESERVED2 - field.VNI;
export const FLAG_I = 0x08;
export const VNI_MAX = 0xffffff;

/** IANA-assigned port (RFC 7348 section 5). */
export const PORT_IANA = 4789;
/** The Linux kernel's historic default, also flannel's. */
export const PORT_LINUX = 8472;

/** The shortest datagram payload that can hold a header and an inner Ethernet header. */
export const MIN_LEN = HEADER_LEN + ETHERNET_HEADER_LEN;

// check() results: 0 is OK, anything else a drop reason.
export const CHECK_OK = 0;
export const CHECK_TOO_SHORT = 1;
export const CHECK_NO_I_FLAG = 2;

const CHECK_REASON_NAMES: readonly string[] = ['ok', 'vxlan-too-short', 'vxlan-no-i-flag'];

/** A stable name for a check() result, usable as a drop counter key. */
export function checkReasonName(code: number): string {
  return CHECK_REASON_NAMES[code] ?? `vxlan-check-${code}`;
}

// ---------------------------------------------------------------------------
// Hot path: no allocation, no exceptions.

/**
 * Validates the UDP payload buf[off..off+len) for decapsulation. Returns
 * CHECK_OK or a CHECK_* reason. Reserved bits and other flags are ignored
 * (RFC 7348: "ignored on receipt").
 */
export function check(buf: Uint8Array, off: number, len: number): number {
  if (len < MIN_LEN) return CHECK_TOO_SHORT;
  if ((buf[off + field.FLAGS]! & FLAG_I) === 0) return CHECK_NO_I_FLAG;
  return CHECK_OK;
}

/** The 24-bit VNI. */
export function vni(buf: Uint8Array, off: number): number {
  const i = off + field.VNI;
  return (buf[i]! << 16) | (buf[i + 1]! << 8) | buf[i + 2]!;
}

/**
 * Writes the 8-byte header: flags 0x08, reserved fields zero (as RFC 7348
 * requires on send). `vni` must be within 0..VNI_MAX (validated where it is
 * configured, not per frame). Returns HEADER_LEN.
 */
export function emit(buf: Uint8Array, off: number, vni: number): number {
  buf[off + field.FLAGS] = FLAG_I;
  buf[off + field.RESERVED1] = 0;
  buf[off + field.RESERVED1 + 1] = 0;
  buf[off + field.RESERVED1 + 2] = 0;
  buf[off + field.VNI] = (vni >>> 16) & 0xff;
  buf[off + field.VNI + 1] = (vni >>> 8) & 0xff;
  buf[off + field.VNI + 2] = vni & 0xff;
  buf[off + field.RESERVED2] = 0;
  return HEADER_LEN;
}

// ---------------------------------------------------------------------------
// View

export class VxlanPacket {
  constructor(readonly buf: Buffer, readonly off: number, readonly len: number) {}

  /** Throws WireError where check() would return a reason, with the details. */
  static checked(buf: Buffer, off: number, len: number): VxlanPacket {
    if (off < 0 || len < 0 || off + len > buf.length) {
      throw new WireError(`VXLAN datagram at offset ${off} of ${len} bytes runs past the ${buf.length}-byte buffer`);
    }
    if (len < MIN_LEN) {
      throw new WireError(`VXLAN datagram is ${len} bytes, header and inner Ethernet header need ${MIN_LEN} (${MIN_LEN - len} short)`);
    }
    const p = new VxlanPacket(buf, off, len);
    if ((p.flags & FLAG_I) === 0) {
      throw new WireError(`VXLAN flags 0x${p.flags.toString(16).padStart(2, '0')} lack the I bit (0x08): the VNI is not valid`);
    }
    return p;
  }

  get flags(): number { return this.buf[this.off + field.FLAGS]!; }
  set flags(v: number) { this.buf[this.off + field.FLAGS] = v; }
  get vni(): number { return vni(this.buf, this.off); }
  set vni(v: number) {
    const i = this.off + field.VNI;
    this.buf[i] = (v >>> 16) & 0xff; this.buf[i + 1] = (v >>> 8) & 0xff; this.buf[i + 2] = v & 0xff;
  }
  /** Bits 8-31, read for tracing only. */
  get reserved1(): number {
    const i = this.off + field.RESERVED1;
    return (this.buf[i]! << 16) | (this.buf[i + 1]! << 8) | this.buf[i + 2]!;
  }
  /** Bits 56-63. */
  get reserved2(): number { return this.buf[this.off + field.RESERVED2]!; }

  /** Absolute offset in buf of the inner Ethernet frame. */
  get payloadOffset(): number { return this.off + HEADER_LEN; }
  get payloadLen(): number { return this.len - HEADER_LEN; }
  get payload(): Buffer { return this.buf.subarray(this.payloadOffset, this.off + this.len); }
}

// ---------------------------------------------------------------------------
// Repr

/** The only meaning a VXLAN header carries: flags and reserved bits are fixed on send, ignored on receipt. */
export interface VxlanRepr {
  vni: number;
}

export function parse(p: VxlanPacket): VxlanRepr {
  return { vni: p.vni };
}

export function bufferLen(_r: VxlanRepr): number {
  return HEADER_LEN;
}

/** Like emit() but checks the VNI range (for the edges); returns HEADER_LEN. */
export function emitRepr(r: VxlanRepr, buf: Buffer, off: number): number {
  if (!Number.isInteger(r.vni) || r.vni < 0 || r.vni > VNI_MAX) {
    throw new WireError(`VXLAN VNI ${r.vni} is outside 0..${VNI_MAX}`);
  }
  return emit(buf, off, r.vni);
}
