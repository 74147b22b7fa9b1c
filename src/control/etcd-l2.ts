/**
 * The etcd L2 backend (`vxtap run --mode l2 --etcd-endpoints …`):
 *
 *   1. segment  VNI and port: from the options when both are given (no config
 *               is read then); else `<prefix>/config`'s Backend.VNI /
 *               Backend.Port (parseL2SegmentConfig: Network is not needed;
 *               flannel's defaults VNI 1 and port 8472), an option overriding
 *               its field. A missing config or an unreachable etcd is retried
 *               (logged once), as in routed mode;
 *   2. register this host at `<prefix>/l2/<vni>/vteps/<public-ip>` on an etcd
 *               lease of DEFAULT_VTEP_TTL_SECONDS (10 s), kept alive; put back
 *               whenever it is found gone (etcd/vteps.ts);
 *   3. vteps    EtcdVtepSource: the other hosts' keys, snapshot then batches.
 *
 * An etcd outage never stops forwarding: the flood list stays as last known,
 * and the key is put back when etcd returns. close() deletes the key, so the
 * other hosts drop this one at once.
 */
import type { Logger } from 'pino';
import type { Etcd3 } from 'etcd3';
import type { L2Backend, L2JoinRequest, L2Network } from './l2-network';
import type { ControlStatus } from './network';
import { retryTransient } from './etcd-network';
import type { EtcdClientOptions } from './etcd/client';
import { etcdProbe } from './etcd/probe';
import { EtcdBackend, Reachability } from './etcd/backend';
import { NoNetworkConfigError } from './etcd/errors';
import { DEFAULT_PREFIX, MAX_VNI, parseL2SegmentConfig } from './etcd/network-config';
import { etcdCall } from './etcd/registry';
import type { BackoffOptions } from './etcd/watch';
import { DEFAULT_VTEP_TTL_SECONDS, encodeVtep, vtepsPrefix } from './etcd/vteps';
import { VtepRegistration, type RegistrationEvent } from './etcd/vtep-registration';
import { EtcdVtepSource } from './etcd/vtep-source';

export interface EtcdL2Options {
  readonly client: EtcdClientOptions;
  /** Default '/coreos.com/network'. */
  readonly prefix?: string;
  /** The segment's VNI; overrides the config's Backend.VNI. */
  readonly vni?: number;
  /** The segment's UDP port; overrides the config's Backend.Port. */
  readonly port?: number;
  /** The registration's TTL (default 10 s). */
  readonly ttlSeconds?: number;
  /** Retry backoff of the registration and the watch (tests make it short). */
  readonly backoff?: BackoffOptions;
}

export class EtcdL2Network extends EtcdBackend implements L2Backend {
  readonly describe: string;
  private readonly prefix: string;

  constructor(private readonly opts: EtcdL2Options) {
    super(opts.client);
    this.prefix = (opts.prefix ?? DEFAULT_PREFIX).replace(/\/+$/, '');
    this.describe = `etcd ${opts.client.endpoints.join(',')} prefix ${this.prefix} (L2)`;
    if (opts.vni !== undefined && (!Number.isInteger(opts.vni) || opts.vni < 1 || opts.vni > MAX_VNI)) throw new TypeError(`EtcdL2Network: vni must be in 1..${MAX_VNI}, got ${opts.vni}`);
    if (opts.port !== undefined && (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535)) throw new TypeError(`EtcdL2Network: port must be in 1..65535, got ${opts.port}`);
  }

