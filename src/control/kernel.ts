/**
 * The kernel side of the VTEP, over rtnetlink: vxtap's own calls (Rtnl in
 * src/control/rtnl.ts, the codec in src/wire/netlink.ts, the socket in the
 * addon's native/netlink.cc), no `ip` child processes.
 *
 * Like flannel's vxlan backend, vxtap keeps the kernel state per remote host
 * small and fixed: ONE route `<peer subnet> via <peer subnet>.0 dev TAP onlink`.
 * The gateway `<peer subnet>.0` is the peer's VTEP address; it is not on any
 * local prefix, so the route must be `onlink` (RTNH_F_ONLINK: "trust me, the
 * gateway is on this link"). The ARP answer for that gateway and the FDB entry
 * (VTEP MAC -> the peer's public IP) live in the user-space switch, not here.
 *
 * What the kernel asks of the caller, and what this module does about it:
 * - An onlink route through a TAP is refused until a process holds the TAP open
 *   and it is up (no carrier before that): set the TAP up first, then route.
 * - route and address dumps return every family and table; only IPv4 and the
 *   main table are kept (Rtnl filters them).
 * - one socket runs one dump at a time, and two receives on one socket would
 *   take each other's answers: Rtnl sends one request at a time, in call
 *   order. Each transaction runs on a libuv pool thread (nlTransactAsync), so
 *   a slow kernel (another process holding the rtnl lock) never stalls the
 *   event loop; each wait is bounded by the socket's timeout (ETIMEDOUT), and
 *   a late answer to a request that timed out is skipped by its sequence
 *   number, never taken for the answer to the next.
 *
 * Routes are owned (README, "Routes are owned"): every route vxtap installs
 * carries its own route protocol, RTPROT_VXTAP (118), so `ip route show proto
 * 118` lists them. replaceRoute() installs a route only where the destination
 * has no route, or has one of ours (which it replaces: a peer moved); a route
 * to the same destination that someone else installed (the kernel's connected
 * route, another daemon's, an operator's, at any metric) is a
 * RouteConflictError and is left alone. deleteRoute() names the protocol, and
 * the kernel deletes only a route that has it.
 *
 * One KernelNet (one netlink socket) per daemon. Callers may call methods
 * concurrently; requests are sent one after another. Every kernel failure
 * is a NetlinkError whose message says what was being done, the errno name
 * and, when the kernel explained, its own words
 * (`adding route 10.44.3.0/24 via 10.44.3.0 dev vxtap.1: ENETUNREACH (…; kernel: Nexthop has invalid gateway)`);
 * an argument that cannot be used (a bad CIDR, MAC or MTU) is a ConfigError.
 */
import {
  address, cidr, interfaceCidr, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, RT_TABLE_MAIN, RTN_UNICAST, RTPROT_NAMES,
  Rtnl, RtnlError, cidr6, interfaceCidr6, type RouteAdd, type RouteDelete, type RtnlLink, type RtnlRoute,
} from './rtnl';
import * as ipv6 from '../wire/ipv6';
import { ConfigError, NetlinkError, RouteConflictError, VxtapError } from '../errors';
import { formatIpv4, isMac } from '../wire/addr';

/**
 * vxtap's route protocol (rtm_protocol), on every route it installs. 118 is
 * 0x76, the `76` of the VTEP MACs' `02:76:` prefix. It is in no list: the
 * kernel's include/uapi/linux/rtnetlink.h names 0-4 (unspec, redirect,
 * kernel, boot, static), 8-18, 42 (babel), 99 (openr) and 186-192 (bgp, isis,
 * ospf, rip, eigrp); iproute2's rt_protos adds nothing else, and FRR uses
 * 186-198. Values above RTPROT_STATIC are not interpreted by the kernel.
 */
export const RTPROT_VXTAP = 118;
const DEFAULT_TIMEOUT_MS = 5000;

/**
 * Bytes VXLAN adds around an inner IP packet, which the TAP's MTU must leave
 * room for: inner Ethernet 14 + VXLAN 8 + UDP 8 + outer IPv4 20 = 50
 * (the outer Ethernet header is not counted in the underlay's MTU).
 */
export const VXLAN_OVERHEAD = 50;
/** The same over an IPv6 underlay: the outer IPv6 header is 40 bytes, so 70 (issue #13). */
export const VXLAN6_OVERHEAD = 70;

