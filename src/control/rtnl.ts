/**
 * vxtap's own rtnetlink client: the few link, address and route calls the
 * control plane makes, over the addon's netlink socket (native/netlink.cc)
 * and the codec in src/wire/netlink.ts. src/control/kernel.ts runs on it
 * (it replaced the `netlink` npm package there, issue #11). What it takes
 * care of for its callers:
 * - RTNH_F_ONLINK is a plain `onlink: true` on the route (rtm_flags bit 4);
 * - a refusal is an RtnlError with the errno name (`code`-like `errno`:
 *   'ENODEV', 'EEXIST', 'ENETUNREACH', ...) and the kernel's extended ack
 *   text when it sent one ("Nexthop has invalid gateway");
 * - dumps are filtered here: IPv4 only, one table (main by default);
 * - rtm_protocol is a number both ways, so vxtap's own protocol number
 *   survives a round trip, and a delete can match on it (the kernel compares
 *   rtm_protocol when it is not 0).
 *
 * Requests are serialised: one at a time on the one socket, in call order.
 * That is a rule of the transport (two receives on one socket would take
 * each other's answers), and it also keeps dumps apart (the kernel runs one
 * dump per socket at a time). Each request carries a fresh sequence number;
 * the transport skips any reply with another one, so a late answer to a
 * request that timed out never becomes the answer to the next.
 *
 * A dump that the kernel marks NLM_F_DUMP_INTR (the table changed while it
 * was being read) is read again, up to 3 times in all, then refused with
 * EINTR: a route list that may miss a route is worse than an error.
 */
import { getSystemErrorName } from 'node:util';
import { ConfigError, NetlinkError } from '../errors';
import { loadAddon, type Addon } from '../io/native';
import { formatIpv4, formatMac, isMac, parseCidr, parseIpv4, parseMac } from '../wire/addr';
import * as nl from '../wire/netlink';
import * as ipv6 from '../wire/ipv6';

export {
  NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE,
  RTPROT_BOOT, RTPROT_KERNEL, RTPROT_NAMES, RTPROT_STATIC, RTPROT_UNSPEC,
  RT_SCOPE_HOST, RT_SCOPE_LINK, RT_SCOPE_NOWHERE, RT_SCOPE_UNIVERSE, RT_TABLE_MAIN, RTN_UNICAST,
} from '../wire/netlink';

const DEFAULT_TIMEOUT_MS = 5000;
const DUMP_ATTEMPTS = 3;

/** Sends one request, returns the reply bytes (the addon's nlTransactAsync contract). */
export interface NlTransport {
  transact(request: Buffer): Promise<Buffer>;
  /** Called once, after the last transaction settled. */
  close(): void;
}

/** The addon's rtnetlink socket. */
export class NativeNlTransport implements NlTransport {
  private constructor(private readonly addon: Addon, private readonly fd: number) {}

  static open(timeoutMs: number): NativeNlTransport {
    const addon = loadAddon();
    return new NativeNlTransport(addon, addon.nlOpen(timeoutMs));
  }

  transact(request: Buffer): Promise<Buffer> {
    return this.addon.nlTransactAsync(this.fd, request);
  }

  close(): void {
    this.addon.close(this.fd);
  }
}

/**
 * A kernel refusal, a timeout or a broken reply. `errno` is the errno name
 * (NetlinkError's field, so kernel.ts's errnoOf reads it unchanged); `extack`
 * is the kernel's own explanation when it sent one.
 */
export class RtnlError extends NetlinkError {
  constructor(
    /** What was asked, e.g. 'RTM_NEWROUTE 10.44.2.0/24 via 10.44.2.0 oif 7 onlink proto 3'. */
    readonly request: string,
    errno: string,
    /** The errno number (positive); 0 when the failure is not the kernel's (a malformed reply). */
    readonly errnoNumber: number,
    readonly extack?: string,
    /** vxtap's own note on the failure (a timeout, an interrupted dump, a malformed reply), when there is one. */
    readonly detail?: string,
    options?: { cause?: unknown },
  ) {
    const notes = [detail, extack !== undefined ? `kernel: ${extack}` : undefined].filter((x) => x !== undefined);
    super(`${request}: ${errno}${notes.length ? ` (${notes.join('; ')})` : ''}`, errno, options);
  }
}

