/**
 * What `vxtap lab web` shows, gathered from the running lab: the topology
 * (lab.json), each host's live tables and counters, the tail of a host's
 * trace, the etcd records behind a host, and one ping with the trace records
 * it left on every host it crossed.
 *
 * Sources, and why each:
 * - vxtap hosts: the daemon's control socket, asked directly (control/api/
 *   client.ts). The socket is a file under /run, which every namespace
 *   shares, so no `ip netns exec` (and no Node start-up) per poll.
 * - kernel hosts: what `ip -s link`, `ip neigh` and `bridge fdb` report for
 *   the vxlan device in the host's namespace: the kernel's own counters and
 *   tables, the same facts under other names (tx packets = encapsulated).
 * - etcd: etcdctl in etcd's namespace (etcd listens on the underlay only),
 *   with revisions and each key's lease (id, granted TTL, time left).
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { request } from '../../control/api/client';
import { CONTROL_DIR } from '../../control/api/paths';
import type { ArpRow, FdbRow, PeerRow } from '../../control/api/protocol';
import { subjectOf, type TraceRecord } from '../../switch/trace-record';
import { LabError } from '../errors';
import { ETCD_PREFIX } from '../etcd';
import { modeOf } from '../plan';
import { ETCDCTL_BIN } from '../prereq';
import type { Shell } from '../shell';
import type { HostState, LabState } from '../state';

/** The lab as the page draws it. */
export interface Topology {
  prefix: string;
  mode: 'routed' | 'l2';
  network: string;
  underlay: string;
  vni: number;
  port: number;
  phase: LabState['phase'];
  etcd: { ns: string; ip: string; endpoint: string };
  hosts: {
    name: string; kind: HostState['kind']; ns: string; ip: string; subnet: string | null;
    container: string; containerIp: string | null; vtepMac: string | null; traced: boolean;
  }[];
  /** Every pair of hosts: routed and L2 labs are a full mesh of tunnels. */
  tunnels: { id: string; a: string; b: string }[];
}

export function topologyOf(st: LabState): Topology {
  const hosts = st.hosts.map((h) => ({
    name: h.name, kind: h.kind, ns: h.ns, ip: h.ip, subnet: h.subnet, container: h.containerNs,
    containerIp: h.containerIp, vtepMac: h.vtepMac, traced: h.kind === 'vxtap' && h.trace !== null,
  }));
  const tunnels: Topology['tunnels'] = [];
  for (let i = 0; i < hosts.length; i++) {
    for (let j = i + 1; j < hosts.length; j++) tunnels.push({ id: `${hosts[i]!.name}-${hosts[j]!.name}`, a: hosts[i]!.name, b: hosts[j]!.name });
  }
  return {
    prefix: st.prefix, mode: modeOf(st.options), network: st.options.network, underlay: st.options.underlay,
    vni: st.options.vni, port: st.options.port, phase: st.phase,
    etcd: { ns: st.etcd.ns, ip: st.etcd.ip, endpoint: st.etcd.endpoint }, hosts, tunnels,
  };
}

/** The counters the page shows per host; the same names for both kinds of host. */
export interface HostCounters {
  /** Frames encapsulated and sent to the underlay (kernel: the vxlan device's tx packets). */
  encap: number;
  /** Frames decapsulated from the underlay (kernel: rx packets). */
  decap: number;
  /** vxtap: ARP requests answered from the ARP table (kernel: not counted, null). */
  arpAnswered: number | null;
  /** Every drop (vxtap: tapDrops + netDrops; kernel: rx_dropped + tx_dropped + errors). */
  drops: number;
  /** vxtap: drops by reason, non-zero only. */
  dropsByReason: Record<string, number>;
}

export interface HostLive {
  name: string;
  kind: HostState['kind'];
  /** Where the numbers come from, shown on the page. */
  source: string;
  up: boolean;
  error: string | null;
  counters: HostCounters | null;
  fdb: FdbRow[];
  arp: ArpRow[];
  peers: PeerRow[];
}

/** A vxtap host's control socket: the one lab.json names (L2), else the default path of its namespace (routed). */
export function socketOf(st: LabState, h: HostState): string {
  return h.socket ?? join(CONTROL_DIR, 'netns', h.ns, `${st.tap}.sock`);
}

const CONTROL_TIMEOUT_MS = 2000;

