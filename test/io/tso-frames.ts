/**
 * TCPv4 super-frames as a TAP with TSO hands them over, and the
 * virtio_net_hdr in front of them: shared by the offload tests
 * (offload.test.ts, coalesce.test.ts, child-udp.ts's whole-send).
 */
import * as ipv4 from '../../src/wire/ipv4';
import * as csum from '../../src/wire/checksum';
import { parseIpv4 } from '../../src/wire/addr';

export const SRC = parseIpv4('10.44.1.5');
export const DST = parseIpv4('10.44.2.7');
export const MSS = 1000;
export const L3 = 14;
export const L4 = 34;
export const TCP_HDR = 32; // 20 + 12 bytes of options (NOP NOP timestamps)
export const HDR = L4 + TCP_HDR;

export function vnetHdr(flags: number, gsoType: number, gsoSize: number, csumStart: number, csumOffset: number, hdrLen: number): Buffer {
  const h = Buffer.alloc(10);
  h[0] = flags;
  h[1] = gsoType;
  h.writeUInt16LE(hdrLen, 2);
  h.writeUInt16LE(gsoSize, 4);
  h.writeUInt16LE(csumStart, 6);
  h.writeUInt16LE(csumOffset, 8);
  return h;
}

export function ethernet(type: number): Buffer {
  const e = Buffer.alloc(14);
  Buffer.from('0276c0a85a02', 'hex').copy(e, 0);
  Buffer.from('0276c0a85a01', 'hex').copy(e, 6);
  e.writeUInt16BE(type, 12);
  return e;
}

export function ipHeader(proto: number, payloadLen: number, id: number): Buffer {
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + payloadLen, 2);
  ip.writeUInt16BE(id, 4);
  ip.writeUInt16BE(ipv4.FLAG_DF, 6);
  ip[8] = 64;
  ip[9] = proto;
  ip.writeUInt32BE(SRC, 12);
  ip.writeUInt32BE(DST, 16);
  ipv4.fillChecksum(ip, 0);
  return ip;
}

/** A TCPv4 super-frame as the kernel hands it with TSO: one header, `payload` bytes, partial checksum. */
export function superFrame(payload: Buffer, seq: number, flags: number): Buffer {
  const th = Buffer.alloc(TCP_HDR);
  th.writeUInt16BE(40000, 0);
  th.writeUInt16BE(5201, 2);
  th.writeUInt32BE(seq >>> 0, 4);
  th.writeUInt32BE(0x01020304, 8);
  th[12] = (TCP_HDR / 4) << 4;
  th[13] = flags;
  th.writeUInt16BE(502, 14);
  Buffer.from('0101080a0000aaaa0000bbbb', 'hex').copy(th, 20);
  // The partial checksum: the folded pseudo-header sum (length of the whole super-segment).
  th.writeUInt16BE(csum.fold(csum.pseudoHeaderSumIpv4(SRC, DST, 6, TCP_HDR + payload.length)), 16);
  return Buffer.concat([ethernet(0x0800), ipHeader(6, TCP_HDR + payload.length, 0x1234), th, payload]);
}

/** The IPv6 addresses of the TSO6 and IPv6 coalescing tests. */
export const SRC6 = Buffer.from('fd000000000000000000000000000001', 'hex');
export const DST6 = Buffer.from('fd000000000000000000000000000002', 'hex');

/** The TCP pseudo-header sum over IPv6 (RFC 8200 section 8.1) for SRC6 -> DST6, not folded. */
export function pseudoSumV6(len: number): number {
  const p = Buffer.alloc(40);
  SRC6.copy(p, 0);
  DST6.copy(p, 16);
  p.writeUInt32BE(len, 32);
  p[39] = 6;
  return csum.sum(p, 0, 40);
}

