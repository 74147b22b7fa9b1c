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
