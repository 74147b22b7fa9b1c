/**
 * Which interface carries VXLAN, chosen as flannel chooses it
 * (--iface, --iface-regex, --iface-can-reach; flannel's LookupExtIface):
 *
 *   1. --iface, in the order given (repeatable): each is an interface name
 *      or one of this host's IPv4 addresses; the first that exists wins.
 *      None existing is an error (a typo must not silently pick another).
 *   2. --iface-regex, in the order given: matched against every IPv4
 *      address first, then every interface name; the first match wins.
 *   3. --iface-can-reach IP: the interface of the route to that address
 *      (longest prefix of the main table).
 *   4. Otherwise the interface of the default route.
 * The public IP is the address that matched (1, 2), else the interface's
 * first IPv4 address.
 */
import { ConfigError } from '../errors';
import { cidrContains, isIpv4, parseCidr, parseIpv4 } from '../wire/addr';
import type { KernelNet, Underlay } from './kernel';

export interface UnderlayChoice {
  /** --iface: names or addresses, first existing wins. */
  readonly ifaces?: readonly string[];
  /** --iface-regex: patterns. */
  readonly regexes?: readonly string[];
  /** --iface-can-reach: an IPv4 address. */
  readonly canReach?: string;
}

export type UnderlayKernel = Pick<KernelNet, 'links' | 'ipv4Addresses' | 'routes' | 'underlay'>;

/** Checks the flags' values before anything runs (a bad one is a ConfigError naming it). */
export function checkUnderlayChoice(c: UnderlayChoice): RegExp[] {
  if (c.canReach !== undefined && !isIpv4(c.canReach)) throw new ConfigError(`--iface-can-reach: not an IPv4 address: ${JSON.stringify(c.canReach)}`, 'iface-can-reach');
  return (c.regexes ?? []).map((r) => {
    try {
      return new RegExp(r);
    } catch (err) {
      throw new ConfigError(`--iface-regex: ${JSON.stringify(r)} is not a regular expression: ${(err as Error).message}`, 'iface-regex');
    }
  });
}

/** How the choice reads in the log: 'eth0' / 'regex ^10\\.' / 'can reach 10.0.0.1' / 'the default route'. */
export function describeChoice(c: UnderlayChoice): string {
  if (c.ifaces !== undefined && c.ifaces.length > 0) return `--iface ${c.ifaces.join(',')}`;
  if (c.regexes !== undefined && c.regexes.length > 0) return `--iface-regex ${c.regexes.join(',')}`;
  if (c.canReach !== undefined) return `--iface-can-reach ${c.canReach}`;
  return 'the default route';
}

export async function pickUnderlay(kernel: UnderlayKernel, c: UnderlayChoice): Promise<Underlay> {
  const regexes = checkUnderlayChoice(c);
  const ifaces = c.ifaces ?? [];
  if (ifaces.length === 0 && regexes.length === 0 && c.canReach === undefined) return kernel.underlay();

  const links = await kernel.links();
  const addrs: { name: string; ip: string }[] = [];
  for (const l of links) for (const a of await kernel.ipv4Addresses(l.name)) addrs.push({ name: l.name, ip: a.split('/')[0]! });
  const withIp = async (name: string, ip: string): Promise<Underlay> => ({ ...(await kernel.underlay(name)), ip });

  if (ifaces.length > 0) {
    for (const want of ifaces) {
      if (isIpv4(want)) {
        const hit = addrs.find((a) => a.ip === want);
        if (hit) return withIp(hit.name, hit.ip);
      } else if (links.some((l) => l.name === want)) {
        return kernel.underlay(want);
      }
    }
    throw new ConfigError(`--iface: none of ${ifaces.join(', ')} is an interface or an address of this host`, 'iface');
  }
  if (regexes.length > 0) {
    for (const re of regexes) {
      const byIp = addrs.find((a) => re.test(a.ip));
      if (byIp) return withIp(byIp.name, byIp.ip);
      const byName = links.find((l) => re.test(l.name));
      if (byName) return kernel.underlay(byName.name);
    }
    throw new ConfigError(`--iface-regex: no IPv4 address or interface name matches ${c.regexes!.join(', ')}`, 'iface-regex');
  }
  const target = parseIpv4(c.canReach!);
  let best: { dev: string; len: number } | null = null;
  for (const r of await kernel.routes()) {
    const dst = parseCidr(r.dst);
    if (cidrContains(dst, target) && (best === null || dst.len > best.len)) best = { dev: r.dev, len: dst.len };
  }
  if (best === null) throw new ConfigError(`--iface-can-reach: no route to ${c.canReach}`, 'iface-can-reach');
  return kernel.underlay(best.dev);
}

/**
 * The underlay for an IPv6 public IP (issue #13): the interface that --iface
 * names, and the public IP itself as its address. Chosen this way, and not
 * from the interface's IPv6 addresses, because an interface holds several
 * (link-local, temporary, a ULA and a global one) and which a peer reaches
 * is the operator's decision: so an IPv6 underlay is asked for explicitly,
 * with --public-ip <IPv6> --iface <name>. The kernel checks the address is
 * this host's when the sockets bind to it (EADDRNOTAVAIL otherwise).
 */
export async function pickUnderlay6(kernel: Pick<KernelNet, 'link'>, c: UnderlayChoice, publicIp: string): Promise<Underlay> {
  const names = (c.ifaces ?? []).filter((n) => !n.includes('.') && !n.includes(':'));
  if (names.length === 0 || (c.regexes ?? []).length > 0 || c.canReach !== undefined) {
    throw new ConfigError(`--public-ip ${publicIp} is IPv6: name the underlay interface with --iface <name> (--iface-regex and --iface-can-reach pick by IPv4)`, 'iface');
  }
  for (const name of names) {
    const link = await kernel.link(name);
    if (link) return { name, ip: publicIp, mtu: link.mtu };
  }
  throw new ConfigError(`--iface: none of ${names.join(', ')} is an interface of this host`, 'iface');
}
