/**
 * The lab's plan: names and addresses, worked out before anything is made.
 *
 *   namespace            what                                        underlay address
 *   <p>underlay          bridge br0, one veth per host below         (none)
 *   <p>etcd              etcd, the control plane's store             <underlay>.250
 *   <p>h1 .. <p>hN       a vxtap host: eth0 on the underlay, the     <underlay>.1 .. .N
 *                        TAP vxtap.<VNI>, bridge cbr0 (<subnet>.1)
 *   <p>h1-c ..           a "container" behind cbr0: <subnet>.2
 *   <p>k1, <p>k1-c       --kernel-peer: the kernel's vxlan device,   <underlay>.101
 *                        configured as flannel configures it
 *
 * With `--mode l2` each host has a Linux bridge br0 instead of cbr0: the TAP
 * (or, on k1, the kernel's vxlan device vx0 in its classic L2 form) and the
 * container's veth are its ports, and every container is on one subnet
 * (default 10.45.0.0/24): hN's container at <network>.N, k1's at .101.
 *
 * Every name carries the prefix (`<p>`, default `vxlab-`), so `lab down`
 * finds everything by the prefix alone, and the lab never touches anything
 * it did not make. Devices inside the namespaces need no prefix: they go
 * with their namespace.
 */
import { ConfigError } from '../errors';
import { formatIpv4, parseCidr } from '../wire/addr';
import { buildConfig } from '../control/etcd/network-config';

export const DEFAULT_PREFIX = 'vxlab-';
export const DEFAULT_STATE_DIR = '/run/vxtap-lab';
export const DEFAULT_UNDERLAY = '192.168.93.0/24';
export const DEFAULT_NETWORK = '10.44.0.0/16';
/** `--mode l2`: one subnet for every container (no host has a subnet of its own). */
export const DEFAULT_L2_NETWORK = '10.45.0.0/24';
export const DEFAULT_HOSTS = 3;
export const MAX_HOSTS = 20;
export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;
/** Inside each host: the container bridge (docker0's role) and the host end of the container's veth. */
export const CONTAINER_BRIDGE = 'cbr0';
export const CONTAINER_VETH = 'veth-c';
/** The underlay bridge, in <p>underlay. */
export const UNDERLAY_BRIDGE = 'br0';
/** `--mode l2`: the bridge in each host, and the kernel host's vxlan device (the names of the classic L2 setup). */
export const L2_BRIDGE = 'br0';
export const L2_VXLAN_DEV = 'vx0';

/** routed: flannel's scheme, a subnet per host (the default); l2: one subnet, bridges, flood and learn. */
export type LabMode = 'routed' | 'l2';
export const LAB_MODES: readonly LabMode[] = ['routed', 'l2'];

/** Where the lab's names and state live: `--prefix` and `--state-dir` (or VXTAP_LAB_PREFIX, VXTAP_LAB_STATE_DIR). */
export interface LabScope {
  readonly prefix: string;
  readonly stateDir: string;
}

export interface LabUpOptions {
  readonly hosts: number;
  readonly kernelPeer: boolean;
  readonly network: string;
  readonly vni: number;
  readonly port: number;
  readonly underlay: string;
  readonly trace: boolean;
  /** Each daemon records both sides of its switch to <state-dir>/<host>.pcapng (vxtap run --pcap). Absent: no. */
  readonly pcap?: boolean;
  /** Absent in the state of a lab made before L2 mode existed: routed. */
  readonly mode?: LabMode;
}

export function modeOf(o: LabUpOptions): LabMode {
  return o.mode ?? 'routed';
}

export type HostKind = 'vxtap' | 'kernel';

export interface HostPlan {
  /** Short name: h1, h2, ..., k1. */
  readonly name: string;
  readonly kind: HostKind;
  readonly ns: string;
  /** The container's namespace. */
  readonly containerNs: string;
  /** The host's underlay address (its public IP). */
  readonly ip: string;
  /** L2 mode: the container's address on the one subnet ('10.45.0.1') and its prefix length. */
  readonly l2?: { readonly containerIp: string; readonly len: number };
}

export interface LabPlan {
  readonly scope: LabScope;
  readonly opts: LabUpOptions;
  readonly underlayNs: string;
  readonly underlayLen: number;
  readonly etcd: { readonly ns: string; readonly ip: string; readonly endpoint: string; readonly peerUrl: string };
  readonly hosts: readonly HostPlan[];
  /** The TAP (vxtap) and vxlan (kernel) device names: flannel's and vxtap's defaults. */
  readonly tap: string;
  readonly vxlanDev: string;
}

const PREFIX_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,19}$/;

/** Checks `--prefix`: it starts every namespace name, so it must be a plain, short word. */
export function checkPrefix(prefix: string): string {
  if (!PREFIX_RE.test(prefix)) {
    throw new ConfigError(`--prefix: 1 to 20 letters, digits, '-', '_' or '.', starting with a letter or digit; got ${JSON.stringify(prefix)}`, 'prefix');
  }
  return prefix;
}