async function vxtapLive(st: LabState, h: HostState): Promise<HostLive> {
  const path = socketOf(st, h);
  const base = { name: h.name, kind: h.kind, source: `control socket ${path}` };
  try {
    const [stats, fdb, arp, peers] = await Promise.all([
      request(path, 'stats', CONTROL_TIMEOUT_MS), request(path, 'fdb', CONTROL_TIMEOUT_MS),
      request(path, 'arp', CONTROL_TIMEOUT_MS), request(path, 'peers', CONTROL_TIMEOUT_MS),
    ]);
    const c = stats.counters;
    const dropsByReason: Record<string, number> = {};
    for (const [k, v] of Object.entries(c.drops)) if (v > 0) dropsByReason[k] = v;
    return {
      ...base, up: true, error: null,
      counters: { encap: c.encapFrames, decap: c.decapFrames, arpAnswered: c.arpAnswered, drops: c.tapDrops + c.netDrops, dropsByReason },
      fdb, arp, peers,
    };
  } catch (err) {
    return { ...base, up: false, error: (err as Error).message, counters: null, fdb: [], arp: [], peers: [] };
  }
}

interface IpLinkJson { stats64?: { rx?: { packets?: number; dropped?: number; errors?: number }; tx?: { packets?: number; dropped?: number; errors?: number } } }
interface BridgeFdbJson { mac: string; dst?: string; state?: string }
interface NeighJson { dst: string; lladdr?: string; state?: string[] }

async function kernelLive(sh: Shell, st: LabState, h: HostState): Promise<HostLive> {
  const dev = st.vxlanDev;
  const base = { name: h.name, kind: h.kind, source: `ip -s link, ip neigh, bridge fdb of ${dev} in ${h.ns}` };
  const [link, fdbR, neighR] = await Promise.all([
    sh.runAsync('ip', ['-n', h.ns, '-j', '-s', 'link', 'show', 'dev', dev], 5000),
    sh.runAsync('bridge', ['-n', h.ns, '-j', 'fdb', 'show', 'dev', dev], 5000),
    sh.runAsync('ip', ['-n', h.ns, '-j', 'neigh', 'show', 'dev', dev], 5000),
  ]);
  if (link.status !== 0) return { ...base, up: false, error: (link.stderr || link.stdout).trim() || `no ${dev}`, counters: null, fdb: [], arp: [], peers: [] };
  const s = (parseJson<IpLinkJson[]>(link.stdout) ?? [])[0]?.stats64;
  const n = (v: number | undefined): number => v ?? 0;
  const counters: HostCounters = {
    encap: n(s?.tx?.packets), decap: n(s?.rx?.packets), arpAnswered: null,
    drops: n(s?.rx?.dropped) + n(s?.tx?.dropped) + n(s?.rx?.errors) + n(s?.tx?.errors), dropsByReason: {},
  };
  const fdb: FdbRow[] = (parseJson<BridgeFdbJson[]>(fdbR.stdout) ?? []).filter((e) => e.dst !== undefined).map((e) => ({
    mac: e.mac, vtep: e.dst!, port: st.options.port,
    kind: e.mac === '00:00:00:00:00:00' ? 'flood' : e.state === undefined || e.state === 'permanent' || e.state === 'static' ? 'static' : 'learned',
    ageSeconds: 0,
  }));
  const arp: ArpRow[] = (parseJson<NeighJson[]>(neighR.stdout) ?? []).filter((e) => e.lladdr !== undefined).map((e) => ({
    ip: e.dst, mac: e.lladdr!, subnet: null, publicIp: fdb.find((f) => f.mac === e.lladdr)?.vtep ?? null,
  }));
  // The kernel has no peer table: a peer is what its FDB points at.
  const peers: PeerRow[] = [...new Set(fdb.map((f) => f.vtep))].map((ip) => {
    const other = st.hosts.find((o) => o.ip === ip);
    return { subnet: other?.subnet ?? '', publicIp: ip, vtepMac: fdb.find((f) => f.vtep === ip && f.kind !== 'flood')?.mac ?? null, route: null, error: null };
  });
  return { ...base, up: true, error: null, counters, fdb, arp, peers };
}

function parseJson<T>(text: string): T | null {
  try { return JSON.parse(text) as T; } catch { return null; }
}

export function hostOf(st: LabState, name: string): HostState {
  const h = st.hosts.find((x) => x.name === name);
  if (h === undefined) throw new LabError('VXTAP_ERR_LAB_HOST', `no host ${JSON.stringify(name)} in the lab; its hosts: ${st.hosts.map((x) => x.name).join(', ')}`);
  return h;
}