  async join(req: L2JoinRequest): Promise<L2Network> {
    const { log } = req;
    return this.withClient(async (client) => {
      const { vni, port } = await this.segment(client, log);
      const prefix = vtepsPrefix(this.prefix, vni);
      const key = prefix + req.publicIp;
      const ttl = this.opts.ttlSeconds ?? DEFAULT_VTEP_TTL_SECONDS;

      const etcd = new Reachability();
      const setEtcd = (reachable: boolean, error: string | null): void => etcd.set(reachable, error);
      const reg = new VtepRegistration(client, {
        key,
        value: encodeVtep({ publicIp: req.publicIp, port, vtepMac: req.vtepMac.toLowerCase() }),
        ttlSeconds: ttl,
        onEvent: (e) => { onRegistration(e, key, log); if (e.type === 'failed') setEtcd(false, e.error.message); else if (e.type !== 'lost') setEtcd(true, null); },
        ...(this.opts.backoff ? { retry: this.opts.backoff } : {}),
      });
      await retryTransient(`registering ${key}`, () => reg.start(), log, () => this.closed);

      const source = new EtcdVtepSource(client, {
        prefix,
        selfIp: req.publicIp,
        onStatus: (s) => {
          setEtcd(s.state !== 'unreachable', s.state === 'unreachable' ? s.error.message : null);
          if (s.state === 'unreachable') log.warn({ err: { message: s.error.message } }, `etcd unreachable: ${s.error.message}; flooding goes on to the last known VTEPs`);
          else if (s.state === 'resynced') log.info({ reason: s.reason, added: s.added, removed: s.removed }, `etcd: resynced (${s.reason}): ${s.added ?? 0} VTEP(s) added, ${s.removed ?? 0} removed`);
          else log.info(`etcd: watching ${prefix}`);
        },
        onIgnored: (i) => log.warn({ key: i.key }, `ignoring ${i.key}: ${i.detail}`),
        ...(this.opts.backoff ? { backoff: this.opts.backoff } : {}),
      });
      return {
        vni,
        port,
        vtepMac: req.vtepMac,
        source,
        etcd: etcdProbe(client),
        status: (): ControlStatus => {
          const st = reg.state;
          return { lease: { held: st.held, subnet: key, expiresAt: st.expiresAt }, etcd: etcd.state };
        },
        reload: () => { /* the watch is live; nothing to re-read */ },
        close: this.closer(client, source, reg),
      };
    });
  }

  private async segment(client: Etcd3, log: Logger): Promise<{ vni: number; port: number }> {
    const { vni, port } = this.opts;
    if (vni !== undefined && port !== undefined) {
      log.info(`L2 segment VNI ${vni}, port ${port} (from the options; ${this.prefix}/config is not read)`);
      return { vni, port };
    }
    const configKey = `${this.prefix}/config`;
    const cfg = await retryTransient(`reading the network config at ${configKey}`, async () => {
      const text = await etcdCall(`read ${configKey}`, () => client.get(configKey).string());
      if (text === null) throw new NoNetworkConfigError(configKey);
      return parseL2SegmentConfig(text);
    }, log, () => this.closed);
    for (const w of cfg.warnings) if (port === undefined || !w.startsWith('Backend.Port')) log.warn(w);
    const seg = { vni: vni ?? cfg.vni, port: port ?? cfg.port };
    log.info(seg, `L2 segment VNI ${seg.vni}, port ${seg.port} (from ${configKey}${vni !== undefined || port !== undefined ? ' and the options' : ''})`);
    return seg;
  }
}

const LOST: Record<Extract<RegistrationEvent, { type: 'lost' }>['reason'], string> = {
  expired: 'expired (its etcd lease ran out or was revoked)',
  gone: 'is gone from etcd (deleted, or its lease ran out)',
  replaced: 'holds another value',
};

function onRegistration(e: RegistrationEvent, key: string, log: Logger): void {
  switch (e.type) {
    case 'registered':
      if (e.again) log.info({ key, leaseId: e.leaseId }, `registered ${key} again`);
      else log.info({ key, leaseId: e.leaseId }, `registered ${key} (etcd lease ${e.leaseId})`);
      break;
    case 'renewed':
      break; // every few seconds: not worth a line
    case 'failed':
      log.warn({ err: { message: e.error.message } }, `keeping ${key} failed: ${e.error.message}; retrying`);
      break;
    case 'lost':
      log.warn({ key, reason: e.reason }, `${key} ${LOST[e.reason]}; putting it back`);
      break;
  }
}