/** The address `offset` inside the underlay CIDR. */
function underlayAddr(base: number, offset: number): string {
  return formatIpv4((base + offset) >>> 0);
}

export function planLab(scope: LabScope, opts: LabUpOptions): LabPlan {
  checkPrefix(scope.prefix);
  if (!Number.isInteger(opts.hosts) || opts.hosts < 1 || opts.hosts > MAX_HOSTS) {
    throw new ConfigError(`--hosts: 1..${MAX_HOSTS}, got ${opts.hosts}`, 'hosts');
  }
  const l2 = modeOf(opts) === 'l2';
  // The overlay's config is checked as `network init` will check it, before anything is made.
  let l2Net: { addr: number; len: number } | null = null;
  if (l2) l2Net = checkL2Network(opts);
  else buildConfig({ network: opts.network, vni: opts.vni, port: opts.port });
  let under;
  try {
    under = parseCidr(opts.underlay);
  } catch (err) {
    throw new ConfigError(`--underlay: ${(err as Error).message}`, 'underlay');
  }
  // .1..N for vxtap hosts, .101 for the kernel host, .250 for etcd: a /24 or larger.
  if (under.len > 24) throw new ConfigError(`--underlay: needs a /24 or larger (the lab uses .1-.${MAX_HOSTS}, .101 and .250), got /${under.len}`, 'underlay');
  const p = scope.prefix;
  const hosts: HostPlan[] = [];
  for (let i = 1; i <= opts.hosts; i++) {
    hosts.push({ name: `h${i}`, kind: 'vxtap', ns: `${p}h${i}`, containerNs: `${p}h${i}-c`, ip: underlayAddr(under.addr, i), ...l2Addr(l2Net, i) });
  }
  if (opts.kernelPeer) hosts.push({ name: 'k1', kind: 'kernel', ns: `${p}k1`, containerNs: `${p}k1-c`, ip: underlayAddr(under.addr, 101), ...l2Addr(l2Net, 101) });
  const etcdIp = underlayAddr(under.addr, 250);
  return {
    scope,
    opts,
    underlayNs: `${p}underlay`,
    underlayLen: under.len,
    etcd: { ns: `${p}etcd`, ip: etcdIp, endpoint: `http://${etcdIp}:${ETCD_CLIENT_PORT}`, peerUrl: `http://${etcdIp}:${ETCD_PEER_PORT}` },
    hosts,
    tap: `vxtap.${opts.vni}`,
    vxlanDev: l2 ? L2_VXLAN_DEV : `flannel.${opts.vni}`,
  };
}

/**
 * `--mode l2`'s `--network`: one subnet for every container, numbered like
 * the underlay (hN's container at .N, k1's at .101), so a /24 or larger; the
 * segment's VNI must be 1 or more (the L2 etcd layout has no VNI 0).
 */
function checkL2Network(opts: LabUpOptions): { addr: number; len: number } {
  let net;
  try {
    net = parseCidr(opts.network);
  } catch (err) {
    throw new ConfigError(`--network: ${(err as Error).message}`, 'network');
  }
  if (net.len > 24) throw new ConfigError(`--network: with --mode l2 every container is on this one subnet, numbered like the underlay (.1-.${MAX_HOSTS}, .101): a /24 or larger, got /${net.len}`, 'network');
  if (opts.vni < 1) throw new ConfigError('--vni: 1 or more with --mode l2', 'vni');
  return net;
}

function l2Addr(net: { addr: number; len: number } | null, offset: number): { l2?: { containerIp: string; len: number } } {
  return net === null ? {} : { l2: { containerIp: formatIpv4((net.addr + offset) >>> 0), len: net.len } };
}

/** '10.44.7.0/24' -> the container bridge's address '10.44.7.1/24' and the container's '10.44.7.2/24'. */
export function containerAddrs(subnet: string): { bridge: string; container: string; gateway: string; ip: string } {
  const c = parseCidr(subnet);
  if (c.len > 29) throw new ConfigError(`subnet ${subnet} is too small for a bridge and a container`);
  const gw = formatIpv4((c.addr + 1) >>> 0);
  const ip = formatIpv4((c.addr + 2) >>> 0);
  return { bridge: `${gw}/${c.len}`, container: `${ip}/${c.len}`, gateway: gw, ip };
}

/** The flags that name a non-default scope, for the hints the lab prints ('' for the defaults). */
export function scopeFlags(scope: LabScope): string {
  const parts: string[] = [];
  if (scope.prefix !== DEFAULT_PREFIX) parts.push(`--prefix ${scope.prefix}`);
  if (scope.stateDir !== DEFAULT_STATE_DIR) parts.push(`--state-dir ${scope.stateDir}`);
  return parts.length === 0 ? '' : ' ' + parts.join(' ');
}