export interface RtnlLink {
  readonly index: number;
  readonly name: string;
  readonly mtu: number;
  /** Lower-case aa:bb:cc:dd:ee:ff; '' when the link has no 6-byte address (lo has 00:00:00:00:00:00). */
  readonly mac: string;
  /** IFF_UP: the administrative state, not the carrier. */
  readonly up: boolean;
  /** All IFF_* bits. */
  readonly flags: number;
  /** The ifindex of the bridge this link is a port of; 0: none. */
  readonly master: number;
}

export interface LinkSet {
  readonly up?: boolean;
  readonly mtu?: number;
  /** aa:bb:cc:dd:ee:ff */
  readonly mac?: string;
  /** Make the link a port of the bridge with this ifindex (0: of none). */
  readonly master?: number;
}

export interface RtnlAddress {
  readonly index: number;
  /** The interface's own address (IFA_LOCAL, else IFA_ADDRESS). */
  readonly address: string;
  readonly prefixLen: number;
  /** 'a.b.c.d/len', host bits kept ('192.168.77.1/24'). */
  readonly cidr: string;
  readonly scope: number;
}

/** An IPv4 route as the kernel reports it. */
export interface RtnlRoute {
  /** 'a.b.c.d/len'; '0.0.0.0/0' for a default route. */
  readonly dst: string;
  readonly gateway?: string;
  /** The output interface index; absent on multipath, blackhole, unreachable routes. */
  readonly oif?: number;
  readonly onlink: boolean;
  readonly protocol: number;
  readonly scope: number;
  /** RTN_*: 1 unicast, 2 local, 3 broadcast, 6 blackhole, ... */
  readonly type: number;
  /** RTA_PRIORITY (the metric); 0 when absent, which is what the kernel means by absent. */
  readonly priority: number;
  readonly table: number;
  readonly prefsrc?: string;
  /** All rtm_flags bits (RTNH_F_ONLINK, RTNH_F_LINKDOWN 0x10, ...). */
  readonly flags: number;
  /** routeGet only: the route's MTU metric (or a learned path MTU), when it has one. */
  readonly mtu?: number;
  /** routeGet only: the route's hoplimit metric (the TTL it gives), when it has one. */
  readonly hoplimit?: number;
}

/** An IPv4 neighbour entry (`ip neigh get`). */
export interface RtnlNeighbour {
  readonly index: number;
  readonly address: string;
  /** Lower-case aa:bb:cc:dd:ee:ff, or null while the kernel has none (INCOMPLETE, FAILED). */
  readonly mac: string | null;
  /** NUD_* bits. */
  readonly state: number;
  /** The state as `ip neigh` prints it: 'REACHABLE', 'STALE', ... */
  readonly stateName: string;
}

/** A route to add. */
export interface RouteAdd {
  /** A network, host bits zero: '10.44.2.0/24', '0.0.0.0/0'. */
  readonly dst: string;
  readonly gateway?: string;
  readonly oif: number;
  /** RTNH_F_ONLINK: the gateway is on this link although no local prefix covers it. */
  readonly onlink?: boolean;
  /** rtm_protocol; RTPROT_BOOT (3, what `ip route add` uses) when not given. */
  readonly protocol?: number;
  /** Universe with a gateway, link scope without, when not given (as `ip route add` does). */
  readonly scope?: number;
  readonly priority?: number;
  readonly table?: number;
}

/** A route to delete: everything given must match; what is left out matches anything. */
export interface RouteDelete {
  readonly dst: string;
  readonly gateway?: string;
  readonly oif?: number;
  readonly onlink?: boolean;
  /** Only a route of this rtm_protocol is deleted; any protocol when not given. */
  readonly protocol?: number;
  readonly priority?: number;
  readonly table?: number;
}

export class Rtnl {
  private seq: number;
  private closed = false;
  /** The tail of the request queue: each request starts when the previous one settled. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly transport: NlTransport) {
    // Any start works: replies are matched by sequence number AND port id,
    // and the port id is this socket's own.
    this.seq = 0;
  }

  /** One socket in the caller's network namespace; timeoutMs bounds each wait for the kernel. */
  static open(opts: { timeoutMs?: number } = {}): Rtnl {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    try {
      return new Rtnl(NativeNlTransport.open(timeoutMs));
    } catch (err) {
      const e = err as { code?: unknown; errno?: unknown; message?: unknown };
      // A PrerequisiteError (the addon is not built) goes through as it is.
      if (typeof e.code !== 'string' || !/^E[A-Z0-9]+$/.test(e.code)) throw err;
      throw new RtnlError('opening an rtnetlink socket', e.code,
        typeof e.errno === 'number' ? e.errno : 0, undefined, typeof e.message === 'string' ? e.message : undefined, { cause: err });
    }
  }