export interface LinkInfo {
  readonly index: number;
  readonly name: string;
  readonly mtu: number;
  /** Lower-case aa:bb:cc:dd:ee:ff. */
  readonly mac: string;
  /** The administrative state (IFF_UP), not the carrier. */
  readonly up: boolean;
  /** The ifindex of the bridge this link is a port of; 0: none. */
  readonly master: number;
}

export interface LinkChange {
  readonly up?: boolean;
  readonly mtu?: number;
  readonly mac?: string;
}

/** A route to add or delete. `dst` is a CIDR without host bits ('10.44.2.0/24', '0.0.0.0/0'). */
export interface RouteSpec {
  readonly dst: string;
  readonly gateway?: string;
  readonly dev: string;
  /** RTNH_F_ONLINK: the gateway is on this link even though no local prefix covers it. */
  readonly onlink?: boolean;
}

/** An IPv4 main-table route as the kernel reports it. */
export interface RouteInfo {
  readonly dst: string;
  readonly gateway?: string;
  readonly dev: string;
  readonly onlink: boolean;
  /** rtm_protocol as a number: 2 kernel, 3 boot, 4 static, RTPROT_VXTAP ours. */
  readonly protocol: number;
}

/** The interface VXLAN packets leave by. */
export interface Underlay {
  readonly name: string;
  /** Its first IPv4 address: the VTEP's public IP (the outer source address). */
  readonly ip: string;
  readonly mtu: number;
}

/** What `vxtap run` sets on its TAP before it adds routes. */
export interface VtepConfig {
  readonly tap: string;
  /** This host's subnet, e.g. '10.44.1.0/24'; the TAP gets `<network>/32` ('10.44.1.0/32'). */
  readonly subnet: string;
  readonly mac: string;
  /** The TAP's MTU becomes underlayMtu - VXLAN_OVERHEAD. */
  readonly underlayMtu: number;
}

/** The TAP MTU for an underlay MTU. */
export function vtepMtu(underlayMtu: number, ipv6 = false): number {
  return underlayMtu - (ipv6 ? VXLAN6_OVERHEAD : VXLAN_OVERHEAD);
}

/** The TAP's own address for a subnet: its network address as a /32 ('10.44.1.0/24' -> '10.44.1.0/32'). */
export function vtepAddress(subnet: string): string {
  return `${formatIpv4(cidr(subnet, 'vtep address').addr)}/32`;
}

/**
 * The TAP's own IPv6 address for an IPv6 subnet: `<subnet6>::/128`
 * ('fd00:0:0:1::/64' -> 'fd00:0:0:1::/128'), what flannel gives
 * flannel-v6.<VNI> (its vxlan.go: the lease's IPv6 subnet IP with a /128).
 */
export function vtepAddress6(subnet6: string): string {
  return `${ipv6.formatAddress(cidr6(subnet6, 'vtep address').addr)}/128`;
}

/** The one IPv6 route per dual-stack peer, flannel-style: `<subnet6> via <subnet6>:: dev <dev> onlink`. */
export function peerRoute6(subnet6: string, dev: string): RouteSpec {
  const c = cidr6(subnet6, 'peer route');
  const gw = ipv6.formatAddress(c.addr);
  return { dst: `${gw}/${c.len}`, gateway: gw, dev, onlink: true };
}

/** True for an IPv6 route (its destination has a colon): replaceRoute and deleteRoute take both families. */
function isRoute6(route: RouteSpec): boolean {
  return route.dst.includes(':');
}

/** The one route per peer, flannel-style: `<subnet> via <subnet>.0 dev <dev> onlink`. */
export function peerRoute(subnet: string, dev: string): RouteSpec {
  const c = cidr(subnet, 'peer route');
  return { dst: `${formatIpv4(c.addr)}/${c.len}`, gateway: formatIpv4(c.addr), dev, onlink: true };
}

export class KernelNet {
  private closed = false;

  private constructor(private readonly rtnl: Rtnl) {}

  /**
   * Opens one rtnetlink socket; `timeoutMs` bounds each wait for the kernel.
   * It does not keep the event loop alive between requests.
   */
  static open(opts: { timeoutMs?: number } = {}): KernelNet {
    let rtnl: Rtnl;
    try {
      rtnl = Rtnl.open({ timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS });
    } catch (err) {
      throw wrap('opening an rtnetlink socket', err);
    }
    return new KernelNet(rtnl);
  }

  /** A KernelNet over an Rtnl the caller made (unit tests give it a fake transport). */
  static over(rtnl: Rtnl): KernelNet {
    return new KernelNet(rtnl);
  }

