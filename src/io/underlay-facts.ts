/**
 * What this host's underlay really puts in the outer headers of our
 * datagrams, for the rebuilt packets of `--pcap` (io/pcap-port.ts), read
 * once at start:
 * - the interface's MAC, from /sys/class/net/<if>/address (the frames'
 *   source MAC on the way out);
 * - the TTL: our sockets do not set IP_TTL, so the kernel uses
 *   net.ipv4.ip_default_ttl of this network namespace;
 * - DF: the addon's send sockets set IP_MTU_DISCOVER to IP_PMTUDISC_DONT
 *   (native/udp.cc AllowFragments), so DF is clear, as kernel vxlan's
 *   default; Node's dgram sockets (--io dgram) keep the kernel's default,
 *   IP_PMTUDISC_WANT, which sets DF on every datagram that fits the path
 *   MTU, unless net.ipv4.ip_no_pmtu_disc is set. The e2e test test/e2e/pcapng.test.ts checks both against tcpdump.
 * The next hop's MAC is not here: it is a neighbour-table lookup
 * (UnderlayFacts.outerMacs), left unknown without one.
 */
import { readFileSync } from 'node:fs';
import type { UnderlayFacts } from './pcap-port';

/** The TTL Linux uses when neither the socket nor the sysctl says otherwise. */
export const LINUX_DEFAULT_TTL = 64;

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

/** The MAC of `ifname` as 6 bytes, or null when it cannot be read. */
export function interfaceMac(ifname: string, sys = '/sys/class/net'): Uint8Array | null {
  const t = readText(`${sys}/${ifname}/address`);
  if (t === null || !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(t)) return null;
  return Buffer.from(t.replace(/:/g, ''), 'hex');
}

/** net.ipv4.ip_default_ttl, or 64 when it cannot be read. */
export function defaultTtl(proc = '/proc/sys/net/ipv4/ip_default_ttl'): number {
  const n = Number(readText(proc));
  return Number.isInteger(n) && n >= 1 && n <= 255 ? n : LINUX_DEFAULT_TTL;
}

/** net.ipv4.ip_no_pmtu_disc: non-zero turns IP_PMTUDISC_WANT's DF off (0 when it cannot be read, the kernel's default). */
export function noPmtuDisc(proc = '/proc/sys/net/ipv4/ip_no_pmtu_disc'): number {
  const n = Number(readText(proc));
  return Number.isInteger(n) ? n : 0;
}

export function localUnderlayFacts(ifname: string, io: 'batch' | 'dgram'): UnderlayFacts {
  // Node's socket keeps IP_PMTUDISC_WANT, which sets DF unless the sysctl says no path MTU discovery.
  return { name: ifname, localMac: interfaceMac(ifname), ttl: defaultTtl(), df: io === 'dgram' && noPmtuDisc() === 0 };
}
