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
 *
 * A dual-stack lease's IPv6 half (subnet6, PublicIPv6, BackendV6Data) is
 * judged on its own, by the same rules in IPv6 terms, under reasons of its
 * own (docs/ipv6-control.md says why):
 *
 *   network6    the network does not enable IPv6; or subnet6 not inside
 *               IPv6Network, not IPv6SubnetLen, not aligned, outside
 *               IPv6SubnetMin..IPv6SubnetMax;
 *   own6        subnet6 overlaps this host's own IPv6 subnet;
 *   overlap6    subnet6 overlaps an older accepted lease's;
 *   public-ipv6 PublicIPv6 missing, not a VTEP address (publicIpv6Fault:
 *               unspecified, loopback, multicast, link-local, IPv4-mapped or
 *               -compatible, discard), this host's, inside IPv6Network or an
 *               accepted IPv6 subnet, or already an older lease's;
 *   vtep-mac6   BackendV6Data missing, or its VtepMAC multicast, all-zero,
 *               this host's, or another accepted lease's (either family's;
 *               the lease's own IPv4 VtepMAC is fine: one TAP for both).
 *
 * A refused IPv6 half drops that half only: the IPv4 half is accepted or
 * refused by its own rules. A refused IPv4 half refuses the whole lease (the
 * IPv4 half is what the data plane installs today). The host's IPv6
 * addresses and routes are not read yet (no `underlay` rule for IPv6): that
 * comes with the IPv6 data plane, which installs IPv6 routes.
 */
import { cidrContains, formatCidr, formatIpv4, isMac, parseCidr, parseIpv4, prefixMask, type Ipv4Cidr } from '../wire/addr';
import {
  cidr6Contains, cidr6Overlaps, formatCidr6, formatIpv6, isIpv6, parseCidr6, parseIpv6, prefixMask6, publicIpv6Fault, type Ipv6Cidr,
} from './ip6';

/** The stable names of the reasons a lease is refused (counted in `vxtap stats`). */
export const REFUSAL_REASONS = [
  'network', 'own', 'overlap', 'underlay', 'public-ip', 'vtep-mac',
  'network6', 'own6', 'overlap6', 'public-ipv6', 'vtep-mac6',
] as const;
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
  /** The IPv6 side when the network enables IPv6 (EnableIPv6); absent or null: a lease's IPv6 half is refused. */
  readonly ipv6?: Ipv6Shape | null;
}

/** IPv6Network and its subnets (the config's EnableIPv6 fields). */
export interface Ipv6Shape {
  readonly network: Ipv6Cidr;
  readonly subnetLen: number;
  readonly subnetMin: bigint;
  readonly subnetMax: bigint;
}

