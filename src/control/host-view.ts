/**
 * What this host's kernel has that no lease may take over (lease-rules.ts):
 * its IPv4 addresses and the main-table routes vxtap did not install, of any
 * type (a blackhole, unreachable or multipath route holds its destination as
 * much as a unicast one), read over rtnetlink in two dumps. The TAP's own
 * address and routes are vxtap's and left out. A protocol-118 route through
 * another device is another vxtap's (a second daemon on the host): it stays in.
 */
import { parseCidr, parseIpv4, prefixMask } from '../wire/addr';
import type { KernelNet } from './kernel';
import type { HostView } from './lease-rules';

export type HostViewKernel = Pick<KernelNet, 'allIpv4Addresses' | 'allRoutes'>;

export async function readHostView(kernel: HostViewKernel, tap: string): Promise<HostView> {
  const [addrs, routes] = await Promise.all([kernel.allIpv4Addresses(), kernel.allRoutes()]);
  const addresses: { addr: number; prefix: { addr: number; len: number }; dev: string }[] = [];
  for (const { dev, cidr } of addrs) {
    if (dev === tap) continue;
    const [ip, len] = cidr.split('/');
    const addr = parseIpv4(ip!);
    const l = Number(len);
    // Loopback is 127/8 whatever the lease: publicIpFault refuses it, and it is no subnet's.
    if (addr >>> 24 === 127) continue;
    addresses.push({ addr, prefix: { addr: (addr & prefixMask(l)) >>> 0, len: l }, dev });
  }
  return {
    addresses,
    routes: routes.filter((r) => r.dev !== tap).map((r) => ({ dst: parseCidr(r.dst), dev: r.dev === '' ? '(no device)' : r.dev })),
  };
}
