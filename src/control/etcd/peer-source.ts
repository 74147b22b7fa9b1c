/**
 * Peers from flannel's subnet leases in etcd (`<prefix>/subnets/`): the
 * PeerSource the daemon runs on when it joins a flannel network.
 *
 * - snapshot(): lists the prefix once and remembers the revision.
 * - watch(): changes after that revision, one batch per etcd watch response.
 *   A put adds a peer or, when its VTEP MAC or public IP changed, removes the
 *   old one and adds the new (diffPeers); a delete, or an expiry (etcd deletes
 *   the key with its lease), removes the copy kept here (etcd v3 deletes carry
 *   no value).
 * - After a compaction or an outage the prefix is listed again and only the
 *   difference with the state the consumer has is emitted (flannel's
 *   LeaseWatcher.Reset): consumers only ever see deltas. While etcd is
 *   unreachable nothing is emitted and the last known peers stay in force.
 *   See watch.ts for how etcd3's own watcher behaves and why it is wrapped.
 *
 * Not peers, never emitted: this host's own lease (by subnet, and by public
 * IP when given), leases of another backend, leases of another VNI (when
 * `vni` is given), and malformed values. The last three are reported once per
 * version of the key through `onIgnored`; none is fatal.
 */
import type { Etcd3 } from 'etcd3';
import { parseCidr, formatCidr } from '../../wire/addr';
import { diffPeers, type Peer, type PeerEvent, type PeerSource } from '../peers';
import { EtcdUnavailableError } from './errors';
import { decodeLease, leaseToPeer } from './lease-codec';
import { DEFAULT_PREFIX } from './network-config';
import { listRange, ResilientWatch, type BackoffOptions, type Kv, type WatchStatus, type WatchUpdate } from './watch';

export interface IgnoredLease {
  readonly key: string;
  readonly reason: 'backend' | 'vni' | 'malformed';
  readonly detail: string;
}

export type PeerSourceStatus = WatchStatus & {
  /** For `resynced`: what the resync changed. */
  readonly added?: number;
  readonly removed?: number;
};

export interface OwnIdentity {
  /** This host's subnet, '10.44.3.0/24'. */
  readonly subnet?: string;
  /** This host's public IP: a lease with it is not a peer either. */
  readonly publicIp?: string;
}

export interface EtcdPeerSourceOptions {
  /** Default '/coreos.com/network'. */
  readonly prefix?: string;
  readonly own?: OwnIdentity;
  /** When given, a lease whose BackendData.VNI differs is ignored (and reported). */
  readonly vni?: number;
  readonly onStatus?: (s: PeerSourceStatus) => void;
  readonly onIgnored?: (i: IgnoredLease) => void;
  readonly backoff?: BackoffOptions;
}

export class EtcdPeerSource implements PeerSource {
  readonly prefix: string;
  private readonly subnetsPrefix: string;
  /** Every key under the prefix, as last seen. */
  private readonly raw = new Map<string, Kv>();
  /** The peers the consumer has, by key. */
  private readonly current = new Map<string, Peer>();
  /** key -> modRevision already reported through onIgnored. */
  private readonly reported = new Map<string, number>();
  private own: { subnet: string | null; publicIp: string | null };
  private rev = -1;
  private watcher: ResilientWatch | null = null;
  private onEvents: ((batch: PeerEvent[]) => void) | null = null;
  private lastReset = { added: 0, removed: 0 };
  private closed = false;

  constructor(private readonly client: Etcd3, private readonly opts: EtcdPeerSourceOptions = {}) {
    this.prefix = (opts.prefix ?? DEFAULT_PREFIX).replace(/\/+$/, '');
    this.subnetsPrefix = `${this.prefix}/subnets/`;
    this.own = normalizeOwn(opts.own);
  }

  /** The revision the peers are as of (-1 before snapshot()). */
  get revision(): number {
    return this.rev;
  }

  /** The peers the consumer has been given so far. */
  peers(): Peer[] {
    return [...this.current.values()];
  }

  /** Lists the leases. Throws EtcdUnavailableError when etcd does not answer. */
  async snapshot(): Promise<Peer[]> {
    if (this.closed) throw new Error('EtcdPeerSource.snapshot: the source is closed');
    if (this.watcher) throw new Error('EtcdPeerSource.snapshot: already watching (the snapshot is taken once, before watch())');
    let listed: { kvs: Kv[]; revision: number };
    try {
      listed = await listRange(this.client, { prefix: this.subnetsPrefix });
    } catch (err) {
      throw new EtcdUnavailableError(`cannot list ${this.subnetsPrefix} in etcd: ${(err as Error).message}`, { cause: err });
    }
    this.applyReset(listed.kvs);
    this.rev = listed.revision;
    return this.peers();
  }

