/**
 * flannel's subnet manager (pkg/subnet/etcd: LocalManager + registry) over
 * the etcd v3 API, with flannel's layout, so vxtap and flannel hosts share
 * one network:
 *
 *   <prefix>/config                  the network config (network-config.ts)
 *   <prefix>/subnets/10.44.3.0-24    a host's lease (lease-codec.ts), on an etcd lease (TTL)
 *
 * acquireLease, as flannel's tryAcquireLease:
 *   1. a lease that already carries this host's PublicIP is reused: its data
 *      is rewritten and it moves to a fresh etcd lease (a lease that no longer
 *      fits the config is deleted instead, and the search goes on);
 *   2. else `previousSubnet` (from the subnet file), if it fits the config
 *      and nobody holds it;
 *   3. else a random one among the first 100 free subnets from SubnetMin up.
 *   A new lease is created with a transaction "create revision == 0 -> put
 *   with the etcd lease", so two hosts never get the same subnet. A collision
 *   (another host won the race) re-lists and picks again: it never fails the
 *   acquisition. A full network is a NetworkFullError.
 *
 * Dual-stack (docs/ipv6-control.md): when the config enables IPv6 and the
 * request names `publicIpv6`, the lease is flannel's dual-stack key
 * '10.5.52.0-24&fc00:0:0:34::-64', its IPv6 half picked the same way
 * (this host's lease if its IPv6 half still fits, else `previousSubnet6`,
 * else at random among the first 100 free IPv6 subnets from IPv6SubnetMin).
 * Without `publicIpv6` the lease is IPv4 only, as before, even in a
 * dual-stack network (flannel's dual-stack hosts read such a lease as IPv4
 * only). A lease of this host's whose IPv6 half no longer fits (or that has
 * one it should not) is deleted, as flannel does, and its IPv4 subnet tried
 * first again.
 *
 * Keeping the lease (renewal, taking it back when it disappears) is
 * lease-keeper.ts; `keepLease()` starts one.
 */
import type { Etcd3 } from 'etcd3';
import { isIpv4, isMac, formatCidr, parseCidr, type Ipv4Cidr } from '../../wire/addr';
import { VxtapError } from '../../errors';
import { EtcdUnavailableError, LeaseGoneError, NetworkConfigExistsError, NetworkFullError, NoNetworkConfigError } from './errors';
import { decodeLease, encodeLease, type SubnetLease } from './lease-codec';
import { LeaseKeeper, type KeepLeaseOptions } from './lease-keeper';
import {
  candidateSubnets, candidateSubnets6, cidrOverlaps, DEFAULT_PREFIX, fitsConfig, fitsConfig6, formatConfig, leaseKey, MAX_VNI,
  parseLeaseKey, parseNetworkConfig, parseSubnetKey, subnetCount, subnetKey, type NetworkConfig,
} from './network-config';
import { cidr6Overlaps, formatCidr6, isIpv6, parseCidr6, type Ipv6Cidr } from '../ip6';
import { listRange, type Kv } from './watch';

/** flannel's subnet lease TTL: 24 h. */
export const DEFAULT_LEASE_TTL_SECONDS = 24 * 3600;
/** flannel picks at random among the first this-many free subnets. */
const PICK_AMONG = 100;

export interface AcquireRequest {
  readonly publicIp: string;
  readonly vtepMac: string;
  readonly vni: number;
  /** The etcd lease TTL. Default 24 h. */
  readonly ttlSeconds?: number;
  /** The subnet this host had before (subnet file), tried before a random one. */
  readonly previousSubnet?: string;
  /** The config to allocate in; default: getConfig(). */
  readonly config?: NetworkConfig;
  /** This host's IPv6 underlay address: with a config that enables IPv6, the lease is dual-stack. */
  readonly publicIpv6?: string;
  /** The MAC BackendV6Data names; default vtepMac (one TAP for both families). */
  readonly vtepMac6?: string;
  /** The IPv6 subnet this host had before (the subnet file's FLANNEL_IPV6_SUBNET). */
  readonly previousSubnet6?: string;
}