  /** Closes the socket once the requests already queued have settled; later calls fail with EBADF. Idempotent. */
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.tail = this.tail.then(() => this.transport.close(), () => this.transport.close());
    }
    return this.tail.then(() => undefined, () => undefined);
  }

  // ---- links -------------------------------------------------------------

  /** Every link of the namespace. */
  async links(): Promise<RtnlLink[]> {
    const msgs = await this.dump('RTM_GETLINK dump', (seq) => nl.dumpLinksRequest(seq));
    return msgs.filter((m) => m.type === nl.RTM_NEWLINK).map((m) => toLink(nl.parseLink(m)));
  }

  /** The link named `name`, or null when there is none (the kernel's ENODEV). */
  async link(name: string): Promise<RtnlLink | null> {
    try {
      const msgs = await this.request(`RTM_GETLINK ${name}`, (seq) => nl.getLinkRequest(seq, name));
      const m = msgs.find((x) => x.type === nl.RTM_NEWLINK);
      return m ? toLink(nl.parseLink(m)) : null;
    } catch (err) {
      if (err instanceof RtnlError && err.errno === 'ENODEV') return null;
      throw err;
    }
  }

  /** The link with this index, or null. */
  async linkByIndex(index: number): Promise<RtnlLink | null> {
    try {
      const msgs = await this.request(`RTM_GETLINK index ${index}`, (seq) => nl.getLinkByIndexRequest(seq, index));
      const m = msgs.find((x) => x.type === nl.RTM_NEWLINK);
      return m ? toLink(nl.parseLink(m)) : null;
    } catch (err) {
      if (err instanceof RtnlError && err.errno === 'ENODEV') return null;
      throw err;
    }
  }

  /**
   * One RTM_NEWLINK on link `index`: MTU and MAC, and IFF_UP set or cleared
   * when `up` is given. The kernel applies MTU and MAC before the flags, so a
   * link that goes up here comes up with them. (A device that refuses a MAC
   * change while up needs `{up: false}` first, as its own call.) Nothing to
   * change sends nothing. Bad MAC or MTU: ConfigError, before any request.
   */
  async setLink(index: number, change: LinkSet): Promise<void> {
    let mac: Buffer | undefined;
    if (change.mac !== undefined) {
      if (!isMac(change.mac)) throw new ConfigError(`setting link ${index}: not a MAC address: ${JSON.stringify(change.mac)}`, 'mac');
      mac = parseMac(change.mac);
    }
    if (change.mtu !== undefined && (!Number.isInteger(change.mtu) || change.mtu < 68 || change.mtu > 65535)) {
      throw new ConfigError(`setting link ${index}: MTU must be an integer in 68..65535, got ${change.mtu}`, 'mtu');
    }
    if (change.up === undefined && mac === undefined && change.mtu === undefined && change.master === undefined) return;
    const parts = [`RTM_NEWLINK index ${index}`];
    if (change.mac !== undefined) parts.push(`address ${change.mac.toLowerCase()}`);
    if (change.mtu !== undefined) parts.push(`mtu ${change.mtu}`);
    if (change.master !== undefined) parts.push(change.master === 0 ? 'nomaster' : `master ${change.master}`);
    if (change.up !== undefined) parts.push(change.up ? 'up' : 'down');
    const req: { up?: boolean; mtu?: number; mac?: Buffer; master?: number } = {};
    if (change.master !== undefined) req.master = change.master;
    if (change.up !== undefined) req.up = change.up;
    if (change.mtu !== undefined) req.mtu = change.mtu;
    if (mac !== undefined) req.mac = mac;
    await this.request(parts.join(' '), (seq) => nl.setLinkRequest(seq, index, req));
  }

  // ---- addresses -------------------------------------------------------

  /** IPv4 addresses, of one link or of all, in the kernel's order (primary first). */
  async addresses(index?: number): Promise<RtnlAddress[]> {
    const msgs = await this.dump('RTM_GETADDR dump', (seq) => nl.dumpAddrsRequest(seq, nl.AF_INET));
    const out: RtnlAddress[] = [];
    for (const m of msgs) {
      if (m.type !== nl.RTM_NEWADDR) continue;
      const a = nl.parseAddr(m);
      if (a.family !== nl.AF_INET || (index !== undefined && a.index !== index)) continue;
      const ip = a.local ?? a.address;
      if (!ip || ip.length !== 4) continue;
      const address = formatIpv4(ip.readUInt32BE(0));
      out.push({ index: a.index, address, prefixLen: a.prefixLen, cidr: `${address}/${a.prefixLen}`, scope: a.scope });
    }
    return out;
  }

  /**
   * Adds 'a.b.c.d/len' (host bits allowed: an interface address) to link
   * `index`. The default flags NLM_F_CREATE|NLM_F_REPLACE refresh an address
   * that is there, so a second call is fine; NLM_F_CREATE|NLM_F_EXCL makes it EEXIST.
   */
  async addAddress(index: number, cidr: string, flags: number = nl.NLM_F_CREATE | nl.NLM_F_REPLACE): Promise<void> {
    const { addr, len } = interfaceCidr(cidr, `adding address ${cidr}`);
    await this.request(`RTM_NEWADDR ${cidr} index ${index}`,
      (seq) => nl.addrRequest(seq, nl.RTM_NEWADDR, flags, { index, prefixLen: len, addr: ipBytes(addr) }));
  }

  /** Removes an address; one that is not there is EADDRNOTAVAIL (left to the caller to forgive). */
  async deleteAddress(index: number, cidr: string): Promise<void> {
    const { addr, len } = interfaceCidr(cidr, `deleting address ${cidr}`);
    await this.request(`RTM_DELADDR ${cidr} index ${index}`,
      (seq) => nl.addrRequest(seq, nl.RTM_DELADDR, 0, { index, prefixLen: len, addr: ipBytes(addr) }));
  }

  // ---- routes ------------------------------------------------------------

  /** IPv4 routes of one table (main by default), every type and protocol, in the kernel's order. */
  async routes(opts: { table?: number } = {}): Promise<RtnlRoute[]> {
    const table = opts.table ?? nl.RT_TABLE_MAIN;
    const msgs = await this.dump('RTM_GETROUTE dump', (seq) => nl.dumpRoutesRequest(seq, nl.AF_INET));
    const out: RtnlRoute[] = [];
    for (const m of msgs) {
      if (m.type !== nl.RTM_NEWROUTE) continue;
      const r = nl.parseRoute(m);
      if (r.family !== nl.AF_INET || r.table !== table) continue;
      out.push(toRoute(r));
    }
    return out;
  }

  /**
   * The main table's IPv4 default route with an output device: the unicast
   * 0.0.0.0/0 with the lowest metric (the kernel's choice), or null.
   */
  async defaultRoute(): Promise<RtnlRoute | null> {
    let best: RtnlRoute | null = null;
    for (const r of await this.routes()) {
      if (r.dst !== '0.0.0.0/0' || r.type !== nl.RTN_UNICAST || r.oif === undefined) continue;
      if (best === null || r.priority < best.priority) best = r;
    }
    return best;
  }

  /**
   * The kernel's route lookup for one address (`ip route get ADDR`; RTM_GETROUTE,
   * not a dump, so it costs the same with ten routes or ten thousand).
   *
   * - `fibMatch` (RTM_F_FIB_MATCH, `ip route get fibmatch`): the answer is
   *   the route that matched, as the table holds it (its dst and prefix
   *   length, protocol, metric, flags), the winner among routes to that
   *   prefix. Without it the answer is the /32 the kernel would use for that
   *   one address (flags RTM_F_CLONED).
   * - `lookupTable` (RTM_F_LOOKUP_TABLE): `table` is the table the policy
   *   rules led to (100, 255 local, ...); without it the kernel says main.
   *
   * The lookup's own refusals are RtnlErrors with its errno: ENETUNREACH
   * when no route covers the address; EINVAL, EHOSTUNREACH or EACCES when
   * the route that covers it is a blackhole, unreachable or prohibit route.
   */
  async routeGet(addr: string, opts: { fibMatch?: boolean; lookupTable?: boolean } = {}): Promise<RtnlRoute> {
    const ip = address(addr, 'looking up a route');
    const rtmFlags = (opts.fibMatch === true ? nl.RTM_F_FIB_MATCH : 0) | (opts.lookupTable === true ? nl.RTM_F_LOOKUP_TABLE : 0);
    const words = [opts.fibMatch === true ? 'fibmatch' : '', opts.lookupTable === true ? 'lookup-table' : ''].filter((w) => w !== '');
    const what = `RTM_GETROUTE ${addr}${words.length ? ` ${words.join(' ')}` : ''}`;
    const msgs = await this.request(what, (seq) => nl.getRouteRequest(seq, ipBytes(ip), rtmFlags));
    const m = msgs.find((x) => x.type === nl.RTM_NEWROUTE);
    if (m === undefined) throw new RtnlError(what, 'EPROTO', 0, undefined, 'the kernel acked the lookup without a route');
    let metrics: nl.RouteMetrics | undefined;
    try {
      metrics = nl.parseRouteMetrics(m);
    } catch (err) {
      throw new RtnlError(what, 'EPROTO', 0, undefined, `malformed reply: ${(err as Error).message}`, { cause: err });
    }
    return { ...toRoute(nl.parseRoute(m)), ...metrics };
  }

  // ---- neighbours --------------------------------------------------------

  /**
   * The kernel's neighbour entry for one IPv4 address on link `index` (`ip
   * neigh get ADDR dev DEV`), or null when it has none (ENOENT: nothing sent
   * to it yet, or the entry was garbage-collected).
   */
  async neighbour(index: number, addr: string): Promise<RtnlNeighbour | null> {
    const ip = address(addr, 'looking up a neighbour');
    const what = `RTM_GETNEIGH ${addr} index ${index}`;
    try {
      const msgs = await this.request(what, (seq) => nl.getNeighRequest(seq, index, ipBytes(ip)));
      const m = msgs.find((x) => x.type === nl.RTM_NEWNEIGH);
      if (m === undefined) return null;
      let n: nl.NeighMsg;
      try {
        n = nl.parseNeigh(m);
      } catch (err) {
        throw new RtnlError(what, 'EPROTO', 0, undefined, `malformed reply: ${(err as Error).message}`, { cause: err });
      }
      return {
        index: n.index,
        address: ip4(n.dst) ?? addr,
        mac: n.lladdr !== undefined && n.lladdr.length === 6 ? formatMac(n.lladdr) : null,
        state: n.state,
        stateName: nl.nudName(n.state),
      };
    } catch (err) {
      if (err instanceof RtnlError && err.errno === 'ENOENT') return null;
      throw err;
    }
  }

  /**
   * RTM_NEWROUTE with `flags`: NLM_F_CREATE|NLM_F_EXCL (`ip route add`: EEXIST
   * when a route to dst with the same metric exists), NLM_F_CREATE|NLM_F_REPLACE
   * (`ip route replace`), NLM_F_REPLACE alone (ESRCH when there is none to replace).
   */
  async addRoute(route: RouteAdd, flags: number): Promise<void> {
    const dst = cidr(route.dst, 'adding route');
    const req: MutableRouteRequest = {
      family: nl.AF_INET,
      dstLen: dst.len,
      table: route.table ?? nl.RT_TABLE_MAIN,
      protocol: route.protocol ?? nl.RTPROT_BOOT,
      scope: route.scope ?? (route.gateway !== undefined ? nl.RT_SCOPE_UNIVERSE : nl.RT_SCOPE_LINK),
      type: nl.RTN_UNICAST,
      flags: route.onlink ? nl.RTNH_F_ONLINK : 0,
      dst: ipBytes(dst.addr),
      oif: route.oif,
    };
    if (route.gateway !== undefined) req.gateway = ipBytes(address(route.gateway, 'adding route'));
    if (route.priority !== undefined) req.priority = route.priority;
    await this.request(`RTM_NEWROUTE ${describeRoute(route, req.protocol)}`, (seq) => nl.routeRequest(seq, nl.RTM_NEWROUTE, flags, req));
  }

  /**
   * RTM_DELROUTE of the first route that matches everything given: scope
   * RT_SCOPE_NOWHERE and protocol 0 unless given match any (what `ip route
   * del` sends). A route that is not there is ESRCH.
   */
  async deleteRoute(route: RouteDelete): Promise<void> {
    const dst = cidr(route.dst, 'deleting route');
    const req: MutableRouteRequest = {
      family: nl.AF_INET,
      dstLen: dst.len,
      table: route.table ?? nl.RT_TABLE_MAIN,
      protocol: route.protocol ?? nl.RTPROT_UNSPEC,
      scope: nl.RT_SCOPE_NOWHERE,
      type: 0,
      flags: route.onlink ? nl.RTNH_F_ONLINK : 0,
      dst: ipBytes(dst.addr),
    };
    if (route.gateway !== undefined) req.gateway = ipBytes(address(route.gateway, 'deleting route'));
    if (route.oif !== undefined) req.oif = route.oif;
    if (route.priority !== undefined) req.priority = route.priority;
    await this.request(`RTM_DELROUTE ${describeRoute(route, route.protocol)}`, (seq) => nl.routeRequest(seq, nl.RTM_DELROUTE, 0, req));
  }

  // ---- IPv6 (issue #13: the IPv6 overlay in routed mode) ------------------

  /**
   * Adds an IPv6 address 'addr/len' (host bits allowed) to link `index`,
   * NLM_F_CREATE|NLM_F_REPLACE by default; `nodad` skips duplicate address
   * detection (netlink.ts IFA_F_NODAD says when that is right).
   */
  async addAddress6(index: number, cidr6: string, opts: { flags?: number; nodad?: boolean } = {}): Promise<void> {
    const { addr, len } = interfaceCidr6(cidr6, `adding address ${cidr6}`);
    await this.request(`RTM_NEWADDR ${cidr6} index ${index}`,
      (seq) => nl.addr6Request(seq, nl.RTM_NEWADDR, opts.flags ?? (nl.NLM_F_CREATE | nl.NLM_F_REPLACE), { index, prefixLen: len, addr, nodad: opts.nodad === true }));
  }

  /** Removes an IPv6 address; one that is not there is EADDRNOTAVAIL. */
  async deleteAddress6(index: number, cidr6: string): Promise<void> {
    const { addr, len } = interfaceCidr6(cidr6, `deleting address ${cidr6}`);
    await this.request(`RTM_DELADDR ${cidr6} index ${index}`, (seq) => nl.addr6Request(seq, nl.RTM_DELADDR, 0, { index, prefixLen: len, addr }));
  }

  /** IPv6 addresses of one link or of all, RFC 5952 text. */
  async addresses6(index?: number): Promise<RtnlAddress[]> {
    const msgs = await this.dump('RTM_GETADDR dump', (seq) => nl.dumpAddrsRequest(seq, nl.AF_INET6));
    const out: RtnlAddress[] = [];
    for (const m of msgs) {
      if (m.type !== nl.RTM_NEWADDR) continue;
      const a = nl.parseAddr(m);
      if (a.family !== nl.AF_INET6 || (index !== undefined && a.index !== index)) continue;
      const ip = a.local ?? a.address;
      if (!ip || ip.length !== 16) continue;
      const address = ipv6.formatAddress(ip);
      out.push({ index: a.index, address, prefixLen: a.prefixLen, cidr: `${address}/${a.prefixLen}`, scope: a.scope });
    }
    return out;
  }

  /** IPv6 routes of one table (main by default), every type and protocol; addresses in RFC 5952 text. */
  async routes6(opts: { table?: number } = {}): Promise<RtnlRoute[]> {
    const table = opts.table ?? nl.RT_TABLE_MAIN;
    const msgs = await this.dump('RTM_GETROUTE dump', (seq) => nl.dumpRoutesRequest(seq, nl.AF_INET6));
    const out: RtnlRoute[] = [];
    for (const m of msgs) {
      if (m.type !== nl.RTM_NEWROUTE) continue;
      const r = nl.parseRoute(m);
      if (r.family !== nl.AF_INET6 || r.table !== table) continue;
      out.push(toRoute(r, ip6, '::'));
    }
    return out;
  }

  /** RTM_NEWROUTE of an IPv6 route (addRoute's counterpart; no priority: the kernel's default, 1024, as `ip -6 route` gets). */
  async addRoute6(route: RouteAdd, flags: number): Promise<void> {
    const dst = cidr6(route.dst, 'adding route');
    const req: MutableRouteRequest = {
      family: nl.AF_INET6,
      dstLen: dst.len,
      table: route.table ?? nl.RT_TABLE_MAIN,
      protocol: route.protocol ?? nl.RTPROT_BOOT,
      scope: nl.RT_SCOPE_UNIVERSE, // IPv6 routes have no scope of their own; iproute2 sends universe
      type: nl.RTN_UNICAST,
      flags: route.onlink ? nl.RTNH_F_ONLINK : 0,
      dst: dst.addr,
      oif: route.oif,
    };
    if (route.gateway !== undefined) req.gateway = address6(route.gateway, 'adding route');
    if (route.priority !== undefined) req.priority = route.priority;
    await this.request(`RTM_NEWROUTE ${describeRoute(route, req.protocol)}`, (seq) => nl.routeRequest(seq, nl.RTM_NEWROUTE, flags, req));
  }

  /** RTM_DELROUTE of an IPv6 route: everything given must match, as in deleteRoute. */
  async deleteRoute6(route: RouteDelete): Promise<void> {
    const dst = cidr6(route.dst, 'deleting route');
    const req: MutableRouteRequest = {
      family: nl.AF_INET6,
      dstLen: dst.len,
      table: route.table ?? nl.RT_TABLE_MAIN,
      protocol: route.protocol ?? nl.RTPROT_UNSPEC,
      scope: nl.RT_SCOPE_NOWHERE,
      type: 0,
      flags: route.onlink ? nl.RTNH_F_ONLINK : 0,
      dst: dst.addr,
    };
    if (route.gateway !== undefined) req.gateway = address6(route.gateway, 'deleting route');
    if (route.oif !== undefined) req.oif = route.oif;
    if (route.priority !== undefined) req.priority = route.priority;
    await this.request(`RTM_DELROUTE ${describeRoute(route, route.protocol)}`, (seq) => nl.routeRequest(seq, nl.RTM_DELROUTE, 0, req));
  }

  // ---- internals ---------------------------------------------------------

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    if (this.seq === 0) this.seq = 1;
    return this.seq;
  }

  /** Runs `fn` after every earlier request settled. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new RtnlError('the rtnetlink socket', 'EBADF', 9, undefined, 'closed'));
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** One request answered by its replies and an ack; throws the kernel's refusal. */
  private request(what: string, build: (seq: number) => Buffer): Promise<nl.NlMsg[]> {
    return this.serial(() => this.transact(what, build));
  }

  /** A dump, read again when the kernel marks it interrupted. */
  private dump(what: string, build: (seq: number) => Buffer): Promise<nl.NlMsg[]> {
    return this.serial(async () => {
      for (let attempt = 1; ; attempt++) {
        const msgs = await this.transact(what, build);
        if (!msgs.some((m) => (m.flags & nl.NLM_F_DUMP_INTR) !== 0)) return msgs;
        if (attempt >= DUMP_ATTEMPTS) {
          throw new RtnlError(what, 'EINTR', 4, undefined, `the kernel marked the dump interrupted ${DUMP_ATTEMPTS} times: the table kept changing`);
        }
      }
    });
  }

  private async transact(what: string, build: (seq: number) => Buffer): Promise<nl.NlMsg[]> {
    const seq = this.nextSeq();
    let reply: Buffer;
    try {
      reply = await this.transport.transact(build(seq));
    } catch (err) {
      throw transportError(what, err);
    }
    return checkReply(what, reply);
  }
}

