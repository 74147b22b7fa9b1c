/**
 * What a control plane gives the data plane (flannel's backend.Network, cut
 * down): this host's lease — VNI, port, subnet, VTEP MAC — and a PeerSource
 * for the other hosts. `vxtap run` brings the node up from a HostNetwork and
 * never asks where it came from: a static file (static-network.ts) or etcd
 * (etcd-network.ts).
 */
import type { Logger } from 'pino';
import type { NetworkShape } from './lease-rules';
import type { PeerSource } from './peers';
import type { EtcdProbe } from './origin';

export interface HostNetwork {
  readonly vni: number;
  /** The VXLAN UDP port of every host. */
  readonly port: number;
  /** This host's subnet, '10.44.1.0/24'. */
  readonly subnet: string;
  /** The whole overlay network ('10.44.0.0/16') when the control plane knows it; it goes into the subnet file. */
  readonly network: string | null;
  /** The network's shape that every lease must fit (lease-rules.ts); null when the control plane has none (a static file). */
  readonly shape: NetworkShape | null;
  /** This host's VTEP MAC (the TAP's MAC). */
  readonly vtepMac: string;
  /**
   * A dual-stack lease's IPv6 half (docs/ipv6-control.md): this host's IPv6
   * subnet and the IPv6 overlay network, for the subnet file and the lease
   * rules. Absent for an IPv4-only lease. Not used by the data plane yet.
   */
  readonly subnet6?: string;
  readonly network6?: string;
  /** The other hosts. */
  readonly source: PeerSource;
  /** etcd, when the network lives there: `vxtap explain` asks it about keys and lease TTLs. */
  readonly etcd?: EtcdProbe;
  /**
   * Who to tell when this host's lease moves to another subnet (its key was
   * taken over by another host's value). Without one, a move is fatal.
   */
  onSubnetMoved: ((move: SubnetMove) => Promise<void>) | null;
  /** How the control plane stands now, for /readyz and the metrics. */
  status(): ControlStatus;
  /** Re-read / resync now (SIGHUP). */
  reload(): void;
  /** Stops watching and renewing. The lease itself stays (a restart gets the same subnet back). */
  close(): Promise<void>;
}

/** The control plane's health: null parts do not apply (a static file holds no lease and has no etcd). */
export interface ControlStatus {
  /** This host's lease: held, and when it runs out unless renewed (ms since the epoch). */
  readonly lease: { readonly held: boolean; readonly subnet: string; readonly expiresAt: number } | null;
  /** etcd: whether it answers, and since when (ms since the epoch) it has been in that state. */
  readonly etcd: { readonly reachable: boolean; readonly since: number; readonly error: string | null } | null;
}

/** This host's lease moved: `from` is no longer ours (`takenBy` holds it now, when known). */
export interface SubnetMove {
  readonly from: string;
  readonly to: string;
  /** The PublicIP of the value that replaced ours, when it could be read. */
  readonly takenBy: string | null;
}

export interface JoinRequest {
  /** This host's underlay address: the outer source IP, what peers send to. */
  readonly publicIp: string;
  /** The MAC this host would like as VTEP MAC (the static file may name its own). */
  readonly vtepMac: string;
  /** This host's IPv6 underlay address: in a network with EnableIPv6 the lease is then dual-stack (etcd). */
  readonly publicIpv6?: string;
  readonly log: Logger;
  /** Called when the control plane can no longer stand behind this host's lease (the node should stop). */
  readonly onFatal: (err: Error) => void;
}

export interface NetworkBackend {
  /** Where the configuration comes from, for logs ('peers file x.json', 'etcd http://…'). */
  readonly describe: string;
  join(req: JoinRequest): Promise<HostNetwork>;
}
