/**
 * What makes a lease acceptable as a peer: the rules, one pure function per
 * kind of check, no I/O (lease-guard.ts applies them to the peer stream).
 *
 * A lease names a subnet, the VTEP behind it (PublicIP) and the VTEP's MAC.
 * Installing it gives the subnet a route through the TAP, and the MAC an FDB
 * entry. So a lease is refused when installing it would take traffic that is
 * not the peer's:
 *
 *   network     inside Network, exactly SubnetLen, aligned, within
 *               SubnetMin..SubnetMax (when the control plane knows the network:
 *               etcd; a static file names no Network);
 *   own         overlaps this host's own subnet;
 *   overlap     overlaps a lease already accepted (the older one wins);
 *   underlay    contains an address of this host, overlaps the prefix of an
 *               address of this host (a connected route), or covers a route
 *               that vxtap did not install (one as specific or more: a
 *               broader route, such as the default route or a summary route
 *               of the whole overlay, is only carved into, as routing means);
 *   public-ip   PublicIP is not a unicast address that can carry VXLAN:
 *               unspecified, loopback, link-local, multicast, broadcast or
 *               reserved (0/8, 127/8, 169.254/16, 224/4, 240/4); one of this
 *               host's addresses; inside the overlay (Network, this host's
 *               subnet, an accepted lease's subnet), which would loop VXLAN
 *               through the TAP; or already another accepted lease's;
 *   vtep-mac    VtepMAC is multicast, all-zero, this host's VTEP MAC, or
 *               already bound to another accepted lease.
 */
import { cidrContains, formatCidr, formatIpv4, isMac, parseCidr, parseIpv4, prefixMask, type Ipv4Cidr } from '../wire/addr';

