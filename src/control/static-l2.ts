/**
 * The static L2 backend: the segment's VTEPs from a JSON file, for a lab or a
 * handful of hosts without etcd.
 *
 *   {"vni": 42, "port": 4789,
 *    "peers": [{"publicIp": "192.168.90.2"},
 *              {"publicIp": "192.168.90.3", "port": 4790, "vtepMac": "02:00:00:00:00:03",
 *               "macs": ["aa:bb:cc:00:00:01"]}]}
 *
 * The file lists every host of the segment, this one included: the entry
 * whose publicIp is this host's own is skipped, so one file serves every
 * host. Per peer, `port` defaults to the file's port, `vtepMac` is
 * informational (null when absent: in L2 mode nothing is addressed to a
 * VTEP's own MAC), and `macs` are MACs pinned behind that VTEP (static FDB
 * entries, never learned elsewhere nor aged).
 *
 * Validation is as strict as the routed peers file's (static-peers.ts): every
 * problem is a ConfigError (VXTAP_ERR_CONFIG) naming the file and the field
 * path, unknown keys are refused. reload() (SIGHUP) and a poll of the file
 * re-read it and emit the difference; an invalid file is reported through
 * onError and the previous list stays (a bad edit never stops flooding).
 */
import { readFileSync } from 'node:fs';
import { FileSource, type FileSourceOptions } from './file-source';
import { ConfigError } from '../errors';
import { isIpv4, isMac, parseIpv4 } from '../wire/addr';
import { formatIpv6, isIpv6, parseIpv6, publicIpv6Fault } from './ip6';
import { diffVteps, type L2Backend, type L2JoinRequest, type L2Network, type Vtep, type VtepEvent, type VtepSource } from './l2-network';
import { asObject, checkKeys, readTop, typeName, withLines, type Fail } from './static-peers';

/** The VNI when the file names none: 1, as the routed peers file and flannel. */
export const DEFAULT_L2_VNI = 1;
/** The port when the file names none: 4789, IANA's VXLAN port (RFC 7348), the kernel vxlan's `dstport 4789`. */
export const DEFAULT_L2_PORT = 4789;
export const MAX_VNI = 0xff_ffff;

export interface L2PeersConfig {
  readonly vni: number;
  readonly port: number;
  /** Every entry of the file, this host's own included (StaticL2Source skips it). */
  readonly peers: Vtep[];
}

const TOP_KEYS = ['vni', 'port', 'peers'] as const;
const PEER_KEYS = ['publicIp', 'port', 'vtepMac', 'macs'] as const;

/** Reads and validates an L2 peers file. Throws ConfigError naming the file and the field. */
export function loadL2PeersFile(path: string): L2PeersConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError(`${path}: cannot read the L2 peers file: ${e.code ?? e.message}`);
  }
  const c = parseL2PeersConfig(text, path);
  return { ...c, peers: withLines(c.peers, text, path) };
}