/**
 * The data messages of a reply, or the refusal it carries: an NLMSG_ERROR
 * with an errno, or a dump's NLMSG_DONE with a negative status. A reply
 * that does not parse is an RtnlError 'EPROTO' naming the fault.
 */
export function checkReply(what: string, reply: Buffer): nl.NlMsg[] {
  let msgs: nl.NlMsg[];
  try {
    msgs = nl.parseMessages(reply);
    const out: nl.NlMsg[] = [];
    for (const m of msgs) {
      if (m.type === nl.NLMSG_ERROR) {
        const e = nl.parseError(m);
        if (e.errno !== 0) throw kernelError(what, e.errno, e.message);
        continue;
      }
      if (m.type === nl.NLMSG_DONE) {
        // A dump's status: 0, or -errno when the dump failed part way.
        if (m.payload.length >= 4) {
          const status = nl.i32(m.payload, 0);
          if (status < 0) throw kernelError(what, -status, undefined);
        }
        continue;
      }
      if (m.type === nl.NLMSG_NOOP) continue;
      out.push(m);
    }
    return out;
  } catch (err) {
    if (err instanceof RtnlError) throw err;
    throw new RtnlError(what, 'EPROTO', 0, undefined, `malformed reply: ${(err as Error).message}`, { cause: err });
  }
}

