/**
 * `vxtap lab status`: each host's subnet, VTEP MAC, public IP, and whether
 * its part runs (the vxtap daemon's process; the kernel host's vxlan device)
 * and holds its lease in etcd. A table, or `--json`.
 *
 * In L2 mode there are no subnets and no leases: each host has a VTEP key in
 * etcd (`<prefix>/l2/<vni>/vteps/<ip>`) and a flood list (read from the
 * daemon, `vxtap peers`, or from the kernel device's all-zeros FDB entries),
 * and a healthy host has every other host on it.
 */
import { LabError } from './errors';
import { scopeFlags } from './plan';
import { cmdline, isOurs } from './procs';
import type { Say } from './say';
import { listNamespaces, namespacePids, type Shell } from './shell';
import type { LabState } from './state';
import { daemonJson, leasesIn, type LeaseRow, type PeerRowJson } from './vxtap';
import { vtepKeysIn, type VtepKeyRow } from './etcd';
import { modeOf, type LabMode } from './plan';
import { formatTable } from '../cli/table';
import { parseIpv4 } from '../wire/addr';

export interface HostStatus {
  name: string;
  kind: 'vxtap' | 'kernel';
  ns: string;
  publicIp: string;
  subnet: string | null;
  vtepMac: string | null;
  container: string;
  containerIp: string | null;
  /** vxtap: the daemon's pid and whether it runs; kernel: whether the vxlan device exists. */
  running: boolean;
  pid: number | null;
  /** vxtap: the running daemon is not the one `lab up` started (restarted by hand): found by its namespace. */
  restarted?: boolean;
  /** The lease etcd holds for this host's subnet (null: none, or etcd not reachable). */
  lease: { subnet: string; publicIp: string | null; vtepMac: string | null; expiresInSeconds: number | null } | null;
  /** L2 mode: the container's MAC (null in routed mode). */
  containerMac: string | null;
  /** L2 mode: this host's VTEP key in etcd (null: none, routed mode, or etcd not reachable). */
  vtepKey: VtepKeyRow | null;
  /** L2 mode: the public IPs on this host's flood list (null: routed mode, or not readable). */
  floodList: string[] | null;
  healthy: boolean;
}

export interface LabStatus {
  prefix: string;
  stateDir: string;
  phase: LabState['phase'];
  mode: LabMode;
  network: string;
  vni: number;
  port: number;
  underlay: string;
  etcd: { ns: string; endpoint: string; pid: number | null; running: boolean };
  hosts: HostStatus[];
  healthy: boolean;
  problems: string[];
}

/** The pid of a `vxtap run` in namespace `ns`, or null. */
function vxtapIn(sh: Shell, ns: string): number | null {
  for (const pid of namespacePids(sh, ns)) if (/\bvxtap(\.js)?\s+run\b/.test(cmdline(pid))) return pid;
  return null;
}

