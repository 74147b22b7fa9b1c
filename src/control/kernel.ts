/**
 * The kernel side of the VTEP, over rtnetlink (the `netlink` package; no `ip`
 * child processes).
 *
 * Like flannel's vxlan backend, vxtap keeps the kernel state per remote host
 * small and fixed: ONE route `<peer subnet> via <peer subnet>.0 dev TAP onlink`.
 * The gateway `<peer subnet>.0` is the peer's VTEP address; it is not on any
 * local prefix, so the route must be `onlink` (RTNH_F_ONLINK: "trust me, the
 * gateway is on this link"). The ARP answer for that gateway and the FDB entry
 * (VTEP MAC -> the peer's public IP) live in the user-space switch, not here.
 *
 * Quirks of the `netlink` package 0.3.0 this module hides behind typed methods:
 * - the typed route flag `{onlink: true}` exists only on the multipath nexthop
 *   struct; on the route message it must be the raw bit `{__unknown: 4}`,
 *   or the kernel answers ENETUNREACH;
 * - a rejected request is a plain `Error('Request rejected: ENODEV')`, so the
 *   errno name is taken out of the message;
 * - route and address dumps return every family and table; they are filtered
 *   here (IPv4, main table).
 * - An onlink route through a TAP is refused until a process holds the TAP open
 *   and it is up (no carrier before that): set the TAP up first, then route.
 *
 * - one socket runs one dump at a time (the kernel allows one, and the
 *   package keeps a single buffer for multipart replies: two interleaved
 *   dumps fail with "Multipart message not terminated properly"), so every
 *   request here goes through one queue.
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
 * is a NetlinkError whose message says what was being done and the errno name
 * (`adding route 10.44.2.0/24 via 10.44.2.0 dev vxtap.1 onlink: ENETUNREACH (…)`);
 * an argument that cannot be used (a bad CIDR, MAC or MTU) is a ConfigError.
 */
import { createRtNetlink, rt, type RtNetlinkSocket, type ifla } from 'netlink';
import { ConfigError, NetlinkError, RouteConflictError } from '../errors';
import { formatIpv4, formatMac, isMac, parseCidr, parseIpv4, parseMac } from '../wire/addr';

const AF_INET = 2;
const RT_TABLE_MAIN = 254;
/** rtm_flags bit RTNH_F_ONLINK (include/uapi/linux/rtnetlink.h). */
const RTNH_F_ONLINK = 4;
const NLM_F_REPLACE = 0x100;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;

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

export interface LinkInfo {
  readonly index: number;
  readonly name: string;
  readonly mtu: number;
  /** Lower-case aa:bb:cc:dd:ee:ff. */
  readonly mac: string;
  /** The administrative state (IFF_UP), not the carrier. */
  readonly up: boolean;
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
export function vtepMtu(underlayMtu: number): number {
  return underlayMtu - VXLAN_OVERHEAD;
}

/** The TAP's own address for a subnet: its network address as a /32 ('10.44.1.0/24' -> '10.44.1.0/32'). */
export function vtepAddress(subnet: string): string {
  return `${formatIpv4(parseSubnet(subnet, 'vtep address').addr)}/32`;
}

/** The one route per peer, flannel-style: `<subnet> via <subnet>.0 dev <dev> onlink`. */
export function peerRoute(subnet: string, dev: string): RouteSpec {
  const c = parseSubnet(subnet, 'peer route');
  return { dst: `${formatIpv4(c.addr)}/${c.len}`, gateway: formatIpv4(c.addr), dev, onlink: true };
}

export class KernelNet {
  private closed = false;
  /** The tail of the request queue: each request starts when the previous one settled. */
  private tail: Promise<unknown> = Promise.resolve();
  /** A receive error the socket reported outside of any request (e.g. ENOBUFS); kept for diagnostics. */
  lastSocketError: Error | null = null;

  private constructor(private readonly sock: RtNetlinkSocket, private readonly timeoutMs: number) {
    // Without a listener an 'error' event would crash the process.
    sock.socket.on('error', (err) => { this.lastSocketError = err; });
  }

