/**
 * What the kernel will do with a datagram to a remote VTEP (issue #12), for
 * the encap trace and for a capture that wants the real outer MACs:
 *
 *   1. the route lookup (RTM_GETROUTE, `ip route get VTEP`): the output
 *      interface, the preferred source, the gateway (none: the VTEP is
 *      on-link and is its own next hop), the route's hoplimit and MTU metrics;
 *   2. the next hop's neighbour entry (RTM_GETNEIGH, `ip neigh get NH dev
 *      DEV`): its MAC and NUD state;
 *   3. the output interface (RTM_GETLINK): its own MAC and MTU;
 *   4. net.ipv4.ip_default_ttl of the daemon's namespace (/proc/sys), the TTL
 *      when neither the socket nor the route sets one.
 *
 * Never on the per-frame path and never blocking it: facts(vtep) answers at
 * once from a cache, with the last known facts or null, and starts a lookup
 * in the background when the entry is missing, older than maxAgeMs, or its
 * next hop was not settled (a NUD state other than REACHABLE, PERMANENT or
 * NOARP: the kernel is still resolving it, so it will change soon). The
 * refresh is driven by the asking rather than by a timer: an endpoint nobody
 * traces costs nothing, and one that is traced is asked about with every
 * frame. Only a tracer (or a capture) makes one of these: no cost when off.
 *
 * One rtnetlink socket, opened for the first lookup and closed when no
 * lookup is pending, so nothing is left open for a caller to forget.
 */
import { readFile } from 'node:fs/promises';
import { formatIpv4, parseMac } from '../wire/addr';
import type { UnderlayFacts } from '../switch/trace-outer';
import { Rtnl, type RtnlLink, type RtnlNeighbour, type RtnlRoute } from './rtnl';

export type { UnderlayFacts } from '../switch/trace-outer';

/** The rtnetlink calls a lookup makes (Rtnl; a double in tests). */
export interface UnderlayRtnl {
  routeGet(addr: string): Promise<RtnlRoute>;
  neighbour(index: number, addr: string): Promise<RtnlNeighbour | null>;
  linkByIndex(index: number): Promise<RtnlLink | null>;
  close(): Promise<void>;
}

export interface UnderlayRoutesOptions {
  /** Opens the rtnetlink client (default: Rtnl.open in the caller's namespace). */
  open?: () => UnderlayRtnl;
  /** Facts older than this are looked up again when asked. Default 10 s. */
  maxAgeMs?: number;
  /** Facts whose next hop was not settled are looked up again after this. Default 500 ms. */
  unsettledMs?: number;
  /** net.ipv4.ip_default_ttl, or null when it cannot be read (default: /proc/sys of the daemon's namespace). */
  defaultTtl?: () => Promise<number | null>;
  /** Most addresses kept (cached or being looked up). Default DEFAULT_MAX_ENTRIES. */
  maxEntries?: number;
  /** Milliseconds since the epoch; for tests. */
  now?: () => number;
}

export const DEFAULT_MAX_AGE_MS = 10_000;
export const DEFAULT_UNSETTLED_MS = 500;
/** VTEPs whose facts are kept: far more than a network has, far fewer than a spoofer can send from. */
export const DEFAULT_MAX_ENTRIES = 4096;

/** NUD states in which the next hop's MAC will not change by itself soon. */
const SETTLED = new Set(['REACHABLE', 'PERMANENT', 'NOARP']);

/** The outer MACs of a datagram to a VTEP: our interface's and the next hop's (6 bytes each). */
export interface OuterMacs {
  src: Uint8Array;
  dst: Uint8Array;
}

export async function readDefaultTtl(): Promise<number | null> {
  try {
    const n = Number((await readFile('/proc/sys/net/ipv4/ip_default_ttl', 'utf8')).trim());
    return Number.isInteger(n) && n > 0 && n < 256 ? n : null;
  } catch {
    return null;
  }
}

export class UnderlayRoutes {
  private readonly cache = new Map<number, UnderlayFacts>();
  private readonly pending = new Map<number, Promise<UnderlayFacts>>();
  private rtnl: UnderlayRtnl | null = null;
  private closed = false;
  private readonly open: () => UnderlayRtnl;
  private readonly maxAgeMs: number;
  private readonly unsettledMs: number;
  private readonly defaultTtl: () => Promise<number | null>;
  private readonly now: () => number;
  private readonly maxEntries: number;

  constructor(opts: UnderlayRoutesOptions = {}) {
    this.maxEntries = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.open = opts.open ?? (() => Rtnl.open());
    this.maxAgeMs = opts.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
    this.unsettledMs = opts.unsettledMs ?? DEFAULT_UNSETTLED_MS;
    this.defaultTtl = opts.defaultTtl ?? readDefaultTtl;
    this.now = opts.now ?? Date.now;
  }

