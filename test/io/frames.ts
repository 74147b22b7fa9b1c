/**
 * Small frame builders and parsers for the io tests (Ethernet, IPv4, ICMP,
 * UDP), written out by hand so the tests do not depend on src/wire.
 */
import { readFileSync } from 'node:fs';

export const ETH_HLEN = 14;
export const IP_HLEN = 20;

export function macBytes(text: string): Buffer {
  return Buffer.from(text.trim().replace(/:/g, ''), 'hex');
}

export function ifaceMac(name: string): Buffer {
  return macBytes(readFileSync(`/sys/class/net/${name}/address`, 'utf8'));
}

export function ipBytes(text: string): Buffer {
  return Buffer.from(text.split('.').map(Number));
}

/** The Internet checksum of buf[off, off+len). */
export function inetChecksum(buf: Buffer, off: number, len: number): number {
  let sum = 0;
  for (let i = 0; i < len - 1; i += 2) sum += buf.readUInt16BE(off + i);
  if (len % 2 === 1) sum += buf[off + len - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** Writes Ethernet + IPv4 + ICMP echo request at buf[off]; returns the frame length. */
export function writeEchoRequest(
  buf: Buffer, off: number,
  o: { dstMac: Buffer; srcMac: Buffer; srcIp: string; dstIp: string; id: number; seq: number; payload: number },
): number {
  o.dstMac.copy(buf, off);
  o.srcMac.copy(buf, off + 6);
  buf.writeUInt16BE(0x0800, off + 12);
  const ip = off + ETH_HLEN;
  const icmpLen = 8 + o.payload;
  buf[ip] = 0x45;
  buf[ip + 1] = 0;
  buf.writeUInt16BE(IP_HLEN + icmpLen, ip + 2);
  buf.writeUInt16BE(o.seq, ip + 4);
  buf.writeUInt16BE(0x4000, ip + 6);
  buf[ip + 8] = 64;
  buf[ip + 9] = 1;
  buf.writeUInt16BE(0, ip + 10);
  ipBytes(o.srcIp).copy(buf, ip + 12);
  ipBytes(o.dstIp).copy(buf, ip + 16);
  buf.writeUInt16BE(inetChecksum(buf, ip, IP_HLEN), ip + 10);
  const icmp = ip + IP_HLEN;
  buf[icmp] = 8;
  buf[icmp + 1] = 0;
  buf.writeUInt16BE(0, icmp + 2);
  buf.writeUInt16BE(o.id, icmp + 4);
  buf.writeUInt16BE(o.seq, icmp + 6);
  for (let i = 0; i < o.payload; i++) buf[icmp + 8 + i] = (o.seq + i) & 0xff;
  buf.writeUInt16BE(inetChecksum(buf, icmp, icmpLen), icmp + 2);
  return ETH_HLEN + IP_HLEN + icmpLen;
}

export interface ParsedFrame {
  ethertype: number;
  proto?: number;
  srcIp?: string;
  dstIp?: string;
  /** UDP */
  srcPort?: number;
  dstPort?: number;
  udpLen?: number;
  /** ICMP */
  icmpType?: number;
  icmpId?: number;
  icmpSeq?: number;
}

/** Parses frame buf[off, off+len): Ethernet, then IPv4 with UDP or ICMP if present. */
export function parseFrame(buf: Buffer, off: number, len: number): ParsedFrame {
  const ethertype = len >= ETH_HLEN ? buf.readUInt16BE(off + 12) : -1;
  const out: ParsedFrame = { ethertype };
  if (ethertype !== 0x0800 || len < ETH_HLEN + IP_HLEN) return out;
  const ip = off + ETH_HLEN;
  const ihl = (buf[ip]! & 0x0f) * 4;
  out.proto = buf[ip + 9]!;
  out.srcIp = [...buf.subarray(ip + 12, ip + 16)].join('.');
  out.dstIp = [...buf.subarray(ip + 16, ip + 20)].join('.');
  const l4 = ip + ihl;
  if (out.proto === 17) {
    out.srcPort = buf.readUInt16BE(l4);
    out.dstPort = buf.readUInt16BE(l4 + 2);
    out.udpLen = buf.readUInt16BE(l4 + 4);
  } else if (out.proto === 1) {
    out.icmpType = buf[l4]!;
    out.icmpId = buf.readUInt16BE(l4 + 4);
    out.icmpSeq = buf.readUInt16BE(l4 + 6);
  }
  return out;
}

/** Resolves after ms milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls pred every 10 ms until true or timeoutMs; resolves to the final value. */
export async function until(pred: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) return false;
    await sleep(10);
  }
  return true;
}

/** An error as a plain object for a child's JSON result. */
export function errorJson(err: unknown): Record<string, unknown> {
  const e = err as { name?: string; code?: string; errno?: unknown; syscall?: string; message?: string };
  return { ok: false, name: e.name, code: e.code, errno: e.errno, syscall: e.syscall, message: e.message };
}