  /** Starts watching after the snapshot's revision; onEvents gets each non-empty batch. */
  watch(onEvents: (batch: PeerEvent[]) => void): void {
    if (this.closed) throw new Error('EtcdPeerSource.watch: the source is closed');
    if (this.watcher) throw new Error('EtcdPeerSource.watch: already watching');
    if (this.rev < 0) throw new Error('EtcdPeerSource.watch: call snapshot() first');
    this.onEvents = onEvents;
    this.watcher = new ResilientWatch(this.client, {
      range: { prefix: this.subnetsPrefix },
      revision: this.rev,
      onUpdate: (u) => this.onUpdate(u),
      onStatus: (s) => this.onStatus(s),
      ...(this.opts.backoff ? { backoff: this.opts.backoff } : {}),
    });
    this.watcher.start();
  }

  /**
   * This host's lease changed (re-acquired with another subnet): re-filters
   * the peers and emits (and returns) the difference.
   */
  setOwn(own: OwnIdentity): PeerEvent[] {
    this.own = normalizeOwn(own);
    return this.recompute(new Set(this.raw.keys()), true);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onEvents = null;
    await this.watcher?.close();
  }

  // ---- state -------------------------------------------------------------------

  private onUpdate(u: WatchUpdate): void {
    if (this.closed) return;
    this.rev = u.revision;
    if (u.kind === 'reset') {
      const batch = this.applyReset(u.kvs);
      this.lastReset = countBatch(batch);
      this.emit(batch);
      return;
    }
    const touched = new Set<string>();
    for (const c of u.changes) {
      if (c.type === 'put') {
        this.raw.set(c.kv.key, c.kv);
        touched.add(c.kv.key);
      } else {
        this.raw.delete(c.key);
        this.reported.delete(c.key);
        touched.add(c.key);
      }
    }
    this.emit(this.recompute(touched, false));
  }

  private onStatus(s: WatchStatus): void {
    if (this.closed) return;
    this.opts.onStatus?.(s.state === 'resynced' ? { ...s, ...this.lastReset } : s);
  }

  /** Replaces the raw state with a listing; returns the batch that brings the consumer there. */
  private applyReset(kvs: readonly Kv[]): PeerEvent[] {
    const touched = new Set<string>(this.raw.keys());
    this.raw.clear();
    for (const kv of kvs) {
      this.raw.set(kv.key, kv);
      touched.add(kv.key);
    }
    for (const k of [...this.reported.keys()]) if (!this.raw.has(k)) this.reported.delete(k);
    return this.recompute(touched, false);
  }

  /** Re-derives the peers of the touched keys; returns the batch (and emits it when `emit`). */
  private recompute(touched: ReadonlySet<string>, emit: boolean): PeerEvent[] {
    const before: Peer[] = [];
    const after: Peer[] = [];
    for (const key of touched) {
      const old = this.current.get(key);
      if (old) before.push(old);
      const kv = this.raw.get(key);
      const now = kv ? this.derive(kv) : null;
      if (now) {
        after.push(now);
        this.current.set(key, now);
      } else {
        this.current.delete(key);
      }
    }
    const batch = diffPeers(before, after);
    if (emit) this.emit(batch);
    return batch;
  }

  /** The peer a key holds, or null (own lease, another backend or VNI, malformed). */
  private derive(kv: Kv): Peer | null {
    let lease;
    try {
      lease = decodeLease(kv.key, kv.value);
    } catch (err) {
      this.report(kv, 'malformed', (err as Error).message);
      return null;
    }
    if (lease.subnet === this.own.subnet || lease.publicIp === this.own.publicIp) return null;
    const peer = leaseToPeer(lease);
    if (!peer) {
      this.report(kv, 'backend', `${kv.key}: BackendType ${JSON.stringify(lease.backendType)} is not vxlan`);
      return null;
    }
    if (this.opts.vni !== undefined && lease.vni !== null && lease.vni !== this.opts.vni) {
      this.report(kv, 'vni', `${kv.key}: VNI ${lease.vni} is not this network's ${this.opts.vni}`);
      return null;
    }
    return { ...peer, order: kv.createRevision };
  }

  private report(kv: Kv, reason: IgnoredLease['reason'], detail: string): void {
    if (this.reported.get(kv.key) === kv.modRevision) return;
    this.reported.set(kv.key, kv.modRevision);
    this.opts.onIgnored?.({ key: kv.key, reason, detail });
  }

  private emit(batch: PeerEvent[]): void {
    if (batch.length > 0 && this.onEvents) this.onEvents(batch);
  }
}

function normalizeOwn(own: OwnIdentity | undefined): { subnet: string | null; publicIp: string | null } {
  return {
    subnet: own?.subnet !== undefined ? formatCidr(parseCidr(own.subnet)) : null,
    publicIp: own?.publicIp ?? null,
  };
}

function countBatch(batch: readonly PeerEvent[]): { added: number; removed: number } {
  let added = 0;
  for (const e of batch) if (e.type === 'added') added++;
  return { added, removed: batch.length - added };
}