  /**
   * Closes the socket once the requests already sent have settled (each
   * does, within the timeout); later calls fail with EBADF. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    void this.rtnl.close();
  }

  // ---- links -------------------------------------------------------------

  /** The link named `name`, or null when there is none. */
  async link(name: string): Promise<LinkInfo | null> {
    const l = await this.call(`looking up link ${name}`, (r) => r.link(name));
    return l === null ? null : linkInfo(l);
  }

  /** Every link in this namespace. */
  async links(): Promise<LinkInfo[]> {
    return (await this.call('listing links', (r) => r.links())).map(linkInfo);
  }

  /**
   * Sets MAC, MTU and the up/down state of a link. MAC and MTU are applied
   * before the link goes up (the kernel handles IFLA_ADDRESS and IFLA_MTU
   * before the IFF_* flags in one message); going down is sent first, on its
   * own, so a MAC change on a device that refuses live changes still works.
   */
  async setLink(name: string, change: LinkChange): Promise<void> {
    const what = `setting link ${name}${describeChange(change)}`;
    if (change.mac !== undefined && !isMac(change.mac)) {
      throw new ConfigError(`${what}: not a MAC address: ${JSON.stringify(change.mac)}`, 'mac');
    }
    if (change.mtu !== undefined && (!Number.isInteger(change.mtu) || change.mtu < 68 || change.mtu > 65535)) {
      throw new ConfigError(`${what}: MTU must be an integer in 68..65535, got ${change.mtu}`, 'mtu');
    }
    const index = await this.indexOf(name, what);
    if (change.up === false) await this.call(what, (r) => r.setLink(index, { up: false }));
    // Going down was its own message; what is left (maybe nothing: Rtnl then sends nothing) goes in one.
    const rest: { up?: boolean; mtu?: number; mac?: string } = {};
    if (change.up === true) rest.up = true;
    if (change.mtu !== undefined) rest.mtu = change.mtu;
    if (change.mac !== undefined) rest.mac = change.mac;
    await this.call(what, (r) => r.setLink(index, rest));
  }

  /**
   * Makes `name` a port of the bridge `bridge` (`ip link set NAME master
   * BRIDGE`). A bridge that does not exist, or a device that cannot be a
   * master, is a ConfigError naming it: the user gave the name (--bridge).
   */
  async enslave(name: string, bridge: string): Promise<void> {
    const what = `making ${name} a port of bridge ${bridge}`;
    const br = await this.link(bridge);
    if (br === null) throw new ConfigError(`--bridge ${bridge}: no such device (create it first: ip link add ${bridge} type bridge)`, 'bridge');
    const index = await this.indexOf(name, what);
    try {
      await this.call(what, (r) => r.setLink(index, { master: br.index }));
    } catch (err) {
      const code = errnoOf(err);
      if (code === 'EOPNOTSUPP' || code === 'ENOTSUP' || code === 'EINVAL' || code === 'ELOOP') {
        throw new ConfigError(`--bridge ${bridge}: ${bridge} cannot take ports (${code}); is it a bridge?`, 'bridge');
      }
      throw err;
    }
  }

  /**
   * The TAP of L2 mode (a plain switch port, as a kernel vxlan device in a
   * bridge is): MAC, MTU = underlay MTU - 50 (- 70 over IPv6), no address, up; a port of
   * `bridge` when one is named. Whatever addresses the user gave a persistent
   * TAP stay: in L2 mode the TAP's addresses are the user's business.
   */
  async setupL2Port(cfg: { tap: string; mac: string; underlayMtu: number; bridge?: string | undefined; ipv6Underlay?: boolean }): Promise<void> {
    await this.setLink(cfg.tap, { mac: cfg.mac, mtu: vtepMtu(cfg.underlayMtu, cfg.ipv6Underlay === true) });
    if (cfg.bridge !== undefined) await this.enslave(cfg.tap, cfg.bridge);
    await this.setLink(cfg.tap, { up: true });
  }

  // ---- addresses -------------------------------------------------------

  /**
   * Adds `cidr` ('10.44.1.0/32', or an interface address like '192.168.90.1/24')
   * to a link, or refreshes it if it is there: NLM_F_CREATE|NLM_F_REPLACE, so
   * calling it twice is fine.
   */
  async replaceAddress(name: string, cidr: string): Promise<void> {
    const what = `adding address ${cidr} to ${name}`;
    interfaceCidr(cidr, what);
    const index = await this.indexOf(name, what);
    await this.call(what, (r) => r.addAddress(index, cidr, NLM_F_CREATE | NLM_F_REPLACE));
  }