export async function collectStatus(st: LabState, sh: Shell): Promise<LabStatus> {
  const problems: string[] = [];
  const namespaces = new Set(listNamespaces(sh));
  const etcdRunning = isOurs(st.etcd.pid, `${st.stateDir}/`);
  if (!etcdRunning) problems.push('etcd is not running');
  const l2 = modeOf(st.options) === 'l2';
  let leases: LeaseRow[] | null = null;
  let keys: VtepKeyRow[] | null = null;
  if (etcdRunning) {
    try {
      if (l2) keys = await vtepKeysIn(sh, { ...st.etcd, peerUrl: '' }, st.options.vni);
      else leases = await leasesIn(sh, st.etcd.ns, st.etcd.endpoint);
    } catch (err) {
      problems.push(`etcd did not answer: ${(err as Error).message}`);
    }
  }
  const floods = l2 ? await Promise.all(st.hosts.map((h) => floodListOf(sh, st, h, namespaces.has(h.ns)))) : null;
  if (st.phase !== 'up') problems.push('`lab up` did not finish (state: building)');
  const hosts = st.hosts.map((h, i): HostStatus => {
    const nsThere = namespaces.has(h.ns);
    // A daemon restarted by hand has another pid and maybe another command line: it is the vxtap running in the host's namespace.
    const started = h.kind === 'vxtap' && isOurs(h.pid, `${st.stateDir}/`);
    const byHand = h.kind === 'vxtap' && !started && nsThere ? vxtapIn(sh, h.ns) : null;
    const running = h.kind === 'vxtap'
      ? started || byHand !== null
      : nsThere && sh.tryRun('ip', ['-n', h.ns, 'link', 'show', st.vxlanDev]).status === 0;
    const l = leases?.find((x) => x.subnet !== null && x.subnet === h.subnet) ?? null;
    const lease = l === null ? null : { subnet: l.subnet!, publicIp: l.publicIp, vtepMac: l.vtepMac, expiresInSeconds: l.expiresInSeconds };
    let healthy = running && (l2 || h.subnet !== null);
    if (!nsThere) problems.push(`${h.name}: namespace ${h.ns} is gone`);
    else if (!running) problems.push(h.kind === 'vxtap' ? `${h.name}: the vxtap daemon is not running (log: ${h.log ?? '-'})` : `${h.name}: no ${st.vxlanDev} device`);
    if (leases !== null && h.subnet !== null) {
      if (lease === null) { healthy = false; problems.push(`${h.name}: no lease for ${h.subnet} in etcd`); }
      else if (lease.publicIp !== h.ip) { healthy = false; problems.push(`${h.name}: the lease of ${h.subnet} names ${lease.publicIp}, not ${h.ip}`); }
    }
    const vtepKey = keys?.find((k) => k.key.endsWith(`/${h.ip}`)) ?? null;
    const floodList = floods?.[i] ?? null;
    if (keys !== null && h.vtepMac !== null) {
      if (vtepKey === null) { healthy = false; problems.push(`${h.name}: no VTEP key for ${h.ip} in etcd`); }
      else if (vtepKey.vtepMac !== h.vtepMac) { healthy = false; problems.push(`${h.name}: its VTEP key names MAC ${vtepKey.vtepMac}, not ${h.vtepMac}`); }
    }
    if (l2 && running) {
      const missing = st.hosts.filter((o) => o !== h && !(floodList ?? []).includes(o.ip)).map((o) => o.name);
      if (floodList === null) { healthy = false; problems.push(`${h.name}: its flood list could not be read`); }
      else if (missing.length > 0) { healthy = false; problems.push(`${h.name}: ${missing.join(', ')} not on its flood list`); }
    }
    if (h.containerIp === null || !namespaces.has(h.containerNs)) healthy = false;
    return {
      name: h.name, kind: h.kind, ns: h.ns, publicIp: h.ip, subnet: h.subnet, vtepMac: lease?.vtepMac ?? h.vtepMac,
      container: h.containerNs, containerIp: h.containerIp, running, pid: h.kind === 'vxtap' ? byHand ?? h.pid : null, lease,
      ...(byHand !== null ? { restarted: true } : {}),
      containerMac: h.containerMac ?? null, vtepKey, floodList, healthy,
    };
  });
  return {
    prefix: st.prefix, stateDir: st.stateDir, phase: st.phase, mode: l2 ? 'l2' : 'routed',
    network: st.options.network, vni: st.options.vni, port: st.options.port, underlay: st.options.underlay,
    etcd: { ns: st.etcd.ns, endpoint: st.etcd.endpoint, pid: st.etcd.pid, running: etcdRunning },
    hosts,
    healthy: problems.length === 0 && hosts.every((h) => h.healthy),
    problems,
  };
}

/** A host's flood list: the daemon's (`vxtap peers`), or the kernel device's all-zeros FDB entries. */
async function floodListOf(sh: Shell, st: LabState, h: LabState['hosts'][number], nsThere: boolean): Promise<string[] | null> {
  if (!nsThere) return null;
  if (h.kind === 'vxtap') {
    try {
      return (await daemonJson<PeerRowJson[]>(sh, h.ns, 'peers', h.socket ?? null)).filter((r) => r.error === null).map((r) => r.publicIp);
    } catch {
      return null;
    }
  }
  const r = sh.tryRun('bridge', ['-n', h.ns, '-j', 'fdb', 'show', 'dev', st.vxlanDev]);
  if (r.status !== 0) return null;
  try {
    return (JSON.parse(r.stdout) as { mac: string; dst?: string }[]).filter((e) => e.mac === '00:00:00:00:00:00' && e.dst !== undefined).map((e) => e.dst!);
  } catch {
    return null;
  }
}