/** This host, as the rules need it. */
export interface Self {
  readonly subnet: Ipv4Cidr;
  readonly publicIp: number;
  /** Lower-case aa:bb:cc:dd:ee:ff. */
  readonly vtepMac: string;
  /** This host's IPv6 subnet and IPv6 underlay address, when it has a dual-stack lease. */
  readonly subnet6?: Ipv6Cidr | null;
  readonly publicIpv6?: bigint | null;
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

/** This host as the rules see it, from the HostNetwork's strings (and its IPv6 half, when it has one). */
export function selfOf(subnet: string, publicIp: string, vtepMac: string, v6: { subnet6?: string | null; publicIpv6?: string | null } = {}): Self {
  return {
    subnet: parseCidr(subnet), publicIp: parseIpv4(publicIp), vtepMac: vtepMac.toLowerCase(),
    subnet6: v6.subnet6 ? parseCidr6(v6.subnet6) : null,
    publicIpv6: v6.publicIpv6 ? parseIpv6(v6.publicIpv6) : null,
  };
}

// ---- the IPv6 half -------------------------------------------------------------------

/**
 * subnet6 against the network's IPv6 side: null, the network does not
 * enable IPv6; undefined, no network is known (a static file), and only a
 * prefix wider than a /16 is refused (as a static IPv4 subnet wider than a /8).
 */
export function checkShape6(subnet6: Ipv6Cidr, shape6: Ipv6Shape | null | undefined): Refusal | null {
  const s = formatCidr6(subnet6);
  if (shape6 === undefined) return subnet6.len < 16 ? { reason: 'network6', detail: `${s} is wider than a /16` } : null;
  if (shape6 === null) return { reason: 'network6', detail: `${s}: the network does not enable IPv6 (EnableIPv6 is not true)` };
  if (!(subnet6.len >= shape6.network.len && cidr6Contains(shape6.network, subnet6.addr))) {
    return { reason: 'network6', detail: `${s} is not inside IPv6Network ${formatCidr6(shape6.network)}` };
  }
  if (subnet6.len !== shape6.subnetLen) return { reason: 'network6', detail: `${s} is a /${subnet6.len}; the network's IPv6 subnets are /${shape6.subnetLen}` };
  if ((subnet6.addr & ~prefixMask6(subnet6.len)) !== 0n) {
    return { reason: 'network6', detail: `${s} is not aligned` };
  }
  if (subnet6.addr < shape6.subnetMin || subnet6.addr > shape6.subnetMax) {
    return { reason: 'network6', detail: `${s} is outside IPv6SubnetMin..IPv6SubnetMax (${formatIpv6(shape6.subnetMin)}..${formatIpv6(shape6.subnetMax)})` };
  }
  return null;
}

/**
 * The IPv6 half's checks that need only the lease, this host and the network
 * (the ones against other leases are the guard's). `peer` is the lease as
 * decoded: subnet6 set, PublicIPv6 and the IPv6 VtepMAC present or not.
 */
export function checkHalf6(
  half: { readonly subnet6: string; readonly publicIpv6?: string | undefined; readonly vtepMac6?: string | undefined },
  self: Self, shape6: Ipv6Shape | null | undefined,
): Refusal | null {
  let subnet6: Ipv6Cidr;
  try {
    subnet6 = parseCidr6(half.subnet6);
  } catch {
    return { reason: 'network6', detail: `${JSON.stringify(half.subnet6)} is not an IPv6 subnet` };
  }
  const s = formatCidr6(subnet6);
  const shape = checkShape6(subnet6, shape6);
  if (shape !== null) return shape;
  if (self.subnet6 && cidr6Overlaps(subnet6, self.subnet6)) {
    return { reason: 'own6', detail: `${s} overlaps this host's own IPv6 subnet ${formatCidr6(self.subnet6)}` };
  }
  const ip6 = half.publicIpv6;
  // A flannel lease's IPv6 half needs its IPv6 VTEP; a static file (no network known) may leave it to the data plane.
  if (ip6 === undefined && shape6 === undefined) return checkMac6(half.vtepMac6, s, self);
  if (ip6 === undefined) return { reason: 'public-ipv6', detail: `the key names the IPv6 subnet ${s} but the value no PublicIPv6` };
  if (!isIpv6(ip6)) return { reason: 'public-ipv6', detail: `PublicIPv6 ${JSON.stringify(ip6)} is not an IPv6 address` };
  const a = parseIpv6(ip6);
  const fault = publicIpv6Fault(a);
  if (fault !== null) return { reason: 'public-ipv6', detail: `PublicIPv6 ${ip6} is ${fault}` };
  if (self.publicIpv6 != null && a === self.publicIpv6) return { reason: 'public-ipv6', detail: `PublicIPv6 ${ip6} is this host's own address` };
  if (shape6 && cidr6Contains(shape6.network, a)) {
    return { reason: 'public-ipv6', detail: `PublicIPv6 ${ip6} is inside IPv6Network ${formatCidr6(shape6.network)}: VXLAN to it would loop through the TAP` };
  }
  if (self.subnet6 && cidr6Contains(self.subnet6, a)) return { reason: 'public-ipv6', detail: `PublicIPv6 ${ip6} is inside this host's IPv6 subnet ${formatCidr6(self.subnet6)}` };
  return checkMac6(half.vtepMac6, s, self);
}

function checkMac6(mac: string | undefined, s: string, self: Self): Refusal | null {
  if (mac === undefined) return { reason: 'vtep-mac6', detail: `the key names the IPv6 subnet ${s} but the value no BackendV6Data` };
  const m = checkVtepMac(mac, self);
  if (m !== null) return { reason: 'vtep-mac6', detail: m.detail.replace(/^VtepMAC/, 'BackendV6Data.VtepMAC') };
  return null;
}