  /** Removes an address from a link; one that is not there is not an error. */
  async deleteAddress(name: string, cidr: string): Promise<void> {
    const what = `deleting address ${cidr} from ${name}`;
    interfaceCidr(cidr, what);
    await this.removeAddress(name, what, (r, index) => r.deleteAddress(index, cidr));
  }

  /** One address removal of either family: a missing link or address is not an error. */
  private async removeAddress(name: string, what: string, del: (r: Rtnl, index: number) => Promise<unknown>): Promise<void> {
    const link = await this.link(name);
    if (!link) return;
    try {
      await this.call(what, (r) => del(r, link.index));
    } catch (err) {
      if (errnoOf(err) === 'EADDRNOTAVAIL') return;
      throw err;
    }
  }

  /** The IPv4 addresses of a link as 'a.b.c.d/len', in the kernel's order (primary first). */
  async ipv4Addresses(name: string): Promise<string[]> {
    const what = `listing IPv4 addresses of ${name}`;
    const index = await this.indexOf(name, what);
    return (await this.call(what, (r) => r.addresses(index))).map((a) => a.cidr);
  }

  /** Every IPv4 address of every link, as `{dev, cidr}`: one address dump and one link dump. */
  async allIpv4Addresses(): Promise<{ dev: string; cidr: string }[]> {
    const [addrs, links] = await Promise.all([this.call('listing IPv4 addresses', (r) => r.addresses()), this.links()]);
    const names = new Map(links.map((l) => [l.index, l.name]));
    return addrs.map((a) => ({ dev: names.get(a.index) ?? `if${a.index}`, cidr: a.cidr }));
  }

  // ---- routes ------------------------------------------------------------

  /**
   * Installs one of our routes (protocol RTPROT_VXTAP, main table, metric 0):
   * adds it where its destination has no route, replaces ours (our protocol
   * through this device: idempotent, or a peer's new gateway) where there is
   * one, and throws RouteConflictError where the destination has a route that
   * is not ours (another vxtap's through another device included).
   *
   * Who holds the destination is asked with one fib lookup of its network
   * address (RTM_GETROUTE with RTM_F_FIB_MATCH: the matching route itself, any
   * metric's winner), not a dump, so a node with thousands of routes pays the
   * same per peer. Where the lookup cannot tell (the answer is a more specific
   * route, or from another table), the main table is dumped. A route that
   * appears between the look and the add is caught by the add itself: a new
   * route goes in with NLM_F_EXCL, which refuses a route with the same
   * destination and metric.
   */
  async replaceRoute(route: RouteSpec): Promise<void> {
    if (isRoute6(route)) return this.replaceRoute6(route);
    const what = `adding route ${describeRoute(route)}`;
    const spec = routeAdd(route, await this.indexOf(route.dev, what), what);
    const holder = await this.holderOf(route.dst, what);
    if (holder !== null && !isOurs(holder, route)) throw conflict(route, holder);
    try {
      await this.call(what, (r) => r.addRoute(spec, NLM_F_CREATE | (holder === null ? NLM_F_EXCL : NLM_F_REPLACE)));
    } catch (err) {
      if (holder !== null || errnoOf(err) !== 'EEXIST') throw err;
      // Someone added a route to this destination since the look: whose?
      const now = await this.holderOf(route.dst, what);
      if (now !== null && !isOurs(now, route)) throw conflict(route, now);
      await this.call(what, (r) => r.addRoute(spec, NLM_F_CREATE | NLM_F_REPLACE));
    }
  }

  /**
   * Deletes one of our routes: the kernel matches the protocol (and gateway
   * and device), so a route to the same destination that is not ours stays.
   * A route (or device) that is not there is not an error (ESRCH, ENOENT, ENODEV).
   */
  async deleteRoute(route: RouteSpec): Promise<void> {
    if (isRoute6(route)) return this.deleteRoute6(route);
    const what = `deleting route ${describeRoute(route)}`;
    const link = await this.link(route.dev);
    if (!link) return;
    cidr(route.dst, what);
    // Scope RT_SCOPE_NOWHERE (Rtnl's default in a delete) matches a route of any scope, as `ip route del` does.
    const spec: RouteDelete = route.gateway === undefined
      ? { dst: route.dst, oif: link.index, onlink: route.onlink === true, protocol: RTPROT_VXTAP }
      : { dst: route.dst, gateway: formatIpv4(address(route.gateway, what)), oif: link.index, onlink: route.onlink === true, protocol: RTPROT_VXTAP };
    try {
      await this.call(what, (r) => r.deleteRoute(spec));
    } catch (err) {
      const e = errnoOf(err);
      if (e === 'ESRCH' || e === 'ENOENT' || e === 'ENODEV') return;
      throw err;
    }
  }

