/**
 * The etcd backend (flannel's subnet manager + vxlan backend, in user space):
 *
 *   1. config   <prefix>/config, retried (logged once) while etcd is
 *               unreachable or the config is missing; a config that cannot
 *               be used is a ConfigError and vxtap exits;
 *   2. lease    this host's subnet: its own lease again, else the one in the
 *               previous subnet file, else a random free one (registry.ts);
 *   3. keep     renewed before expiry; taken again if it disappears. When
 *               another host's value takes the key over, the subnet is that
 *               host's now (etcd says so to every other host): this host
 *               moves to a fresh lease, and the node re-addresses its VTEP,
 *               rewrites the subnet file and says loudly that the containers
 *               of the old subnet need new addresses (HostNetwork.onSubnetMoved);
 *               the lease it held is not left behind. Only a node that cannot
 *               move (no handler) stops;
 *   4. peers    EtcdPeerSource: snapshot, watch, resync after compaction or an
 *               outage. While etcd is away, forwarding goes on with the last
 *               known peers.
 */
import type { Logger } from 'pino';
import { VxtapError } from '../errors';
import { formatCidr } from '../wire/addr';
import { formatCidr6 } from './ip6';
import type { HostNetwork, JoinRequest, NetworkBackend } from './network';
import type { EtcdClientOptions } from './etcd/client';
import { etcdProbe } from './etcd/probe';
import { EtcdBackend, Reachability } from './etcd/backend';
import { EtcdUnavailableError, NoNetworkConfigError } from './etcd/errors';
import type { LeaseKeeperEvent } from './etcd/lease-keeper';
import { EtcdPeerSource } from './etcd/peer-source';
import { SubnetRegistry, type OwnLease } from './etcd/registry';
import { readSubnetFile } from './etcd/subnet-file';
import { backoffDelay } from './etcd/watch';

export interface EtcdNetworkOptions {
  readonly client: EtcdClientOptions;
  readonly prefix: string;
  /** Where the previous subnet may be read from (flannel's subnet file). */
  readonly subnetFile: string;
  readonly leaseTtlSeconds: number;
  readonly renewMarginSeconds: number;
}

