/**
 * The one consumer of peer events (flannel's handleSubnetEvents): for each
 * remote host, one ARP entry, one FDB entry and one route.
 *
 *   added:   ARP (<subnet>.0 -> VTEP MAC) -> FDB (VTEP MAC -> public IP:port)
 *            -> route (<subnet> via <subnet>.0 dev TAP onlink).
 *            If the route fails, the ARP and FDB entries are rolled back, so
 *            the tables never hold half a peer.
 *   removed: route -> FDB -> ARP, so the kernel stops sending before the
 *            tables forget where to.
 *   updated: a subnet removed and added back in one batch with the same
 *            public IP and VTEP MAC (a change of its IPv6 half only) is kept
 *            installed: no kernel delete, the new record replaces the old.
 *
 * A dual-stack peer (`subnet6`, the IPv6 overlay) gets its IPv6 half too,
 * when the switch answers ND (Switch.nd, `vxtap run` with an IPv6 subnet of
 * its own): ND entry (<subnet6>:: -> its IPv6 VTEP MAC, `vtepMac6`, the
 * same as `vtepMac` for a vxtap peer) -> FDB for that MAC when it is a
 * second one -> route (<subnet6> via <subnet6>:: dev TAP onlink), after the
 * IPv4 half. The IPv4 half does not share the IPv6 half's fate
 * (docs/ipv6-control.md): when the IPv6 route fails, only the IPv6 entries
 * are rolled back, the failure is listed under the IPv6 subnet in `failed`,
 * and the peer stays installed for IPv4. Its IPv6 traffic goes to the same
 * public IPv4 address (the IPv6 overlay over the IPv4 underlay).
 *
 * Batches are applied one after another, in order, by one loop: batches that
 * arrive while another is applied wait their turn, and are then applied as
 * one batch (in their order), so a burst that a source delivers in many small
 * batches (an etcd watch during a bulk put) is logged as one.
 *
 * A route to a peer's subnet that vxtap did not install (kernel.ts, "Routes
 * are owned") is a RouteConflictError: the peer is rolled back like any
 * failed route, listed in `failed`, and counted in `routeConflicts`.
 *
 * Logs stay quiet at scale: a batch of up to SMALL_BATCH peers logs one info
 * line per peer, in flannel's words ("adding subnet: … PublicIP: … VtepMAC:
 * …"), so a lab reads like flannel; a larger one (the first snapshot of a
 * big network, a resync) logs one info line for the whole batch ("adding
 * 5000 subnets: 10.44.2.0/24 (192.168.90.2), … and 4997 more"), and each
 * peer at debug. Failures are logged one by one up to SMALL_BATCH per batch,
 * then as one line with the count (`vxtap peers` lists every one).
 */
import type { Logger } from 'pino';
import { RouteConflictError } from '../errors';
import { macKeyFromString, parseCidr, parseIpv4 } from '../wire/addr';
import * as ipv6 from '../wire/ipv6';
import type { NdTable } from '../switch/nd-table';
import type { PeerRow6, PeerTable } from '../switch/peer-table';
import type { Switch } from '../switch/switch';
import { peerRoute, peerRoute6, type RouteSpec } from './kernel';
import type { Peer, PeerEvent } from './peers';

/** The part of the kernel side the installer needs (KernelNet has it; tests may pass a double). */
export interface RouteTable {
  replaceRoute(route: RouteSpec): Promise<void>;
  deleteRoute(route: RouteSpec): Promise<void>;
}

export interface InstallerOptions {
  /** `peers` (the inner source check's table) gets a row per peer, set before its FDB entry and removed after it. */
  sw: Pick<Switch, 'fdb' | 'arp'> & { peers?: Pick<PeerTable, 'set' | 'delete'>; nd?: Pick<NdTable, 'set' | 'delete'> | null };
  routes: RouteTable;
  /** The TAP's name: the routes' device. */
  dev: string;
  /** The VXLAN UDP destination port of every peer. */
  port: number;
  log: Logger;
  /** How often peers that failed to install are tried again, ms. Default 10000. */
  retryMs?: number;
}

/** An 'added' event the installer queued itself, to try a failed peer again. */
type RetryEvent = PeerEvent & { readonly retry?: true };

/** Up to this many peers in a batch are logged one info line each; more, in one line. */
export const SMALL_BATCH = 3;

