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
 *
 * Batches are applied one after another, in order, by one loop: a batch that
 * arrives while another is applied waits its turn.
 */
import type { Logger } from 'pino';
import { macKeyFromString, parseCidr, parseIpv4 } from '../wire/addr';
import type { PeerTable } from '../switch/peer-table';
import type { Switch } from '../switch/switch';
import { peerRoute, type RouteSpec } from './kernel';
import type { Peer, PeerEvent } from './peers';

/** The part of the kernel side the installer needs (KernelNet has it; tests may pass a double). */
export interface RouteTable {
  replaceRoute(route: RouteSpec): Promise<void>;
  deleteRoute(route: RouteSpec): Promise<void>;
}

export interface InstallerOptions {
  /** `peers` (the inner source check's table) gets a row per peer, set before its FDB entry and removed after it. */
  sw: Pick<Switch, 'fdb' | 'arp'> & { peers?: Pick<PeerTable, 'set' | 'delete'> };
  routes: RouteTable;
  /** The TAP's name: the routes' device. */
  dev: string;
  /** The VXLAN UDP destination port of every peer. */
  port: number;
  log: Logger;
}

export class PeerInstaller {
  private readonly opts: InstallerOptions;
  /** Installed peers by subnet: a delete from a source that carries no value (etcd v3) still finds what to remove. */
  private readonly installed = new Map<string, Peer>();
  private tail: Promise<void> = Promise.resolve();
  /** Peers whose route could not be installed (and were rolled back), for status output. */
  readonly failed = new Map<string, string>();

  constructor(opts: InstallerOptions) {
    this.opts = opts;
  }

  get peers(): Peer[] {
    return [...this.installed.values()];
  }

  /** Queues a batch; the returned promise settles when this batch is applied. Never rejects. */
  apply(batch: readonly PeerEvent[]): Promise<void> {
    const run = this.tail.then(() => this.applyNow(batch));
    this.tail = run;
    return run;
  }

  /** Removes every installed peer's route (on shutdown). Tables go with the process. */
  async removeAllRoutes(): Promise<void> {
    await this.tail;
    for (const p of this.installed.values()) {
      try {
        await this.opts.routes.deleteRoute(peerRoute(p.subnet, this.opts.dev));
      } catch (err) {
        this.opts.log.warn({ err, subnet: p.subnet }, `failed to remove route to ${p.subnet}`);
      }
    }
  }

  private async applyNow(batch: readonly PeerEvent[]): Promise<void> {
    for (const ev of batch) {
      try {
        if (ev.type === 'added') await this.add(ev.peer);
        else await this.remove(ev.peer);
      } catch (err) {
        // Each peer is independent: one that fails is logged and the batch goes on.
        this.opts.log.error({ err, peer: ev.peer }, `failed to ${ev.type === 'added' ? 'add' : 'remove'} subnet ${ev.peer.subnet}`);
      }
    }
  }

  private async add(peer: Peer): Promise<void> {
    const { sw, routes, dev, port, log } = this.opts;
    const old = this.installed.get(peer.subnet);
    if (old && old.publicIp === peer.publicIp && old.vtepMac === peer.vtepMac) return;
    // A re-leased subnet (new MAC or host): the old entries go first, not left behind.
    if (old) await this.remove(old);

    const gw = parseCidr(peer.subnet).addr;
    const mac = macKeyFromString(peer.vtepMac);
    const vtep = parseIpv4(peer.publicIp);
    const route = peerRoute(peer.subnet, dev);
    log.info({ subnet: peer.subnet, publicIp: peer.publicIp, vtepMac: peer.vtepMac },
      `adding subnet: ${peer.subnet} PublicIP: ${peer.publicIp} VtepMAC: ${peer.vtepMac}`);
    sw.arp.set(gw, mac);
    sw.peers?.set(vtep, mac, gw, parseCidr(peer.subnet).len);
    sw.fdb.set(mac, vtep, port);
    try {
      await routes.replaceRoute(route);
    } catch (err) {
      sw.fdb.delete(mac);
      sw.peers?.delete(vtep, gw);
      sw.arp.delete(gw);
      this.failed.set(peer.subnet, (err as Error).message);
      throw err;
    }
    this.failed.delete(peer.subnet);
    this.installed.set(peer.subnet, peer);
    log.info({ arp: `${route.gateway} -> ${peer.vtepMac}`, fdb: `${peer.vtepMac} -> ${peer.publicIp}:${port}`, route: `${route.dst} via ${route.gateway} dev ${dev} onlink` },
      `  ARP ${route.gateway} is-at ${peer.vtepMac}; FDB ${peer.vtepMac} -> VTEP ${peer.publicIp}:${port}; route ${route.dst} via ${route.gateway} dev ${dev} onlink`);
  }

  private async remove(peer: Peer): Promise<void> {
    const { sw, routes, dev, log } = this.opts;
    const known = this.installed.get(peer.subnet);
    if (!known) return;
    log.info({ subnet: known.subnet, publicIp: known.publicIp, vtepMac: known.vtepMac },
      `removing subnet: ${known.subnet} PublicIP: ${known.publicIp} VtepMAC: ${known.vtepMac}`);
    this.installed.delete(known.subnet);
    try {
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
