/**
 * The forwarding database: inner MAC -> VTEP (underlay IPv4, UDP port).
 *
 * The user-space counterpart of `bridge fdb show dev flannel.1`. In the
 * flannel scheme every entry is static and comes from the peer source (one per
 * remote host: its VTEP MAC). Entries carry a kind so that learned entries can
 * join later (an L2 mode with learning comes in a later issue) without a
 * change of shape; a static entry is never replaced by a learned one.
 *
 * Keys are 48-bit MAC integers (wire/addr macKey): a lookup per frame costs a
 * Map probe and no string. The last hit of lookup() and of knowsVtep() is
 * remembered, and forgotten on any change: a burst of one flow (dozens of
 * segments of one TSO super-frame in a batch) then costs one probe, not dozens.
 */
import { formatIpv4, macStringFromKey } from '../wire/addr';

export type FdbKind = 'static' | 'learned';

export interface FdbEntry {
  readonly mac: number;
  /** VTEP underlay IPv4, host-order u32. */
  readonly vtep: number;
  readonly port: number;
  readonly kind: FdbKind;
  /** When the entry was made or last refreshed (ms since epoch). */
  updatedAt: number;
}

export class Fdb {
  private readonly byMac = new Map<number, FdbEntry>();
  /** How many entries point at each VTEP: decap accepts only from VTEPs that have one. */
  private readonly vtepRefs = new Map<number, number>();
  /** The last lookup() hit (mac -1: none). */
  private lastMac = -1;
  private lastEntry: FdbEntry | undefined = undefined;
  /** The last VTEP knowsVtep() found (-1: none). */
  private lastVtep = -1;

  get size(): number {
    return this.byMac.size;
  }

  /** The VTEP for a destination MAC, or undefined (a miss). */
  lookup(mac: number): FdbEntry | undefined {
    if (mac === this.lastMac) return this.lastEntry;
    const e = this.byMac.get(mac);
    if (e !== undefined) {
      this.lastMac = mac;
      this.lastEntry = e;
    }
    return e;
  }

  /** Adds or replaces a static entry. */
  set(mac: number, vtep: number, port: number, now = Date.now()): void {
    this.put({ mac, vtep, port, kind: 'static', updatedAt: now });
  }

  /** Adds a learned entry unless a static one holds the MAC. Returns whether it was taken. */
  learn(mac: number, vtep: number, port: number, now = Date.now()): boolean {
    const old = this.byMac.get(mac);
    if (old?.kind === 'static') return false;
    if (old && old.vtep === vtep && old.port === port) {
      old.updatedAt = now;
      return true;
    }
    this.put({ mac, vtep, port, kind: 'learned', updatedAt: now });
    return true;
  }

  /** Removes the entry for `mac`. Returns whether there was one. */
  delete(mac: number): boolean {
    const old = this.byMac.get(mac);
    if (!old) return false;
    this.byMac.delete(mac);
    this.unref(old.vtep);
    this.forget();
    return true;
  }

  /** True when some entry points at this VTEP (host-order u32). */
  knowsVtep(vtep: number): boolean {
    if (vtep === this.lastVtep) return true;
    if (!this.vtepRefs.has(vtep)) return false;
    this.lastVtep = vtep;
    return true;
  }

  entries(): IterableIterator<FdbEntry> {
    return this.byMac.values();
  }

  /** For logs, traces and `vxtap fdb`: strings, not keys. */
  describe(e: FdbEntry): { mac: string; vtep: string; port: number; kind: FdbKind; updatedAt: number } {
    return { mac: macStringFromKey(e.mac), vtep: formatIpv4(e.vtep), port: e.port, kind: e.kind, updatedAt: e.updatedAt };
  }

  private forget(): void {
    this.lastMac = -1;
    this.lastEntry = undefined;
    this.lastVtep = -1;
  }

  private put(e: FdbEntry): void {
    this.forget();
    const old = this.byMac.get(e.mac);
    if (old) this.unref(old.vtep);
    this.byMac.set(e.mac, e);
    this.vtepRefs.set(e.vtep, (this.vtepRefs.get(e.vtep) ?? 0) + 1);
  }

  private unref(vtep: number): void {
    const n = (this.vtepRefs.get(vtep) ?? 0) - 1;
    if (n <= 0) this.vtepRefs.delete(vtep);
    else this.vtepRefs.set(vtep, n);
  }
}
