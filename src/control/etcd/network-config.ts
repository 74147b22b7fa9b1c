/**
 * flannel's network config, `<prefix>/config` in etcd, and its subnet keys.
 *
 *   {"Network": "10.44.0.0/16", "SubnetLen": 24,
 *    "SubnetMin": "10.44.1.0", "SubnetMax": "10.44.254.0",
 *    "Backend": {"Type": "vxlan", "VNI": 1, "Port": 4789}}
 *
 * Defaults and checks follow flannel (pkg/subnet/config.go,
 * CheckNetworkConfig), so that a vxtap host and a flannel host read the same
 * config the same way:
 * - SubnetLen: 24 when Network is a /22 or larger, else Network's prefix + 2;
 *   it must be at most 30 and leave room for four subnets (>= prefix + 2);
 *   a Network smaller than a /28 is refused.
 * - SubnetMin / SubnetMax: the second and the last subnet of Network (the
 *   first is skipped: its .0 would be Network's own address). Both must lie
 *   in Network and on a SubnetLen boundary; vxtap also refuses Min > Max.
 * - Backend.Type must be "vxlan" (flannel's default, when Backend is absent,
 *   is "udp"). VNI defaults to 1.
 * - Backend.Port absent (or 0): flannel's hosts leave the port to the Linux
 *   kernel, whose default is 8472 (the pre-IANA port), so vxtap uses 8472 as
 *   well, and says so (`portDefaulted` + a warning) for the caller to log.
 * - IPv6 (flannel's dual-stack fields; docs/ipv6-control.md): EnableIPv4
 *   (default true), EnableIPv6 (default false), IPv6Network, IPv6SubnetLen
 *   (64 when IPv6Network is a /62 or larger, else its prefix + 2; at most
 *   126, at least prefix + 2; an IPv6Network smaller than a /124 is refused),
 *   IPv6SubnetMin / IPv6SubnetMax (the second and the last subnet by default;
 *   inside IPv6Network, on an IPv6SubnetLen boundary, Min <= Max). The IPv6
 *   fields are checked only when EnableIPv6 is true, as flannel does: an
 *   IPv6Network with EnableIPv6 false is ignored, with a warning (refusing it
 *   would keep vxtap out of a network that flannel's hosts run in). Both
 *   families disabled is an error naming EnableIPv4. An IPv6-only network
 *   (EnableIPv4 false) is checked, then refused naming EnableIPv4: vxtap's
 *   data plane carries IPv4 only for now.
 * Field names are matched without regard to case, as Go's encoding/json does;
 * unknown fields are ignored, as flannel ignores them.
 *
 * Every problem is a ConfigError whose `field` names the field ("SubnetLen",
 * "Backend.Type", ...).
 */
import { ConfigError } from '../../errors';
import { cidrContains, formatCidr, formatIpv4, isIpv4, parseCidr, parseIpv4, prefixMask, type Ipv4Cidr } from '../../wire/addr';
import {
  cidr6Contains, formatCidr6, formatIpv6, isIpv6, parseIpv6, parseLooseCidr6, prefixMask6, prefixSize6, type Ipv6Cidr,
} from '../ip6';

export const DEFAULT_PREFIX = '/coreos.com/network';
/** flannel's vxlan default VNI. */
export const DEFAULT_VNI = 1;
/** Linux's vxlan default port, which flannel's hosts use when the config names none. */
export const KERNEL_DEFAULT_PORT = 8472;
/** The port `buildConfig` writes when none is given: IANA's VXLAN port (RFC 7348). */
export const IANA_VXLAN_PORT = 4789;
export const MAX_VNI = 0xff_ffff;

