/**
 * What the control plane gives `--mode l2` (issue #10): the segment's VNI and
 * UDP port, this host's VTEP MAC, and a VtepSource, the flood list's feed
 * (the other VTEPs of the segment, as a snapshot and then batches of
 * added/removed events). It is the L2 twin of network.ts: there is no subnet
 * and no lease of an address range, only "these hosts are on the segment".
 *
 * Backends: a static L2 peers file (static-l2.ts) and etcd (etcd-l2.ts). The
 * node asks neither where the VTEPs come from; it turns `added` into
 * `floodList.add(ip, port)` (plus a static FDB entry per MAC in `macs`) and
 * `removed` into `floodList.remove(ip)` + `fdb.removeVtep(ip)`.
 */
import type { Logger } from 'pino';
import type { ControlStatus } from './network';
import type { EtcdProbe, Origin } from './origin';

/** A remote VTEP of the segment. */
export interface Vtep {
  /** Its underlay IPv4 address: the outer destination of the copies sent to it. */
  readonly publicIp: string;
  /** The UDP port it listens on (the segment's port unless it says otherwise). */
  readonly port: number;
  /** Its TAP's MAC when it says (etcd always does), lower-case; null when unknown. Informational in L2 mode. */
  readonly vtepMac: string | null;
  /** MACs pinned behind it (static FDB entries), lower-case; [] for none. */
  readonly macs: readonly string[];
  /** Where the VTEP came from (the etcd key, the file's line), for `vxtap explain`; not part of its identity. */
  readonly source?: Origin;
}

export type VtepEvent = { readonly type: 'added' | 'removed'; readonly vtep: Vtep };

/** The flood list's feed: a snapshot, then batches of changes (the PeerSource pattern of peers.ts). */
export interface VtepSource {
  snapshot(): Promise<Vtep[]>;
  /** Calls onEvents with each non-empty batch of changes after the snapshot. */
  watch(onEvents: (batch: VtepEvent[]) => void): void;
  close(): Promise<void>;
}

/** This host on an L2 segment. */
export interface L2Network {
  readonly vni: number;
  /** The segment's VXLAN UDP port: what this host listens on, and the port of learned FDB entries. */
  readonly port: number;
  /** This host's VTEP MAC (the TAP's). */
  readonly vtepMac: string;
  readonly source: VtepSource;
  /** etcd, when the segment lives there: `vxtap explain` asks it about keys and lease TTLs. */
  readonly etcd?: EtcdProbe;
  /**
   * The control plane's health. In etcd mode `lease` is this host's
   * registration: `subnet` holds its key (there is no subnet in L2 mode), so
   * that /readyz names what is not held.
   */
  status(): ControlStatus;
  /** Re-read / resync now (SIGHUP). */
  reload(): void;
  /** Stops watching; etcd: deletes this host's key at once, so every other host drops it from its flood list. */
  close(): Promise<void>;
}

export interface L2JoinRequest {
  /** This host's underlay address: the outer source IP, and its own entry to skip. */
  readonly publicIp: string;
  /** This host's VTEP MAC (the TAP's), as it registers it. */
  readonly vtepMac: string;
  readonly log: Logger;
  /** Called when the control plane can no longer go on (the node should stop). */
  readonly onFatal: (err: Error) => void;
}

export interface L2Backend {
  /** Where the configuration comes from, for logs ('L2 peers file x.json', 'etcd http://…'). */
  readonly describe: string;
  join(req: L2JoinRequest): Promise<L2Network>;
}

export function sameVtep(a: Vtep, b: Vtep): boolean {
  if (a.publicIp !== b.publicIp || a.port !== b.port || a.vtepMac !== b.vtepMac) return false;
  if (a.macs.length !== b.macs.length) return false;
  // Order does not matter to an FDB: compare as sets.
  const set = new Set(a.macs);
  return b.macs.every((m) => set.has(m));
}

/**
 * The events that turn `before` into `after`, keyed by publicIp. A VTEP whose
 * port, MAC or pinned MACs changed is `removed` (old) then `added` (new), so
 * the consumer drops the old flood entry and the static FDB entries behind it
 * before it installs the new ones. All removals come first, then all
 * additions; each group keeps the order of its input list.
 */
export function diffVteps(before: readonly Vtep[], after: readonly Vtep[]): VtepEvent[] {
  const old = new Map(before.map((v) => [v.publicIp, v]));
  const now = new Map(after.map((v) => [v.publicIp, v]));
  const removed: VtepEvent[] = [];
  const added: VtepEvent[] = [];
  for (const v of old.values()) {
    const w = now.get(v.publicIp);
    if (!w || !sameVtep(v, w)) removed.push({ type: 'removed', vtep: v });
  }
  for (const w of now.values()) {
    const v = old.get(w.publicIp);
    if (!v || !sameVtep(v, w)) added.push({ type: 'added', vtep: w });
  }
  return [...removed, ...added];
}
