/**
 * flannel's subnet file (flannel writes /run/flannel/subnet.env; vxtap's
 * default is /run/vxtap/subnet.env), which container runtimes and CNI
 * plugins read, and which gives the daemon its previous subnet back after a
 * restart:
 *
 *   FLANNEL_NETWORK=10.44.0.0/16
 *   FLANNEL_SUBNET=10.44.3.1/24      <- the subnet's first address, with its length
 *   FLANNEL_MTU=1450
 *   FLANNEL_IPMASQ=false
 *
 * A dual-stack lease adds two lines after FLANNEL_SUBNET, as flannel's
 * WriteSubnetFile does (the network in RFC 5952 text, the subnet's first
 * address with the subnet's length):
 *
 *   FLANNEL_IPV6_NETWORK=fc00::/48
 *   FLANNEL_IPV6_SUBNET=fc00:0:0:34::1/64
 *
 * Written atomically (a temp file in the same directory, fsync, rename), so a
 * reader never sees half a file; an existing file's mode is kept (0644 for a
 * new one), as flannel does.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync, chmodSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { cidrContains, formatCidr, formatIpv4, isIpv4, parseCidr, parseIpv4, prefixMask, type Ipv4Cidr } from '../../wire/addr';
import { cidr6Contains, formatCidr6, formatIpv6, parseCidr6, parseLooseCidr6 } from '../ip6';

export const DEFAULT_SUBNET_FILE = '/run/flannel/subnet.env';

export interface SubnetFileData {
  /** The overlay network, '10.44.0.0/16'. */
  readonly network: string;
  /** This host's subnet as leased, '10.44.3.0/24'. */
  readonly subnet: string;
  readonly mtu: number;
  readonly ipMasq?: boolean;
  /** Dual-stack: the IPv6 overlay network 'fc00::/48' and this host's IPv6 subnet 'fc00:0:0:34::/64' (both, or neither). */
  readonly network6?: string;
  readonly subnet6?: string;
}

/** What a subnet file held; a field is absent when its line is missing or unreadable. */
export interface SubnetFileContents {
  readonly network?: string;
  /** FLANNEL_SUBNET's network, '10.44.3.0/24' (the form a lease has). */
  readonly subnet?: string;
  /** FLANNEL_SUBNET as written, '10.44.3.1/24'. */
  readonly address?: string;
  readonly mtu?: number;
  readonly ipMasq?: boolean;
  /** FLANNEL_IPV6_NETWORK, 'fc00::/48'. */
  readonly network6?: string;
  /** FLANNEL_IPV6_SUBNET's network, 'fc00:0:0:34::/64' (the form a lease has). */
  readonly subnet6?: string;
  /** FLANNEL_IPV6_SUBNET as written, 'fc00:0:0:34::1/64'. */
  readonly address6?: string;
}

/** 'fc00:0:0:34::/64' -> 'fc00:0:0:34::1/64': the IPv6 subnet's first address (flannel's FLANNEL_IPV6_SUBNET). */
export function firstAddress6(subnet6: string): string {
  const c = parseCidr6(subnet6);
  if (c.len >= 127) throw new RangeError(`firstAddress6: /${c.len} has no room for hosts`);
  return `${formatIpv6(c.addr + 1n)}/${c.len}`;
}

/** '10.44.3.0/24' -> '10.44.3.1/24': the subnet's first address (the bridge's, flannel's FLANNEL_SUBNET). */
export function firstAddress(subnet: string): string {
  const c = parseCidr(subnet);
  if (c.len >= 31) throw new RangeError(`firstAddress: /${c.len} has no room for hosts`);
  return `${formatIpv4(c.addr + 1)}/${c.len}`;
}