/** This host's lease, as acquired. */
export interface OwnLease {
  readonly subnet: string;
  /** The IPv6 half of a dual-stack lease, 'fc00:0:0:34::/64'; absent for an IPv4-only lease. */
  readonly subnet6?: string;
  readonly publicIpv6?: string;
  readonly vtepMac6?: string;
  readonly key: string;
  readonly publicIp: string;
  readonly vtepMac: string;
  readonly vni: number;
  /** The etcd lease ID (int64, decimal). */
  readonly leaseId: string;
  readonly ttlSeconds: number;
  /** When the etcd lease runs out unless renewed, ms since the epoch. */
  readonly expiresAt: number;
  /** The key's mod revision when written. */
  readonly revision: number;
  /** How it was got: this host's existing lease, the previous subnet, or a new pick. */
  readonly how: 'reused' | 'previous' | 'new';
}

/** One key under `<prefix>/subnets/`, for `vxtap leases`. */
export interface LeaseInfo {
  readonly key: string;
  /** Null when the key is not a subnet key. */
  readonly subnet: string | null;
  /** The decoded lease; null when malformed (see `error`). */
  readonly lease: SubnetLease | null;
  readonly error: string | null;
  /** The etcd lease ID; '0' for a key without a lease (a reservation: never expires). */
  readonly leaseId: string;
  /** Seconds until the etcd lease expires; null without a lease, or when etcd would not say. */
  readonly ttlSeconds: number | null;
  readonly grantedTtlSeconds: number | null;
}

export interface SubnetRegistryOptions {
  /** Default '/coreos.com/network'. */
  readonly prefix?: string;
}

export class SubnetRegistry {
  readonly prefix: string;
  readonly configKey: string;
  readonly subnetsPrefix: string;

  constructor(readonly client: Etcd3, opts: SubnetRegistryOptions = {}) {
    this.prefix = (opts.prefix ?? DEFAULT_PREFIX).replace(/\/+$/, '');
    this.configKey = `${this.prefix}/config`;
    this.subnetsPrefix = `${this.prefix}/subnets/`;
  }

  /** The key of a subnet's lease: '<prefix>/subnets/10.44.3.0-24'. */
  keyOf(subnet: string | Ipv4Cidr): string {
    return this.subnetsPrefix + subnetKey(subnet);
  }

  // ---- config -----------------------------------------------------------------

  /** Reads and checks `<prefix>/config`. NoNetworkConfigError when absent, ConfigError when unusable. */
  async getConfig(): Promise<NetworkConfig> {
    const text = await etcd(`read ${this.configKey}`, () => this.client.get(this.configKey).string());
    if (text === null) throw new NoNetworkConfigError(this.configKey);
    return parseNetworkConfig(text);
  }

  /**
   * Writes the network config: a NetworkConfig as formatConfig writes it, or
   * text as given (checked first). Refuses to replace an existing config
   * unless `overwrite` (NetworkConfigExistsError). Returns the config.
   */
  async putConfig(config: NetworkConfig | string, opts: { overwrite?: boolean } = {}): Promise<NetworkConfig> {
    const cfg = typeof config === 'string' ? parseNetworkConfig(config) : config;
    const text = typeof config === 'string' ? config : formatConfig(config);
    if (opts.overwrite) {
      await etcd(`write ${this.configKey}`, () => this.client.put(this.configKey).value(text).exec());
      return cfg;
    }
    const res = await etcd(`write ${this.configKey}`, () =>
      this.client.if(this.configKey, 'Create', '==', 0).then(this.client.put(this.configKey).value(text)).commit());
    if (!res.succeeded) throw new NetworkConfigExistsError(this.configKey);
    return cfg;
  }

  // ---- leases -----------------------------------------------------------------