function kernelError(what: string, errno: number, extack: string | undefined): RtnlError {
  let name: string;
  try {
    name = getSystemErrorName(-errno);
  } catch {
    name = `ERRNO_${errno}`;
  }
  if (!/^E[A-Z0-9]+$/.test(name)) name = `ERRNO_${errno}`;
  return new RtnlError(what, name, errno, extack);
}

function transportError(what: string, err: unknown): RtnlError {
  const e = err as { code?: unknown; errno?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : 'EIO';
  if (code === 'EAGAIN') return new RtnlError(what, 'ETIMEDOUT', 110, undefined, 'no answer from the kernel in time', { cause: err });
  return new RtnlError(what, code, typeof e.errno === 'number' ? e.errno : 0, undefined,
    typeof e.message === 'string' ? e.message : String(err), { cause: err });
}

function toLink(m: nl.LinkMsg): RtnlLink {
  return {
    index: m.index,
    name: m.name ?? '',
    mtu: m.mtu ?? 0,
    mac: m.address !== undefined && m.address.length === 6 ? formatMac(m.address) : '',
    up: (m.flags & nl.IFF_UP) !== 0,
    flags: m.flags,
    master: m.master ?? 0,
  };
}

function ip4(b: Buffer | undefined): string | undefined {
  return b !== undefined && b.length === 4 ? formatIpv4(b.readUInt32BE(0)) : undefined;
}

/** A route message as a record; `ip` formats the family's addresses (ip4 or ip6), `any` is its unspecified address. */
function toRoute(m: nl.RouteMsg, ip: (b: Buffer | undefined) => string | undefined = ip4, any = '0.0.0.0'): RtnlRoute {
  const out: { -readonly [K in keyof RtnlRoute]: RtnlRoute[K] } = {
    dst: `${ip(m.dst) ?? any}/${m.dstLen}`,
    onlink: (m.flags & nl.RTNH_F_ONLINK) !== 0,
    protocol: m.protocol,
    scope: m.scope,
    type: m.type,
    priority: m.priority ?? 0,
    table: m.table,
    flags: m.flags,
  };
  const gateway = ip(m.gateway);
  if (gateway !== undefined) out.gateway = gateway;
  if (m.oif !== undefined) out.oif = m.oif;
  const prefsrc = ip(m.prefsrc);
  if (prefsrc !== undefined) out.prefsrc = prefsrc;
  return out;
}

function ipBytes(addr: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(addr >>> 0, 0);
  return b;
}

/** A route request being filled in (optional fields added when given). */
type MutableRouteRequest = { -readonly [K in keyof nl.RouteRequest]: nl.RouteRequest[K] };

/** A network 'a.b.c.d/len' (no host bits), or a ConfigError naming `what` (kernel.ts uses these too). */
export function cidr(text: string, what: string): { addr: number; len: number } {
  try {
    return parseCidr(text);
  } catch (err) {
    throw new ConfigError(`${what}: ${(err as Error).message}`);
  }
}

/** An IPv4 address, or a ConfigError naming `what`. */
export function address(text: string, what: string): number {
  try {
    return parseIpv4(text);
  } catch (err) {
    throw new ConfigError(`${what}: ${(err as Error).message}`);
  }
}

/** 'a.b.c.d/len' with host bits allowed (an interface address, not a network), or a ConfigError naming `what`. */
export function interfaceCidr(text: string, what: string): { addr: number; len: number } {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text);
  const len = m ? Number(m[2]) : NaN;
  if (!m || len > 32) throw new ConfigError(`${what}: not an IPv4 address with prefix length (a.b.c.d/len): ${JSON.stringify(text)}`);
  return { addr: address(m[1]!, what), len };
}