  /**
   * Deletes every route of ours out of `dev` (all of them: what an earlier
   * run left on a persistent TAP). Returns how many went.
   */
  async flushOwnRoutes(dev: string): Promise<number> {
    const own = (await this.routes(dev)).filter((r) => r.protocol === RTPROT_VXTAP);
    for (const r of own) {
      await this.deleteRoute(r.gateway === undefined ? { dst: r.dst, dev: r.dev } : { dst: r.dst, gateway: r.gateway, dev: r.dev, onlink: r.onlink });
    }
    return own.length;
  }

  /**
   * IPv4 unicast routes of the main table, optionally only those out of `dev`.
   * Routes without a single output device (multipath, blackhole) are left out.
   */
  async routes(dev?: string): Promise<RouteInfo[]> {
    const what = dev === undefined ? 'listing routes' : `listing routes of ${dev}`;
    const [all, links] = await Promise.all([this.call(what, (r) => r.routes()), this.links()]);
    const names = new Map(links.map((l) => [l.index, l.name]));
    const out: RouteInfo[] = [];
    for (const r of all) {
      if (r.type !== RTN_UNICAST || r.oif === undefined) continue;
      const info = describeAny(r, names);
      if (dev === undefined || info.dev === dev) out.push(info);
    }
    return out;
  }

  /**
   * Every main-table IPv4 route whatever its type (blackhole, unreachable,
   * prohibit and multipath ones too, with dev '' when they have no single
   * device): what a lease must not take over (control/host-view.ts).
   */
  async allRoutes(): Promise<RouteInfo[]> {
    const [all, links] = await Promise.all([this.call('listing routes', (r) => r.routes()), this.links()]);
    const names = new Map(links.map((l) => [l.index, l.name]));
    return all.map((r) => describeAny(r, names));
  }

  /**
   * The interface that carries the IPv4 default route (main table), or null.
   * With several default routes, the one with the lowest metric wins.
   */
  async defaultRouteInterface(): Promise<string | null> {
    const what = 'looking up the default route';
    const d = await this.call(what, (r) => r.defaultRoute());
    if (d === null || d.oif === undefined) return null;
    return (await this.nameOf(d.oif, what)) ?? `if${d.oif}`;
  }

  // ---- what `vxtap run` needs ------------------------------------------

  /**
   * The underlay: `name`, or the interface of the default route when `name`
   * is not given, with its first IPv4 address and its MTU.
   */
  async underlay(name?: string): Promise<Underlay> {
    const dev = name ?? await this.defaultRouteInterface();
    if (dev === null) {
      throw new ConfigError('there is no IPv4 default route to pick the underlay interface from: name it (--iface)', 'iface');
    }
    const link = await this.link(dev);
    if (!link) throw new ConfigError(`underlay interface ${dev} does not exist`, 'iface');
    const addrs = await this.ipv4Addresses(dev);
    const first = addrs[0];
    if (first === undefined) throw new ConfigError(`underlay interface ${dev} has no IPv4 address`, 'iface');
    return { name: dev, ip: first.split('/')[0]!, mtu: link.mtu };
  }

  /**
   * Readies the TAP as a VTEP: MAC, MTU (underlay MTU - 50), address
   * `<subnet network>/32`, up. Call it after the TAP is open (attached), and
   * before adding peer routes (onlink routes need the carrier).
   *
   * Routes of ours already out of this TAP are removed first: the peers'
   * routes are added again from the control plane's snapshot right after,
   * and a route to a peer that left while no vxtap ran would otherwise stay.
   * Only a persistent TAP (made by root for vxtap, `ip tuntap add`) can hold
   * them: a TAP that vxtap made goes with the process, and its routes with it.
   */
  async setupVtep(cfg: VtepConfig): Promise<number> {
    const stale = await this.flushOwnRoutes(cfg.tap);
    await this.setLink(cfg.tap, { mac: cfg.mac, mtu: vtepMtu(cfg.underlayMtu) });
    await this.replaceAddress(cfg.tap, vtepAddress(cfg.subnet));
    await this.setLink(cfg.tap, { up: true });
    return stale;
  }

