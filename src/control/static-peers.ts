/**
 * The first peer source: a static JSON file, for a lab or a handful of hosts
 * without etcd.
 *
 *   {"vni": 7, "port": 4789,
 *    "self": {"subnet": "10.44.1.0/24"},
 *    "peers": [{"subnet": "10.44.2.0/24", "publicIp": "192.168.90.2", "vtepMac": "02:76:c0:a8:5a:02"}]}
 *
 * IPv6 (docs/ipv6-control.md): `self.subnet6` and a peer's `subnet6` name
 * the IPv6 subnet behind a host ("fd00:0:0:2::/64"), a peer's optional
 * `publicIpv6` its IPv6 underlay address. `subnet` may then be left out: a
 * host with `subnet6` alone is IPv6-only. IPv6-only peers are read and
 * checked but not handed to the data plane, which carries IPv4 only for now
 * (`ipv6OnlyPeers`); an IPv6-only `self` cannot run yet (static-network.ts
 * says so). A dual-stack peer's IPv6 half rides on its Peer (subnet6,
 * publicIpv6).
 *
 * Validation is strict, because a typo in a network config should stop the
 * daemon, not quietly drop a peer: every problem is a ConfigError naming the
 * file and the field path (`peers.json: peers[1].publicIp: not an IPv4
 * address: "1.2.3"`), and unknown keys are rejected at every level.
 *
 * Changes: StaticPeerSource polls the file with fs.watchFile (every second by
 * default). Polling, not SIGHUP and not fs.watch: it sees an editor's
 * write-to-temp-and-rename as well as an in-place write, it needs no signal
 * plumbing in the daemon, and one stat per second is nothing. `reload()` is
 * public, so a daemon may also call it on SIGHUP. A file that turns invalid
 * is reported through `onError` and the previous peers stay in force: a bad
 * edit never tears down forwarding.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors';
import { arrayElementLines } from './file-lines';
import type { FileOrigin } from './origin';
import { FileSource, type FileSourceOptions, type FileSpec } from './file-source';
import { cidrContains, formatCidr, isIpv4, isMac, parseCidr, parseIpv4, type Ipv4Cidr } from '../wire/addr';
import { cidr6Overlaps, formatCidr6, formatIpv6, isIpv6, parseCidr6, parseIpv6, publicIpv6Fault, type Ipv6Cidr } from './ip6';
import { diffPeers, macFromIp, type Peer, type PeerEvent, type PeerSource } from './peers';

/** The VNI when the file names none: 1, flannel's default VNI for its vxlan backend. */
export const DEFAULT_VNI = 1;
/**
 * The UDP port when the file names none: 4789, the IANA VXLAN port (RFC 7348).
 * (flannel leaves it to the kernel, whose default is the pre-IANA 8472; set
 * "port": 8472 to talk to such peers.)
 */
export const DEFAULT_PORT = 4789;
export const MAX_VNI = 0xff_ffff;

export interface SelfConfig {
  /** This host's IPv4 subnet; absent for an IPv6-only host (self.subnet6 alone). */
  readonly subnet?: string;
  /** This host's IPv6 subnet, 'fd00:0:0:1::/64'. */
  readonly subnet6?: string;
  /** This host's IPv6 underlay address. */
  readonly publicIpv6?: string;
  /** This host's underlay address; when absent the caller takes the underlay interface's. */
  readonly publicIp?: string;
  /** This host's VTEP MAC; when absent the caller derives it: macFromIp(publicIp). */
  readonly vtepMac?: string;
}

export interface StaticConfig {
  readonly vni: number;
  readonly port: number;
  readonly self: SelfConfig;
  readonly peers: Peer[];
  /** Peers with `subnet6` and no `subnet`: checked, not handed to the (IPv4) data plane yet. Absent when there are none. */
  readonly ipv6OnlyPeers?: Ipv6OnlyPeer[];
}

/** A peer of the file with an IPv6 subnet only. */
export interface Ipv6OnlyPeer {
  readonly subnet6: string;
  readonly publicIpv6?: string;
  readonly vtepMac?: string;
}

const TOP_KEYS = ['vni', 'port', 'self', 'peers'] as const;
const SELF_KEYS = ['subnet', 'subnet6', 'publicIp', 'publicIpv6', 'vtepMac'] as const;
const PEER_KEYS = ['subnet', 'subnet6', 'publicIp', 'publicIpv6', 'vtepMac'] as const;

/** Reads and validates a peers file. Throws ConfigError naming the file and the field. */
export function loadPeersFile(path: string): StaticConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError(`${path}: cannot read the peers file: ${e.code ?? e.message}`);
  }
  const { config: c, rawIndex } = parseIndexed(text, path);
  return { ...c, peers: withLines(c.peers, text, path, rawIndex) };
}

