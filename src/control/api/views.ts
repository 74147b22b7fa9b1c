/**
 * What the control API shows, built from the node's live state at the moment
 * of the request: the tables as the switch holds them, the peers as the
 * installer holds them, the counters as they stand.
 */
import type { ArpTable } from '../../switch/arp-table';
import type { Counters } from '../../switch/counters';
import type { Fdb } from '../../switch/fdb';
import { cidrContains, formatCidr, formatIpv4, parseCidr, parseIpv4 } from '../../wire/addr';
import { RTPROT_VXTAP } from '../kernel';
import type { Peer } from '../peers';
import type { ArpRow, FdbRow, OffloadState, PeerRow, StatsData } from './protocol';
import type { ExplainData, ExplainRequest } from './explain';

/**
 * The part of a running node the API reads (cli/node.ts RunningNode has it);
 * tests pass a fake.
 */
export interface Inspectable {
  readonly sw: {
    readonly fdb: Pick<Fdb, 'entries' | 'describe' | 'size'>;
    readonly arp: Pick<ArpTable, 'list' | 'size'>;
    readonly counters: Pick<Counters, 'snapshot'>;
  };
  readonly installer: {
    readonly peers: readonly Peer[];
    readonly failed: ReadonlyMap<string, string>;
    /** Peer routes refused because a route vxtap did not install held the destination. */
    readonly routeConflicts: number;
  };
  readonly tapName: string;
  /** L2 mode: the ARP suppression table (absent in routed mode, or with --no-arp-suppress). */
  readonly l2Arp?: () => readonly { ip: string; mac: string; kind: 'static' | 'learned'; updatedAt: number }[];
  /** L2 mode: the flood list (absent in routed mode). */
  readonly vteps?: () => readonly { readonly publicIp: string; readonly port: number; readonly vtepMac: string | null }[];
  /** `explain`: a made-up frame through the pipeline in a dry run (api/explain.ts); absent: not offered. */
  readonly explain?: (req: ExplainRequest) => Promise<ExplainData>;
  /** The node's stats for logs; the API takes the ports' counters from it (`tapPort`, `udpPort`). */
  stats(): Record<string, unknown>;
}

/** Facts fixed when the node came up. */
export interface DaemonInfo {
  readonly vni: number;
  readonly port: number;
  readonly subnet: string;
  readonly publicIp: string;
  readonly vtepMac: string;
  readonly io: string;
}

/** The FDB, then (L2 mode) the flood list as `bridge fdb` shows it: one all-zeros row per VTEP. */
export function fdbRows(node: Inspectable, now: number): FdbRow[] {
  const rows: FdbRow[] = [...node.sw.fdb.entries()].map((e) => {
    const d = node.sw.fdb.describe(e);
    return { mac: d.mac, vtep: d.vtep, port: d.port, kind: d.kind, ageSeconds: Math.max(0, Math.floor((now - d.updatedAt) / 1000)) };
  });
  for (const v of node.vteps?.() ?? []) rows.push({ mac: '00:00:00:00:00:00', vtep: v.publicIp, port: v.port, kind: 'flood', ageSeconds: 0 });
  return rows;
}

export function arpRows(node: Inspectable, now = Date.now()): ArpRow[] {
  // L2 mode: the suppression table, each entry with the VTEP its MAC is behind.
  if (node.l2Arp !== undefined) {
    const behind = new Map<string, string>();
    for (const e of node.sw.fdb.entries()) { const d = node.sw.fdb.describe(e); behind.set(d.mac, d.vtep); }
    return node.l2Arp().map((e) => ({ ip: e.ip, mac: e.mac, subnet: null, publicIp: behind.get(e.mac) ?? null, kind: e.kind, ageSeconds: Math.max(0, Math.floor((now - e.updatedAt) / 1000)) }));
  }
  const leases = node.installer.peers.map((p) => ({ p, c: parseCidr(p.subnet) }));
  return node.sw.arp.list().map(({ ip, mac }) => {
    const addr = parseIpv4(ip);
    const owner = leases.find(({ c }) => cidrContains(c, addr))?.p;
    return { ip, mac, subnet: owner?.subnet ?? null, publicIp: owner?.publicIp ?? null };
  });
}