  // ---- IPv6 (issue #13: the IPv6 overlay in routed mode) ------------------

  /**
   * Readies the TAP for the IPv6 overlay: our IPv6 routes left on it by an
   * earlier run go (as setupVtep does for IPv4), then the address
   * `<subnet6>::/128` (vtepAddress6), without DAD (netlink.ts IFA_F_NODAD
   * says why). Call it after setupVtep (the TAP is up). Returns how many
   * stale routes went.
   *
   * No IPv6 neighbour entries are installed, as none are for IPv4: flannel
   * writes a permanent NDP entry per peer because the kernel's vxlan device
   * would otherwise send the NS into the tunnel; here the switch answers
   * every NS for a peer's `<subnet6>::` from its ND table
   * (switch/nd-responder.ts), so the kernel's own neighbour cache fills
   * itself, and a peer that leaves takes nothing stale with it.
   */
  async setupVtep6(tap: string, subnet6: string): Promise<number> {
    const own = (await this.routes6(tap)).filter((r) => r.protocol === RTPROT_VXTAP);
    for (const r of own) await this.deleteRoute6(r.gateway === undefined ? { dst: r.dst, dev: r.dev } : { dst: r.dst, gateway: r.gateway, dev: r.dev, onlink: r.onlink });
    await this.replaceAddress6(tap, vtepAddress6(subnet6));
    return own.length;
  }

  /** Adds an IPv6 'addr/len' to a link without DAD, or refreshes it (NLM_F_CREATE|NLM_F_REPLACE). */
  async replaceAddress6(name: string, cidr: string): Promise<void> {
    const what = `adding address ${cidr} to ${name}`;
    interfaceCidr6(cidr, what);
    const index = await this.indexOf(name, what);
    await this.call(what, (r) => r.addAddress6(index, cidr, { nodad: true }));
  }

  /** Removes an IPv6 address from a link; one that is not there is not an error. */
  async deleteAddress6(name: string, cidr: string): Promise<void> {
    const what = `deleting address ${cidr} from ${name}`;
    interfaceCidr6(cidr, what);
    await this.removeAddress(name, what, (r, index) => r.deleteAddress6(index, cidr));
  }

  /** The IPv6 addresses of a link, 'addr/len' (RFC 5952). */
  async ipv6Addresses(name: string): Promise<string[]> {
    const what = `listing IPv6 addresses of ${name}`;
    const index = await this.indexOf(name, what);
    return (await this.call(what, (r) => r.addresses6(index))).map((a) => a.cidr);
  }

  /** IPv6 unicast routes of the main table, optionally only those out of `dev`. */
  async routes6(dev?: string): Promise<RouteInfo[]> {
    const what = dev === undefined ? 'listing IPv6 routes' : `listing IPv6 routes of ${dev}`;
    const [all, links] = await Promise.all([this.call(what, (r) => r.routes6()), this.links()]);
    const names = new Map(links.map((l) => [l.index, l.name]));
    const out: RouteInfo[] = [];
    for (const r of all) {
      if (r.type !== RTN_UNICAST || r.oif === undefined) continue;
      const info = describeAny(r, names);
      if (dev === undefined || info.dev === dev) out.push(info);
    }
    return out;
  }

  /**
   * replaceRoute for an IPv6 route, with the same ownership rule: where the
   * destination has a route that is not ours (any metric), a
   * RouteConflictError. Who holds it is read from one dump of the main
   * table's IPv6 routes (not a fib lookup as for IPv4: an IPv6 peer route
   * is installed once per dual-stack peer, and the dump is exact about
   * metrics), then the route is added with NLM_F_EXCL where there was none.
   */
  async replaceRoute6(route: RouteSpec): Promise<void> {
    const what = `adding route ${describeRoute(route)}`;
    const dst = cidr6(route.dst, what);
    const index = await this.indexOf(route.dev, what);
    const exact = `${ipv6.formatAddress(dst.addr)}/${dst.len}`;
    const [all, links] = await Promise.all([this.call(`${what}: listing routes`, (r) => r.routes6()), this.links()]);
    const names = new Map(links.map((l) => [l.index, l.name]));
    let holder: RouteInfo | null = null;
    for (const r of all) {
      if (r.dst !== exact) continue;
      const info = describeAny(r, names);
      if (!isOurs(info, route)) throw conflict(route, info);
      holder = info;
    }
    const spec: RouteAdd = { dst: exact, oif: index, onlink: route.onlink === true, protocol: RTPROT_VXTAP, ...(route.gateway !== undefined ? { gateway: route.gateway } : {}) };
    await this.call(what, (r) => r.addRoute6(spec, NLM_F_CREATE | (holder === null ? NLM_F_EXCL : NLM_F_REPLACE)));
  }

