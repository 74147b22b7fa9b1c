/**
 * Where a table entry came from (issue #12, `vxtap explain`): every peer,
 * VTEP, FDB and ARP entry the explanation uses names its source, so that a
 * reader can go and look at it (etcdctl get KEY -w json; the file's line).
 *
 * The sources attach an Origin to the records they emit (Peer.source,
 * Vtep.source); the installer keeps the records as given, so the origin
 * travels with them to the tables without touching the data path. What an
 * origin cannot carry is what changes without an event: a lease's remaining
 * TTL, a key rewritten with the same value (no event, a new mod revision).
 * Those are asked of etcd at explain time (EtcdProbe).
 */

/** An etcd key as the source saw it when it derived the record. */
export interface EtcdOrigin {
  readonly kind: 'etcd';
  readonly key: string;
  readonly modRevision: number;
  readonly createRevision: number;
  /** The etcd lease ID (int64 as a decimal string); '0': none. */
  readonly lease: string;
}

/** An entry of a static file: the file and the 1-based line where the entry's object starts. */
export interface FileOrigin {
  readonly kind: 'file';
  readonly path: string;
  readonly line: number;
}

export type Origin = EtcdOrigin | FileOrigin;

/** What explain asks etcd about a key, at the time of the question. */
export interface EtcdKeyNow {
  readonly key: string;
  readonly modRevision: number;
  readonly createRevision: number;
  readonly lease: string;
  /** The lease's remaining TTL in seconds (-1: the lease is gone), and what it was granted with; null: no lease. */
  readonly ttl: number | null;
  readonly grantedTtl: number | null;
}

/** Asks etcd about a key now (the control plane's client). null: the key is gone. */
export interface EtcdProbe {
  keyNow(key: string): Promise<EtcdKeyNow | null>;
}

/** "key /coreos.com/network/subnets/10.44.2.0-24 (mod revision 12, create revision 9, lease 694d... TTL 23 s of 30)" */
export function describeOrigin(o: Origin, now?: EtcdKeyNow | null): string {
  if (o.kind === 'file') return `${o.path} line ${o.line}`;
  const k = now ?? null;
  if (k === null && now === null) return `etcd key ${o.key} (gone from etcd now; it was mod revision ${o.modRevision})`;
  const mod = k?.modRevision ?? o.modRevision;
  const create = k?.createRevision ?? o.createRevision;
  const lease = k?.lease ?? o.lease;
  let leaseText = lease === '0' ? 'no lease' : `lease ${lease} (${BigInt(lease).toString(16)} in etcdctl lease list)`;
  if (k !== null && k.ttl !== null) leaseText += k.ttl < 0 ? ' (expired)' : `, TTL ${k.ttl} s of ${k.grantedTtl ?? '?'} s`;
  return `etcd key ${o.key} (mod revision ${mod}, create revision ${create}, ${leaseText})`;
}