export interface NetworkConfig {
  readonly network: Ipv4Cidr;
  readonly subnetLen: number;
  /** Network address (host-order u32) of the lowest subnet to lease. */
  readonly subnetMin: number;
  /** Network address (host-order u32) of the highest subnet to lease. */
  readonly subnetMax: number;
  readonly backend: { readonly type: 'vxlan'; readonly vni: number; readonly port: number };
  /** True when Backend.Port was absent (or 0) and `backend.port` is the kernel default 8472. */
  readonly portDefaulted: boolean;
  /** Things worth a log line that do not stop vxtap (a defaulted port, a field vxtap ignores). */
  readonly warnings: readonly string[];
  /** The IPv6 side of a dual-stack network (EnableIPv6 true); null when IPv6 is not enabled. */
  readonly ipv6: Ipv6NetworkConfig | null;
}

/** flannel's IPv6 fields, checked and completed. */
export interface Ipv6NetworkConfig {
  readonly network: Ipv6Cidr;
  readonly subnetLen: number;
  /** Network address of the lowest and the highest IPv6 subnet to lease. */
  readonly subnetMin: bigint;
  readonly subnetMax: bigint;
}

/** What `vxtap network init` takes; everything but `network` has a default. */
export interface NetworkConfigInput {
  network: string;
  subnetLen?: number;
  subnetMin?: string;
  subnetMax?: string;
  vni?: number;
  /** Default: 4789 (written out, so that flannel hosts use it too). */
  port?: number;
  /** Dual-stack: the IPv6 overlay network (sets EnableIPv6), and optionally its subnets' length and range. */
  ipv6Network?: string;
  ipv6SubnetLen?: number;
  ipv6SubnetMin?: string;
  ipv6SubnetMax?: string;
}

type Obj = Record<string, unknown>;

/** Parses, checks and completes the text of `<prefix>/config`. Throws ConfigError naming the field. */
export function parseNetworkConfig(text: string): NetworkConfig {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`network config: not JSON: ${(err as Error).message}`);
  }
  if (!isObj(doc)) throw new ConfigError(`network config: must be a JSON object, got ${typeName(doc)}`);
  return checkConfig(doc);
}

/** What `--mode l2` takes from `<prefix>/config`: the segment's VNI and port. */
export interface L2SegmentConfig {
  readonly vni: number;
  readonly port: number;
  /** True when Backend.Port was absent (or 0) and `port` is the kernel default 8472. */
  readonly portDefaulted: boolean;
  readonly warnings: readonly string[];
}

/**
 * The Backend part of `<prefix>/config`, for an L2 segment: Network,
 * SubnetLen and the rest are not needed (no subnets are leased) and not
 * checked, so a config written for L2 only (`{"Backend": {"VNI": 42, "Port":
 * 4789}}`) is accepted, and so is a routed network's whole config. Backend
 * and Backend.Type may be left out (an L2 segment is VXLAN by definition);
 * a Type that is there must be "vxlan". VNI and Port default as flannel's
 * (1, and 8472 with a warning). Throws ConfigError naming the field.
 */
export function parseL2SegmentConfig(text: string): L2SegmentConfig {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`network config: not JSON: ${(err as Error).message}`);
  }
  if (!isObj(doc)) throw new ConfigError(`network config: must be a JSON object, got ${typeName(doc)}`);
  const fail = (field: string, msg: string): never => {
    throw new ConfigError(`network config: ${field}: ${msg}`, field);
  };
  const be = get(doc, 'Backend');
  const backend: Obj = be === undefined || be === null ? {} : isObj(be) ? { ...be } : fail('Backend', `must be an object, got ${typeName(be)}`);
  if (get(backend, 'Type') === undefined) backend.Type = 'vxlan';
  const warnings: string[] = [];
  const { vni, port, portDefaulted } = checkBackend({ Backend: backend }, warnings, fail);
  return { vni, port, portDefaulted, warnings };
}