/** Retries `fn` while it fails with a transient error; logs the first failure and the recovery, not every attempt. */
export async function retryTransient<T>(what: string, fn: () => Promise<T>, log: Logger, isClosed: () => boolean): Promise<T> {
  let failures = 0;
  for (;;) {
    try {
      const v = await fn();
      if (failures > 0) log.info(`${what}: succeeded after ${failures} failed attempt(s)`);
      return v;
    } catch (err) {
      if (!(err instanceof EtcdUnavailableError || err instanceof NoNetworkConfigError) || isClosed()) throw err;
      failures++;
      const delay = backoffDelay(failures, { initialMs: 500, maxMs: 5000 });
      if (failures === 1) log.warn({ err: { code: err.code, message: err.message } }, `${what}: ${err.message}; retrying (every ≤5 s) until it works`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

export class EtcdNetwork extends EtcdBackend implements NetworkBackend {
  readonly describe: string;

  constructor(private readonly opts: EtcdNetworkOptions) {
    super(opts.client);
    this.describe = `etcd ${opts.client.endpoints.join(',')} prefix ${opts.prefix}`;
  }

  async join(req: JoinRequest): Promise<HostNetwork> {
    const { log } = req;
    return this.withClient(async (client) => {
      const registry = new SubnetRegistry(client, { prefix: this.opts.prefix });
      const config = await retryTransient(`reading the network config at ${registry.configKey}`, () => registry.getConfig(), log, () => this.closed);
      log.info({ network: formatCidr(config.network), backend: config.backend }, `Found network config - Backend type: vxlan, network ${formatCidr(config.network)}, VNI ${config.backend.vni}, port ${config.backend.port}`);
      for (const w of config.warnings) log.warn(w);

      const file = readSubnetFile(this.opts.subnetFile);
      const previous = file?.subnet;
      const previous6 = file?.subnet6;
      if (config.ipv6 !== null && req.publicIpv6 === undefined) {
        log.warn('the network enables IPv6 but this host has no IPv6 public address: its lease is IPv4 only');
      }
      const lease = await retryTransient('acquiring a subnet lease', () => registry.acquireLease({
        publicIp: req.publicIp,
        vtepMac: req.vtepMac,
        vni: config.backend.vni,
        ttlSeconds: this.opts.leaseTtlSeconds,
        config,
        ...(previous !== undefined ? { previousSubnet: previous } : {}),
        ...(req.publicIpv6 !== undefined ? { publicIpv6: req.publicIpv6 } : {}),
        ...(previous6 !== undefined ? { previousSubnet6: previous6 } : {}),
      }), log, () => this.closed);
      logAcquired(log, lease, req.publicIp);

      let takenBy: string | null = null;
      // For status(): the lease as held, and etcd as the peer watch last saw it.
      let held = { held: true, subnet: lease.subnet, expiresAt: lease.expiresAt };
      const etcd = new Reachability();
      const setEtcd = (reachable: boolean, error: string | null): void => etcd.set(reachable, error);
      let source: EtcdPeerSource | null = null;
      const hostNet: { onSubnetMoved: HostNetwork['onSubnetMoved'] } = { onSubnetMoved: null };
      const moved = (e: Extract<LeaseKeeperEvent, { type: 'reacquired' }>): void => {
        const move = { from: e.previous.subnet, to: e.lease.subnet, takenBy };
        const handler = hostNet.onSubnetMoved;
        if (handler === null) {
          req.onFatal(new VxtapError('VXTAP_ERR_LEASE_MOVED', `lease lost: ${move.from} is now held elsewhere and this host was given ${move.to}; restart to use it`));
          return;
        }
        log.error({ from: move.from, to: move.to, takenBy }, `subnet ${move.from} was taken over${takenBy === null ? '' : ` by ${takenBy}`}: this host moves to ${move.to}. Containers with addresses in ${move.from} must get new ones (restart Docker or the CNI with the new subnet file)`);
        void handler(move).then(() => { source?.setOwn({ subnet: move.to, publicIp: req.publicIp }); }, (err: Error) => {
          req.onFatal(new VxtapError('VXTAP_ERR_LEASE_MOVED', `moving from ${move.from} to ${move.to} failed: ${err.message}`));
        });
      };
      const keeper = registry.keepLease(lease, {
        renewMarginSeconds: this.opts.renewMarginSeconds,
        config,
        onEvent: (e) => {
          if (e.type === 'lost') { takenBy = e.takenBy; held = { ...held, held: false }; }
          if (e.type === 'renewed' || e.type === 'reacquired') { held = { held: true, subnet: e.lease.subnet, expiresAt: e.lease.expiresAt }; setEtcd(true, null); }
          if (e.type === 'renew-failed' || e.type === 'reacquire-failed') setEtcd(false, e.error.message);
          if (e.type === 'reacquired' && !e.sameSubnet) moved(e);
          else onLeaseEvent(e, log);
        },
      });
      source = new EtcdPeerSource(client, {
        prefix: this.opts.prefix,
        own: { subnet: lease.subnet, publicIp: req.publicIp },
        vni: config.backend.vni,
        onStatus: (s) => {
          setEtcd(s.state !== 'unreachable', s.state === 'unreachable' ? s.error.message : null);
          if (s.state === 'unreachable') log.warn({ err: { message: s.error.message } }, `etcd unreachable: ${s.error.message}; forwarding goes on with the last known peers`);
          else if (s.state === 'resynced') log.info({ reason: s.reason, added: s.added, removed: s.removed }, `etcd: resynced (${s.reason}): ${s.added ?? 0} added, ${s.removed ?? 0} removed`);
          else log.info('etcd: watching subnet leases');
        },
        onIgnored: (i) => log.warn({ key: i.key, reason: i.reason }, `ignoring lease ${i.key}: ${i.detail}`),
      });
      const peers = source;
      return Object.assign(hostNet, {
        vni: config.backend.vni,
        port: config.backend.port,
        subnet: lease.subnet,
        network: formatCidr(config.network),
        shape: { network: config.network, subnetLen: config.subnetLen, subnetMin: config.subnetMin, subnetMax: config.subnetMax, ipv6: config.ipv6 },
        vtepMac: req.vtepMac,
        ...(lease.subnet6 !== undefined && config.ipv6 !== null ? { subnet6: lease.subnet6, network6: formatCidr6(config.ipv6.network) } : {}),
        source: peers,
        etcd: etcdProbe(client),
        status: () => ({ lease: held, etcd: etcd.state }),
        reload: () => { /* the watch is live; nothing to re-read */ },
        close: this.closer(client, peers, keeper),
      });
    });
  }
}

function logAcquired(log: Logger, lease: OwnLease, publicIp: string): void {
  const [net, len] = lease.subnet.split('/');
  if (lease.how === 'reused') log.info({ subnet: lease.subnet }, `Found lease (ip: ${lease.subnet}) for current IP (${publicIp}), reusing`);
  else if (lease.how === 'previous') log.info({ subnet: lease.subnet }, `Found previously leased subnet (${lease.subnet}), reusing`);
  else log.info({ subnet: lease.subnet }, `Allocated lease (ip: ${lease.subnet}) to current node (${publicIp})`);
  log.info({ subnet: lease.subnet, leaseId: lease.leaseId, ttl: lease.ttlSeconds }, `create subnet: ${net}, net mask: ${len}`);
  if (lease.subnet6 !== undefined) {
    const [net6, len6] = lease.subnet6.split('/');
    log.info({ subnet6: lease.subnet6 }, `create ipv6 subnet: ${net6}, net mask: ${len6} (the IPv6 overlay: <subnet6>::/128 on the TAP, carried over the IPv4 underlay)`);
  }
}

/** Logs the lease keeper's events (a move to another subnet is handled by join()). */
function onLeaseEvent(e: LeaseKeeperEvent, log: Logger): void {
  switch (e.type) {
    case 'renewed':
      log.info({ subnet: e.lease.subnet, expiresAt: new Date(e.lease.expiresAt).toISOString() }, `Lease renewed, new expiration: ${new Date(e.lease.expiresAt).toISOString()}`);
      break;
    case 'renew-failed':
      log.warn({ err: { message: e.error.message } }, `renewing the lease of ${e.lease.subnet} failed: ${e.error.message}; retrying`);
      break;
    case 'lost':
      log.warn({ subnet: e.lease.subnet, reason: e.reason }, `lease of ${e.lease.subnet} ${e.reason}; taking it again`);
      break;
    case 'reacquired':
      log.info({ subnet: e.lease.subnet }, `took the lease of ${e.lease.subnet} again`);
      break;
    case 'reacquire-failed':
      log.warn({ err: { message: e.error.message } }, `taking the lease again failed: ${e.error.message}; retrying`);
      break;
  }
}
