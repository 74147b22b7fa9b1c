/**
 * Addresses as the data plane keeps them:
 * - a MAC is 6 bytes on the wire and a 48-bit integer key in tables (it fits
 *   a double exactly, so a Map<number, …> lookup needs no string per frame);
 * - an IPv4 address is a host-order u32 (>>> 0 keeps it unsigned).
 * Strings exist only at the edges: config, logs, traces.
 */
import { WireError } from '../errors';

export const MAC_LEN = 6;

/** The 48-bit key of the MAC at buf[off..off+6). */
export function macKey(buf: Uint8Array, off: number): number {
  // High 16 bits times 2^32 plus the low 32 bits: exact in a double.
  return ((buf[off]! << 8) | buf[off + 1]!) * 0x1_0000_0000 +
    (((buf[off + 2]! << 24) | (buf[off + 3]! << 16) | (buf[off + 4]! << 8) | buf[off + 5]!) >>> 0);
}

/** Writes a 48-bit MAC key as 6 bytes at buf[off]. */
export function writeMacKey(buf: Uint8Array, off: number, key: number): void {
  const hi = Math.floor(key / 0x1_0000_0000);
  const lo = key >>> 0;
  buf[off] = hi >>> 8; buf[off + 1] = hi & 0xff;
  buf[off + 2] = lo >>> 24; buf[off + 3] = (lo >>> 16) & 0xff; buf[off + 4] = (lo >>> 8) & 0xff; buf[off + 5] = lo & 0xff;
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

export function isMac(text: string): boolean {
  return MAC_RE.test(text);
}

/** "aa:bb:cc:dd:ee:ff" to 6 bytes; throws WireError on anything else. */
export function parseMac(text: string): Buffer {
  if (!MAC_RE.test(text)) throw new WireError(`not a MAC address: ${JSON.stringify(text)}`);
  return Buffer.from(text.replace(/:/g, ''), 'hex');
}

export function formatMac(buf: Uint8Array, off = 0): string {
  let s = '';
  for (let i = 0; i < MAC_LEN; i++) s += (i ? ':' : '') + buf[off + i]!.toString(16).padStart(2, '0');
  return s;
}

export function macKeyFromString(text: string): number {
  return macKey(parseMac(text), 0);
}

export function macStringFromKey(key: number): string {
  const b = Buffer.alloc(MAC_LEN);
  writeMacKey(b, 0, key);
  return formatMac(b);
}

const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIpv4(text: string): boolean {
  return IPV4_RE.test(text);
}

/** Dotted quad to host-order u32; throws WireError on anything else. */
export function parseIpv4(text: string): number {
  if (!IPV4_RE.test(text)) throw new WireError(`not an IPv4 address: ${JSON.stringify(text)}`);
  const p = text.split('.').map(Number);
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

export function formatIpv4(addr: number): string {
  return `${addr >>> 24}.${(addr >>> 16) & 0xff}.${(addr >>> 8) & 0xff}.${addr & 0xff}`;
}

/** The IPv4 address at buf[off..off+4) as a host-order u32. */
export function readIpv4(buf: Uint8Array, off: number): number {
  return ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
}

export function writeIpv4(buf: Uint8Array, off: number, addr: number): void {
  buf[off] = addr >>> 24; buf[off + 1] = (addr >>> 16) & 0xff; buf[off + 2] = (addr >>> 8) & 0xff; buf[off + 3] = addr & 0xff;
}

/** An IPv4 prefix. `addr` is the network address (host bits zero). */
export interface Ipv4Cidr {
  readonly addr: number;
  readonly len: number;
}

export function prefixMask(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

/**
 * "10.44.1.0/24" to {addr, len}. Host bits set ("10.44.1.5/24") are an error,
 * as they are to flannel: a subnet lease names a network, not a host.
 */
export function parseCidr(text: string): Ipv4Cidr {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text);
  if (!m) throw new WireError(`not an IPv4 CIDR (a.b.c.d/len): ${JSON.stringify(text)}`);
  const addr = parseIpv4(m[1]!);
  const len = Number(m[2]);
  if (len > 32) throw new WireError(`prefix length ${len} is over 32 in ${JSON.stringify(text)}`);
  if ((addr & ~prefixMask(len)) >>> 0 !== 0) {
    throw new WireError(`host bits are set in ${JSON.stringify(text)} (did you mean ${formatIpv4((addr & prefixMask(len)) >>> 0)}/${len}?)`);
  }
  return { addr, len };
}

export function formatCidr(c: Ipv4Cidr): string {
  return `${formatIpv4(c.addr)}/${c.len}`;
}

export function cidrContains(c: Ipv4Cidr, addr: number): boolean {
  return ((addr & prefixMask(c.len)) >>> 0) === c.addr;
}