/** Validates the text of an L2 peers file; `file` names it in errors. */
export function parseL2PeersConfig(text: string, file: string): L2PeersConfig {
  const { top, fail } = readTop(text, file, TOP_KEYS);

  const vni = vniField(top.vni, fail);
  const port = portField(top.port, 'port', DEFAULT_L2_PORT, fail);

  if (top.peers === undefined) fail('peers', 'missing (use [] for a segment with no other host yet)');
  if (!Array.isArray(top.peers)) fail('peers', `must be an array, got ${typeName(top.peers)}`);

  const ipOwner = new Map<string, string>();
  // A MAC sits behind one VTEP only: the FDB maps it to exactly one.
  const macOwner = new Map<string, { field: string; ip: string }>();
  const claim = (mac: string, field: string, ip: string): void => {
    const owner = macOwner.get(mac);
    if (!owner) { macOwner.set(mac, { field, ip }); return; }
    if (owner.ip !== ip) fail(field, `${mac} is also ${owner.field} (${owner.ip}): a MAC sits behind one VTEP only`);
    // The same VTEP: its own vtepMac pinned in its macs is harmless; a MAC twice in macs is a typo.
    if (!owner.field.endsWith('.vtepMac')) fail(field, `${mac} is listed twice (also ${owner.field})`);
  };

  let firstFamily: { family: 4 | 6; at: string } | null = null;
  const peers: Vtep[] = (top.peers as unknown[]).map((raw, i) => {
    const at = `peers[${i}]`;
    const o = asObject(raw, at, at, fail);
    checkKeys(o, PEER_KEYS, at, fail);
    if (o.publicIp === undefined) fail(`${at}.publicIp`, 'missing: the VTEP\'s underlay IPv4 or IPv6 address');
    const publicIp = unicastIpField(o.publicIp, `${at}.publicIp`, fail);
    // One underlay family per segment (issue #13): a VTEP's socket is AF_INET or AF_INET6, never both.
    const family = isIpv6(publicIp) ? 6 : 4;
    const first = i === 0 ? null : firstFamily;
    if (first !== null && first.family !== family) {
      fail(`${at}.publicIp`, `${publicIp} is IPv${family}, but ${first.at}.publicIp is IPv${first.family}: all VTEPs of one segment use one underlay family`);
    }
    if (i === 0) firstFamily = { family, at };
    const dup = ipOwner.get(publicIp);
    if (dup !== undefined) fail(`${at}.publicIp`, `${publicIp} is also ${dup}`);
    ipOwner.set(publicIp, at);
    const peerPort = portField(o.port, `${at}.port`, port, fail);
    const vtepMac = o.vtepMac === undefined || o.vtepMac === null ? null : unicastMacField(o.vtepMac, `${at}.vtepMac`, fail);
    if (vtepMac !== null) claim(vtepMac, `${at}.vtepMac`, publicIp);
    let macs: string[] = [];
    if (o.macs !== undefined) {
      if (!Array.isArray(o.macs)) fail(`${at}.macs`, `must be an array of MAC addresses, got ${typeName(o.macs)}`);
      macs = (o.macs as unknown[]).map((m, j) => {
        const mac = unicastMacField(m, `${at}.macs[${j}]`, fail);
        claim(mac, `${at}.macs[${j}]`, publicIp);
        return mac;
      });
    }
    return { publicIp, port: peerPort, vtepMac, macs };
  });
  return { vni, port, peers };
}

export interface StaticL2SourceOptions extends FileSourceOptions {
  /** This host's public IP: its entry in the file is skipped. */
  readonly selfIp: string;
}

/**
 * The VTEPs of an L2 peers file, re-read on reload() and (unless intervalMs
 * is 0) when the file changes (file-source.ts). vni and port are fixed for
 * the life of the source (the switch cannot change them under traffic): an
 * edit to them is reported through onError and the whole edit is ignored.
 */
export class StaticL2Source extends FileSource<L2PeersConfig, Vtep, VtepEvent> implements VtepSource {
  constructor(path: string, opts: StaticL2SourceOptions) {
    super(path, {
      name: 'StaticL2Source',
      load: (file) => loadL2PeersFile(file),
      fixedChange: (a, b) => (a.vni !== b.vni ? `vni changed from ${a.vni} to ${b.vni}` : a.port !== b.port ? `port changed from ${a.port} to ${b.port}` : null),
      items: (c) => c.peers.filter((v) => v.publicIp !== opts.selfIp),
      diff: diffVteps,
    }, opts);
  }
}

/** The L2Backend over a static file. */
export class StaticL2Network implements L2Backend {
  readonly describe: string;
  /** The file as read at start (a bad file is a ConfigError before anything else happens). */
  readonly config: L2PeersConfig;

  constructor(readonly path: string, private readonly opts: { intervalMs?: number; persistent?: boolean } = {}) {
    this.describe = `L2 peers file ${path}`;
    this.config = loadL2PeersFile(path);
  }

  async join(req: L2JoinRequest): Promise<L2Network> {
    const self = canonicalIp(req.publicIp);
    const other = this.config.peers.find((v) => isIpv6(v.publicIp) !== isIpv6(self));
    if (other !== undefined) {
      const i = this.config.peers.indexOf(other);
      throw new ConfigError(`${this.path}: peers[${i}].publicIp ${other.publicIp} is IPv${isIpv6(other.publicIp) ? 6 : 4}, but this host's public IP ${self} is IPv${isIpv6(self) ? 6 : 4}: the segment's underlay is one family`, 'peers');
    }
    const source = new StaticL2Source(this.path, {
      selfIp: self,
      onError: (err) => req.log.error({ err: { code: err.code, message: err.message } }, `${err.message}; keeping the previous flood list`),
      ...this.opts,
    });
    const cfg = source.config;
    const others = await source.snapshot();
    req.log.info({ vni: cfg.vni, port: cfg.port, vteps: others.length }, `L2 segment VNI ${cfg.vni}, port ${cfg.port}: ${others.length} other VTEP(s) (from ${this.path})`);
    return {
      vni: cfg.vni,
      port: cfg.port,
      vtepMac: req.vtepMac,
      source,
      status: () => ({ lease: null, etcd: null }),
      reload: () => { source.reload(); },
      close: () => source.close(),
    };
  }
}

