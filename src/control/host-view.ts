/**
 * What this host's kernel has that no lease may take over (lease-rules.ts):
 * its IPv4 addresses and the main-table routes vxtap did not install, read
 * over rtnetlink. The TAP's own address and routes, and every route of
 * vxtap's protocol (RTPROT_VXTAP), are vxtap's and left out.
 */
import { parseCidr, parseIpv4, prefixMask } from '../wire/addr';
import { RTPROT_VXTAP, type KernelNet } from './kernel';
import type { HostView } from './lease-rules';

export type HostViewKernel = Pick<KernelNet, 'links' | 'ipv4Addresses' | 'routes'>;

export async function readHostView(kernel: HostViewKernel, tap: string): Promise<HostView> {
  const addresses: { addr: number; prefix: { addr: number; len: number }; dev: string }[] = [];
  for (const link of await kernel.links()) {
    if (link.name === tap) continue;
    for (const cidr of await kernel.ipv4Addresses(link.name)) {
      const [ip, len] = cidr.split('/');
      const addr = parseIpv4(ip!);
      const l = Number(len);
      // Loopback is 127/8 whatever the lease: publicIpFault refuses it, and it is no subnet's.
      if (addr >>> 24 === 127) continue;
      addresses.push({ addr, prefix: { addr: (addr & prefixMask(l)) >>> 0, len: l }, dev: link.name });
    }
  }
  const routes = (await kernel.routes())
    .filter((r) => r.dev !== tap && r.protocol !== RTPROT_VXTAP)
    .map((r) => ({ dst: parseCidr(r.dst), dev: r.dev }));
  return { addresses, routes };
}