/** A complete, checked config from `vxtap network init` flags. Throws ConfigError. */
export function buildConfig(input: NetworkConfigInput): NetworkConfig {
  const doc: Obj = { Network: input.network };
  if (input.subnetLen !== undefined) doc.SubnetLen = input.subnetLen;
  if (input.subnetMin !== undefined) doc.SubnetMin = input.subnetMin;
  if (input.subnetMax !== undefined) doc.SubnetMax = input.subnetMax;
  if (input.ipv6Network !== undefined) {
    doc.EnableIPv6 = true;
    doc.IPv6Network = input.ipv6Network;
    if (input.ipv6SubnetLen !== undefined) doc.IPv6SubnetLen = input.ipv6SubnetLen;
    if (input.ipv6SubnetMin !== undefined) doc.IPv6SubnetMin = input.ipv6SubnetMin;
    if (input.ipv6SubnetMax !== undefined) doc.IPv6SubnetMax = input.ipv6SubnetMax;
  }
  doc.Backend = { Type: 'vxlan', VNI: input.vni ?? DEFAULT_VNI, Port: input.port ?? IANA_VXLAN_PORT };
  return checkConfig(doc);
}

/**
 * The JSON for `<prefix>/config`, every field written out (defaults
 * included, so that flannel and vxtap hosts cannot disagree about them).
 * A defaulted port is left out, as it was.
 */
export function formatConfig(cfg: NetworkConfig): string {
  const backend: Obj = { Type: 'vxlan', VNI: cfg.backend.vni };
  if (!cfg.portDefaulted) backend.Port = cfg.backend.port;
  const v6 = cfg.ipv6 === null ? {} : {
    EnableIPv6: true,
    IPv6Network: formatCidr6(cfg.ipv6.network),
    IPv6SubnetLen: cfg.ipv6.subnetLen,
    IPv6SubnetMin: formatIpv6(cfg.ipv6.subnetMin),
    IPv6SubnetMax: formatIpv6(cfg.ipv6.subnetMax),
  };
  return JSON.stringify({
    Network: formatCidr(cfg.network),
    SubnetLen: cfg.subnetLen,
    SubnetMin: formatIpv4(cfg.subnetMin),
    SubnetMax: formatIpv4(cfg.subnetMax),
    ...v6,
    Backend: backend,
  });
}

// ---- subnet keys -------------------------------------------------------------

/** flannel's subnet key: '10.44.3.0/24' -> '10.44.3.0-24'. */
export function subnetKey(subnet: Ipv4Cidr | string): string {
  const c = typeof subnet === 'string' ? parseCidr(subnet) : subnet;
  return `${formatIpv4(c.addr)}-${c.len}`;
}

/** flannel's IPv6 half of a key: 'fc00:0:0:34::/64' -> 'fc00:0:0:34::-64' (RFC 5952 text, as Go writes it). */
export function subnetKey6(subnet: Ipv6Cidr): string {
  return `${formatIpv6(subnet.addr)}-${subnet.len}`;
}

/**
 * A whole lease key from its halves, as flannel's MakeSubnetKey writes it:
 *   IPv4 only     10.5.52.0-24
 *   dual-stack    10.5.52.0-24&fc00:0:0:34::-64
 *   IPv6 only     0.0.0.0-0&fc00:0:0:34::-64   (flannel's empty IPv4 net stands in)
 */
export function leaseKey(subnet: Ipv4Cidr | string | null, subnet6: Ipv6Cidr | null): string {
  const v4 = subnet === null ? '0.0.0.0-0' : subnetKey(subnet);
  if (subnet6 === null) {
    if (subnet === null) throw new RangeError('leaseKey: a lease needs an IPv4 or an IPv6 subnet');
    return v4;
  }
  return `${v4}&${subnetKey6(subnet6)}`;
}

// flannel's subnetRegex, anchored at the last path segment: the IPv6 half is lower-case only there too.
const SUBNET_KEY_RE = /^(\d{1,3}(?:\.\d{1,3}){3})-(\d{1,2})(?:&([0-9a-f:]+)-(\d{1,3}))?$/;

/** A lease key's halves: `subnet` null for an IPv6-only key, `subnet6` null for an IPv4-only one. */
export interface LeaseKeyParts {
  readonly subnet: Ipv4Cidr | null;
  readonly subnet6: Ipv6Cidr | null;
}