/** Validates the text of a peers file; `file` names it in errors. */
export function parsePeersConfig(text: string, file: string): StaticConfig {
  return parseIndexed(text, file).config;
}

/**
 * parsePeersConfig, and for each of `peers` its index in the file's array:
 * IPv6-only entries are not in `peers`, so its i-th record is not always the
 * file's i-th (withLines needs the file's).
 */
function parseIndexed(text: string, file: string): { config: StaticConfig; rawIndex: number[] } {
  const { top, fail } = readTop(text, file, TOP_KEYS);

  const vni = intField(top, 'vni', 'vni', 1, MAX_VNI, DEFAULT_VNI, fail);
  const port = intField(top, 'port', 'port', 1, 65535, DEFAULT_PORT, fail);

  if (top.self === undefined) fail('self', 'missing: this host\'s {"subnet": "a.b.c.d/len"}');
  const selfObj = asObject(top.self, 'self', 'self', fail);
  checkKeys(selfObj, SELF_KEYS, 'self', fail);
  const selfSubnet6 = selfObj.subnet6 === undefined ? undefined : subnet6Field(selfObj.subnet6, 'self.subnet6', fail);
  // An IPv6-only host names subnet6 alone; otherwise subnet is required, as before.
  const selfSubnet = selfObj.subnet === undefined && selfSubnet6 !== undefined ? undefined : subnetField(selfObj, 'self.subnet', fail);
  const selfIp = selfObj.publicIp === undefined ? undefined : ipField(selfObj.publicIp, 'self.publicIp', fail);
  const selfIp6 = selfObj.publicIpv6 === undefined ? undefined : ip6Field(selfObj.publicIpv6, 'self.publicIpv6', fail);
  const selfMac = selfObj.vtepMac === undefined ? undefined : macField(selfObj.vtepMac, 'self.vtepMac', fail);
  const self: SelfConfig = {
    ...(selfSubnet !== undefined ? { subnet: formatCidr(selfSubnet) } : {}),
    ...(selfSubnet6 !== undefined ? { subnet6: formatCidr6(selfSubnet6) } : {}),
    ...(selfIp !== undefined ? { publicIp: selfIp } : {}),
    ...(selfIp6 !== undefined ? { publicIpv6: selfIp6 } : {}),
    ...(selfMac !== undefined ? { vtepMac: selfMac } : {}),
  };

  if (top.peers === undefined) fail('peers', 'missing (use [] for a host with no peers yet)');
  if (!Array.isArray(top.peers)) fail('peers', `must be an array, got ${typeName(top.peers)}`);
  const list = top.peers as unknown[];

  // Every subnet with its field path, self first, to report overlaps by name.
  const taken: { cidr: Ipv4Cidr; field: string }[] = selfSubnet !== undefined ? [{ cidr: selfSubnet, field: 'self.subnet' }] : [];
  const taken6: { cidr: Ipv6Cidr; field: string }[] = selfSubnet6 !== undefined ? [{ cidr: selfSubnet6, field: 'self.subnet6' }] : [];
  const ip6Owner = new Map<string, string>();
  if (selfIp6 !== undefined) ip6Owner.set(selfIp6, 'self.publicIpv6');
  const macOwner = new Map<string, { ip: string; field: string }>();
  if (selfMac !== undefined && selfIp !== undefined) macOwner.set(selfMac, { ip: selfIp, field: 'self.vtepMac' });
  const peers: Peer[] = [];
  const rawIndex: number[] = [];
  const ipv6OnlyPeers: Ipv6OnlyPeer[] = [];

  list.forEach((raw, i) => {
    const at = `peers[${i}]`;
    const o = asObject(raw, at, at, fail);
    checkKeys(o, PEER_KEYS, at, fail);
    const cidr6 = o.subnet6 === undefined ? undefined : subnet6Field(o.subnet6, `${at}.subnet6`, fail);
    if (cidr6 !== undefined) {
      for (const t of taken6) {
        if (cidr6Overlaps(t.cidr, cidr6)) fail(`${at}.subnet6`, `${formatCidr6(cidr6)} overlaps ${t.field} ${formatCidr6(t.cidr)}`);
      }
      taken6.push({ cidr: cidr6, field: `${at}.subnet6` });
    }
    const ip6 = o.publicIpv6 === undefined ? undefined : ip6Field(o.publicIpv6, `${at}.publicIpv6`, fail);
    if (ip6 !== undefined) {
      if (cidr6 === undefined) fail(`${at}.publicIpv6`, 'given without subnet6: an IPv6 underlay address serves an IPv6 subnet');
      const owner = ip6Owner.get(ip6);
      if (owner !== undefined) fail(`${at}.publicIpv6`, `${ip6} is also ${owner}`);
      ip6Owner.set(ip6, `${at}.publicIpv6`);
    }
    if (o.subnet === undefined && cidr6 !== undefined) {
      // IPv6-only: no IPv4 half for the data plane.
      if (o.publicIp !== undefined) fail(`${at}.publicIp`, 'an IPv6-only peer (subnet6 without subnet) has no IPv4 underlay address to name');
      const mac = o.vtepMac === undefined ? undefined : macField(o.vtepMac, `${at}.vtepMac`, fail);
      ipv6OnlyPeers.push({ subnet6: formatCidr6(cidr6), ...(ip6 !== undefined ? { publicIpv6: ip6 } : {}), ...(mac !== undefined ? { vtepMac: mac } : {}) });
      return;
    }
    const cidr = subnetField(o, `${at}.subnet`, fail);
    for (const t of taken) {
      if (t.cidr.addr === cidr.addr && t.cidr.len === cidr.len) {
        fail(`${at}.subnet`, `${formatCidr(cidr)} is also ${t.field}`);
      }
      if (overlaps(t.cidr, cidr)) {
        fail(`${at}.subnet`, `${formatCidr(cidr)} overlaps ${t.field} ${formatCidr(t.cidr)}`);
      }
    }
    taken.push({ cidr, field: `${at}.subnet` });

    if (o.publicIp === undefined) fail(`${at}.publicIp`, 'missing: the peer\'s underlay IPv4 address');
    const publicIp = ipField(o.publicIp, `${at}.publicIp`, fail);
    if (selfIp !== undefined && publicIp === selfIp) fail(`${at}.publicIp`, `${publicIp} is this host's own (self.publicIp)`);
    const vtepMac = o.vtepMac === undefined ? macFromIp(publicIp) : macField(o.vtepMac, `${at}.vtepMac`, fail);
    // One MAC, one VTEP: the FDB maps a MAC to exactly one public IP.
    const owner = macOwner.get(vtepMac);
    if (owner && owner.ip !== publicIp) {
      fail(`${at}.vtepMac`, `${vtepMac}${o.vtepMac === undefined ? ' (derived from publicIp)' : ''} is also the MAC of ${owner.field.replace(/\.vtepMac$/, '')} at ${owner.ip}`);
    }
    macOwner.set(vtepMac, { ip: publicIp, field: `${at}.vtepMac` });
    // A dual-stack peer: one TAP, one MAC for both families (vtepMac6 = vtepMac).
    const v6 = cidr6 === undefined ? {} : { subnet6: formatCidr6(cidr6), ...(ip6 !== undefined ? { publicIpv6: ip6 } : {}), vtepMac6: vtepMac };
    peers.push({ subnet: formatCidr(cidr), publicIp, vtepMac, ...v6 });
    rawIndex.push(i);
  });

  return { config: { vni, port, self, peers, ...(ipv6OnlyPeers.length > 0 ? { ipv6OnlyPeers } : {}) }, rawIndex };
}