// ---- fields --------------------------------------------------------------------

function vniField(v: unknown, fail: Fail): number {
  if (v === undefined) return DEFAULT_L2_VNI;
  if (typeof v !== 'number' || !Number.isInteger(v)) return fail('vni', `must be an integer, got ${typeName(v)}`);
  if (v === 0) {
    // The kernel takes `id 0`, but vxtap's etcd config refuses Backend.VNI 0 and many VTEPs
    // (EVPN, hardware) keep VNI 0 reserved: both backends agree on 1..16777215.
    return fail('vni', 'must be in 1..16777215, got 0: VNI 0 is reserved (vxtap\'s etcd config refuses it too, and many VTEPs do not carry it); pick another VNI on every host');
  }
  if (v < 1 || v > MAX_VNI) fail('vni', `must be in 1..${MAX_VNI} (24 bits), got ${v}`);
  return v;
}

function portField(v: unknown, field: string, dflt: number, fail: Fail): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v)) return fail(field, `must be an integer, got ${typeName(v)}`);
  if (v < 1 || v > 65535) fail(field, `must be in 1..65535, got ${v}`);
  return v;
}

/** The outer destination of VXLAN copies: a unicast host address (IPv4, or IPv6 as publicIpv6Fault allows). */
export function unicastIpProblem(ip: string): string | null {
  if (isIpv6(ip)) return publicIpv6Fault(parseIpv6(ip));
  if (!isIpv4(ip)) return 'not an IPv4 or IPv6 address';
  const a = parseIpv4(ip);
  const first = a >>> 24;
  if (first === 0) return 'in 0.0.0.0/8 ("this network"), not a host address';
  if (first === 127) return 'a loopback address (127.0.0.0/8): no other host can be reached there';
  if (a >>> 28 === 0xe) return 'a multicast address: list each VTEP by its unicast address';
  if (a === 0xffff_ffff) return 'the broadcast address';
  return null;
}

function unicastIpField(v: unknown, field: string, fail: Fail): string {
  if (typeof v !== 'string') return fail(field, `not an IPv4 or IPv6 address: ${JSON.stringify(v)}`);
  const why = unicastIpProblem(v);
  if (why) fail(field, `${JSON.stringify(v)} is ${why}`);
  // IPv6 in its one text form (RFC 5952), so that the same VTEP compares equal however it was written.
  return isIpv6(v) ? formatIpv6(parseIpv6(v)) : v;
}

/** 'fd00:0::2' -> 'fd00::2'; IPv4 as given. */
export function canonicalIp(ip: string): string {
  return isIpv6(ip) ? formatIpv6(parseIpv6(ip)) : ip;
}

/** A MAC that may sit behind a VTEP: unicast and not all-zero. Null when it may. */
export function unicastMacProblem(mac: string): string | null {
  if (!isMac(mac)) return 'not a MAC address (aa:bb:cc:dd:ee:ff)';
  const m = mac.toLowerCase();
  if (parseInt(m.slice(0, 2), 16) & 1) return 'a multicast MAC (bit 0 of the first octet is set): only unicast MACs sit behind a VTEP';
  if (m === '00:00:00:00:00:00') return 'the all-zero MAC (the flood list\'s placeholder), not a host';
  return null;
}

function unicastMacField(v: unknown, field: string, fail: Fail): string {
  if (typeof v !== 'string') return fail(field, `not a MAC address (aa:bb:cc:dd:ee:ff): ${JSON.stringify(v)}`);
  const why = unicastMacProblem(v);
  if (why) fail(field, `${JSON.stringify(v)} is ${why}`);
  return v.toLowerCase();
}

