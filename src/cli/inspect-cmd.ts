/**
 * `vxtap fdb|arp|peers|stats`: a running daemon's tables and counters, read
 * over its control socket (control/api). The user-space counterparts of
 * `bridge fdb show dev flannel.1` and `ip neigh show dev flannel.1`: vxtap
 * keeps these tables in the daemon, not in the kernel, so the kernel's tools
 * cannot show them.
 *
 * Which daemon: --control-socket PATH, else --tap NAME, else the only socket
 * in this network namespace's directory (/run/vxtap on the host).
 * A table for people by default; --json prints the API's data as is.
 */
import type { Command } from 'commander';
import { request } from '../control/api/client';
import { resolveSocket } from '../control/api/paths';
import { COMMANDS, type ArpRow, type ControlCommand, type DataOf, type FdbRow, type PeerRow, type StatsData } from '../control/api/protocol';
import { DROP_NAMES } from '../switch/counters';
import { formatTable } from './table';

interface InspectFlags {
  json?: boolean;
  tap?: string;
  controlSocket?: string;
}

/** The table commands (explain has its own: explain-cmd.ts). */
type InspectCommand = Exclude<ControlCommand, 'explain'>;

const ABOUT: Record<InspectCommand, string> = {
  fdb: 'the daemon\'s forwarding database: MAC -> VTEP (the user-space `bridge fdb show`)',
  arp: 'the daemon\'s ARP table: overlay IP -> MAC, with the peer it belongs to (the user-space `ip neigh show`)',
  peers: 'the remote hosts the daemon has installed: subnet, public IP, VTEP MAC, route',
  stats: 'the daemon\'s counters: frames and bytes each way, drops by reason, ports; and who it is',
};

export function registerInspectCommands(program: Command): void {
  for (const cmd of COMMANDS) {
    if (cmd === 'explain') continue;
    program.command(cmd)
      .description(ABOUT[cmd])
      .option('--json', 'as JSON (stable field names), for tools')
      .option('--tap <name>', 'the daemon of this TAP (default: the only daemon in this network namespace)')
      .option('--control-socket <path>', 'the daemon\'s control socket (default: /run/vxtap/<tap>.sock; /run/vxtap/netns/<netns>/<tap>.sock in a named network namespace)')
      .action(async (o: InspectFlags) => inspect(cmd, o, process.stdout));
  }
}

export async function inspect(cmd: InspectCommand, o: InspectFlags, out: NodeJS.WritableStream): Promise<void> {
  const path = resolveSocket({
    ...(o.controlSocket !== undefined ? { controlSocket: o.controlSocket } : {}),
    ...(o.tap !== undefined ? { tap: o.tap } : {}),
  });
  const data = await request(path, cmd);
  out.write(o.json ? JSON.stringify(data, null, 2) + '\n' : format(cmd, data));
}

function format<C extends InspectCommand>(cmd: C, data: DataOf[C]): string {
  switch (cmd) {
    case 'fdb': return formatFdb(data as FdbRow[]);
    case 'arp': return formatArp(data as ArpRow[]);
    case 'peers': return formatPeers(data as PeerRow[]);
    default: return formatStats(data as StatsData);
  }
}

export function formatFdb(rows: readonly FdbRow[]): string {
  return formatTable(['MAC', 'VTEP', 'PORT', 'KIND', 'AGE'],
    rows.map((r) => [r.mac, r.vtep, String(r.port), r.kind, formatAge(r.ageSeconds)]));
}

export function formatArp(rows: readonly ArpRow[]): string {
  if (rows.some((r) => r.kind !== undefined)) {
    // L2 mode: the ARP suppression table.
    return formatTable(['IP', 'MAC', 'BEHIND VTEP', 'KIND', 'AGE'],
      rows.map((r) => [r.ip, r.mac, r.publicIp ?? '-', r.kind ?? '-', r.kind === 'static' ? '-' : formatAge(r.ageSeconds ?? 0)]));
  }
  return formatTable(['IP', 'MAC', 'LEASE', 'HOST'],
    rows.map((r) => [r.ip, r.mac, r.subnet ?? '-', r.publicIp ?? '-']));
}

export function formatPeers(rows: readonly PeerRow[]): string {
  return formatTable(['SUBNET', 'PUBLIC IP', 'VTEP MAC', 'ROUTE'],
    rows.map((r) => [r.subnet, r.publicIp ?? '-', r.vtepMac ?? '-', r.route ?? `not installed: ${r.error ?? '?'}`]));
}

/**
 *   vxtap.42  VNI 42  UDP port 4789  io batch  pid 311  up 2m05s
 *     subnet 10.44.1.0/24  public IP 192.168.90.1  VTEP MAC 02:76:c0:a8:5a:01
 *     1 peer, 1 FDB entry, 1 ARP entry
 *
 *   traffic              frames     bytes
 *     encap TAP->VXLAN       12      1176
 *   ...
 *   drops (total 1)
 *     vxlan-unknown-vni       1
 */