export function renderStatus(s: LabStatus, say: Say): string {
  const lines: string[] = [];
  if (s.mode === 'l2') {
    lines.push(`L2 segment: every container on ${s.network}; VNI ${s.vni}, UDP port ${s.port}; underlay ${s.underlay}; prefix ${s.prefix}; state ${s.stateDir}`);
  } else {
    lines.push(`overlay ${s.network}, VNI ${s.vni}, UDP port ${s.port}; underlay ${s.underlay}; prefix ${s.prefix}; state ${s.stateDir}`);
  }
  lines.push(`etcd    ${s.etcd.endpoint} in ${s.etcd.ns}: ${s.etcd.running ? say.green(`running (pid ${s.etcd.pid})`) : say.red('not running')}`);
  lines.push('');
  if (s.mode === 'l2') {
    const rows = s.hosts.map((h) => [
      h.name,
      h.kind === 'vxtap' ? 'vxtap --mode l2' : 'kernel vxlan (L2)',
      h.publicIp,
      h.vtepMac ?? '-',
      h.containerIp === null ? '-' : `${h.containerIp} (${h.container})`,
      h.containerMac ?? '-',
      h.kind === 'vxtap' ? (h.running ? `up, pid ${h.pid}${h.restarted === true ? ' (restarted by hand)' : ''}` : 'DOWN') : (h.running ? 'device up' : 'DOWN'),
      h.floodList === null ? '?' : h.floodList.length === 0 ? '(empty)' : [...h.floodList].sort((a, b) => parseIpv4(a) - parseIpv4(b)).join(' '),
      h.vtepKey === null ? (s.etcd.running ? 'MISSING' : '?') : h.vtepKey.expiresInSeconds === null ? 'held' : `held, ${formatTtl(h.vtepKey.expiresInSeconds)} left`,
    ]);
    lines.push(formatTable(['HOST', 'RUNS', 'PUBLIC IP', 'VTEP MAC', 'CONTAINER', 'CONTAINER MAC', 'DAEMON', 'FLOOD LIST', 'VTEP KEY IN ETCD'], rows).trimEnd());
    for (const p of s.problems) lines.push(say.red(`problem: ${p}`));
    return lines.join('\n') + '\n';
  }
  const rows = s.hosts.map((h) => [
    h.name,
    h.kind === 'vxtap' ? 'vxtap' : 'kernel vxlan',
    h.publicIp,
    h.subnet ?? '-',
    h.vtepMac ?? '-',
    h.containerIp === null ? '-' : `${h.containerIp} (${h.container})`,
    h.kind === 'vxtap' ? (h.running ? `up, pid ${h.pid}${h.restarted === true ? ' (restarted by hand)' : ''}` : 'DOWN') : (h.running ? 'device up' : 'DOWN'),
    h.lease === null ? (s.etcd.running ? 'MISSING' : '?') : h.lease.expiresInSeconds === null ? 'held' : `held, ${formatTtl(h.lease.expiresInSeconds)} left`,
  ]);
  lines.push(formatTable(['HOST', 'RUNS', 'PUBLIC IP', 'SUBNET', 'VTEP MAC', 'CONTAINER', 'DAEMON', 'LEASE IN ETCD'], rows).trimEnd());
  for (const p of s.problems) lines.push(say.red(`problem: ${p}`));
  return lines.join('\n') + '\n';
}

function formatTtl(s: number): string {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(s % 60).padStart(2, '0')}s`;
}

/** `vxtap lab status`: prints, and fails (exit 1) when a part is down. */
export async function labStatus(st: LabState, sh: Shell, say: Say, out: NodeJS.WritableStream, json: boolean): Promise<void> {
  const s = await collectStatus(st, sh);
  out.write(json ? JSON.stringify(s, null, 2) + '\n' : renderStatus(s, say));
  if (!s.healthy) {
    throw new LabError('VXTAP_ERR_LAB_UNHEALTHY', `the lab is not healthy: ${s.problems.join('; ') || 'a host is incomplete'}; \`npx vxtap lab down${scopeFlags({ prefix: st.prefix, stateDir: st.stateDir })}\` then \`npx vxtap lab up\` starts afresh`);
  }
}
