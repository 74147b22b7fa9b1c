/**
 * The forwarding database: inner MAC -> VTEP (underlay IPv4, UDP port).
 *
 * The user-space counterpart of `bridge fdb show dev flannel.1`. In the
 * flannel scheme every entry is static and comes from the peer source (one per
 * remote host: its VTEP MAC). In L2 mode (issue #10) the switch also learns:
 * observe() is called per decapsulated frame with its inner source MAC and
 * outer source IP, like the kernel vxlan's vxlan_snoop:
 *   - a new MAC is learned, unless `max` learned entries are held already
 *     (refused: a flood of random source MACs must not grow the table
 *     without bound; the kernel bridge's fdb_max_learned, which also counts
 *     learned entries only, so statics from the control plane are never refused);
 *   - a known MAC from the same VTEP is refreshed (one field write: the
 *     caller reads the clock once per batch, not per frame);
 *   - a known MAC from another VTEP moves (a VM migrated), counted apart;
 *   - a static entry wins: it is never refreshed, moved or replaced by learning.
 * Learned entries age out (ageOut) after `ageingMs` without traffic (300 s,
 * the kernel's default), and go when their VTEP leaves (removeVtep).
 *
 * Keys are 48-bit MAC integers (wire/addr macKey): a lookup per frame costs a
 * Map probe and no string. The last hit of lookup() and of knowsVtep() is
 * remembered, and forgotten on any change: a burst of one flow (dozens of
 * segments of one TSO super-frame in a batch) then costs one probe, not dozens.
 *
 * Each entry also holds what a send needs: `ep`, its VTEP's index in the
 * switch's endpoint table (io/endpoints.ts), interned when the entry is
 * made and released when it goes (deleted, aged, moved, replaced), so that
 * encap pushes the index and nothing is looked up or formatted per frame.
 */
import { EndpointTable } from '../io/endpoints';
import { macStringFromKey } from '../wire/addr';
import { formatVtep } from '../io/vtep-key';

export type FdbKind = 'static' | 'learned';

export interface FdbEntry {
  readonly mac: number;
  /** VTEP underlay IPv4, host-order u32. */
  readonly vtep: number;
  readonly port: number;
  readonly kind: FdbKind;
  /** When the entry was made or last refreshed (ms since epoch). */
  updatedAt: number;
  /** vtep:port's index in the endpoint table (Fdb.endpoints), held while the entry is. */
  ep: number;
}

/** What observe() did (hot path: small integers, no object). */
export const LEARN_REFRESHED = 0;
export const LEARN_NEW = 1;
export const LEARN_MOVED = 2;
/** A static entry holds the MAC behind this same VTEP: nothing to learn. */
export const LEARN_STATIC = 3;
/** A static entry holds the MAC behind another VTEP: the frame claims a pinned MAC (the kernel drops it). */
export const LEARN_STATIC_CONFLICT = 4;
/** A new MAC past `max` learned entries. */
export const LEARN_REFUSED = 5;

/** The kernel's default ageing time (bridge and vxlan: 300 s). */
export const DEFAULT_AGEING_MS = 300_000;
/** Learned entries at most, by default. */
export const DEFAULT_FDB_MAX = 16384;

export interface FdbOptions {
  /** Learned entries at most (statics are not counted); default 16384. */
  max?: number;
  /** The table entries intern their VTEP into (the Switch's); default: one of the FDB's own. */
  endpoints?: EndpointTable;
  /** A learned entry without traffic for this long goes at the next ageOut(); default 300 s. */
  ageingMs?: number;
}

export class Fdb {
  private readonly byMac = new Map<number, FdbEntry>();
  /** How many entries point at each VTEP: decap accepts only from VTEPs that have one. */
  private readonly vtepRefs = new Map<number, number>();
  /** How many static entries point at each VTEP (L2 mode accepts from these, and from the flood list). */
  private readonly staticRefs = new Map<number, number>();
  /** Learned entries held now (what `max` limits). */
  private learnedCount = 0;
  readonly max: number;
  readonly ageingMs: number;
  /** Where each entry's `ep` points. */
  readonly endpoints: EndpointTable;
  /** The VTEP a MAC was behind before its last LEARN_MOVED (for the trace; -1: none). */
  movedFrom = -1;

  constructor(opts: FdbOptions = {}) {
    this.max = opts.max ?? DEFAULT_FDB_MAX;
    this.ageingMs = opts.ageingMs ?? DEFAULT_AGEING_MS;
    this.endpoints = opts.endpoints ?? new EndpointTable();
    if (!Number.isInteger(this.max) || this.max < 0) throw new RangeError(`FDB max must be an integer >= 0, got ${this.max}`);
    if (!(this.ageingMs > 0)) throw new RangeError(`FDB ageing must be > 0 ms, got ${this.ageingMs}`);
  }

