/**
 * The lab's plumbing, as `ip` commands: namespaces, the underlay bridge and
 * its veths, a container behind each host's bridge, the kernel vxlan host.
 *
 *   <p>underlay:  br0 ── p-h1 ═══ eth0 (<p>h1) ── vxtap.1 (TAP)
 *                     ── p-h2 ═══ eth0 (<p>h2)      cbr0 <subnet>.1 ── veth-c ═══ eth0 (<p>h1-c) <subnet>.2
 *                     ── p-etcd ═ eth0 (<p>etcd)
 *
 * With --mode l2, one bridge per host holds the VTEP and the container:
 *
 *   <p>h1:  br0 ── vxtap.1 (TAP, vxtap --mode l2 --bridge br0)
 *               ── veth-c ═══ eth0 (<p>h1-c) <network>.1, on the one subnet
 *   <p>k1:  br0 ── vx0 (kernel vxlan, learning) ── veth-c ═══ eth0 (<p>k1-c)
 */
import type { Shell } from './shell';
import { CONTAINER_BRIDGE, CONTAINER_VETH, L2_BRIDGE, UNDERLAY_BRIDGE, containerAddrs } from './plan';

export function addNamespace(sh: Shell, ns: string): void {
  sh.run('ip', ['netns', 'add', ns]);
  sh.run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
}

/** The underlay's bridge, in its own namespace. */
export function addUnderlayBridge(sh: Shell, underlayNs: string): void {
  addNamespace(sh, underlayNs);
  sh.run('ip', ['-n', underlayNs, 'link', 'add', UNDERLAY_BRIDGE, 'type', 'bridge']);
  sh.run('ip', ['-n', underlayNs, 'link', 'set', UNDERLAY_BRIDGE, 'up']);
}

/**
 * A host on the underlay: its namespace, a veth whose `eth0` end is in it
 * with `ip/len`, and a default route through eth0 (so `vxtap run` finds its
 * interface the way flannel does: the one with the default route).
 */
