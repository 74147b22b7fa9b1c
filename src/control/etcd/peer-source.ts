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
 * `vni` is given), IPv6-only leases (the data plane carries IPv4 only for
 * now), and malformed values. The last four are reported once per version
 * of the key through `onIgnored`; none is fatal. A dual-stack lease whose
 * BackendV6Data names another VNI keeps its IPv4 half (reported once, reason
 * `vni`); what else can be wrong with an IPv6 half is the guard's
 * (lease-rules.ts).
 */
import type { Etcd3 } from 'etcd3';
import { parseCidr, formatCidr } from '../../wire/addr';
import { diffPeers, type Peer, type PeerEvent, type PeerSource } from '../peers';
import { decodeLease, leaseToPeer } from './lease-codec';
import { DEFAULT_PREFIX } from './network-config';
import { EtcdPrefixSource, type PrefixSourceStatus } from './prefix-source';
import { originOf, type BackoffOptions, type Kv } from './watch';

export interface IgnoredLease {
  readonly key: string;
  readonly reason: 'backend' | 'vni' | 'malformed' | 'ipv6-only';
  readonly detail: string;
}

export type PeerSourceStatus = PrefixSourceStatus;

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

/** The listing, watching and resyncing are prefix-source.ts's; this says which keys are peers. */
export class EtcdPeerSource extends EtcdPrefixSource<Peer, PeerEvent> implements PeerSource {
  readonly prefix: string;
  private own: { subnet: string | null; publicIp: string | null };

  constructor(client: Etcd3, private readonly opts: EtcdPeerSourceOptions = {}) {
    const prefix = (opts.prefix ?? DEFAULT_PREFIX).replace(/\/+$/, '');
    super(client, 'EtcdPeerSource', `${prefix}/subnets/`, opts);
    this.prefix = prefix;
    this.own = normalizeOwn(opts.own);
  }

  /** The peers the consumer has been given so far. */
  peers(): Peer[] {
    return this.items();
  }

  /**
   * This host's lease changed (re-acquired with another subnet): re-filters
   * the peers and emits (and returns) the difference.
   */
  setOwn(own: OwnIdentity): PeerEvent[] {
    this.own = normalizeOwn(own);
    return this.recomputeAll();
  }

  protected diff(before: readonly Peer[], after: readonly Peer[]): PeerEvent[] {
    return diffPeers(before, after);
  }

  /** The peer a key holds, or null (own lease, another backend or VNI, malformed). */
  protected derive(kv: Kv): Peer | null {
    let lease;
    try {
      lease = decodeLease(kv.key, kv.value);
    } catch (err) {
      this.report(kv, 'malformed', (err as Error).message);
      return null;
    }
    if ((lease.subnet !== null && lease.subnet === this.own.subnet) || (lease.publicIp !== null && lease.publicIp === this.own.publicIp)) return null;
    if (lease.subnet === null) {
      this.report(kv, 'ipv6-only', `${kv.key}: an IPv6-only lease (${lease.subnet6 ?? '?'}); vxtap carries IPv6 overlays over the IPv4 underlay only for now`);
      return null;
    }
    let peer = leaseToPeer(lease);
    if (!peer) {
      this.report(kv, 'backend', `${kv.key}: BackendType ${JSON.stringify(lease.backendType)} is not vxlan`);
      return null;
    }
    if (this.opts.vni !== undefined && lease.vni !== null && lease.vni !== this.opts.vni) {
      this.report(kv, 'vni', `${kv.key}: VNI ${lease.vni} is not this network's ${this.opts.vni}`);
      return null;
    }
    const vni6 = lease.backendV6?.vni ?? null;
    if (this.opts.vni !== undefined && peer.subnet6 !== undefined && vni6 !== null && vni6 !== this.opts.vni) {
      this.report(kv, 'vni', `${kv.key}: BackendV6Data.VNI ${vni6} is not this network's ${this.opts.vni}: its IPv6 half is ignored, its IPv4 half is used`);
      peer = { subnet: peer.subnet, publicIp: peer.publicIp, vtepMac: peer.vtepMac };
    }
    return { ...peer, order: kv.createRevision, source: originOf(kv) };
  }

  private report(kv: Kv, reason: IgnoredLease['reason'], detail: string): void {
    if (this.reportOnce(kv)) this.opts.onIgnored?.({ key: kv.key, reason, detail });
  }
}

function normalizeOwn(own: OwnIdentity | undefined): { subnet: string | null; publicIp: string | null } {
  return {
    subnet: own?.subnet !== undefined ? formatCidr(parseCidr(own.subnet)) : null,
    publicIp: own?.publicIp ?? null,
  };
}