export class PeerInstaller {
  private readonly opts: InstallerOptions;
  /** Installed peers by subnet: a delete from a source that carries no value (etcd v3) still finds what to remove. */
  private readonly installed = new Map<string, Peer>();
  /** Batches waiting for the loop, each with what settles its apply(). */
  private queue: { batch: readonly PeerEvent[]; done: () => void }[] = [];
  /** The loop, while it runs. */
  private running: Promise<void> | null = null;
  /** Peers whose route could not be installed (and were rolled back), for status output. */
  readonly failed = new Map<string, string>();
  /** The same peers, tried again every retryMs until they go in or their lease goes (a route in the way may be removed). */
  private readonly retry = new Map<string, Peer>();
  private retryTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Routes refused because their destination had a route vxtap did not install (since start). */
  routeConflicts = 0;
  /** Peers (by IPv4 subnet) whose IPv6 half is installed, and its IPv6 subnet. */
  private readonly installed6 = new Map<string, string>();

  constructor(opts: InstallerOptions) {
    this.opts = opts;
  }

  get peers(): Peer[] {
    return [...this.installed.values()];
  }

  /** Queues a batch; the returned promise settles when this batch is applied. Never rejects. */
  apply(batch: readonly PeerEvent[]): Promise<void> {
    return new Promise((resolve) => {
      this.queue.push({ batch, done: resolve });
      this.running ??= this.drain();
    });
  }

