/**
 * L2 mode's counterpart of the installer (installer.ts): it turns the
 * control plane's VTEP events into the switch's flood list and pinned FDB
 * entries. There are no routes and no ARP entries to install: in L2 mode the
 * kernel side is a bridge port, and the FDB learns the rest from traffic.
 *
 *   added    the VTEP joins the flood list (head-end replication sends it a
 *            copy of every broadcast, unknown unicast and multicast frame);
 *            the MACs the source pins behind it become static FDB entries;
 *   removed  it leaves the flood list; its pinned MACs go, and every MAC
 *            learned behind it goes with them (a host that left or expired
 *            must not keep attracting unicast frames until they age out).
 *
 * A VTEP whose address or MACs cannot be used (the sources check them; this
 * is the last line) is logged, kept in `failed`, and skipped: never a crash.
 */
import type { Logger } from 'pino';
import { isIpv4, isMac, macKeyFromString } from '../wire/addr';
import { vtepKey } from '../io/vtep-key';
import { isIpv6 } from './ip6';
import type { Vtep, VtepEvent } from './l2-network';

/** What of the switch the installer changes (switch/switch.ts in L2 mode; tests pass a fake). */
export interface L2SwitchTables {
  readonly floodList: {
    add(ip: number, port: number): boolean;
    remove(ip: number): boolean;
  };
  readonly fdb: {
    lookup(mac: number): { readonly kind: string; readonly vtep: number } | undefined;
    set(mac: number, vtep: number, port: number): void;
    delete(mac: number): boolean;
    removeVtep(vtep: number): number;
  };
}

/** Up to this many events in a batch are logged one by one; a bigger batch is one summary line. */
const SMALL_BATCH = 3;

export class VtepInstaller {
  private readonly byIp = new Map<string, Vtep>();
  /** VTEPs the installer could not use, by public IP, with why. */
  readonly failed = new Map<string, string>();

  constructor(private readonly sw: L2SwitchTables, private readonly log: Logger) {}

  /** The flood list as installed, in the order the VTEPs joined. */
  get vteps(): readonly Vtep[] {
    return [...this.byIp.values()];
  }

  apply(batch: readonly VtepEvent[]): void {
    let added = 0;
    let removed = 0;
    const quiet = batch.length > SMALL_BATCH;
    for (const ev of batch) {
      if (ev.type === 'removed') {
        if (this.remove(ev.vtep, quiet)) removed++;
      } else if (this.add(ev.vtep, quiet)) {
        added++;
      }
    }
    if (quiet) this.log.info({ added, removed, floodList: this.byIp.size }, `flood list: ${added} VTEP(s) joined, ${removed} left; ${this.byIp.size} now`);
  }

  private add(v: Vtep, quiet: boolean): boolean {
    const problem = check(v);
    if (problem !== null) {
      this.failed.set(v.publicIp, problem);
      this.log.warn({ vtep: v.publicIp, problem }, `VTEP ${v.publicIp} not added to the flood list: ${problem}`);
      return false;
    }
    const old = this.byIp.get(v.publicIp);
    if (old !== undefined) this.remove(old, true);
    const ip = vtepKey(v.publicIp);
    try {
      this.sw.floodList.add(ip, v.port);
    } catch (err) {
      // The flood list refuses a VTEP on another UDP port than the segment's (flood-list.ts says why).
      const problem = (err as Error).message;
      this.failed.set(v.publicIp, problem);
      this.log.warn({ vtep: v.publicIp, problem }, `VTEP ${v.publicIp} not added to the flood list: ${problem}`);
      return false;
    }
    this.failed.delete(v.publicIp);
    for (const m of v.macs) this.sw.fdb.set(macKeyFromString(m), ip, v.port);
    this.byIp.set(v.publicIp, v);
    if (!quiet) this.log.info({ vtep: v.publicIp, port: v.port, macs: v.macs.length }, `VTEP ${v.publicIp}:${v.port} joined the flood list${v.macs.length > 0 ? ` with ${v.macs.length} static MAC(s)` : ''}`);
    return true;
  }

  private remove(v: Vtep, quiet: boolean): boolean {
    this.failed.delete(v.publicIp);
    const had = this.byIp.get(v.publicIp);
    if (had === undefined) return false;
    this.byIp.delete(v.publicIp);
    const ip = vtepKey(had.publicIp);
    this.sw.floodList.remove(ip);
    // A pinned MAC another VTEP has pinned (or learned) since is no longer ours to remove.
    for (const m of had.macs) {
      const key = macKeyFromString(m);
      const e = this.sw.fdb.lookup(key);
      if (e !== undefined && e.kind === 'static' && e.vtep === ip) this.sw.fdb.delete(key);
    }
    const forgotten = this.sw.fdb.removeVtep(ip);
    if (!quiet) this.log.info({ vtep: had.publicIp, forgotten }, `VTEP ${had.publicIp} left the flood list; ${forgotten} MAC(s) learned behind it forgotten`);
    return true;
  }
}

/** Why a VTEP cannot be installed, or null. */
function check(v: Vtep): string | null {
  if (!isIpv4(v.publicIp) && !isIpv6(v.publicIp)) return `not an IPv4 or IPv6 address: ${JSON.stringify(v.publicIp)}`;
  if (!Number.isInteger(v.port) || v.port < 1 || v.port > 65535) return `bad UDP port ${v.port}`;
  for (const m of v.macs) if (!isMac(m)) return `not a MAC address: ${JSON.stringify(m)}`;
  return null;
}