export function hostLive(sh: Shell, st: LabState, h: HostState): Promise<HostLive> {
  return h.kind === 'vxtap' ? vxtapLive(st, h) : kernelLive(sh, st, h);
}

export async function allLive(sh: Shell, st: LabState): Promise<HostLive[]> {
  return Promise.all(st.hosts.map((h) => hostLive(sh, st, h)));
}

/** A trace record cut down to what the page shows (the layers' one-line summaries, the lookups' lines, the decision). */
export interface TraceLine {
  host: string;
  seq: number;
  time: string;
  tsUs: number;
  dir: TraceRecord['dir'];
  decision: TraceRecord['decision'];
  drop: string | null;
  reason: string;
  layers: string[];
  lookups: string[];
  encapTo: string | null;
  from: string | null;
  protos: string[];
}

export function traceLine(host: string, rec: TraceRecord): TraceLine {
  const subj = subjectOf(rec);
  return {
    host, seq: rec.seq, time: rec.time, tsUs: rec.tsUs, dir: rec.dir, decision: rec.decision, drop: rec.drop, reason: rec.reason,
    layers: rec.layers.map((l) => l.summary), lookups: rec.lookups.map((l) => l.text),
    encapTo: rec.encap?.vtep ?? null, from: rec.outer?.src ?? null, protos: [...subj.protos],
  };
}

/** Reads whole lines of a file from byte `from` (to its end, at most `max` bytes back from it); returns them and the end offset. */
export function readLines(path: string, from: number, max = 2 * 1024 * 1024): { lines: string[]; end: number } {
  let size: number;
  try { size = statSync(path).size; } catch { return { lines: [], end: 0 }; }
  if (size <= from) return { lines: [], end: size };
  const start = Math.max(from, size - max);
  const buf = Buffer.alloc(size - start);
  const fd = openSync(path, 'r');
  try {
    let got = 0;
    while (got < buf.length) {
      const k = readSync(fd, buf, got, buf.length - got, start + got);
      if (k === 0) break;
      got += k;
    }
  } finally {
    closeSync(fd);
  }
  const text = buf.toString('utf8');
  const lastNl = text.lastIndexOf('\n');
  const lines = text.slice(0, lastNl + 1).split('\n').filter((l) => l.length > 0);
  if (start > from && lines.length > 0) lines.shift(); // cut in the middle of a line
  return { lines, end: start + Buffer.byteLength(text.slice(0, lastNl + 1)) };
}

function records(lines: readonly string[]): TraceRecord[] {
  const out: TraceRecord[] = [];
  for (const l of lines) {
    const r = parseJson<TraceRecord & { notice?: string }>(l);
    if (r !== null && typeof r.notice !== 'string' && typeof r.seq === 'number') out.push(r);
  }
  return out;
}

/** The last `n` frames of a host's trace (none for a kernel host or a lab without --trace). */
export function traceTail(h: HostState, n: number): TraceLine[] {
  if (h.trace === null || h.kind !== 'vxtap') return [];
  return records(readLines(h.trace, 0, 512 * 1024).lines).slice(-n).map((r) => traceLine(h.name, r));
}

/** One etcd key as the page shows it. */
export interface EtcdRecord {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
  /** The lease id in hex (as etcdctl prints it), or null. */
  lease: string | null;
  leaseGrantedTtl: number | null;
  leaseRemainingTtl: number | null;
  /** The lab host whose record this is (by the PublicIP in the value), or null (the network config). */
  host: string | null;
}

