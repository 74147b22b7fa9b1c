/**
 * `vxtap lab status`: each host's subnet, VTEP MAC, public IP, and whether
 * its part runs (the vxtap daemon's process; the kernel host's vxlan device)
 * and holds its lease in etcd. A table, or `--json`.
 */
import { LabError } from './errors';
import { scopeFlags } from './plan';
import { isOurs } from './procs';
import type { Say } from './say';
import { listNamespaces, type Shell } from './shell';
import type { LabState } from './state';
import { leasesIn, type LeaseRow } from './vxtap';
import { formatTable } from '../cli/table';

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
  /** The lease etcd holds for this host's subnet (null: none, or etcd not reachable). */
  lease: { subnet: string; publicIp: string | null; vtepMac: string | null; expiresInSeconds: number | null } | null;
  healthy: boolean;
}

export interface LabStatus {
  prefix: string;
  stateDir: string;
  phase: LabState['phase'];
  network: string;
  vni: number;
  port: number;
  underlay: string;
  etcd: { ns: string; endpoint: string; pid: number | null; running: boolean };
  hosts: HostStatus[];
  healthy: boolean;
  problems: string[];
}

export async function collectStatus(st: LabState, sh: Shell): Promise<LabStatus> {
  const problems: string[] = [];
  const namespaces = new Set(listNamespaces(sh));
  const etcdRunning = isOurs(st.etcd.pid, `${st.stateDir}/`);
  if (!etcdRunning) problems.push('etcd is not running');
  let leases: LeaseRow[] | null = null;
  if (etcdRunning) {
    try {
      leases = await leasesIn(sh, st.etcd.ns, st.etcd.endpoint);
    } catch (err) {
      problems.push(`etcd did not answer: ${(err as Error).message}`);
    }
  }
  if (st.phase !== 'up') problems.push('`lab up` did not finish (state: building)');
  const hosts = st.hosts.map((h): HostStatus => {
    const nsThere = namespaces.has(h.ns);
    const running = h.kind === 'vxtap'
      ? isOurs(h.pid, `${st.stateDir}/`)
      : nsThere && sh.tryRun('ip', ['-n', h.ns, 'link', 'show', st.vxlanDev]).status === 0;
    const l = leases?.find((x) => x.subnet !== null && x.subnet === h.subnet) ?? null;
    const lease = l === null ? null : { subnet: l.subnet!, publicIp: l.publicIp, vtepMac: l.vtepMac, expiresInSeconds: l.expiresInSeconds };
    let healthy = running && h.subnet !== null;
    if (!nsThere) problems.push(`${h.name}: namespace ${h.ns} is gone`);
    else if (!running) problems.push(h.kind === 'vxtap' ? `${h.name}: the vxtap daemon is not running (log: ${h.log ?? '-'})` : `${h.name}: no ${st.vxlanDev} device`);
    if (leases !== null && h.subnet !== null) {
      if (lease === null) { healthy = false; problems.push(`${h.name}: no lease for ${h.subnet} in etcd`); }
      else if (lease.publicIp !== h.ip) { healthy = false; problems.push(`${h.name}: the lease of ${h.subnet} names ${lease.publicIp}, not ${h.ip}`); }
    }
    if (h.containerIp === null || !namespaces.has(h.containerNs)) healthy = false;
    return {
      name: h.name, kind: h.kind, ns: h.ns, publicIp: h.ip, subnet: h.subnet, vtepMac: lease?.vtepMac ?? h.vtepMac,
      container: h.containerNs, containerIp: h.containerIp, running, pid: h.kind === 'vxtap' ? h.pid : null, lease, healthy,
    };
  });
  return {
    prefix: st.prefix, stateDir: st.stateDir, phase: st.phase,
    network: st.options.network, vni: st.options.vni, port: st.options.port, underlay: st.options.underlay,
    etcd: { ns: st.etcd.ns, endpoint: st.etcd.endpoint, pid: st.etcd.pid, running: etcdRunning },
    hosts,
    healthy: problems.length === 0 && hosts.every((h) => h.healthy),
    problems,
  };
}

export function renderStatus(s: LabStatus, say: Say): string {
  const lines: string[] = [];
  lines.push(`overlay ${s.network}, VNI ${s.vni}, UDP port ${s.port}; underlay ${s.underlay}; prefix ${s.prefix}; state ${s.stateDir}`);
  lines.push(`etcd    ${s.etcd.endpoint} in ${s.etcd.ns}: ${s.etcd.running ? say.green(`running (pid ${s.etcd.pid})`) : say.red('not running')}`);
  lines.push('');
  const rows = s.hosts.map((h) => [
    h.name,
    h.kind === 'vxtap' ? 'vxtap' : 'kernel vxlan',
    h.publicIp,
    h.subnet ?? '-',
    h.vtepMac ?? '-',
    h.containerIp === null ? '-' : `${h.containerIp} (${h.container})`,
    h.kind === 'vxtap' ? (h.running ? `up, pid ${h.pid}` : 'DOWN') : (h.running ? 'device up' : 'DOWN'),
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