/**
 * A lease key (or a whole etcd key '<prefix>/subnets/...') to its halves,
 * or null when it is not one of flannel's three forms (see leaseKey). Host
 * bits set in either half, a prefix too long, an IPv6 half in upper case or
 * that is not an address (flannel's regex or net.ParseIP refuses those too),
 * or '0.0.0.0-0' without an IPv6 half: not a key.
 */
export function parseLeaseKey(key: string): LeaseKeyParts | null {
  const last = key.slice(key.lastIndexOf('/') + 1);
  const m = SUBNET_KEY_RE.exec(last);
  if (!m || !isIpv4(m[1]!)) return null;
  const len = Number(m[2]);
  if (len > 32) return null;
  const addr = parseIpv4(m[1]!);
  if ((addr & ~prefixMask(len)) >>> 0 !== 0) return null;
  // flannel's empty IP4Net (0.0.0.0/0) stands for "no IPv4 subnet".
  const subnet = addr === 0 && len === 0 ? null : { addr, len };
  if (m[3] === undefined) return subnet === null ? null : { subnet, subnet6: null };
  const c = parseLooseCidr6(`${m[3]}/${m[4]!}`);
  if (c === null || c.given !== c.addr || c.len === 0) return null;
  return { subnet, subnet6: { addr: c.addr, len: c.len } };
}

/**
 * '10.44.3.0-24' (or a whole key '<prefix>/subnets/10.44.3.0-24') to the
 * subnet, or null when it is not a subnet key. A dual-stack key
 * ('10.44.3.0-24&fc00::-64') gives its IPv4 part; an IPv6-only key
 * ('0.0.0.0-0&fc00::-64') or a malformed IPv6 half gives null. Host bits
 * set are not a subnet.
 */
export function parseSubnetKey(key: string): Ipv4Cidr | null {
  return parseLeaseKey(key)?.subnet ?? null;
}

// ---- subnets of a config -----------------------------------------------------

/** The size of one subnet, in addresses. */
export function subnetSize(cfg: NetworkConfig): number {
  return 2 ** (32 - cfg.subnetLen);
}

/** How many subnets lie between SubnetMin and SubnetMax, both included. */
export function subnetCount(cfg: NetworkConfig): number {
  return (cfg.subnetMax - cfg.subnetMin) / subnetSize(cfg) + 1;
}

/** The candidate subnets, SubnetMin first, SubnetMax last. Lazy: a /8 of /30s is 4 M subnets. */
export function* candidateSubnets(cfg: NetworkConfig): Generator<Ipv4Cidr> {
  const step = subnetSize(cfg);
  for (let a = cfg.subnetMin; a <= cfg.subnetMax; a += step) yield { addr: a, len: cfg.subnetLen };
}

/** flannel's isSubnetConfigCompat: the right length, between SubnetMin and SubnetMax. */
export function fitsConfig(cfg: NetworkConfig, subnet: Ipv4Cidr): boolean {
  return subnet.len === cfg.subnetLen && subnet.addr >= cfg.subnetMin && subnet.addr <= cfg.subnetMax &&
    (subnet.addr & ~prefixMask(subnet.len)) >>> 0 === 0;
}

export function cidrOverlaps(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
  return a.len <= b.len ? cidrContains(a, b.addr) : cidrContains(b, a.addr);
}

/** The config's fields as flannel writes them, for display (`vxtap network show`). */
export function describeConfig(cfg: NetworkConfig): Record<string, string | number> {
  return {
    Network: formatCidr(cfg.network),
    SubnetLen: cfg.subnetLen,
    SubnetMin: formatIpv4(cfg.subnetMin),
    SubnetMax: formatIpv4(cfg.subnetMax),
    Subnets: subnetCount(cfg),
    ...(cfg.ipv6 === null ? {} : {
      IPv6Network: formatCidr6(cfg.ipv6.network),
      IPv6SubnetLen: cfg.ipv6.subnetLen,
      IPv6SubnetMin: formatIpv6(cfg.ipv6.subnetMin),
      IPv6SubnetMax: formatIpv6(cfg.ipv6.subnetMax),
    }),
    VNI: cfg.backend.vni,
    Port: cfg.backend.port,
  };
}