export type StaticPeerSourceOptions = FileSourceOptions;

const PEERS_FILE: FileSpec<StaticConfig, Peer, PeerEvent> = {
  name: 'StaticPeerSource',
  load: (path) => loadPeersFile(path),
  fixedChange: (a, b) => fixedFieldChange(a, b),
  items: (c) => [...c.peers],
  diff: diffPeers,
};

/**
 * Peers from a static file, re-read when it changes (file-source.ts). The
 * file's vni, port and self are fixed for the life of the source: an edit to
 * them is reported through onError and the whole edit is ignored, peers
 * included, until it is reverted or the daemon restarts.
 */
export class StaticPeerSource extends FileSource<StaticConfig, Peer, PeerEvent> implements PeerSource {
  constructor(path: string, opts: StaticPeerSourceOptions = {}) {
    super(path, PEERS_FILE, opts);
  }
}

// ---- helpers ---------------------------------------------------------------

/**
 * Each record with its origin: the file and the line its object starts on in
 * the file's `peers` array (`vxtap explain`). `rawIndex[i]` is record i's
 * index in that array when records were left out (default: the same i).
 */
export function withLines<T extends object>(items: readonly T[], text: string, path: string, rawIndex?: readonly number[]): (T & { source?: FileOrigin })[] {
  const lines = arrayElementLines(text, 'peers');
  return items.map((p, i) => {
    const line = lines[rawIndex === undefined ? i : rawIndex[i]!];
    return line === undefined ? p : { ...p, source: { kind: 'file' as const, path, line } };
  });
}

/**
 * A peers file's top level (routed or L2): JSON, an object, only `keys`; and
 * the `fail` that names the file and the field in every later error.
 */