  /** deleteRoute for an IPv6 route: only ours (the protocol matches); one that is not there is not an error. */
  async deleteRoute6(route: RouteSpec): Promise<void> {
    const what = `deleting route ${describeRoute(route)}`;
    const link = await this.link(route.dev);
    if (!link) return;
    cidr6(route.dst, what);
    const spec: RouteDelete = { dst: route.dst, oif: link.index, onlink: route.onlink === true, protocol: RTPROT_VXTAP, ...(route.gateway !== undefined ? { gateway: route.gateway } : {}) };
    try {
      await this.call(what, (r) => r.deleteRoute6(spec));
    } catch (err) {
      const e = errnoOf(err);
      if (e === 'ESRCH' || e === 'ENOENT' || e === 'ENODEV') return;
      throw err;
    }
  }

  // ---- internals ---------------------------------------------------------

  /** One Rtnl call; a failure becomes a NetlinkError that says `what` was being done. */
  private async call<T>(what: string, fn: (rtnl: Rtnl) => Promise<T>): Promise<T> {
    if (this.closed) throw new NetlinkError('the rtnetlink socket is closed', 'EBADF');
    try {
      return await fn(this.rtnl);
    } catch (err) {
      throw wrap(what, err);
    }
  }

  private async indexOf(name: string, what: string): Promise<number> {
    const link = await this.link(name);
    if (!link) throw new NetlinkError(`${what}: ENODEV (no such device)`, 'ENODEV');
    return link.index;
  }

  private async nameOf(index: number, what: string): Promise<string | null> {
    return (await this.call(what, (r) => r.linkByIndex(index)))?.name ?? null;
  }

  /**
   * The main-table route whose destination is exactly `dst` (the one the
   * kernel would pick among several metrics), or null when there is none.
   */
  private async holderOf(dst: string, what: string): Promise<RouteInfo | null> {
    const want = cidr(dst, what);
    let found: RtnlRoute | null = null;
    try {
      // RTM_F_LOOKUP_TABLE: the answer names the table it came from (else it says main).
      found = await this.call(what, (r) => r.routeGet(formatIpv4(want.addr), { fibMatch: true, lookupTable: true }));
    } catch (err) {
      // ENETUNREACH: no route covers the address at all. The lookup fails
      // differently where the match is a blackhole (EINVAL), unreachable
      // (EHOSTUNREACH) or prohibit (EACCES) route: the dump below tells.
      if (errnoOf(err) === 'ENETUNREACH') return null;
    }
    if (found !== null && found.table === RT_TABLE_MAIN) {
      const len = prefixLen(found.dst);
      if (len < want.len) return null; // a same-prefix route would have won
      if (len === want.len) {
        const names = new Map<number, string>();
        if (found.oif !== undefined) names.set(found.oif, (await this.nameOf(found.oif, what)) ?? `if${found.oif}`);
        return describeAny(found, names);
      }
    }
    // A more specific route, or one from another table (policy rules): look at the main table itself.
    const [all, links] = await Promise.all([this.call(`${what}: listing routes`, (r) => r.routes()), this.links()]);
    const names = new Map(links.map((l) => [l.index, l.name]));
    const exact = `${formatIpv4(want.addr)}/${want.len}`;
    let best: RtnlRoute | null = null;
    for (const r of all) {
      if (r.dst === exact && (best === null || r.priority < best.priority)) best = r;
    }
    return best === null ? null : describeAny(best, names);
  }
}

// ---- pure helpers --------------------------------------------------------

function linkInfo(l: RtnlLink): LinkInfo {
  // RtnlLink's other fields (all IFF_* flags) stay out: LinkInfo is what callers compare.
  return { index: l.index, name: l.name, mtu: l.mtu, mac: l.mac, up: l.up, master: l.master };
}

/** What Rtnl sends for one of our routes (after kernel.ts's own checks, so a bad CIDR names what was being done). */
function routeAdd(route: RouteSpec, oif: number, what: string): RouteAdd {
  const dst = cidr(route.dst, what);
  const base = { dst: `${formatIpv4(dst.addr)}/${dst.len}`, oif, onlink: route.onlink === true, protocol: RTPROT_VXTAP };
  // Scope: Rtnl's default, universe via a gateway, link scope straight onto the link.
  return route.gateway === undefined ? base : { ...base, gateway: formatIpv4(address(route.gateway, what)) };
}