/** Every key under flannel's prefix, with revisions and leases. */
export async function etcdRecords(sh: Shell, st: LabState): Promise<{ revision: number; records: EtcdRecord[] }> {
  const ctl = (args: string[]): Promise<{ status: number; stdout: string; stderr: string }> =>
    sh.runAsync('ip', ['netns', 'exec', st.etcd.ns, 'env', 'ETCDCTL_API=3', ETCDCTL_BIN, '--endpoints', st.etcd.endpoint, '--dial-timeout', '2s', ...args], 10_000);
  const r = await ctl(['get', '--prefix', ETCD_PREFIX, '-w', 'json']);
  if (r.status !== 0) throw new LabError('VXTAP_ERR_LAB_CMD', `etcdctl get: ${(r.stderr || r.stdout).trim()}`);
  // Lease ids can pass 2^53: read them as text.
  const doc = JSON.parse(r.stdout.replace(/"lease":(\d+)/g, '"lease":"$1"')) as {
    header?: { revision?: number };
    kvs?: { key: string; value: string; create_revision?: number; mod_revision?: number; version?: number; lease?: string }[];
  };
  const out: EtcdRecord[] = [];
  for (const kv of doc.kvs ?? []) {
    const key = Buffer.from(kv.key, 'base64').toString('utf8');
    const value = Buffer.from(kv.value, 'base64').toString('utf8');
    const lease = kv.lease !== undefined && kv.lease !== '0' ? BigInt(kv.lease).toString(16) : null;
    let granted: number | null = null;
    let remaining: number | null = null;
    if (lease !== null) {
      const t = await ctl(['lease', 'timetolive', lease]);
      const m = /granted with TTL\((-?\d+)s\), remaining\((-?\d+)s\)/.exec(t.stdout);
      if (m) { granted = Number(m[1]); remaining = Number(m[2]); }
    }
    const pub = parseJson<{ PublicIP?: unknown }>(value)?.PublicIP;
    const host = typeof pub === 'string' ? st.hosts.find((h) => h.ip === pub)?.name ?? null : null;
    out.push({
      key, value, createRevision: kv.create_revision ?? 0, modRevision: kv.mod_revision ?? 0, version: kv.version ?? 0,
      lease, leaseGrantedTtl: granted, leaseRemainingTtl: remaining, host,
    });
  }
  return { revision: doc.header?.revision ?? 0, records: out };
}

/** One ping from a container to another, and what every host's trace said of it. */
export interface PingTrace {
  from: string;
  to: string;
  fromIp: string;
  toIp: string;
  ok: boolean;
  rttMs: number | null;
  /** The ping's frames on every traced host, in time order: ARP, the echo request, the reply. */
  steps: TraceLine[];
  /** Hosts on the path that keep no trace (kernel vxlan): the page draws them without decisions. */
  untraced: string[];
}

/**
 * Pings once from `from`'s container to `to`'s, then collects the new trace
 * records of every vxtap host that are ICMP between the two containers, or
 * ARP. The daemons write their trace as frames pass; the records are read
 * until two reads in a row find nothing new (or 3 s pass).
 */
export async function pingTrace(sh: Shell, st: LabState, fromName: string, toName: string): Promise<PingTrace> {
  const a = hostOf(st, fromName);
  const b = hostOf(st, toName);
  if (a === b) throw new LabError('VXTAP_ERR_LAB_HOST', 'ping: pick two different hosts');
  if (a.containerIp === null || b.containerIp === null) throw new LabError('VXTAP_ERR_LAB_HOST', `ping: ${a.containerIp === null ? a.name : b.name} has no container`);
  const traced = st.hosts.filter((h) => h.kind === 'vxtap' && h.trace !== null);
  const offsets = new Map(traced.map((h) => [h.name, fileSize(h.trace!)]));
  const r = await sh.runAsync('ip', ['netns', 'exec', a.containerNs, 'ping', '-n', '-c', '1', '-W', '2', b.containerIp], 10_000);
  const rtt = /time=([\d.]+) ms/.exec(r.stdout);
  const ok = r.status === 0 && /1 received/.test(r.stdout);
  const ips = new Set([a.containerIp, b.containerIp]);
  const collect = (): TraceLine[] => {
    const steps: TraceLine[] = [];
    for (const h of traced) {
      for (const rec of records(readLines(h.trace!, offsets.get(h.name)!).lines)) {
        const s = subjectOf(rec);
        const icmp = s.protos.has('icmp') && [...ips].every((ip) => s.hosts.has(ip));
        if (icmp || s.protos.has('arp')) steps.push(traceLine(h.name, rec));
      }
    }
    return steps.sort((x, y) => x.tsUs - y.tsUs || x.host.localeCompare(y.host));
  };
  let steps = collect();
  const end = Date.now() + 3000;
  let quiet = 0;
  while (quiet < 2 && Date.now() < end) {
    await new Promise((res) => setTimeout(res, 150));
    const again = collect();
    quiet = again.length === steps.length ? quiet + 1 : 0;
    steps = again;
  }
  const untraced = [a, b].filter((h) => !(h.kind === 'vxtap' && h.trace !== null)).map((h) => h.name);
  return { from: a.name, to: b.name, fromIp: a.containerIp, toIp: b.containerIp, ok, rttMs: rtt ? Number(rtt[1]) : null, steps, untraced };
}

function fileSize(path: string): number {
  try { return statSync(path).size; } catch { return 0; }
}