/** The stable names of the reasons a lease is refused (counted in `vxtap stats`). */
export const REFUSAL_REASONS = ['network', 'own', 'overlap', 'underlay', 'public-ip', 'vtep-mac'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export interface Refusal {
  readonly reason: RefusalReason;
  /** One sentence for the log: what is wrong, with the values. */
  readonly detail: string;
}

/** The network's shape, when the control plane knows it (etcd's config). */
export interface NetworkShape {
  readonly network: Ipv4Cidr;
  readonly subnetLen: number;
  /** Network address (u32) of the lowest and highest subnet to lease. */
  readonly subnetMin: number;
  readonly subnetMax: number;
}

/** This host, as the rules need it. */
export interface Self {
  readonly subnet: Ipv4Cidr;
  readonly publicIp: number;
  /** Lower-case aa:bb:cc:dd:ee:ff. */
  readonly vtepMac: string;
}

/** What the host's kernel has that a lease must not take over (read by host-view.ts). */
export interface HostView {
  /** Every IPv4 address of this host but the TAP's, with its prefix ('192.168.90.1/24' -> addr, prefix). */
  readonly addresses: readonly { readonly addr: number; readonly prefix: Ipv4Cidr; readonly dev: string }[];
  /** Main-table IPv4 routes that vxtap did not install. */
  readonly routes: readonly { readonly dst: Ipv4Cidr; readonly dev: string }[];
}

export const EMPTY_HOST_VIEW: HostView = { addresses: [], routes: [] };

/** True when one prefix contains the other. */
export function overlaps(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
  return a.len <= b.len ? cidrContains(a, b.addr) : cidrContains(b, a.addr);
}

/** The checks that need only the lease itself and the network: the subnet's shape. */
export function checkShape(subnet: Ipv4Cidr, shape: NetworkShape | null): Refusal | null {
  if (shape === null) {
    // A static file names no Network; still, a route for half the Internet is never a peer's subnet.
    if (subnet.len < 8) return { reason: 'network', detail: `${formatCidr(subnet)} is wider than a /8` };
    return null;
  }
  const s = formatCidr(subnet);
  if (!(subnet.len >= shape.network.len && cidrContains(shape.network, subnet.addr))) {
    return { reason: 'network', detail: `${s} is not inside the network ${formatCidr(shape.network)}` };
  }
  if (subnet.len !== shape.subnetLen) return { reason: 'network', detail: `${s} is a /${subnet.len}; the network's subnets are /${shape.subnetLen}` };
  if ((subnet.addr & ~prefixMask(subnet.len)) >>> 0 !== 0) return { reason: 'network', detail: `${s} is not aligned` };
  if (subnet.addr < shape.subnetMin || subnet.addr > shape.subnetMax) {
    return { reason: 'network', detail: `${s} is outside SubnetMin..SubnetMax (${formatIpv4(shape.subnetMin)}..${formatIpv4(shape.subnetMax)})` };
  }
  return null;
}

/** The subnet against this host's own subnet and its kernel. */
export function checkSubnetAgainstHost(subnet: Ipv4Cidr, self: Self, host: HostView): Refusal | null {
  const s = formatCidr(subnet);
  if (overlaps(subnet, self.subnet)) return { reason: 'own', detail: `${s} overlaps this host's own subnet ${formatCidr(self.subnet)}` };
  for (const a of host.addresses) {
    if (cidrContains(subnet, a.addr) || overlaps(subnet, a.prefix)) {
      return { reason: 'underlay', detail: `${s} overlaps ${formatIpv4(a.addr)}/${a.prefix.len} on ${a.dev}, an address of this host` };
    }
  }
  for (const r of host.routes) {
    // A route inside the subnet (or equal to it) would be shadowed or replaced; a wider one is only carved into.
    if (r.dst.len >= subnet.len && cidrContains(subnet, r.dst.addr)) {
      return { reason: 'underlay', detail: `${s} covers the route ${formatCidr(r.dst)} dev ${r.dev}, which vxtap did not install` };
    }
  }
  return null;
}

/** Why an address cannot be a VTEP's, or null. */
export function publicIpFault(ip: number): string | null {
  const top = ip >>> 24;
  if (ip === 0) return 'the unspecified address';
  if (ip === 0xffffffff) return 'the broadcast address';
  if (top === 0) return 'in 0.0.0.0/8 ("this network")';
  if (top === 127) return 'a loopback address';
  if (ip >>> 16 === 0xa9fe) return 'a link-local address (169.254.0.0/16)';
  if (ip >>> 28 === 0xe) return 'a multicast address';
  if (ip >>> 28 === 0xf) return 'a reserved address (240.0.0.0/4)';
  return null;
}

/** PublicIP against the address classes, this host, and the overlay (not the other leases: see the guard). */
export function checkPublicIp(publicIp: string, self: Self, shape: NetworkShape | null, host: HostView): Refusal | null {
  let ip: number;
  try {
    ip = parseIpv4(publicIp);
  } catch {
    return { reason: 'public-ip', detail: `PublicIP ${JSON.stringify(publicIp)} is not an IPv4 address` };
  }
  const fault = publicIpFault(ip);
  if (fault !== null) return { reason: 'public-ip', detail: `PublicIP ${publicIp} is ${fault}` };
  if (ip === self.publicIp || host.addresses.some((a) => a.addr === ip)) {
    return { reason: 'public-ip', detail: `PublicIP ${publicIp} is this host's own address` };
  }
  if (shape !== null && cidrContains(shape.network, ip)) {
    return { reason: 'public-ip', detail: `PublicIP ${publicIp} is inside the overlay network ${formatCidr(shape.network)}: VXLAN to it would loop through the TAP` };
  }
  if (cidrContains(self.subnet, ip)) return { reason: 'public-ip', detail: `PublicIP ${publicIp} is inside this host's subnet ${formatCidr(self.subnet)}` };
  return null;
}

/** VtepMAC's own form, and against this host's. */
export function checkVtepMac(mac: string, self: Self): Refusal | null {
  if (!isMac(mac)) return { reason: 'vtep-mac', detail: `VtepMAC ${JSON.stringify(mac)} is not a MAC address` };
  const m = mac.toLowerCase();
  if (parseInt(m.slice(0, 2), 16) & 1) return { reason: 'vtep-mac', detail: `VtepMAC ${m} is a multicast MAC` };
  if (m === '00:00:00:00:00:00') return { reason: 'vtep-mac', detail: 'VtepMAC is all-zero' };
  if (m === self.vtepMac) return { reason: 'vtep-mac', detail: `VtepMAC ${m} is this host's own VTEP MAC` };
  return null;
}

/** This host as the rules see it, from the HostNetwork's strings. */
export function selfOf(subnet: string, publicIp: string, vtepMac: string): Self {
  return { subnet: parseCidr(subnet), publicIp: parseIpv4(publicIp), vtepMac: vtepMac.toLowerCase() };
}