  /** Gets this host a subnet lease (see the file header for the order). */
  async acquireLease(req: AcquireRequest): Promise<OwnLease> {
    checkRequest(req);
    const cfg = req.config ?? await this.getConfig();
    const ttl = req.ttlSeconds ?? DEFAULT_LEASE_TTL_SECONDS;
    // Dual-stack only when both the network and this host have IPv6.
    const want6 = cfg.ipv6 !== null && req.publicIpv6 !== undefined;
    const value = encodeLease(want6 ? req : { publicIp: req.publicIp, vtepMac: req.vtepMac, vni: req.vni });
    let previous = req.previousSubnet !== undefined ? parseCidr(req.previousSubnet) : null;
    const previous6 = want6 && req.previousSubnet6 !== undefined ? parseCidr6(req.previousSubnet6) : null;
    let grant: { id: string; ttl: number } | null = null;
    try {
      for (;;) {
        const { kvs } = await etcd(`list ${this.subnetsPrefix}`, () => listRange(this.client, { prefix: this.subnetsPrefix }));
        const taken: { kv: Kv; subnet: Ipv4Cidr | null; subnet6: Ipv6Cidr | null; lease: SubnetLease | null }[] = [];
        for (const kv of kvs) {
          const parts = parseLeaseKey(kv.key);
          if (!parts) continue;
          let lease: SubnetLease | null = null;
          try { lease = decodeLease(kv.key, kv.value); } catch { /* malformed: still occupies its subnets */ }
          taken.push({ kv, subnet: parts.subnet, subnet6: parts.subnet6, lease });
        }

        // 1. This host's own lease, by PublicIP.
        const mine = taken.find((t) => t.subnet !== null && t.lease?.publicIp === req.publicIp);
        if (mine && mine.subnet !== null) {
          const fits6 = want6 ? cfg.ipv6 !== null && fitsConfig6(cfg, mine.subnet6) : mine.subnet6 === null;
          if (fitsConfig(cfg, mine.subnet) && fits6 && mine.kv.key === this.subnetsPrefix + leaseKey(mine.subnet, mine.subnet6)) {
            grant ??= await this.grant(ttl);
            const res = await etcd(`update ${mine.kv.key}`, () => this.client
              .if(mine.kv.key, 'Mod', '==', mine.kv.modRevision)
              .then(this.client.put(mine.kv.key).value(value).lease(grant!.id))
              .commit());
            if (!res.succeeded) continue; // changed under us: look again
            const used = grant;
            grant = null;
            if (mine.kv.lease !== '0' && mine.kv.lease !== used.id) void this.revokeIfUnused(mine.kv.lease);
            return this.own(req, mine.subnet, want6 ? mine.subnet6 : null, used, Number(res.header.revision), 'reused');
          }
          // No longer fits the config (flannel deletes it too). Its IPv4 subnet is tried first again
          // when only its IPv6 half is at fault (say IPv6 was switched on): the containers keep their IPv4 addresses.
          await etcd(`delete ${mine.kv.key}`, () => this.client
            .if(mine.kv.key, 'Mod', '==', mine.kv.modRevision)
            .then(this.client.delete().key(mine.kv.key))
            .commit());
          if (fitsConfig(cfg, mine.subnet) && previous === null) previous = mine.subnet;
          continue;
        }

        // 2. The previous subnet, 3. a random free one.
        const subnets = taken.flatMap((t) => (t.subnet === null ? [] : [t.subnet]));
        const subnets6 = taken.flatMap((t) => (t.subnet6 === null ? [] : [t.subnet6]));
        let pick: Ipv4Cidr | null = null;
        let pick6: Ipv6Cidr | null = null;
        let how: OwnLease['how'] = 'new';
        const prev = previous;
        if (prev && fitsConfig(cfg, prev) && !subnets.some((s) => cidrOverlaps(s, prev)) &&
          (!want6 || (previous6 !== null && fitsConfig6(cfg, previous6) && !subnets6.some((s) => cidr6Overlaps(s, previous6))))) {
          pick = prev;
          pick6 = previous6;
          how = 'previous';
        } else {
          pick = pickFree(cfg, subnets);
          if (want6) {
            // The IPv4 subnet of before, with a fresh IPv6 one, when only the IPv6 side cannot be had again.
            if (prev && fitsConfig(cfg, prev) && !subnets.some((s) => cidrOverlaps(s, prev))) { pick = prev; how = 'previous'; }
            pick6 = pickFree6(cfg, subnets6);
            if (!pick6) throw new NetworkFullError(formatCidr6(cfg.ipv6!.network), subnets6.length);
          }
        }
        if (!pick) throw new NetworkFullError(formatCidr(cfg.network), subnetCount(cfg));

        grant ??= await this.grant(ttl);
        const key = this.subnetsPrefix + leaseKey(pick, pick6);
        const res = await etcd(`create ${key}`, () => this.client
          .if(key, 'Create', '==', 0)
          .then(this.client.put(key).value(value).lease(grant!.id))
          .commit());
        if (!res.succeeded) continue; // another host won this subnet: the next list shows it taken
        const used = grant;
        grant = null;
        return this.own(req, pick, pick6, used, Number(res.header.revision), how);
      }
    } finally {
      if (grant) void this.revoke(grant.id);
    }
  }