/** flannel's isIPv6SubnetConfigCompat, for this host's own lease: with IPv6 on, the right length between Min and Max; with it off, no IPv6 subnet. */
export function fitsConfig6(cfg: NetworkConfig, subnet6: Ipv6Cidr | null): boolean {
  if (cfg.ipv6 === null) return subnet6 === null;
  if (subnet6 === null) return false;
  const v6 = cfg.ipv6;
  return subnet6.len === v6.subnetLen && subnet6.addr >= v6.subnetMin && subnet6.addr <= v6.subnetMax &&
    (subnet6.addr & ~prefixMask6(subnet6.len) & ((1n << 128n) - 1n)) === 0n;
}

/** The candidate IPv6 subnets, IPv6SubnetMin first (lazy: a /48 of /64s is 65536 subnets). */
export function* candidateSubnets6(cfg: Ipv6NetworkConfig): Generator<Ipv6Cidr> {
  const step = prefixSize6(cfg.subnetLen);
  for (let a = cfg.subnetMin; a <= cfg.subnetMax; a += step) yield { addr: a, len: cfg.subnetLen };
}

// ---- checks --------------------------------------------------------------------

function checkConfig(doc: Obj): NetworkConfig {
  const warnings: string[] = [];
  const fail = (field: string, msg: string): never => {
    throw new ConfigError(`network config: ${field}: ${msg}`, field);
  };

  const enable4 = boolField(doc, 'EnableIPv4', true, fail);
  const enable6 = boolField(doc, 'EnableIPv6', false, fail);
  if (!enable4 && !enable6) fail('EnableIPv4', 'both EnableIPv4 and EnableIPv6 are false: the network carries nothing');
  const ipv6 = enable6 ? checkIpv6(doc, warnings, fail) : null;
  if (!enable6) {
    const net6 = get(doc, 'IPv6Network');
    if (net6 !== undefined && net6 !== null && net6 !== '') warnings.push('IPv6Network is set but EnableIPv6 is not true: it is ignored (as flannel ignores it)');
  }
  if (!enable4) fail('EnableIPv4', 'false: an IPv6-only network, which vxtap cannot join yet (its data plane carries IPv4 only)');

  // Network
  const netText = get(doc, 'Network');
  if (netText === undefined || netText === '') fail('Network', 'missing: the overlay network, e.g. "10.44.0.0/16"');
  if (typeof netText !== 'string') fail('Network', `must be a string such as "10.44.0.0/16", got ${typeName(netText)}`);
  const network = parseNetwork(netText as string, warnings, fail);
  if (network.len > 28) fail('Network', `${formatCidr(network)} is too small: the smallest useful network is a /28`);

  // SubnetLen
  let subnetLen: number;
  const lenVal = get(doc, 'SubnetLen');
  if (lenVal === undefined || lenVal === 0) {
    subnetLen = network.len <= 22 ? 24 : network.len + 2;
  } else {
    if (typeof lenVal !== 'number' || !Number.isInteger(lenVal)) fail('SubnetLen', `must be an integer, got ${typeName(lenVal)}`);
    subnetLen = lenVal as number;
    if (subnetLen < 1 || subnetLen > 30) fail('SubnetLen', `must be in 1..30, got ${subnetLen}`);
    if (subnetLen < network.len + 2) {
      fail('SubnetLen', `/${subnetLen} leaves fewer than four subnets in ${formatCidr(network)} (use at least /${network.len + 2})`);
    }
  }
  const size = 2 ** (32 - subnetLen);
  const mask = prefixMask(subnetLen);

  // SubnetMin / SubnetMax
  const bound = (field: 'SubnetMin' | 'SubnetMax', dflt: number): number => {
    const v = get(doc, field);
    if (v === undefined || v === '' || v === '0.0.0.0') return dflt;
    if (typeof v !== 'string' || !isIpv4(v)) fail(field, `not an IPv4 address: ${JSON.stringify(v)}`);
    const a = parseIpv4(v as string);
    if (!cidrContains(network, a)) fail(field, `${v as string} is outside Network ${formatCidr(network)}`);
    if ((a & mask) >>> 0 !== a) fail(field, `${v as string} is not on a /${subnetLen} boundary (SubnetLen)`);
    return a;
  };
  const subnetMin = bound('SubnetMin', network.addr + size);
  const subnetMax = bound('SubnetMax', network.addr + 2 ** (32 - network.len) - size);
  if (subnetMin > subnetMax) fail('SubnetMin', `${formatIpv4(subnetMin)} is above SubnetMax ${formatIpv4(subnetMax)}`);

  const { vni, port, portDefaulted } = checkBackend(doc, warnings, fail);

  return { network, subnetLen, subnetMin, subnetMax, backend: { type: 'vxlan', vni, port }, portDefaulted, warnings, ipv6 };
}