/** Any route as a RouteInfo, blackholes and multipath too (dev '' when it has no single device). */
/**
 * Ours: our protocol through the device we install on. A protocol-118 route
 * through another device belongs to another vxtap on this host (its own TAP).
 */
function isOurs(holder: RouteInfo, route: RouteSpec): boolean {
  return holder.protocol === RTPROT_VXTAP && holder.dev === route.dev;
}

function describeAny(r: RtnlRoute, names: ReadonlyMap<number, string>): RouteInfo {
  const dev = r.oif === undefined ? '' : names.get(r.oif) ?? `if${r.oif}`;
  return r.gateway === undefined
    ? { dst: r.dst, dev, onlink: r.onlink, protocol: r.protocol }
    : { dst: r.dst, gateway: r.gateway, dev, onlink: r.onlink, protocol: r.protocol };
}

function prefixLen(cidr: string): number {
  return Number(cidr.slice(cidr.indexOf('/') + 1));
}

/** A protocol number as `ip route` names it ('kernel', 'static'), or the number ('42'). */
function protocolName(p: number): string {
  if (p === RTPROT_VXTAP) return 'vxtap';
  return RTPROT_NAMES[p] ?? String(p);
}

function conflict(route: RouteSpec, holder: RouteInfo): RouteConflictError {
  const existing = `${holder.dst}${holder.gateway !== undefined ? ` via ${holder.gateway}` : ''}${holder.dev !== '' ? ` dev ${holder.dev}` : ''} proto ${protocolName(holder.protocol)}`;
  return new RouteConflictError(
    `adding route ${describeRoute(route)}: ${holder.dst} already has a route vxtap did not install (${existing}); left as it is`,
    route.dst, existing);
}

function describeChange(c: LinkChange): string {
  const parts: string[] = [];
  if (c.mac !== undefined) parts.push(`address ${c.mac}`);
  if (c.mtu !== undefined) parts.push(`mtu ${c.mtu}`);
  if (c.up !== undefined) parts.push(c.up ? 'up' : 'down');
  return parts.length ? ` ${parts.join(' ')}` : '';
}

function describeRoute(r: RouteSpec): string {
  return `${r.dst}${r.gateway !== undefined ? ` via ${r.gateway}` : ''} dev ${r.dev}${r.onlink ? ' onlink' : ''}`;
}

const ERRNO_TEXT: Record<string, string> = {
  ENODEV: 'no such device',
  EPERM: 'operation not permitted: needs CAP_NET_ADMIN',
  EEXIST: 'already exists',
  ENETUNREACH: 'network unreachable: the gateway is not on the link (onlink missing, or the device has no carrier)',
  EINVAL: 'invalid argument',
  EADDRNOTAVAIL: 'address not available',
  EBUSY: 'device or resource busy',
  ETIMEDOUT: 'no answer from the kernel',
};

/** The errno name of a failure: a NetlinkError's (an RtnlError is one), or an ErrnoException's code. */
function errnoOf(err: unknown): string | undefined {
  if (err instanceof NetlinkError) return err.errno;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
}

/**
 * A failure as kernel.ts reports it: what was being done, the errno name, what
 * it means here, and the kernel's own words when it sent them (extended ack).
 * Rtnl's errors are re-worded (their message names the raw request); vxtap's
 * other errors already say what they are and pass as they are (a NetlinkError
 * from a nested call, a ConfigError, a PrerequisiteError when the addon is
 * not built).
 */
function wrap(what: string, err: unknown): VxtapError {
  if (err instanceof VxtapError && !(err instanceof RtnlError)) return err;
  const errno = errnoOf(err);
  if (errno === undefined) return new NetlinkError(`${what}: ${err instanceof Error ? err.message : String(err)}`, undefined, { cause: err });
  const notes: string[] = [];
  const meaning = ERRNO_TEXT[errno] ?? (err instanceof RtnlError ? err.detail : undefined);
  if (meaning !== undefined) notes.push(meaning);
  if (err instanceof RtnlError && err.extack !== undefined) notes.push(`kernel: ${err.extack}`);
  return new NetlinkError(`${what}: ${errno}${notes.length ? ` (${notes.join('; ')})` : ''}`, errno, { cause: err });
}