  /**
   * Renews the lease's etcd lease (one keepalive). Returns the lease with its
   * new expiry; throws LeaseGoneError when etcd no longer has the lease,
   * EtcdUnavailableError when etcd does not answer.
   */
  async renewLease(lease: OwnLease, timeoutMs = 5000): Promise<OwnLease> {
    const ttl = await etcd(`renew lease ${lease.leaseId}`, () => keepAliveOnce(this.client, lease.leaseId, timeoutMs));
    if (ttl <= 0) throw new LeaseGoneError(lease.subnet, lease.leaseId);
    return { ...lease, ttlSeconds: ttl, expiresAt: Date.now() + ttl * 1000 };
  }

  /** Starts keeping the lease: renewals, and taking it back when it disappears. */
  keepLease(lease: OwnLease, opts: KeepLeaseOptions = {}): LeaseKeeper {
    return new LeaseKeeper(this, lease, opts);
  }

  /** Gives the lease up: deletes the key if it is still this lease's, and revokes the etcd lease. */
  async releaseLease(lease: OwnLease): Promise<void> {
    await etcd(`delete ${lease.key}`, () => this.client
      .if(lease.key, 'Lease', '==', lease.leaseId)
      .then(this.client.delete().key(lease.key))
      .commit());
    await this.revoke(lease.leaseId);
  }

  /** Every key under the subnets prefix with its time to expiry, by subnet. */
  async listLeases(): Promise<LeaseInfo[]> {
    const { kvs } = await etcd(`list ${this.subnetsPrefix}`, () => listRange(this.client, { prefix: this.subnetsPrefix }));
    const ttls = new Map<string, Promise<{ ttl: number; granted: number } | null>>();
    const ttlOf = (id: string): Promise<{ ttl: number; granted: number } | null> => {
      if (id === '0') return Promise.resolve(null);
      let p = ttls.get(id);
      if (!p) {
        p = this.client.leaseClient.leaseTimeToLive({ ID: id })
          .then((r) => ({ ttl: Number(r.TTL), granted: Number(r.grantedTTL) }), () => null);
        ttls.set(id, p);
      }
      return p;
    };
    const out = await Promise.all(kvs.map(async (kv): Promise<LeaseInfo> => {
      const subnet = parseSubnetKey(kv.key);
      let lease: SubnetLease | null = null;
      let error: string | null = null;
      try { lease = decodeLease(kv.key, kv.value); } catch (err) { error = (err as Error).message; }
      const t = await ttlOf(kv.lease);
      return {
        key: kv.key,
        subnet: subnet ? formatCidr(subnet) : null,
        lease, error,
        leaseId: kv.lease,
        ttlSeconds: t && t.ttl >= 0 ? t.ttl : null,
        grantedTtlSeconds: t && t.granted > 0 ? t.granted : null,
      };
    }));
    const addr = (i: LeaseInfo): number => (i.subnet ? parseCidr(i.subnet).addr : Number.MAX_SAFE_INTEGER);
    return out.sort((a, b) => addr(a) - addr(b) || a.key.localeCompare(b.key));
  }

  /** Remaining seconds of an etcd lease; -1 when etcd has no such lease. */
  async leaseTtl(leaseId: string): Promise<number> {
    const r = await etcd(`read lease ${leaseId}`, () => this.client.leaseClient.leaseTimeToLive({ ID: leaseId }));
    return Number(r.TTL);
  }

  /** Revokes an etcd lease that has no key left on it (best effort, never throws). */
  async revokeIfUnused(leaseId: string): Promise<void> {
    try {
      const r = await this.client.leaseClient.leaseTimeToLive({ ID: leaseId, keys: true });
      if (Number(r.TTL) > 0 && r.keys.length === 0) await this.revoke(leaseId);
    } catch { /* it will expire */ }
  }

  private async grant(ttl: number): Promise<{ id: string; ttl: number }> {
    const r = await etcd('grant an etcd lease', () => this.client.leaseClient.leaseGrant({ TTL: ttl, ID: 0 }));
    if (r.error) throw new EtcdUnavailableError(`etcd refused a lease of ${ttl} s: ${r.error}`);
    return { id: r.ID, ttl: Number(r.TTL) };
  }

  private async revoke(leaseId: string): Promise<void> {
    try { await this.client.leaseClient.leaseRevoke({ ID: leaseId }); } catch { /* gone already, or it will expire */ }
  }