/**
 * The IPv6 fields of a config with EnableIPv6 true, as flannel's
 * CheckNetworkConfig reads them (see the file header). Throws ConfigError
 * naming the field.
 */
export function checkIpv6(doc: Obj, warnings: string[], fail: (f: string, m: string) => never): Ipv6NetworkConfig {
  const text = get(doc, 'IPv6Network');
  if (text === undefined || text === null || text === '') fail('IPv6Network', 'missing: EnableIPv6 is true, so the IPv6 overlay network is needed, e.g. "fc00::/48"');
  if (typeof text !== 'string') fail('IPv6Network', `must be a string such as "fc00::/48", got ${typeName(text)}`);
  const c = parseLooseCidr6(text as string);
  if (c === null) fail('IPv6Network', `not an IPv6 CIDR (addr/len): ${JSON.stringify(text)}`);
  const network: Ipv6Cidr = { addr: c!.addr, len: c!.len };
  // flannel (net.ParseCIDR) drops host bits silently; so does vxtap, with a word, as for Network.
  if (c!.given !== c!.addr) warnings.push(`IPv6Network ${text as string} has host bits set: using ${formatCidr6(network)}`);
  if (network.len === 0) fail('IPv6Network', `${text as string} would cover every address`);

  let subnetLen: number;
  const lenVal = get(doc, 'IPv6SubnetLen');
  if (lenVal === undefined || lenVal === null || lenVal === 0) {
    if (network.len > 124) fail('IPv6Network', `${formatCidr6(network)} is too small: the smallest useful IPv6 network is a /124`);
    subnetLen = network.len <= 62 ? 64 : network.len + 2;
  } else {
    if (typeof lenVal !== 'number' || !Number.isInteger(lenVal)) fail('IPv6SubnetLen', `must be an integer, got ${typeName(lenVal)}`);
    subnetLen = lenVal as number;
    if (subnetLen < 1 || subnetLen > 126) fail('IPv6SubnetLen', `must be in 1..126, got ${subnetLen}`);
    if (subnetLen < network.len + 2) {
      fail('IPv6SubnetLen', `/${subnetLen} leaves fewer than four subnets in ${formatCidr6(network)} (use at least /${network.len + 2})`);
    }
  }
  const size = prefixSize6(subnetLen);
  const mask = prefixMask6(subnetLen);
  const bound = (field: 'IPv6SubnetMin' | 'IPv6SubnetMax', dflt: bigint): bigint => {
    const v = get(doc, field);
    if (v === undefined || v === null || v === '' || v === '::') return dflt;
    if (typeof v !== 'string' || !isIpv6(v)) fail(field, `not an IPv6 address: ${JSON.stringify(v)}`);
    const a = parseIpv6(v as string);
    if (!cidr6Contains(network, a)) fail(field, `${v as string} is outside IPv6Network ${formatCidr6(network)}`);
    if ((a & mask) !== a) fail(field, `${v as string} is not on a /${subnetLen} boundary (IPv6SubnetLen)`);
    return a;
  };
  const subnetMin = bound('IPv6SubnetMin', network.addr + size);
  const subnetMax = bound('IPv6SubnetMax', network.addr + prefixSize6(network.len) - size);
  if (subnetMin > subnetMax) fail('IPv6SubnetMin', `${formatIpv6(subnetMin)} is above IPv6SubnetMax ${formatIpv6(subnetMax)}`);
  return { network, subnetLen, subnetMin, subnetMax };
}