  /** Applies what is queued, all of it as one batch, until nothing is. */
  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const taken = this.queue;
      this.queue = [];
      try {
        await this.applyNow(taken.length === 1 ? taken[0]!.batch : taken.flatMap((t) => t.batch));
      } catch (err) {
        // applyNow handles each peer's failure; this is a bug, and must not stall the loop.
        this.opts.log.error({ err }, `applying peer events failed: ${(err as Error).message}`);
      } finally {
        for (const t of taken) t.done();
      }
    }
    this.running = null;
    this.armRetry();
  }

  /** While some peer failed, try them again later (quietly: their failure was logged the first time). */
  private armRetry(): void {
    if (this.stopped || this.retry.size === 0 || this.retryTimer !== null) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.stopped || this.retry.size === 0) return;
      void this.apply([...this.retry.values()].map((peer) => ({ type: 'added' as const, peer, retry: true })));
    }, this.opts.retryMs ?? 10_000);
    this.retryTimer.unref();
  }

  /** Removes every installed peer's route (on shutdown). Tables go with the process. */
  async removeAllRoutes(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer !== null) { clearTimeout(this.retryTimer); this.retryTimer = null; }
    while (this.running !== null) await this.running;
    for (const p of this.installed.values()) {
      const routes = [peerRoute(p.subnet, this.opts.dev)];
      const s6 = this.installed6.get(p.subnet);
      if (s6 !== undefined) routes.push(peerRoute6(s6, this.opts.dev));
      for (const r of routes) {
        try {
          await this.opts.routes.deleteRoute(r);
        } catch (err) {
          this.opts.log.warn({ err, subnet: r.dst }, `failed to remove route to ${r.dst}`);
        }
      }
    }
  }

  private async applyNow(batch: readonly PeerEvent[]): Promise<void> {
    const { log } = this.opts;
    const kept = this.updatesInPlace(batch);
    // What the batch changes, as far as the tables tell before it runs: a peer re-put unchanged is no news.
    const adding = batch.filter((ev) => ev.type === 'added' && !this.holds(ev.peer)).map((ev) => ev.peer);
    const removing = batch.filter((ev, i) => ev.type === 'removed' && !kept.has(i) && this.installed.has(ev.peer.subnet)).map((ev) => ev.peer);
    const quiet = adding.length + removing.length > SMALL_BATCH;
    if (quiet) {
      const lines: [number, () => void][] = [];
      if (adding.length > 0) lines.push([batch.findIndex((ev) => ev.peer === adding[0]), () => log.info({ count: adding.length }, `adding ${summary(adding)}`)]);
      if (removing.length > 0) lines.push([batch.findIndex((ev) => ev.peer === removing[0]), () => log.info({ count: removing.length }, `removing ${summary(removing)}`)]);
      // In the order the batch starts them.
      for (const [, say] of lines.sort((x, y) => x[0] - y[0])) say();
    }
    const failures: { ev: PeerEvent; err: unknown }[] = [];
    for (const [i, ev] of batch.entries()) {
      try {
        if (ev.type === 'added') await this.add(ev.peer, quiet);
        else if (!kept.has(i)) await this.remove(ev.peer, quiet);
      } catch (err) {
        // Each peer is independent: one that fails is logged and the batch goes on.
        if (err instanceof RouteConflictError && !(ev as RetryEvent).retry) this.routeConflicts++;
        failures.push({ ev, err });
      }
    }
    // A retry's failures were logged when they first happened.
    const told = failures.filter((f) => !(f.ev as RetryEvent).retry);
    for (const [i, { ev, err }] of told.entries()) {
      const level = i < SMALL_BATCH ? 'error' : 'debug';
      log[level]({ err, peer: ev.peer }, `failed to ${ev.type === 'added' ? 'add' : 'remove'} subnet ${ev.peer.subnet}: ${(err as Error).message}`);
    }
    if (told.length > SMALL_BATCH) {
      const conflicts = told.filter((f) => f.err instanceof RouteConflictError).length;
      log.error({ failed: told.length, conflicts },
        `… and ${told.length - SMALL_BATCH} more subnets failed in this batch (${conflicts} route conflicts in all); \`vxtap peers\` lists them`);
    }
  }

  /**
   * The batch's 'removed' events that are half of an update in place: the
   * next event for the same subnet adds it back with the IPv4 half as
   * installed (public IP, VTEP MAC). A source (diffPeers) sends a change of
   * the IPv6 half only (subnet6, PublicIPv6) as removed then added, but the
   * route, FDB and ARP entries are the IPv4 half's: tearing them down and
   * putting them back would cut the peer off for nothing. The add then keeps
   * the new record (installed, `peers`).
   */
  private updatesInPlace(batch: readonly PeerEvent[]): Set<number> {
    const kept = new Set<number>();
    const next = new Map<string, PeerEvent>();
    for (let i = batch.length - 1; i >= 0; i--) {
      const ev = batch[i]!;
      if (ev.type === 'removed') {
        const then = next.get(ev.peer.subnet);
        if (then !== undefined && then.type === 'added' && this.holds(then.peer)) kept.add(i);
      }
      next.set(ev.peer.subnet, ev);
    }
    return kept;
  }

  /** True when `peer` is installed as it is (same public IP and VTEP MAC). */
  private holds(peer: Peer): boolean {
    const old = this.installed.get(peer.subnet);
    return old !== undefined && old.publicIp === peer.publicIp && old.vtepMac === peer.vtepMac &&
      old.subnet6 === peer.subnet6 && old.vtepMac6 === peer.vtepMac6;
  }

  private async add(peer: Peer, quiet = false): Promise<void> {
    const { sw, routes, dev, port, log } = this.opts;
    if (this.holds(peer)) {
      // Nothing for the tables; the record is the newest (its IPv6 half, its source).
      const old = this.installed.get(peer.subnet)!;
      if (old !== peer && (old.subnet6 !== peer.subnet6 || old.publicIpv6 !== peer.publicIpv6 || old.vtepMac6 !== peer.vtepMac6)) {
        log.debug({ subnet: peer.subnet, subnet6: peer.subnet6, publicIpv6: peer.publicIpv6 }, `subnet ${peer.subnet}: the IPv6 half changed, the IPv4 entries stay`);
      }
      this.installed.set(peer.subnet, peer);
      return;
    }
    const old = this.installed.get(peer.subnet);
    // A re-leased subnet (new MAC or host): the old entries go first, not left behind.
    if (old) await this.remove(old, quiet);

    const gw = parseCidr(peer.subnet).addr;
    const mac = macKeyFromString(peer.vtepMac);
    const vtep = parseIpv4(peer.publicIp);
    const route = peerRoute(peer.subnet, dev);
    log[quiet ? 'debug' : 'info']({ subnet: peer.subnet, publicIp: peer.publicIp, vtepMac: peer.vtepMac },
      `adding subnet: ${peer.subnet} PublicIP: ${peer.publicIp} VtepMAC: ${peer.vtepMac}`);
    const v6 = this.v6Of(peer);
    sw.arp.set(gw, mac);
    sw.peers?.set(vtep, mac, gw, parseCidr(peer.subnet).len, v6);
    sw.fdb.set(mac, vtep, port);
    try {
      await routes.replaceRoute(route);
    } catch (err) {
      sw.fdb.delete(mac);
      sw.peers?.delete(vtep, gw);
      sw.arp.delete(gw);
      this.failed.set(peer.subnet, (err as Error).message);
      this.retry.set(peer.subnet, peer);
      throw err;
    }
    if (v6 !== null) await this.add6(peer, v6, vtep, mac, quiet);
    if (this.retry.delete(peer.subnet)) log.info({ subnet: peer.subnet }, `subnet ${peer.subnet} installed now (it failed before: ${this.failed.get(peer.subnet) ?? ''})`);
    this.failed.delete(peer.subnet);
    this.installed.set(peer.subnet, peer);
    log.debug({ arp: `${route.gateway} -> ${peer.vtepMac}`, fdb: `${peer.vtepMac} -> ${peer.publicIp}:${port}`, route: `${route.dst} via ${route.gateway} dev ${dev} onlink` },
      `  ARP ${route.gateway} is-at ${peer.vtepMac}; FDB ${peer.vtepMac} -> VTEP ${peer.publicIp}:${port}; route ${route.dst} via ${route.gateway} dev ${dev} onlink`);
  }

  /** The peer's IPv6 half as the peer table keeps it, or null: none, or this switch answers no ND (IPv6 off). */
  v6Of(peer: Peer): PeerRow6 | null {
    if (peer.subnet6 === undefined || this.opts.sw.nd == null) return null;
    return { mac6: macKeyFromString(peer.vtepMac6 ?? peer.vtepMac), net6: ipv6.parseCidr(peer.subnet6) };
  }

  /** ND -> FDB (a second MAC) -> IPv6 route; on failure only these are rolled back (the IPv4 half stays). */
  private async add6(peer: Peer, v6: PeerRow6, vtep: number, mac: number, quiet: boolean): Promise<void> {
    const { sw, routes, dev, port, log } = this.opts;
    const nd = sw.nd!;
    const subnet6 = peer.subnet6!;
    const route = peerRoute6(subnet6, dev);
    nd.set(v6.net6.addr, v6.mac6);
    if (v6.mac6 !== mac) sw.fdb.set(v6.mac6, vtep, port);
    try {
      await routes.replaceRoute(route);
    } catch (err) {
      if (v6.mac6 !== mac) sw.fdb.delete(v6.mac6);
      nd.delete(v6.net6.addr);
      // The row stays for IPv4; its IPv6 half goes, so IPv6 from the peer is checked by MAC only, as an IPv4-only peer's.
      sw.peers?.set(vtep, mac, parseCidr(peer.subnet).addr, parseCidr(peer.subnet).len);
      if (err instanceof RouteConflictError) this.routeConflicts++;
      this.failed.set(subnet6, (err as Error).message);
      log.error({ err, subnet6 }, `failed to add the IPv6 half of ${peer.subnet}, ${subnet6}: ${(err as Error).message}; IPv4 is installed`);
      return;
    }
    this.failed.delete(subnet6);
    this.installed6.set(peer.subnet, subnet6);
    log[quiet ? 'debug' : 'info']({ subnet6, vtepMac6: peer.vtepMac6 ?? peer.vtepMac },
      `adding IPv6 subnet: ${subnet6} via ${route.gateway!} (ND ${route.gateway!} is-at ${peer.vtepMac6 ?? peer.vtepMac}) PublicIP: ${peer.publicIp}`);
  }

  /** Undoes add6 for an installed peer: route, FDB (a second MAC), ND. */
  private async remove6(known: Peer): Promise<void> {
    const subnet6 = this.installed6.get(known.subnet);
    if (subnet6 === undefined) return;
    this.installed6.delete(known.subnet);
    const { sw, routes, dev } = this.opts;
    try {
      await routes.deleteRoute(peerRoute6(subnet6, dev));
    } finally {
      const net6 = ipv6.parseCidr(subnet6);
      const mac6 = macKeyFromString(known.vtepMac6 ?? known.vtepMac);
      if (mac6 !== macKeyFromString(known.vtepMac) && ![...this.installed.values()].some((p) => (p.vtepMac6 ?? p.vtepMac) === (known.vtepMac6 ?? known.vtepMac) || p.vtepMac === known.vtepMac6)) sw.fdb.delete(mac6);
      sw.nd?.delete(net6.addr);
    }
  }

  private async remove(peer: Peer, quiet = false): Promise<void> {
    const { sw, routes, dev, log } = this.opts;
    // A peer that failed to install is gone too: no retry, no stale row in `vxtap peers`.
    this.failed.delete(peer.subnet);
    this.retry.delete(peer.subnet);
    const known = this.installed.get(peer.subnet);
    if (!known) return;
    log[quiet ? 'debug' : 'info']({ subnet: known.subnet, publicIp: known.publicIp, vtepMac: known.vtepMac },
      `removing subnet: ${known.subnet} PublicIP: ${known.publicIp} VtepMAC: ${known.vtepMac}`);
    this.installed.delete(known.subnet);
    try {
      await this.remove6(known);
      await routes.deleteRoute(peerRoute(known.subnet, dev));
    } finally {
      const mac = macKeyFromString(known.vtepMac);
      // Another installed peer could share the MAC only by misconfiguration; keep its entry if so.
      if (![...this.installed.values()].some((p) => p.vtepMac === known.vtepMac)) sw.fdb.delete(mac);
      sw.peers?.delete(parseIpv4(known.publicIp), parseCidr(known.subnet).addr);
      sw.arp.delete(parseCidr(known.subnet).addr);
    }
  }
}

/** "5000 subnets: 10.44.2.0/24 (192.168.90.2), 10.44.3.0/24 (192.168.90.3), 10.44.4.0/24 (192.168.90.4) and 4997 more". */
function summary(peers: readonly Peer[]): string {
  const shown = peers.slice(0, SMALL_BATCH).map((p) => `${p.subnet} (${p.publicIp})`).join(', ');
  const more = peers.length - SMALL_BATCH;
  return `${peers.length} subnet${peers.length === 1 ? '' : 's'}: ${shown}${more > 0 ? ` and ${more} more` : ''}`;
}