export function formatStats(s: StatsData): string {
  const c = s.counters;
  const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;
  const lines = [
    `${s.tap}  VNI ${s.vni}  UDP port ${s.port}  io ${s.io}  pid ${s.pid}  up ${formatAge(s.uptimeSeconds)}`,
    s.mode === 'l2'
      ? `  L2 mode  public IP ${s.publicIp}  VTEP MAC ${s.vtepMac}`
      : `  subnet ${s.subnet}  public IP ${s.publicIp}  VTEP MAC ${s.vtepMac}`,
    s.mode === 'l2'
      ? `  ${plural(s.tables.floodList ?? 0, 'VTEP', 'VTEPs')} in the flood list, ${plural(s.tables.fdb, 'FDB entry', 'FDB entries')}, ${plural(s.tables.arp, 'ARP entry', 'ARP entries')}`
      : `  ${plural(s.tables.peers, 'peer', 'peers')}, ${plural(s.tables.fdb, 'FDB entry', 'FDB entries')}, ${plural(s.tables.arp, 'ARP entry', 'ARP entries')}`,
  ];
  if (s.routes !== undefined && s.mode !== 'l2') {
    lines.push(`  routes: proto ${s.routes.protocol}, ${plural(s.routes.conflicts, 'route conflict', 'route conflicts')}, ${plural(s.routes.failedPeers, 'peer', 'peers')} not installed`);
  }
  if (s.offloads !== undefined) lines.push(`  offloads: ${formatOffloads(s.offloads)}`);
  lines.push('');
  const block = (title: string, header: readonly string[], rows: string[][]): void => {
    const t = formatTable([title, ...header], rows.map(([k, ...v]) => [`  ${k!}`, ...v])).trimEnd();
    lines.push(t, '');
  };
  block('traffic', ['frames', 'bytes', 'batches'], [
    ['encap TAP -> VXLAN', String(c.encapFrames), String(c.encapBytes), '-'],
    ['decap VXLAN -> TAP', String(c.decapFrames), String(c.decapBytes), '-'],
    ['read from TAP', String(c.tapInFrames), '-', String(c.tapBatches)],
    ['received from UDP', String(c.netInFrames), '-', String(c.netBatches)],
    ['ARP answered', String(c.arpAnswered), '-', '-'],
  ]);
  if (s.mode === 'l2' && c.l2 !== undefined) {
    const l = c.l2;
    block('L2 switching', ['count'], [
      ['MACs learned', String(l.learned)],
      ['MACs moved', String(l.moved)],
      ['MACs aged out', String(l.aged)],
      ['MACs refused (FDB full)', String(l.fdbRefused)],
      ['frames flooded', String(l.floodedFrames)],
      ['copies sent (head-end replication)', String(l.floodCopies)],
      ['ARP suppressed', String(l.arpSuppressed)],
    ]);
  }
  // Every reason, in the counters' order (known ones first, then any the daemon adds).
  const names = [...DROP_NAMES.filter((n) => n in c.drops), ...Object.keys(c.drops).filter((n) => !DROP_NAMES.includes(n))];
  const total = names.reduce((sum, n) => sum + (c.drops[n] ?? 0), 0);
  block(`drops (total ${total})`, ['frames'], names.map((n) => [n, String(c.drops[n] ?? 0)]));
  if (s.leases !== undefined) {
    const r = s.leases.refusals;
    const refusedTotal = Object.values(r).reduce((a, b) => a + b, 0);
    block(`leases refused (total ${refusedTotal}, ${s.leases.refusedNow} now)`, ['leases'], Object.keys(r).map((n) => [n, String(r[n])]));
  }
  const portRows: string[][] = [];
  for (const [label, p] of [[`TAP ${s.tap}`, s.ports.tap], [`UDP ${s.port}`, s.ports.udp]] as const) {
    if (p === null) continue;
    portRows.push([label, Object.entries(p).map(([k, v]) => `${k} ${formatValue(v)}`).join('  ')]);
  }
  if (portRows.length > 0) block('ports', [''], portRows);
  return lines.join('\n').trimEnd() + '\n';
}

/** "TAP on (TUN_F_CSUM|TUN_F_TSO4|TUN_F_TSO6), UDP GSO on (source ports 49280-49343), UDP GRO on". */
export function formatOffloads(o: NonNullable<StatsData['offloads']>): string {
  const state = (name: string, x: { enabled: boolean; reason: string }, on: string): string =>
    x.enabled ? `${name} on${on === '' ? '' : ` (${on})`}` : `${name} off (${x.reason})`;
  const parts = [state('TAP', o.tap, o.tap.reason.replace(/^on: /, ''))];
  if (o.udp !== null) {
    const ports = o.udp.sourcePorts;
    parts.push(state('UDP GSO', o.udp.gso, ports === null ? '' : `source ports ${ports.min}-${ports.min + ports.count - 1}`));
    parts.push(state('UDP GRO', o.udp.gro, ''));
  }
  return parts.join(', ');
}

function formatValue(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** 42s, 3m07s, 2h05m, 3d04h. */
export function formatAge(s: number): string {
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor((s % 86400) / 3600)).padStart(2, '0')}h`;
}