function describeRoute(r: { dst: string; gateway?: string; oif?: number; onlink?: boolean }, protocol: number | undefined): string {
  return `${r.dst}${r.gateway !== undefined ? ` via ${r.gateway}` : ''}${r.oif !== undefined ? ` oif ${r.oif}` : ''}` +
    `${r.onlink ? ' onlink' : ''}${protocol !== undefined ? ` proto ${protocol}` : ''}`;
}

// ---- IPv6 helpers -----------------------------------------------------------

function ip6(b: Buffer | undefined): string | undefined {
  return b !== undefined && b.length === 16 ? ipv6.formatAddress(b) : undefined;
}

/** An IPv6 network 'addr/len' (no host bits) as 16 bytes and a length, or a ConfigError naming `what`. */
export function cidr6(text: string, what: string): ipv6.Ipv6Cidr {
  try {
    return ipv6.parseCidr(text);
  } catch (err) {
    throw new ConfigError(`${what}: ${(err as Error).message}`);
  }
}

/** An IPv6 address as 16 bytes, or a ConfigError naming `what`. */
export function address6(text: string, what: string): Buffer {
  try {
    return ipv6.parseAddress(text);
  } catch (err) {
    throw new ConfigError(`${what}: ${(err as Error).message}`);
  }
}

/** 'addr/len' with host bits allowed (an interface address), or a ConfigError naming `what`. */
export function interfaceCidr6(text: string, what: string): { addr: Buffer; len: number } {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text);
  const len = m ? Number(m[2]) : NaN;
  if (!m || len > 128) throw new ConfigError(`${what}: not an IPv6 address with prefix length (addr/len): ${JSON.stringify(text)}`);
  return { addr: address6(m[1]!, what), len };
}