  /** Learned entries held now. */
  get learned(): number {
    return this.learnedCount;
  }
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
    this.put({ mac, vtep, port, kind: 'static', updatedAt: now, ep: -1 });
  }

  /** Adds a learned entry unless a static one holds the MAC (or the table is full). Returns whether it was taken. */
  learn(mac: number, vtep: number, port: number, now = Date.now()): boolean {
    const r = this.observe(mac, vtep, port, now);
    return r === LEARN_NEW || r === LEARN_MOVED || r === LEARN_REFRESHED;
  }

  /**
   * Learning from one decapsulated frame: its inner source MAC was seen
   * behind `vtep`:`port` at `now`. Returns LEARN_*. The common case (a known
   * MAC, same VTEP) is one Map probe and one field write.
   */
  observe(mac: number, vtep: number, port: number, now: number): number {
    const old = mac === this.lastMac ? this.lastEntry : this.byMac.get(mac);
    if (old !== undefined) {
      if (old.kind === 'static') return old.vtep === vtep ? LEARN_STATIC : LEARN_STATIC_CONFLICT;
      if (old.vtep === vtep && old.port === port) {
        old.updatedAt = now;
        return LEARN_REFRESHED;
      }
      this.movedFrom = old.vtep;
      this.put({ mac, vtep, port, kind: 'learned', updatedAt: now, ep: -1 });
      return LEARN_MOVED;
    }
    if (this.learnedCount >= this.max) return LEARN_REFUSED;
    this.put({ mac, vtep, port, kind: 'learned', updatedAt: now, ep: -1 });
    return LEARN_NEW;
  }

  /**
   * What observe() would do, changing nothing (`vxtap explain`'s dry run: no
   * entry made, refreshed or moved, and not `movedFrom` either: that field
   * belongs to the live pipeline's last observe()). `result` is the LEARN_*
   * observe() would return; `movedFrom` the VTEP a move would take the MAC
   * from (-1 unless LEARN_MOVED), so the explanation can name it.
   */
  wouldObserve(mac: number, vtep: number, port: number): { result: number; movedFrom: number } {
    const old = this.byMac.get(mac);
    if (old !== undefined) {
      if (old.kind === 'static') return { result: old.vtep === vtep ? LEARN_STATIC : LEARN_STATIC_CONFLICT, movedFrom: -1 };
      if (old.vtep === vtep && old.port === port) return { result: LEARN_REFRESHED, movedFrom: -1 };
      return { result: LEARN_MOVED, movedFrom: old.vtep };
    }
    return { result: this.learnedCount >= this.max ? LEARN_REFUSED : LEARN_NEW, movedFrom: -1 };
  }

  /**
   * Removes the learned entries not refreshed for `ageingMs` (updatedAt +
   * ageingMs <= now). Returns how many. A walk over the table: the node calls
   * it from a timer (about once a second), never per frame.
   */
  ageOut(now = Date.now()): number {
    const limit = now - this.ageingMs;
    let n = 0;
    for (const e of this.byMac.values()) {
      if (e.kind === 'learned' && e.updatedAt <= limit) {
        this.delete(e.mac);
        n++;
      }
    }
    return n;
  }

  /** Removes every learned entry behind `vtep` (it left the flood list). Statics stay: the control plane owns them. Returns how many. */
  removeVtep(vtep: number): number {
    let n = 0;
    for (const e of this.byMac.values()) {
      if (e.kind === 'learned' && e.vtep === vtep) {
        this.delete(e.mac);
        n++;
      }
    }
    return n;
  }

  /** True when a static entry points at this VTEP (host-order u32). */
  knowsStaticVtep(vtep: number): boolean {
    return this.staticRefs.has(vtep);
  }

  /** Removes the entry for `mac`. Returns whether there was one. */
  delete(mac: number): boolean {
    const old = this.byMac.get(mac);
    if (!old) return false;
    this.byMac.delete(mac);
    this.unref(old);
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
    return { mac: macStringFromKey(e.mac), vtep: formatVtep(e.vtep), port: e.port, kind: e.kind, updatedAt: e.updatedAt };
  }

  private forget(): void {
    this.lastMac = -1;
    this.lastEntry = undefined;
    this.lastVtep = -1;
  }

  private put(e: FdbEntry): void {
    this.forget();
    e.ep = this.endpoints.intern(e.vtep, e.port); // before the old entry's release: the same VTEP keeps its index
    const old = this.byMac.get(e.mac);
    if (old) this.unref(old);
    this.byMac.set(e.mac, e);
    this.vtepRefs.set(e.vtep, (this.vtepRefs.get(e.vtep) ?? 0) + 1);
    if (e.kind === 'static') this.staticRefs.set(e.vtep, (this.staticRefs.get(e.vtep) ?? 0) + 1);
    else this.learnedCount++;
  }

  private unref(e: FdbEntry): void {
    this.endpoints.release(e.ep);
    decRef(this.vtepRefs, e.vtep);
    if (e.kind === 'static') decRef(this.staticRefs, e.vtep);
    else this.learnedCount--;
  }
}

function decRef(refs: Map<number, number>, vtep: number): void {
  const n = (refs.get(vtep) ?? 0) - 1;
  if (n <= 0) refs.delete(vtep);
  else refs.set(vtep, n);
}