  /** Opens one rtnetlink socket. It does not keep the event loop alive between requests. */
  static open(opts: { timeoutMs?: number } = {}): KernelNet {
    let sock: RtNetlinkSocket;
    try {
      sock = createRtNetlink();
    } catch (err) {
      throw wrap('opening an rtnetlink socket', err);
    }
    return new KernelNet(sock, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  }

  /** Closes the socket. Idempotent; requests still pending never settle. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sock.socket.close();
  }

  // ---- links -------------------------------------------------------------

  /** The link named `name`, or null when there is none. */
  async link(name: string): Promise<LinkInfo | null> {
    try {
      const msgs = await this.serial(() => this.sock.getLink({}, { ifname: name }, this.opts()));
      const m = msgs.find((x) => x.kind === 'link');
      return m ? linkInfo(m.data, m.attrs) : null;
    } catch (err) {
      if (errnoOf(err) === 'ENODEV') return null;
      throw wrap(`looking up link ${name}`, err);
    }
  }

  /** Every link in this namespace. */
  async links(): Promise<LinkInfo[]> {
    const msgs = await this.call('listing links', () => this.sock.getLinks(undefined, undefined, this.opts()));
    return msgs.filter((m) => m.kind === 'link').map((m) => linkInfo(m.data, m.attrs));
  }

  /**
   * Sets MAC, MTU and the up/down state of a link. MAC and MTU are applied
   * before the link goes up (the kernel handles IFLA_ADDRESS and IFLA_MTU
   * before the IFF_* flags in one message); going down is sent first, on its
   * own, so a MAC change on a device that refuses live changes still works.
   */
  async setLink(name: string, change: LinkChange): Promise<void> {
    const what = `setting link ${name}${describeChange(change)}`;
    let mac: Buffer | undefined;
    if (change.mac !== undefined) {
      if (!isMac(change.mac)) throw new ConfigError(`${what}: not a MAC address: ${JSON.stringify(change.mac)}`, 'mac');
      mac = parseMac(change.mac);
    }
    if (change.mtu !== undefined && (!Number.isInteger(change.mtu) || change.mtu < 68 || change.mtu > 65535)) {
      throw new ConfigError(`${what}: MTU must be an integer in 68..65535, got ${change.mtu}`, 'mtu');
    }
    const index = await this.indexOf(name, what);
    if (change.up === false) {
      await this.call(what, () => this.sock.setLink({ index, flags: {}, change: { up: true } }, {}, this.opts()));
    }
    const attrs: ifla.LinkAttrs = {};
    if (mac) attrs.address = mac;
    if (change.mtu !== undefined) attrs.mtu = change.mtu;
    const data: rt.Link = change.up === true
      ? { index, flags: { up: true }, change: { up: true } }
      : { index, flags: {}, change: {} };
    if (change.up !== true && Object.keys(attrs).length === 0) return;
    await this.call(what, () => this.sock.setLink(data, attrs, this.opts()));
  }

  // ---- addresses -------------------------------------------------------

  /**
   * Adds `cidr` ('10.44.1.0/32', or an interface address like '192.168.90.1/24')
   * to a link, or refreshes it if it is there: NLM_F_CREATE|NLM_F_REPLACE, so
   * calling it twice is fine.
   */
  async replaceAddress(name: string, cidr: string): Promise<void> {
    const what = `adding address ${cidr} to ${name}`;
    const { addr, len } = parseInterfaceCidr(cidr, what);
    const index = await this.indexOf(name, what);
    const ip = ipBytes(addr);
    await this.call(what, () => this.sock.newAddress(
      { family: AF_INET, prefixlen: len, index },
      { local: ip, address: ip },
      { ...this.opts(), flags: NLM_F_CREATE | NLM_F_REPLACE },
    ));
  }

  /** Removes an address from a link; one that is not there is not an error. */
  async deleteAddress(name: string, cidr: string): Promise<void> {
    const what = `deleting address ${cidr} from ${name}`;
    const { addr, len } = parseInterfaceCidr(cidr, what);
    const link = await this.link(name);
    if (!link) return;
    const ip = ipBytes(addr);
    try {
      await this.serial(() => this.sock.delAddress({ family: AF_INET, prefixlen: len, index: link.index }, { local: ip, address: ip }, this.opts()));
    } catch (err) {
      if (errnoOf(err) === 'EADDRNOTAVAIL') return;
      throw wrap(what, err);
    }
  }

  /** The IPv4 addresses of a link as 'a.b.c.d/len', in the kernel's order (primary first). */
  async ipv4Addresses(name: string): Promise<string[]> {
    const what = `listing IPv4 addresses of ${name}`;
    const index = await this.indexOf(name, what);
    const msgs = await this.call(what, () => this.sock.getAddresses({ family: AF_INET }, undefined, this.opts()));
    const out: string[] = [];
    for (const m of msgs) {
      if (m.kind !== 'address' || m.data.family !== AF_INET || m.data.index !== index) continue;
      const ip = m.attrs.local ?? m.attrs.address;
      if (ip && ip.length === 4) out.push(`${ip.join('.')}/${m.data.prefixlen ?? 32}`);
    }
    return out;
  }

  // ---- routes ------------------------------------------------------------

  /**
   * Installs one of our routes (protocol RTPROT_VXTAP, main table, metric 0):
   * adds it where its destination has no route, replaces ours where there is
   * one (idempotent; a peer's new gateway or device), and throws
   * RouteConflictError where the destination has a route that is not ours.
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
    const what = `adding route ${describeRoute(route)}`;
    const { data, attrs } = await this.routeMessage(route, what);
    const holder = await this.holderOf(route.dst, what);
    if (holder !== null && holder.protocol !== RTPROT_VXTAP) throw conflict(route, holder);
    try {
      await this.serial(() => this.sock.newRoute(data, attrs, { ...this.opts(), flags: NLM_F_CREATE | (holder === null ? NLM_F_EXCL : NLM_F_REPLACE) }));
    } catch (err) {
      if (holder !== null || errnoOf(err) !== 'EEXIST') throw wrap(what, err);
      // Someone added a route to this destination since the look: whose?
      const now = await this.holderOf(route.dst, what);
      if (now !== null && now.protocol !== RTPROT_VXTAP) throw conflict(route, now);
      await this.call(what, () => this.sock.newRoute(data, attrs, { ...this.opts(), flags: NLM_F_CREATE | NLM_F_REPLACE }));
    }
  }

  /**
   * Deletes one of our routes: the kernel matches the protocol (and gateway
   * and device), so a route to the same destination that is not ours stays.
   * A route (or device) that is not there is not an error (ESRCH, ENOENT, ENODEV).
   */
  async deleteRoute(route: RouteSpec): Promise<void> {
    const what = `deleting route ${describeRoute(route)}`;
    const link = await this.link(route.dev);
    if (!link) return;
    const { data, attrs } = routeMessageFor(route, link.index, what);
    // RT_SCOPE_NOWHERE matches a route of any scope, as `ip route del` does.
    data.scope = 'NOWHERE';
    try {
      await this.serial(() => this.sock.delRoute(data, attrs, this.opts()));
    } catch (err) {
      const e = errnoOf(err);
      if (e === 'ESRCH' || e === 'ENOENT' || e === 'ENODEV') return;
      throw wrap(what, err);
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
    const [msgs, links] = await Promise.all([
      this.call(what, () => this.sock.getRoutes({ family: AF_INET }, undefined, this.opts())),
      this.links(),
    ]);
    const names = new Map(links.map((l) => [l.index, l.name]));
    const out: RouteInfo[] = [];
    for (const m of msgs) {
      if (m.kind !== 'route') continue;
      const r = parseRoute(m.data, m.attrs, names);
      if (!r || (dev !== undefined && r.route.dev !== dev)) continue;
      out.push(r.route);
    }
    return out;
  }

  /**
   * The interface that carries the IPv4 default route (main table), or null.
   * With several default routes, the one with the lowest metric wins.
   */
  async defaultRouteInterface(): Promise<string | null> {
    const [msgs, links] = await Promise.all([
      this.call('looking up the default route', () => this.sock.getRoutes({ family: AF_INET }, undefined, this.opts())),
      this.links(),
    ]);
    const names = new Map(links.map((l) => [l.index, l.name]));
    let best: { dev: string; metric: number } | null = null;
    for (const m of msgs) {
      if (m.kind !== 'route') continue;
      const r = parseRoute(m.data, m.attrs, names);
      if (!r || r.route.dst !== '0.0.0.0/0') continue;
      if (!best || r.metric < best.metric) best = { dev: r.route.dev, metric: r.metric };
    }
    return best ? best.dev : null;
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

  // ---- internals ---------------------------------------------------------

  private opts(): { timeout: number } {
    if (this.closed) throw new NetlinkError('the rtnetlink socket is closed', 'EBADF');
    return { timeout: this.timeoutMs };
  }

  /** Runs one request after all earlier ones (see the note on dumps above). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await this.serial(fn);
    } catch (err) {
      throw wrap(what, err);
    }
  }

  private async indexOf(name: string, what: string): Promise<number> {
    const link = await this.link(name);
    if (!link) throw new NetlinkError(`${what}: ENODEV (no such device)`, 'ENODEV');
    return link.index;
  }

  private async routeMessage(route: RouteSpec, what: string): Promise<{ data: rt.Route; attrs: rt.RouteAttrs }> {
    return routeMessageFor(route, await this.indexOf(route.dev, what), what);
  }

  /**
   * The main-table route whose destination is exactly `dst` (the one the
   * kernel would pick among several metrics), or null when there is none.
   */
  private async holderOf(dst: string, what: string): Promise<RouteInfo | null> {
    const want = parseSubnet(dst, what);
    let msgs: rt.RouteMessage[] = [];
    try {
      msgs = await this.serial(() => this.sock.getRoute(
        // RTM_F_LOOKUP_TABLE: the answer names the table it came from (else it says main).
        { family: AF_INET, dstLen: 32, flags: { fibMatch: true, lookupTable: true } },
        { dst: ipBytes(want.addr) },
        this.opts(),
      ));
    } catch (err) {
      // ENETUNREACH: no route covers the address at all. The lookup fails
      // differently where the match is a blackhole (EINVAL), unreachable
      // (EHOSTUNREACH) or prohibit (EACCES) route: the dump below tells.
      if (errnoOf(err) === 'ENETUNREACH') return null;
    }
    const m = msgs.find((x) => x.kind === 'route');
    if (m !== undefined) {
      const table = m.attrs.table ?? m.data.table;
      const len = m.data.dstLen ?? 0;
      if (table === RT_TABLE_MAIN && len < want.len) return null; // a same-prefix route would have won
      if (table === RT_TABLE_MAIN && len === want.len) {
        const names = new Map<number, string>();
        if (m.attrs.oif !== undefined) names.set(m.attrs.oif, (await this.nameOf(m.attrs.oif)) ?? `if${m.attrs.oif}`);
        return describeAny(m.data, m.attrs, names);
      }
    }
    // A more specific route, or one from another table (policy rules): look at the main table itself.
    const [all, links] = await Promise.all([
      this.call(`${what}: listing routes`, () => this.sock.getRoutes({ family: AF_INET }, undefined, this.opts())),
      this.links(),
    ]);
    const names = new Map(links.map((l) => [l.index, l.name]));
    let best: { r: RouteInfo; metric: number } | null = null;
    for (const x of all) {
      if (x.kind !== 'route' || x.data.family !== AF_INET || (x.attrs.table ?? x.data.table) !== RT_TABLE_MAIN) continue;
      if ((x.data.dstLen ?? 0) !== want.len || !sameAddr(x.attrs.dst, want.addr)) continue;
      const metric = x.attrs.priority ?? 0;
      if (best === null || metric < best.metric) best = { r: describeAny(x.data, x.attrs, names), metric };
    }
    return best === null ? null : best.r;
  }

  private async nameOf(index: number): Promise<string | null> {
    const msgs = await this.call('listing links', () => this.sock.getLinks(undefined, undefined, this.opts()));
    const m = msgs.find((x) => x.kind === 'link' && x.data.index === index);
    return m?.attrs.ifname ?? null;
  }
}

// ---- pure helpers --------------------------------------------------------

function linkInfo(data: rt.Link, attrs: ifla.LinkAttrs): LinkInfo {
  const mac = attrs.address && attrs.address.length === 6 ? formatMac(attrs.address) : '';
  return { index: data.index ?? 0, name: attrs.ifname ?? '', mtu: attrs.mtu ?? 0, mac, up: data.flags?.up === true };
}

function routeMessageFor(route: RouteSpec, oif: number, what: string): { data: rt.Route; attrs: rt.RouteAttrs } {
  const dst = parseSubnet(route.dst, what);
  const attrs: rt.RouteAttrs = { oif };
  if (dst.len > 0) attrs.dst = ipBytes(dst.addr);
  if (route.gateway !== undefined) attrs.gateway = ipBytes(parseAddr(route.gateway, what));
  const data: rt.Route = {
    family: AF_INET,
    dstLen: dst.len,
    table: RT_TABLE_MAIN,
    // Ours: `ip route show proto 118` lists them, and a delete matches it.
    protocol: RTPROT_VXTAP as rt.RouteProtocol,
    // A route via a gateway is global; a route straight onto the link is link scope.
    scope: route.gateway !== undefined ? 'UNIVERSE' : 'LINK',
    type: 'UNICAST',
    // The raw rtm_flags bit; the package's typed `onlink` is not on this struct.
    flags: route.onlink ? { __unknown: RTNH_F_ONLINK } : {},
  };
  return { data, attrs };
}

function parseRoute(data: rt.Route, attrs: rt.RouteAttrs, names: Map<number, string>): { route: RouteInfo; metric: number } | null {
  if (data.family !== AF_INET) return null;
  if ((attrs.table ?? data.table) !== RT_TABLE_MAIN) return null;
  if (data.type !== undefined && data.type !== 'UNICAST' && data.type !== 1) return null;
  if (attrs.oif === undefined) return null;
  return { route: describeAny(data, attrs, names), metric: attrs.priority ?? 0 };
}

/** Any route as a RouteInfo, blackholes and multipath too (dev '' when it has no single device). */
function describeAny(data: rt.Route, attrs: rt.RouteAttrs, names: Map<number, string>): RouteInfo {
  const dev = attrs.oif === undefined ? '' : names.get(attrs.oif) ?? `if${attrs.oif}`;
  const dst = `${attrs.dst && attrs.dst.length === 4 ? attrs.dst.join('.') : '0.0.0.0'}/${data.dstLen ?? 0}`;
  const onlink = ((data.flags?.__unknown ?? 0) & RTNH_F_ONLINK) !== 0;
  const gateway = attrs.gateway && attrs.gateway.length === 4 ? attrs.gateway.join('.') : undefined;
  const protocol = protocolNumber(data.protocol);
  return gateway === undefined ? { dst, dev, onlink, protocol } : { dst, gateway, dev, onlink, protocol };
}

/** rtm_protocol as a number (the package gives a known one as its name). */
function protocolNumber(p: rt.Route['protocol']): number {
  if (p === undefined) return 0;
  return typeof p === 'number' ? p : rt.RouteProtocol[p];
}

/** A protocol number as `ip route` names it ('kernel', 'static', 'proto 118'). */
function protocolName(p: number): string {
  if (p === RTPROT_VXTAP) return 'vxtap';
  const name = rt.RouteProtocol[p];
  return name === undefined ? `proto ${p}` : name.toLowerCase();
}

function sameAddr(b: Buffer | undefined, addr: number): boolean {
  const got = b && b.length === 4 ? b.readUInt32BE(0) : 0;
  return got === addr >>> 0;
}

function conflict(route: RouteSpec, holder: RouteInfo): RouteConflictError {
  const existing = `${holder.dst}${holder.gateway !== undefined ? ` via ${holder.gateway}` : ''}${holder.dev !== '' ? ` dev ${holder.dev}` : ''} proto ${protocolName(holder.protocol)}`;
  return new RouteConflictError(
    `adding route ${describeRoute(route)}: ${holder.dst} already has a route vxtap did not install (${existing}); left as it is`,
    route.dst, existing);
}

function ipBytes(addr: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(addr >>> 0, 0);
  return b;
}

function parseSubnet(text: string, what: string): { addr: number; len: number } {
  try {
    return parseCidr(text);
  } catch (err) {
    throw new ConfigError(`${what}: ${(err as Error).message}`);
  }
}

function parseAddr(text: string, what: string): number {
  try {
    return parseIpv4(text);
  } catch (err) {
    throw new ConfigError(`${what}: ${(err as Error).message}`);
  }
}

/** 'a.b.c.d/len' where host bits may be set (an interface address, not a network). */
function parseInterfaceCidr(text: string, what: string): { addr: number; len: number } {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text);
  const len = m ? Number(m[2]) : NaN;
  if (!m || len > 32) throw new ConfigError(`${what}: not an IPv4 address with prefix length (a.b.c.d/len): ${JSON.stringify(text)}`);
  return { addr: parseAddr(m[1]!, what), len };
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

/** The errno name in an error from the netlink package ('Request rejected: ENODEV', or an ErrnoException's code). */
function errnoOf(err: unknown): string | undefined {
  if (err instanceof NetlinkError) return err.errno;
  const e = err as { code?: unknown; message?: unknown } | null;
  if (e && typeof e.code === 'string' && /^E[A-Z0-9]+$/.test(e.code)) return e.code;
  const msg = e && typeof e.message === 'string' ? e.message : String(err);
  if (/Timeout has been reached/.test(msg)) return 'ETIMEDOUT';
  const m = /\b(E[A-Z0-9]{2,})\b/.exec(msg);
  return m ? m[1] : undefined;
}

function wrap(what: string, err: unknown): NetlinkError {
  if (err instanceof NetlinkError) return err;
  const errno = errnoOf(err);
  const text = errno !== undefined
    ? `${errno}${ERRNO_TEXT[errno] ? ` (${ERRNO_TEXT[errno]})` : ''}`
    : (err instanceof Error ? err.message : String(err));
  return new NetlinkError(`${what}: ${text}`, errno, { cause: err });
}