  /**
   * The last known facts for a VTEP (host-order u32), or null when it was
   * never looked up. Never waits: a missing, old or unsettled entry starts
   * a lookup in the background, and a later call sees its result.
   */
  facts(vtep: number): UnderlayFacts | null {
    const key = vtep >>> 0;
    const f = this.cache.get(key) ?? null;
    // A capture asks for every received datagram's sender, before the switch
    // has checked it is a VTEP: spoofed sources must not grow the cache or
    // the netlink traffic without bound. Past the limit, new addresses are
    // not looked up (their MACs stay unknown, and the capture says so).
    if (f === null && this.cache.size + this.pending.size >= this.maxEntries) {
      this.refused++;
      return null;
    }
    if (this.stale(f)) void this.refresh(key).catch(() => undefined);
    return f;
  }

  /** Addresses not looked up because the cache was full (see facts()). */
  refused = 0;

  /**
   * The outer MACs of a datagram to `remoteIpv4` (host-order u32), from the
   * last known facts: null while either is unknown (not looked up yet, no
   * route, no neighbour entry). The shape a capture takes (io/pcap*).
   */
  macs(remoteIpv4: number): OuterMacs | null {
    const f = this.facts(remoteIpv4);
    if (f === null || f.devMac === null || f.devMac === '' || f.neighMac === null) return null;
    // Parsed once per answer, not per packet: a capture asks for every rebuilt datagram.
    const key = remoteIpv4 >>> 0;
    const hit = this.parsedMacs.get(key);
    if (hit !== undefined && hit.devMac === f.devMac && hit.neighMac === f.neighMac) return hit.macs;
    const macs = { src: parseMac(f.devMac), dst: parseMac(f.neighMac) };
    this.parsedMacs.set(key, { devMac: f.devMac, neighMac: f.neighMac, macs });
    return macs;
  }
  private readonly parsedMacs = new Map<number, { devMac: string; neighMac: string; macs: OuterMacs }>();

  /** Looks a VTEP up now (one lookup at a time per VTEP) and caches the answer. */
  refresh(vtep: number): Promise<UnderlayFacts> {
    const key = vtep >>> 0;
    const running = this.pending.get(key);
    if (running !== undefined) return running;
    const run = this.lookup(key).then((f) => {
      if (!this.closed) this.cache.set(key, f);
      return f;
    }).finally(() => {
      this.pending.delete(key);
      if (this.pending.size === 0) this.release();
    });
    this.pending.set(key, run);
    return run;
  }

  /** Stops: no more lookups; the socket is closed once the running ones ended. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.pending.values()]);
    this.release();
  }

  private stale(f: UnderlayFacts | null): boolean {
    if (this.closed) return false;
    if (f === null) return true;
    const age = this.now() - f.at;
    if (age >= this.maxAgeMs) return true;
    const settled = f.error === null && f.neighState !== null && SETTLED.has(f.neighState);
    return !settled && age >= this.unsettledMs;
  }

  private client(): UnderlayRtnl {
    if (this.rtnl === null) this.rtnl = this.open();
    return this.rtnl;
  }

  private release(): void {
    const r = this.rtnl;
    this.rtnl = null;
    if (r !== null) void r.close().catch(() => undefined);
  }

  private async lookup(vtep: number): Promise<UnderlayFacts> {
    const addr = formatIpv4(vtep);
    const f: UnderlayFacts = {
      vtep: addr, at: this.now(), error: null, dev: null, oif: null, devMac: null, mtu: null, src: null,
      gateway: null, nextHop: addr, neighMac: null, neighState: null, hoplimit: null, routeMtu: null,
      defaultTtl: await this.defaultTtl(),
    };
    let rtnl: UnderlayRtnl;
    try {
      rtnl = this.client();
    } catch (err) {
      f.error = `rtnetlink: ${(err as Error).message}`;
      return f;
    }
    let route: RtnlRoute;
    try {
      route = await rtnl.routeGet(addr);
    } catch (err) {
      f.error = (err as Error).message;
      return f;
    }
    f.src = route.prefsrc ?? null;
    f.gateway = route.gateway ?? null;
    f.nextHop = route.gateway ?? addr;
    f.hoplimit = route.hoplimit ?? null;
    f.routeMtu = route.mtu ?? null;
    if (route.oif === undefined) {
      f.error = `RTM_GETROUTE ${addr}: the route has no output interface (type ${route.type})`;
      return f;
    }
    f.oif = route.oif;
    try {
      const link = await rtnl.linkByIndex(route.oif);
      if (link !== null) {
        f.dev = link.name;
        f.devMac = link.mac;
        f.mtu = link.mtu;
      }
    } catch {
      // The link's name and MAC stay unknown (null): said as such in the trace.
    }
    try {
      const n = await rtnl.neighbour(route.oif, f.nextHop);
      if (n !== null) {
        f.neighMac = n.mac;
        f.neighState = n.stateName;
      }
    } catch {
      // As if there were no entry: the trace says the kernel will resolve it.
    }
    return f;
  }
}

/**
 * The lookup a capture can plug in: the outer MACs of a datagram to
 * `remoteIpv4`, or null while they are not known (then it keeps its
 * placeholders). Never blocks; the first call for a VTEP starts its lookup.
 */
export function outerMacLookup(u: UnderlayRoutes): (remoteIpv4: number) => OuterMacs | null {
  return (remoteIpv4) => u.macs(remoteIpv4);
}