export function formatSubnetFile(d: SubnetFileData): string {
  const network = parseCidr(d.network);
  const subnet = parseCidr(d.subnet);
  if (!cidrContains(network, subnet.addr) || subnet.len < network.len) {
    throw new RangeError(`formatSubnetFile: ${d.subnet} is not inside ${d.network}`);
  }
  if (!Number.isInteger(d.mtu) || d.mtu < 68 || d.mtu > 65535) throw new RangeError(`formatSubnetFile: bad MTU ${d.mtu}`);
  let v6 = '';
  if (d.network6 !== undefined || d.subnet6 !== undefined) {
    if (d.network6 === undefined || d.subnet6 === undefined) throw new RangeError('formatSubnetFile: network6 and subnet6 go together');
    const n6 = parseCidr6(d.network6);
    const s6 = parseCidr6(d.subnet6);
    if (!cidr6Contains(n6, s6.addr) || s6.len < n6.len) throw new RangeError(`formatSubnetFile: ${d.subnet6} is not inside ${d.network6}`);
    v6 = `FLANNEL_IPV6_NETWORK=${formatCidr6(n6)}\nFLANNEL_IPV6_SUBNET=${firstAddress6(d.subnet6)}\n`;
  }
  return `FLANNEL_NETWORK=${formatCidr(network)}\n` +
    `FLANNEL_SUBNET=${firstAddress(d.subnet)}\n` +
    v6 +
    `FLANNEL_MTU=${d.mtu}\n` +
    `FLANNEL_IPMASQ=${d.ipMasq ?? false}\n`;
}

/** Writes the subnet file atomically (temp + fsync + rename), creating its directory. */
export function writeSubnetFile(path: string, d: SubnetFileData): void {
  const text = formatSubnetFile(d);
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  let mode = 0o644;
  try { mode = statSync(path).mode & 0o777; } catch { /* new file */ }
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    try { unlinkSync(tmp); } catch { /* gone */ }
    throw err;
  }
  closeSync(fd);
  try {
    chmodSync(tmp, mode); // the umask may have narrowed it
    renameSync(tmp, path);
  } catch (err) {
    try { unlinkSync(tmp); } catch { /* gone */ }
    throw err;
  }
  // The rename is durable once the directory is synced.
  try {
    const dfd = openSync(dir, 'r');
    try { fsyncSync(dfd); } finally { closeSync(dfd); }
  } catch { /* not every filesystem lets a directory be synced */ }
}

/** Reads a subnet file; null when there is none. Lines it cannot read are left out, never thrown. */
export function readSubnetFile(path: string): SubnetFileContents | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return parseSubnetFile(text);
}

/** Parses env-file text (KEY=value, optional quotes, `export `, # comments). */
export function parseSubnetFile(text: string): SubnetFileContents {
  const vars = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2]!.trim();
    if (v.length >= 2 && (v[0] === '"' || v[0] === "'") && v[v.length - 1] === v[0]) v = v.slice(1, -1);
    vars.set(m[1]!, v);
  }
  const out: { network?: string; subnet?: string; address?: string; mtu?: number; ipMasq?: boolean; network6?: string; subnet6?: string; address6?: string } = {};
  const net = vars.get('FLANNEL_NETWORK');
  const netCidr = net !== undefined ? looseCidr(net) : null;
  if (netCidr) out.network = formatCidr(netCidr);
  const sub = vars.get('FLANNEL_SUBNET');
  const subCidr = sub !== undefined ? looseCidr(sub) : null;
  if (sub !== undefined && subCidr) {
    out.subnet = formatCidr(subCidr);
    out.address = sub;
  }
  // flannel reads these as comma-separated lists and takes the first.
  const net6 = parseLooseCidr6(vars.get('FLANNEL_IPV6_NETWORK')?.split(',')[0] ?? '');
  if (net6) out.network6 = formatCidr6(net6);
  const sub6Text = vars.get('FLANNEL_IPV6_SUBNET')?.split(',')[0];
  const sub6 = parseLooseCidr6(sub6Text ?? '');
  if (sub6Text !== undefined && sub6) {
    out.subnet6 = formatCidr6(sub6);
    out.address6 = sub6Text;
  }
  const mtu = Number(vars.get('FLANNEL_MTU'));
  if (Number.isInteger(mtu) && mtu > 0) out.mtu = mtu;
  const masq = vars.get('FLANNEL_IPMASQ');
  if (masq === 'true' || masq === 'false') out.ipMasq = masq === 'true';
  return out;
}

/** Docker's options for the subnet: '--bip=10.44.3.1/24 --mtu=1450' (flannel's mk-docker-opts.sh). */
export function dockerOpts(subnet: string, mtu: number): string {
  return `--bip=${firstAddress(subnet)} --mtu=${mtu}`;
}

/** 'a.b.c.d/len' with host bits allowed, masked to its network; null when not a CIDR. */
function looseCidr(text: string): Ipv4Cidr | null {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text);
  if (!m || !isIpv4(m[1]!) || Number(m[2]) > 32) return null;
  const len = Number(m[2]);
  return { addr: (parseIpv4(m[1]!) & prefixMask(len)) >>> 0, len };
}