export function peerRows(node: Inspectable): PeerRow[] {
  // L2 mode has no leases and no routes: its peers are the flood list's VTEPs.
  if (node.vteps !== undefined) {
    const vteps: PeerRow[] = node.vteps().map((v) => ({ subnet: '-', publicIp: v.publicIp, vtepMac: v.vtepMac, route: `flood list (UDP port ${v.port})`, error: null }));
    for (const [ip, error] of node.installer.failed) vteps.push({ subnet: '-', publicIp: ip, vtepMac: null, route: null, error });
    return vteps;
  }
  const rows: PeerRow[] = node.installer.peers.map((p) => {
    const c = parseCidr(p.subnet);
    return { subnet: p.subnet, publicIp: p.publicIp, vtepMac: p.vtepMac, route: `${formatCidr(c)} via ${formatIpv4(c.addr)} dev ${node.tapName} onlink`, error: null };
  });
  for (const [subnet, error] of node.installer.failed) {
    rows.push({ subnet, publicIp: null, vtepMac: null, route: null, error });
  }
  for (const r of leasesOf(node.stats())?.refused ?? []) {
    rows.push({ subnet: r.subnet, publicIp: r.publicIp, vtepMac: r.vtepMac, route: null, error: `refused (${r.reason}): ${r.detail}` });
  }
  return rows;
}

export function statsData(node: Inspectable, info: DaemonInfo, startedAt: number, now: number): StatsData {
  const s = node.stats();
  const floodList = node.vteps?.().length;
  return {
    ...(floodList !== undefined ? { mode: 'l2' as const } : { mode: 'routed' as const }),
    tap: node.tapName,
    vni: info.vni,
    port: info.port,
    // The live subnet: it changes when the lease moves (its key taken over).
    subnet: typeof s['subnet'] === 'string' ? s['subnet'] : info.subnet,
    publicIp: info.publicIp,
    vtepMac: info.vtepMac,
    io: info.io,
    pid: process.pid,
    uptimeSeconds: Math.max(0, Math.floor((now - startedAt) / 1000)),
    counters: node.sw.counters.snapshot(),
    ports: { tap: plainObject(s['tapPort']), udp: plainObject(s['udpPort']) },
    tables: { fdb: node.sw.fdb.size, arp: node.l2Arp?.().length ?? node.sw.arp.size, peers: node.installer.peers.length, ...(floodList !== undefined ? { floodList } : {}) },
    routes: { protocol: RTPROT_VXTAP, conflicts: node.installer.routeConflicts, failedPeers: node.installer.failed.size },
    offloads: offloadsOf(s),
    ...leasesStats(s),
  };
}

interface NodeLeases {
  readonly refusals: Record<string, number>;
  readonly refused: readonly { subnet: string; publicIp: string; vtepMac: string; reason: string; detail: string }[];
}

/** The guard's state as the node reports it (`leases` in its stats). */
function leasesOf(s: Record<string, unknown>): NodeLeases | undefined {
  return s['leases'] as NodeLeases | undefined;
}

function leasesStats(s: Record<string, unknown>): Pick<StatsData, 'leases'> {
  const l = leasesOf(s);
  return l === undefined ? {} : { leases: { refusals: { ...l.refusals }, refusedNow: l.refused.length } };
}

/** The offload states the node reports (`tap.offload`, `udp.offload` / `udp.sourcePorts` in its stats). */
function offloadsOf(s: Record<string, unknown>): StatsData['offloads'] {
  const tap = (s['tap'] as { offload?: OffloadState } | undefined)?.offload;
  if (tap === undefined) return undefined;
  const udp = s['udp'] as { offload: { gso: OffloadState; gro: OffloadState }; sourcePorts: { min: number; count: number } | null } | undefined;
  return { tap, udp: udp === undefined ? null : { gso: udp.offload.gso, gro: udp.offload.gro, sourcePorts: udp.sourcePorts } };
}

function plainObject(v: unknown): Record<string, unknown> | null {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? { ...(v as Record<string, unknown>) } : null;
}
