/**
 * IPv6 addresses and prefixes for the control plane (flannel's IPv6 config,
 * lease keys, subnet file): small pure helpers over `bigint`, no I/O.
 *
 * A control-plane file on purpose, not src/wire/: nothing here runs per
 * frame, so a bigint per address is fine, and the data plane's own IPv6 views
 * over bytes stay free to take whatever shape they need.
 *
 * node:net was checked first: `isIPv6` validates text (used below), but no
 * node:net API gives an address's 128 bits, a canonical text form or prefix
 * arithmetic (`BlockList` answers membership only). So the text is expanded
 * here, after `isIPv6` has accepted it.
 *
 * Text out is RFC 5952, which is also what Go's net.IP.String() writes and so
 * what flannel puts in its keys and subnet file: lower-case, no leading zeros,
 * the longest run of two or more zero groups (the first, on a tie) as "::".
 */
import { isIPv6 } from 'node:net';

/** An IPv6 prefix. `addr` is the network address (host bits zero). */
export interface Ipv6Cidr {
  readonly addr: bigint;
  readonly len: number;
}

const ALL = (1n << 128n) - 1n;

/** True for an IPv6 address in text, without a zone ('fe80::1%eth0' is not one). */
export function isIpv6(text: string): boolean {
  return typeof text === 'string' && !text.includes('%') && isIPv6(text);
}

/** 'fc00::1' to its 128 bits. Throws RangeError when not an IPv6 address. */
export function parseIpv6(text: string): bigint {
  if (!isIpv6(text)) throw new RangeError(`not an IPv6 address: ${JSON.stringify(text)}`);
  let s = text;
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    // An embedded IPv4 tail ('::ffff:192.0.2.1') is two groups: rewrite it as such.
    const o = s.slice(lastColon + 1).split('.').map(Number);
    s = `${s.slice(0, lastColon + 1)}${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [head, rest] = s.includes('::') ? s.split('::') as [string, string] : [s, null];
  const groupsOf = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const left = groupsOf(head);
  const right = rest === null ? [] : groupsOf(rest);
  const groups = rest === null ? left : [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(g);
  return v;
}

/** 128 bits to RFC 5952 text (Go's net.IP.String() for an address that is not IPv4-mapped). */
export function formatIpv6(addr: bigint): string {
  const g: number[] = [];
  for (let i = 7; i >= 0; i--) g.push(Number((addr >> BigInt(i * 16)) & 0xffffn));
  let best = -1;
  let bestLen = 1; // a single zero group is written "0", not "::"
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = (a: number[]): string => a.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** The mask of a prefix length, as 128 bits. */
export function prefixMask6(len: number): bigint {
  return len === 0 ? 0n : (ALL << BigInt(128 - len)) & ALL;
}

/** 'fc00:0:0:34::/64' to {addr, len}. Host bits set are an error (a subnet names a network). */
export function parseCidr6(text: string): Ipv6Cidr {
  const c = parseLooseCidr6(text);
  if (c === null) throw new RangeError(`not an IPv6 CIDR (addr/len): ${JSON.stringify(text)}`);
  if (c.addr !== c.given) throw new RangeError(`${text} has host bits set (the network is ${formatCidr6(c)})`);
  return { addr: c.addr, len: c.len };
}

/** 'fc00::5/64' to the network it lies in, and the address as given; null when not IPv6 CIDR text. */
export function parseLooseCidr6(text: string): (Ipv6Cidr & { readonly given: bigint }) | null {
  if (typeof text !== 'string') return null;
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (!m || !isIpv6(m[1]!) || Number(m[2]) > 128) return null;
  const len = Number(m[2]);
  const given = parseIpv6(m[1]!);
  return { addr: given & prefixMask6(len), len, given };
}

export function formatCidr6(c: Ipv6Cidr): string {
  return `${formatIpv6(c.addr)}/${c.len}`;
}

export function cidr6Contains(c: Ipv6Cidr, addr: bigint): boolean {
  return (addr & prefixMask6(c.len)) === c.addr;
}

/** True when one prefix contains the other. */
export function cidr6Overlaps(a: Ipv6Cidr, b: Ipv6Cidr): boolean {
  return a.len <= b.len ? cidr6Contains(a, b.addr) : cidr6Contains(b, a.addr);
}

/** The size of a prefix of `len`, in addresses. */
export function prefixSize6(len: number): bigint {
  return 1n << BigInt(128 - len);
}

/**
 * Why an address cannot be a VTEP's underlay IPv6 address (PublicIPv6), or
 * null. A VTEP address must be reachable from every other host without a
 * zone: so not unspecified, loopback, multicast, link-local (fe80::/10: only
 * meaningful with an interface, and a lease names none), IPv4-mapped or
 * IPv4-compatible (those are IPv4 in disguise: PublicIP says that), or the
 * discard prefix 100::/64 (RFC 6666). Unique local (fc00::/7), global and
 * documentation (2001:db8::/32, for labs) addresses are accepted.
 */
export function publicIpv6Fault(ip: bigint): string | null {
  if (ip === 0n) return 'the unspecified address (::)';
  if (ip === 1n) return 'the loopback address (::1)';
  if (ip >> 120n === 0xffn) return 'a multicast address (ff00::/8)';
  if (ip >> 118n === 0x3fan) return 'a link-local address (fe80::/10), which needs an interface a lease cannot name';
  if (ip >> 32n === 0xffffn) return 'an IPv4-mapped address (::ffff:0:0/96)';
  if (ip >> 32n === 0n) return 'an IPv4-compatible or reserved address (::/96)';
  if (ip >> 64n === 0x0100_0000_0000_0000n) return 'in the discard prefix 100::/64';
  return null;
}
