/**
 * The etcd backend (flannel's subnet manager + vxlan backend, in user space):
 *
 *   1. config   <prefix>/config, retried (logged once) while etcd is
 *               unreachable or the config is missing; a config that cannot
 *               be used is a ConfigError and vxtap exits;
 *   2. lease    this host's subnet: its own lease again, else the one in the
 *               previous subnet file, else a random free one (registry.ts);
 *   3. keep     renewed before expiry; taken again if it disappears. Should it
 *               come back as ANOTHER subnet, the node cannot keep its address
 *               and routes: that is fatal (a restart starts clean);
 *   4. peers    EtcdPeerSource: snapshot, watch, resync after compaction or an
 *               outage. While etcd is away, forwarding goes on with the last
 *               known peers.
 */
import type { Logger } from 'pino';
import type { Etcd3 } from 'etcd3';
import { VxtapError } from '../errors';
import { formatCidr } from '../wire/addr';
import type { HostNetwork, JoinRequest, NetworkBackend } from './network';
import { createEtcdClient, type EtcdClientOptions } from './etcd/client';
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
async function retryTransient<T>(what: string, fn: () => Promise<T>, log: Logger, isClosed: () => boolean): Promise<T> {
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

export class EtcdNetwork implements NetworkBackend {
  readonly describe: string;
  private client: Etcd3 | null = null;
  private closed = false;

  constructor(private readonly opts: EtcdNetworkOptions) {
    this.describe = `etcd ${opts.client.endpoints.join(',')} prefix ${opts.prefix}`;
  }

  async join(req: JoinRequest): Promise<HostNetwork> {
    const { log } = req;
    const client = createEtcdClient(this.opts.client);
    this.client = client;
    const registry = new SubnetRegistry(client, { prefix: this.opts.prefix });
    try {
      const config = await retryTransient(`reading the network config at ${registry.configKey}`, () => registry.getConfig(), log, () => this.closed);
      log.info({ network: formatCidr(config.network), backend: config.backend }, `Found network config - Backend type: vxlan, network ${formatCidr(config.network)}, VNI ${config.backend.vni}, port ${config.backend.port}`);
      for (const w of config.warnings) log.warn(w);

      const previous = readSubnetFile(this.opts.subnetFile)?.subnet;
      const lease = await retryTransient('acquiring a subnet lease', () => registry.acquireLease({
        publicIp: req.publicIp,
        vtepMac: req.vtepMac,
        vni: config.backend.vni,
        ttlSeconds: this.opts.leaseTtlSeconds,
        config,
        ...(previous !== undefined ? { previousSubnet: previous } : {}),
      }), log, () => this.closed);
      logAcquired(log, lease, req.publicIp);

      const keeper = registry.keepLease(lease, {
        renewMarginSeconds: this.opts.renewMarginSeconds,
        config,
        onEvent: (e) => onLeaseEvent(e, log, req.onFatal),
      });
      const source = new EtcdPeerSource(client, {
        prefix: this.opts.prefix,
        own: { subnet: lease.subnet, publicIp: req.publicIp },
        vni: config.backend.vni,
        onStatus: (s) => {
          if (s.state === 'unreachable') log.warn({ err: { message: s.error.message } }, `etcd unreachable: ${s.error.message}; forwarding goes on with the last known peers`);
          else if (s.state === 'resynced') log.info({ reason: s.reason, added: s.added, removed: s.removed }, `etcd: resynced (${s.reason}): ${s.added ?? 0} added, ${s.removed ?? 0} removed`);
          else log.info('etcd: watching subnet leases');
        },
        onIgnored: (i) => log.warn({ key: i.key, reason: i.reason }, `ignoring lease ${i.key}: ${i.detail}`),
      });
      return {
        vni: config.backend.vni,
        port: config.backend.port,
        subnet: lease.subnet,
        network: formatCidr(config.network),
        vtepMac: req.vtepMac,
        source,
        reload: () => { /* the watch is live; nothing to re-read */ },
        close: async () => {
          this.closed = true;
          await source.close();
          await keeper.close();
          client.close();
        },
      };
    } catch (err) {
      this.closed = true;
      client.close();
      throw err;
    }
  }

  /** Ends a join() still retrying (a signal during start-up). */
  abort(): void {
    this.closed = true;
    this.client?.close();
  }
}

function logAcquired(log: Logger, lease: OwnLease, publicIp: string): void {
  const [net, len] = lease.subnet.split('/');
  if (lease.how === 'reused') log.info({ subnet: lease.subnet }, `Found lease (ip: ${lease.subnet}) for current IP (${publicIp}), reusing`);
  else if (lease.how === 'previous') log.info({ subnet: lease.subnet }, `Found previously leased subnet (${lease.subnet}), reusing`);
  else log.info({ subnet: lease.subnet }, `Allocated lease (ip: ${lease.subnet}) to current node (${publicIp})`);
  log.info({ subnet: lease.subnet, leaseId: lease.leaseId, ttl: lease.ttlSeconds }, `create subnet: ${net}, net mask: ${len}`);
}

function onLeaseEvent(e: LeaseKeeperEvent, log: Logger, onFatal: (err: Error) => void): void {
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
      if (e.sameSubnet) {
        log.info({ subnet: e.lease.subnet }, `took the lease of ${e.lease.subnet} again`);
      } else {
        const err = new VxtapError('VXTAP_ERR_LEASE_MOVED', `lease lost: ${e.previous.subnet} is now held elsewhere and this host was given ${e.lease.subnet}; restart to use it`);
        log.error(err.message);
        onFatal(err);
      }
      break;
    case 'reacquire-failed':
      log.warn({ err: { message: e.error.message } }, `taking the lease again failed: ${e.error.message}; retrying`);
      break;
  }
}