export function readTop(text: string, file: string, keys: readonly string[]): { top: Obj; fail: Fail } {
  const fail: Fail = (field, msg) => {
    throw new ConfigError(`${file}: ${field ? `${field}: ` : ''}${msg}`, field || undefined);
  };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return fail('', `not JSON: ${(err as Error).message}`);
  }
  const top = asObject(doc, '', 'the top level', fail);
  checkKeys(top, keys, '', fail);
  return { top, fail };
}

export type Fail = (field: string, msg: string) => never;
export type Obj = Record<string, unknown>;

export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}

export function asObject(v: unknown, field: string, what: string, fail: Fail): Obj {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(field, `${what} must be an object, got ${typeName(v)}`);
  return v as Obj;
}

export function checkKeys(o: Obj, allowed: readonly string[], at: string, fail: Fail): void {
  for (const k of Object.keys(o)) {
    if (allowed.includes(k)) continue;
    const near = allowed.find((a) => editDistance(a.toLowerCase(), k.toLowerCase()) <= 2);
    const field = at ? `${at}.${k}` : k;
    fail(field, `unknown key${near ? ` (did you mean "${near}"?)` : ''}; allowed: ${allowed.join(', ')}`);
  }
}

function intField(o: Obj, key: string, field: string, min: number, max: number, dflt: number, fail: Fail): number {
  const v = o[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v)) fail(field, `must be an integer, got ${typeName(v)}`);
  if ((v as number) < min || (v as number) > max) fail(field, `must be in ${min}..${max}, got ${v as number}`);
  return v as number;
}

function subnetField(o: Obj, field: string, fail: Fail): Ipv4Cidr {
  const v = o.subnet;
  if (v === undefined) fail(field, 'missing: a subnet such as "10.44.1.0/24"');
  if (typeof v !== 'string') fail(field, `must be a string such as "10.44.1.0/24", got ${typeName(v)}`);
  let c: Ipv4Cidr;
  try {
    c = parseCidr(v as string);
  } catch (err) {
    return fail(field, (err as Error).message);
  }
  if (c.len === 0) fail(field, `${JSON.stringify(v)} would cover every address`);
  return c;
}

function subnet6Field(v: unknown, field: string, fail: Fail): Ipv6Cidr {
  if (typeof v !== 'string') fail(field, `must be a string such as "fd00:0:0:1::/64", got ${typeName(v)}`);
  let c: Ipv6Cidr;
  try {
    c = parseCidr6(v as string);
  } catch (err) {
    return fail(field, (err as Error).message);
  }
  // As for IPv4 (no subnet wider than a /8): a route for a sixteenth of the IPv6 Internet is never a host's subnet.
  if (c.len < 16) fail(field, `${JSON.stringify(v)} is wider than a /16`);
  return c;
}

function ip6Field(v: unknown, field: string, fail: Fail): string {
  if (typeof v !== 'string' || !isIpv6(v)) fail(field, `not an IPv6 address: ${JSON.stringify(v)}`);
  const fault = publicIpv6Fault(parseIpv6(v as string));
  if (fault !== null) fail(field, `${v as string} is ${fault}`);
  return formatIpv6(parseIpv6(v as string));
}

function ipField(v: unknown, field: string, fail: Fail): string {
  if (typeof v !== 'string' || !isIpv4(v)) fail(field, `not an IPv4 address: ${JSON.stringify(v)}`);
  const a = parseIpv4(v as string);
  // The outer destination of VXLAN packets: a unicast host address.
  if (a === 0 || a === 0xffffffff || a >>> 28 === 0xe) fail(field, `not a unicast IPv4 address: ${JSON.stringify(v)}`);
  return v as string;
}

function macField(v: unknown, field: string, fail: Fail): string {
  if (typeof v !== 'string' || !isMac(v)) fail(field, `not a MAC address (aa:bb:cc:dd:ee:ff): ${JSON.stringify(v)}`);
  const mac = (v as string).toLowerCase();
  if (parseInt(mac.slice(0, 2), 16) & 1) fail(field, `${mac} is a multicast MAC; a VTEP needs a unicast one`);
  if (mac === '00:00:00:00:00:00') fail(field, 'the all-zero MAC is not a VTEP address');
  return mac;
}

function overlaps(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
  return a.len <= b.len ? cidrContains(a, b.addr) : cidrContains(b, a.addr);
}

/** What changed among the fields a running switch cannot change (vni, port, self), or null. */
function fixedFieldChange(a: StaticConfig, b: StaticConfig): string | null {
  if (a.vni !== b.vni) return `vni changed from ${a.vni} to ${b.vni}`;
  if (a.port !== b.port) return `port changed from ${a.port} to ${b.port}`;
  for (const k of SELF_KEYS) {
    if (a.self[k] !== b.self[k]) return `self.${k} changed from ${String(a.self[k])} to ${String(b.self[k])}`;
  }
  return null;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j]!;
      row[j] = Math.min(up + 1, row[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return row[b.length]!;
}
