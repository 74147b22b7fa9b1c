/** The static backend: this host and its peers from a peers file (static-peers.ts). */
import { ConfigError } from '../errors';
import { isMac } from '../wire/addr';
import type { HostNetwork, JoinRequest, NetworkBackend } from './network';
import { StaticPeerSource } from './static-peers';

export class StaticNetwork implements NetworkBackend {
  readonly describe: string;
  private readonly source: StaticPeerSource;

  /** Reads and checks the file now: a bad file is a ConfigError before anything else happens. */
  constructor(readonly path: string, onFileError: (err: Error) => void) {
    this.describe = `peers file ${path}`;
    this.source = new StaticPeerSource(path, { onError: onFileError });
  }

  /** The public IP the file names for this host, if any. */
  get publicIp(): string | undefined {
    return this.source.config.self.publicIp;
  }

  async join(req: JoinRequest): Promise<HostNetwork> {
    const cfg = this.source.config;
    const vtepMac = cfg.self.vtepMac ?? req.vtepMac;
    if (!isMac(vtepMac)) throw new ConfigError(`${this.path}: self.vtepMac: not a MAC address: ${JSON.stringify(vtepMac)}`, 'self.vtepMac');
    const subnet = cfg.self.subnet;
    if (subnet === undefined) {
      throw new ConfigError(`${this.path}: self.subnet: missing: self.subnet6 alone is an IPv6-only host, which vxtap cannot run yet (its IPv6 overlay travels over the IPv4 underlay)`, 'self.subnet');
    }
    const subnetLen = subnet.split('/')[1];
    req.log.info({ subnet }, `using subnet: ${subnet.split('/')[0]}, net mask: ${subnetLen} (from ${this.path})`);
    if (cfg.ipv6OnlyPeers !== undefined) {
      req.log.warn(`${this.path}: ${cfg.ipv6OnlyPeers.length} IPv6-only peer(s) (subnet6 without subnet) are not used: vxtap carries IPv6 overlays over the IPv4 underlay only for now`);
    }
    const source = this.source;
    return {
      vni: cfg.vni,
      port: cfg.port,
      subnet,
      ...(cfg.self.subnet6 !== undefined ? { subnet6: cfg.self.subnet6 } : {}),
      network: null,
      shape: null,
      vtepMac,
      onSubnetMoved: null,
      status: () => ({ lease: null, etcd: null }),
      source,
      reload: () => { source.reload(); },
      close: () => source.close(),
    };
  }
}