function boolField(doc: Obj, name: string, dflt: boolean, fail: (f: string, m: string) => never): boolean {
  const v = get(doc, name);
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') fail(name, `must be true or false, got ${typeName(v)}`);
  return v as boolean;
}

/**
 * The Backend part of a config: Type must be "vxlan", VNI (default 1), Port
 * (absent or 0: the kernel default 8472, with a warning), as flannel reads it.
 */
function checkBackend(doc: Obj, warnings: string[], fail: (f: string, m: string) => never): { vni: number; port: number; portDefaulted: boolean } {
  const be = get(doc, 'Backend');
  if (be === undefined || be === null) fail('Backend.Type', 'missing: vxtap needs {"Backend": {"Type": "vxlan"}} (flannel\'s default backend is udp)');
  if (!isObj(be)) fail('Backend', `must be an object, got ${typeName(be)}`);
  const beObj = be as Obj;
  const type = get(beObj, 'Type');
  if (type !== 'vxlan') {
    fail('Backend.Type', `must be "vxlan", got ${type === undefined ? 'nothing (flannel\'s default, udp)' : JSON.stringify(type)}`);
  }
  const vni = intOr(beObj, 'VNI', 'Backend.VNI', 1, MAX_VNI, DEFAULT_VNI, fail);
  const portVal = get(beObj, 'Port');
  let port: number;
  let portDefaulted = false;
  if (portVal === undefined || portVal === 0) {
    port = KERNEL_DEFAULT_PORT;
    portDefaulted = true;
    warnings.push(`Backend.Port is not set: using ${KERNEL_DEFAULT_PORT}, the Linux default that flannel's hosts then use (set "Port" in the config to choose)`);
  } else {
    port = intOr(beObj, 'Port', 'Backend.Port', 1, 65535, KERNEL_DEFAULT_PORT, fail);
  }
  if (get(beObj, 'GBP') === true) warnings.push('Backend.GBP is true: vxtap does not send group policy bits');
  if (get(beObj, 'DirectRouting') === true) warnings.push('Backend.DirectRouting is true: vxtap always encapsulates');

  return { vni, port, portDefaulted };
}

function parseNetwork(text: string, warnings: string[], fail: (f: string, m: string) => never): Ipv4Cidr {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text);
  if (!m || !isIpv4(m[1]!) || Number(m[2]) > 32) return fail('Network', `not an IPv4 CIDR (a.b.c.d/len): ${JSON.stringify(text)}`);
  const len = Number(m[2]);
  const given = parseIpv4(m[1]!);
  const addr = (given & prefixMask(len)) >>> 0;
  // flannel (net.ParseCIDR) drops host bits silently; so does vxtap, with a word.
  if (addr !== given) warnings.push(`Network ${text} has host bits set: using ${formatIpv4(addr)}/${len}`);
  if (len === 0) fail('Network', `${text} would cover every address`);
  return { addr, len };
}

/** A field by name, matched without regard to case (Go's encoding/json does the same). */
function get(o: Obj, name: string): unknown {
  if (name in o) return o[name];
  const lower = name.toLowerCase();
  for (const k of Object.keys(o)) if (k.toLowerCase() === lower) return o[k];
  return undefined;
}

function intOr(o: Obj, key: string, field: string, min: number, max: number, dflt: number, fail: (f: string, m: string) => never): number {
  const v = get(o, key);
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v)) fail(field, `must be an integer, got ${typeName(v)}`);
  if ((v as number) < min || (v as number) > max) fail(field, `must be in ${min}..${max}, got ${v as number}`);
  return v as number;
}

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}