  private own(req: AcquireRequest, subnet: Ipv4Cidr, subnet6: Ipv6Cidr | null, grant: { id: string; ttl: number }, revision: number, how: OwnLease['how']): OwnLease {
    const v6 = subnet6 === null || req.publicIpv6 === undefined ? {} : {
      subnet6: formatCidr6(subnet6), publicIpv6: req.publicIpv6, vtepMac6: (req.vtepMac6 ?? req.vtepMac).toLowerCase(),
    };
    return {
      subnet: formatCidr(subnet),
      ...v6,
      key: this.subnetsPrefix + leaseKey(subnet, subnet6),
      publicIp: req.publicIp,
      vtepMac: req.vtepMac.toLowerCase(),
      vni: req.vni,
      leaseId: grant.id,
      ttlSeconds: grant.ttl,
      expiresAt: Date.now() + grant.ttl * 1000,
      revision,
      how,
    };
  }
}

/** Picks at random among the first PICK_AMONG free subnets, as flannel does; null when none is free. */
function pickFree(cfg: NetworkConfig, taken: readonly Ipv4Cidr[]): Ipv4Cidr | null {
  const same = new Set<number>();
  const other: Ipv4Cidr[] = [];
  for (const t of taken) {
    if (t.len === cfg.subnetLen) same.add(t.addr);
    else other.push(t);
  }
  const free: Ipv4Cidr[] = [];
  for (const c of candidateSubnets(cfg)) {
    if (same.has(c.addr) || other.some((o) => cidrOverlaps(o, c))) continue;
    free.push(c);
    if (free.length >= PICK_AMONG) break;
  }
  return free.length === 0 ? null : free[Math.floor(Math.random() * free.length)]!;
}

/** pickFree for the IPv6 half: at random among the first PICK_AMONG free IPv6 subnets from IPv6SubnetMin, as flannel does. */
function pickFree6(cfg: NetworkConfig, taken: readonly Ipv6Cidr[]): Ipv6Cidr | null {
  if (cfg.ipv6 === null) return null;
  const same = new Set<bigint>();
  const other: Ipv6Cidr[] = [];
  for (const t of taken) {
    if (t.len === cfg.ipv6.subnetLen) same.add(t.addr);
    else other.push(t);
  }
  const free: Ipv6Cidr[] = [];
  for (const c of candidateSubnets6(cfg.ipv6)) {
    if (same.has(c.addr) || other.some((o) => cidr6Overlaps(o, c))) continue;
    free.push(c);
    if (free.length >= PICK_AMONG) break;
  }
  return free.length === 0 ? null : free[Math.floor(Math.random() * free.length)]!;
}

function checkRequest(req: AcquireRequest): void {
  if (!isIpv4(req.publicIp)) throw new TypeError(`acquireLease: publicIp is not an IPv4 address: ${JSON.stringify(req.publicIp)}`);
  if (req.publicIpv6 !== undefined && !isIpv6(req.publicIpv6)) throw new TypeError(`acquireLease: publicIpv6 is not an IPv6 address: ${JSON.stringify(req.publicIpv6)}`);
  if (!isMac(req.vtepMac)) throw new TypeError(`acquireLease: vtepMac is not a MAC address: ${JSON.stringify(req.vtepMac)}`);
  if (!Number.isInteger(req.vni) || req.vni < 0 || req.vni > MAX_VNI) throw new TypeError(`acquireLease: bad VNI ${req.vni}`);
  if (req.ttlSeconds !== undefined && (!Number.isInteger(req.ttlSeconds) || req.ttlSeconds < 1)) {
    throw new TypeError(`acquireLease: ttlSeconds must be a positive integer, got ${req.ttlSeconds}`);
  }
}

/** One keepalive on a fresh stream; the TTL etcd answers (0 or less: the lease is gone). */
export async function keepAliveOnce(client: Etcd3, leaseId: string, timeoutMs: number): Promise<number> {
  const stream = await client.leaseClient.leaseKeepAlive({ deadline: Date.now() + timeoutMs });
  try {
    return await new Promise<number>((resolve, reject) => {
      stream.on('data', (res) => resolve(Number(res.TTL)));
      stream.on('error', reject);
      stream.on('end', () => reject(new Error('keepalive stream ended without an answer')));
      stream.write({ ID: leaseId });
    });
  } finally {
    try { stream.end(); } catch { /* already closed */ }
  }
}

/** Runs an etcd call; an error that is not vxtap's own becomes EtcdUnavailableError naming what was tried. */
async function etcd<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof VxtapError) throw err;
    throw new EtcdUnavailableError(`etcd: cannot ${what}: ${(err as Error).message}`, { cause: err });
  }
}

/** `etcd()` for the other etcd modules (etcd-l2.ts): an etcd call whose failure names what was tried. */
export const etcdCall = etcd;
