/**
 * The lab's etcd: Debian's etcd-server in its own namespace on the underlay,
 * a one-member cluster with its data dir in the lab's state dir. It listens
 * on its underlay address (for the hosts) and on 127.0.0.1 inside its
 * namespace, so a reader can look with a bare etcdctl:
 *
 *   ip netns exec vxlab-etcd etcdctl get --prefix /coreos.com/network
 */
import { join } from 'node:path';
import { LabError } from './errors';
import { ETCD_BIN, ETCDCTL_BIN } from './prereq';
import { alive, sleep, spawnDetached, tailFile } from './procs';
import type { Shell } from './shell';

export interface EtcdPlace {
  readonly ns: string;
  readonly ip: string;
  readonly endpoint: string;
  readonly peerUrl: string;
}

/** Starts etcd (detached) and returns its pid; `waitEtcd` waits until it answers. */
export function startEtcd(sh: Shell, place: EtcdPlace, dataDir: string, log: string): number {
  const clients = `${place.endpoint},http://127.0.0.1:2379`;
  const args = [
    '--name', 'lab',
    '--data-dir', dataDir,
    '--listen-client-urls', clients, '--advertise-client-urls', place.endpoint,
    '--listen-peer-urls', place.peerUrl, '--initial-advertise-peer-urls', place.peerUrl,
    '--initial-cluster', `lab=${place.peerUrl}`,
    '--initial-cluster-state', 'new',
    '--logger', 'zap', '--log-outputs', 'stderr',
  ];
  sh.show('ip', ['netns', 'exec', place.ns, ETCD_BIN, ...args]);
  return spawnDetached(place.ns, ETCD_BIN, args, log, log);
}

/** etcdctl against the lab's etcd, run in its namespace. */
export function etcdctl(sh: Shell, place: EtcdPlace, args: readonly string[], quiet = false): string {
  return sh.run('ip', ['netns', 'exec', place.ns, 'env', 'ETCDCTL_API=3', ETCDCTL_BIN, '--endpoints', place.endpoint, '--dial-timeout', '2s', ...args], { quiet });
}

/** Waits until etcd answers `endpoint health`; fails with its log when it exits or takes over `timeoutMs`. */
export async function waitEtcd(sh: Shell, place: EtcdPlace, pid: number, log: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (!alive(pid)) throw new LabError('VXTAP_ERR_LAB_START', `etcd exited at start; the end of ${log}:\n${tailFile(log)}`);
    const r = await sh.runAsync('ip', ['netns', 'exec', place.ns, 'env', 'ETCDCTL_API=3', ETCDCTL_BIN, '--endpoints', place.endpoint, '--dial-timeout', '1s', 'endpoint', 'health'], 5000);
    if (r.status === 0) return;
    if (Date.now() > end) throw new LabError('VXTAP_ERR_LAB_START', `etcd did not answer within ${timeoutMs / 1000} s; the end of ${log}:\n${tailFile(log)}`);
    await sleep(200);
  }
}

/** Puts a key on a fresh etcd lease of `ttl` seconds (as flannel's hosts hold their subnets). */
export function putWithLease(sh: Shell, place: EtcdPlace, key: string, value: string, ttl: number): void {
  const out = etcdctl(sh, place, ['lease', 'grant', String(ttl)]);
  const m = /lease ([0-9a-f]+) granted/.exec(out);
  if (!m) throw new LabError('VXTAP_ERR_LAB_CMD', `etcdctl lease grant: unexpected output ${JSON.stringify(out)}`);
  etcdctl(sh, place, ['put', `--lease=${m[1]}`, key, value]);
}

export function etcdDataDir(stateDir: string): string {
  return join(stateDir, 'etcd-data');
}

/** flannel's etcd prefix, which the lab's daemons use (their default). */
export const ETCD_PREFIX = '/coreos.com/network';

/** A VTEP's key in the L2 layout, `<prefix>/l2/<vni>/vteps/<ip>`, as `lab status` shows it. */
export interface VtepKeyRow {
  key: string;
  publicIp: string | null;
  port: number | null;
  vtepMac: string | null;
  /** Seconds left on the key's lease; null without a lease (or when etcd did not say). */
  expiresInSeconds: number | null;
}

/** Every VTEP key of segment `vni` (L2 mode), with its lease's time left. */
export async function vtepKeysIn(sh: Shell, place: EtcdPlace, vni: number): Promise<VtepKeyRow[]> {
  const ctl = (args: string[]): Promise<{ status: number; stdout: string; stderr: string }> =>
    sh.runAsync('ip', ['netns', 'exec', place.ns, 'env', 'ETCDCTL_API=3', ETCDCTL_BIN, '--endpoints', place.endpoint, '--dial-timeout', '2s', ...args], 10_000);
  const r = await ctl(['get', '--prefix', `${ETCD_PREFIX}/l2/${vni}/vteps/`, '-w', 'json']);
  if (r.status !== 0) throw new LabError('VXTAP_ERR_LAB_CMD', `etcdctl get: ${(r.stderr || r.stdout).trim()}`);
  // etcdctl's JSON: keys and values in base64, the lease id as a decimal number (which can pass 2^53: read it as text).
  const text = r.stdout.replace(/"lease":(\d+)/g, '"lease":"$1"');
  const doc = JSON.parse(text) as { kvs?: { key: string; value: string; lease?: string }[] };
  const rows: VtepKeyRow[] = [];
  for (const kv of doc.kvs ?? []) {
    const key = Buffer.from(kv.key, 'base64').toString('utf8');
    let v: { PublicIP?: unknown; Port?: unknown; VtepMAC?: unknown } = {};
    try { v = JSON.parse(Buffer.from(kv.value, 'base64').toString('utf8')) as typeof v; } catch { /* shown as nulls */ }
    let expiresInSeconds: number | null = null;
    if (kv.lease !== undefined && kv.lease !== '0') {
      const t = await ctl(['lease', 'timetolive', BigInt(kv.lease).toString(16)]);
      const m = /remaining\((-?\d+)s\)/.exec(t.stdout);
      if (m) expiresInSeconds = Number(m[1]);
    }
    rows.push({
      key,
      publicIp: typeof v.PublicIP === 'string' ? v.PublicIP : null,
      port: typeof v.Port === 'number' ? v.Port : null,
      vtepMac: typeof v.VtepMAC === 'string' ? v.VtepMAC : null,
      expiresInSeconds,
    });
  }
  return rows;
}