export function attachHost(sh: Shell, underlayNs: string, name: string, ns: string, ip: string, len: number): void {
  addNamespace(sh, ns);
  const port = `p-${name}`.slice(0, 15);
  sh.run('ip', ['-n', underlayNs, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  sh.run('ip', ['-n', underlayNs, 'link', 'set', port, 'master', UNDERLAY_BRIDGE, 'up']);
  sh.run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
  sh.run('ip', ['-n', ns, 'addr', 'add', `${ip}/${len}`, 'dev', 'eth0']);
  sh.run('ip', ['-n', ns, 'route', 'add', 'default', 'dev', 'eth0']);
}

/**
 * A "container" behind the host, as Docker would make it from the subnet
 * file (`dockerd --bip=<subnet>.1/24 --mtu=<FLANNEL_MTU>`): a bridge with the
 * subnet's first address, a veth to the container's namespace, the container
 * at .2 with a default route via .1; the host forwards.
 */
export function addContainer(sh: Shell, hostNs: string, containerNs: string, subnet: string, mtu: number): { ip: string } {
  const a = containerAddrs(subnet);
  const m = String(mtu);
  sh.run('ip', ['-n', hostNs, 'link', 'add', CONTAINER_BRIDGE, 'mtu', m, 'type', 'bridge']);
  sh.run('ip', ['-n', hostNs, 'addr', 'add', a.bridge, 'dev', CONTAINER_BRIDGE]);
  sh.run('ip', ['-n', hostNs, 'link', 'set', CONTAINER_BRIDGE, 'up']);
  addNamespace(sh, containerNs);
  sh.run('ip', ['-n', hostNs, 'link', 'add', CONTAINER_VETH, 'mtu', m, 'type', 'veth', 'peer', 'name', 'eth0', 'mtu', m, 'netns', containerNs]);
  sh.run('ip', ['-n', hostNs, 'link', 'set', CONTAINER_VETH, 'master', CONTAINER_BRIDGE, 'up']);
  sh.run('ip', ['-n', containerNs, 'addr', 'add', a.container, 'dev', 'eth0']);
  sh.run('ip', ['-n', containerNs, 'link', 'set', 'eth0', 'up']);
  sh.run('ip', ['-n', containerNs, 'route', 'add', 'default', 'via', a.gateway]);
  sh.inNs(hostNs, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
  return { ip: a.ip };
}

export interface KernelVtep {
  readonly ns: string;
  readonly dev: string;
  readonly vni: number;
  readonly port: number;
  readonly ip: string;
  readonly subnet: string;
  readonly mtu: number;
}

/**
 * The kernel's vxlan device, as flannel's vxlan backend makes it: `nolearning`
 * (flannel fills the FDB itself), the subnet's .0 as a /32 on the device.
 * The veth underlay keeps its default offloads, as users keep them: the
 * kernel then leaves its inner checksums for a NIC to finish, and the vxtap
 * hosts finish them (README: "A note on veth underlays and checksums").
 * Returns the device's MAC (the VtepMAC).
 */
export function addKernelVtep(sh: Shell, k: KernelVtep): string {
  sh.run('ip', ['-n', k.ns, 'link', 'add', k.dev, 'type', 'vxlan', 'id', String(k.vni), 'dstport', String(k.port), 'local', k.ip, 'dev', 'eth0', 'nolearning']);
  sh.run('ip', ['-n', k.ns, 'link', 'set', k.dev, 'mtu', String(k.mtu), 'up']);
  sh.run('ip', ['-n', k.ns, 'addr', 'add', `${k.subnet.split('/')[0]}/32`, 'dev', k.dev]);
  const links = JSON.parse(sh.run('ip', ['-n', k.ns, '-j', 'link', 'show', k.dev], { quiet: true })) as { address?: string }[];
  const mac = links[0]?.address;
  if (mac === undefined) throw new Error(`no MAC on ${k.dev} in ${k.ns}`);
  return mac;
}

/** What flannel does on the kernel host for each remote lease: ARP entry, FDB entry, route (in that order). */
export function addKernelPeer(sh: Shell, k: KernelVtep, peer: { subnet: string; publicIp: string; vtepMac: string }): void {
  const gw = peer.subnet.split('/')[0]!;
  sh.run('ip', ['-n', k.ns, 'neigh', 'replace', gw, 'lladdr', peer.vtepMac, 'dev', k.dev, 'nud', 'permanent']);
  sh.inNs(k.ns, 'bridge', ['fdb', 'append', peer.vtepMac, 'dev', k.dev, 'dst', peer.publicIp]);
  sh.run('ip', ['-n', k.ns, 'route', 'replace', peer.subnet, 'via', gw, 'dev', k.dev, 'onlink']);
}

/**
 * L2 mode: IPv6 off in a namespace, so that a quiet segment is quiet: no
 * router solicitations, MLD reports or DAD probes to flood and learn from,
 * and the trace shows what the reader sends.
 */
export function noIpv6(sh: Shell, ns: string): void {
  sh.inNs(ns, 'sysctl', ['-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
}

/** L2 mode: the host's bridge br0, which the VTEP and the container join as ports. */
export function addL2Bridge(sh: Shell, hostNs: string): void {
  sh.run('ip', ['-n', hostNs, 'link', 'add', L2_BRIDGE, 'type', 'bridge']);
  sh.run('ip', ['-n', hostNs, 'link', 'set', L2_BRIDGE, 'up']);
}

/**
 * L2 mode: a "container" whose veth is a port of the host's br0, with its
 * address on the one subnet and a MAC of our choosing (02:76 + its IPv4
 * address, as vxtap derives VTEP MACs), so a reader knows it in a trace. No
 * route and no forwarding: every other container is on the same link.
 */
export function addL2Container(sh: Shell, hostNs: string, containerNs: string, ip: string, len: number, mac: string, mtu: number): void {
  const m = String(mtu);
  addNamespace(sh, containerNs);
  noIpv6(sh, containerNs);
  sh.run('ip', ['-n', hostNs, 'link', 'add', CONTAINER_VETH, 'mtu', m, 'type', 'veth', 'peer', 'name', 'eth0', 'mtu', m, 'netns', containerNs]);
  sh.run('ip', ['-n', hostNs, 'link', 'set', CONTAINER_VETH, 'master', L2_BRIDGE, 'up']);
  sh.run('ip', ['-n', containerNs, 'link', 'set', 'eth0', 'address', mac]);
  sh.run('ip', ['-n', containerNs, 'addr', 'add', `${ip}/${len}`, 'brd', '+', 'dev', 'eth0']);
  sh.run('ip', ['-n', containerNs, 'link', 'set', 'eth0', 'up']);
}

export interface KernelL2Vtep {
  readonly ns: string;
  readonly dev: string;
  readonly vni: number;
  readonly port: number;
  readonly ip: string;
  readonly mtu: number;
}

/**
 * The kernel's vxlan device in its classic L2 form: `learning` (it learns
 * remote MACs from the frames it decapsulates, as vxtap --mode l2 does), a
 * port of br0, and a flood list: one all-zeros FDB entry per other host,
 * which the kernel uses for broadcast and unknown unicast (head-end
 * replication). Returns the device's MAC.
 */
export function addKernelL2Vtep(sh: Shell, k: KernelL2Vtep, others: readonly string[]): string {
  sh.run('ip', ['-n', k.ns, 'link', 'add', k.dev, 'type', 'vxlan', 'id', String(k.vni), 'dstport', String(k.port), 'local', k.ip, 'dev', 'eth0', 'learning']);
  sh.run('ip', ['-n', k.ns, 'link', 'set', k.dev, 'mtu', String(k.mtu), 'master', L2_BRIDGE, 'up']);
  for (const ip of others) sh.inNs(k.ns, 'bridge', ['fdb', 'append', '00:00:00:00:00:00', 'dev', k.dev, 'dst', ip]);
  const links = JSON.parse(sh.run('ip', ['-n', k.ns, '-j', 'link', 'show', k.dev], { quiet: true })) as { address?: string }[];
  const mac = links[0]?.address;
  if (mac === undefined) throw new Error(`no MAC on ${k.dev} in ${k.ns}`);
  return mac;
}
