/**
 * vxtap as the lab uses it: the daemon in each host (`vxtap run`), and the
 * operator commands (`vxtap network init`, `vxtap leases`) run inside a lab
 * namespace, since etcd is reachable on the underlay only.
 */
import { join } from 'node:path';
import { readSubnetFile } from '../control/etcd/subnet-file';
import { LabError } from './errors';
import { alive, sleep, spawnDetached, tailFile, VXTAP_BIN } from './procs';
import type { Shell } from './shell';
import { readFileSync } from 'node:fs';

export interface DaemonFiles {
  readonly log: string;
  readonly trace: string | null;
  /** vxtap run --pcap: both sides of the switch, for Wireshark or tshark. */
  readonly pcap: string | null;
  readonly subnetFile: string;
  /** L2 mode: the daemon's control socket (vxtap fdb|arp|peers|stats --control-socket PATH). */
  readonly socket: string;
}

export function daemonFiles(stateDir: string, host: string, trace: boolean, pcap = false): DaemonFiles {
  return {
    log: join(stateDir, `${host}.log`),
    trace: trace ? join(stateDir, `${host}.trace.jsonl`) : null,
    pcap: pcap ? join(stateDir, `${host}.pcapng`) : null,
    subnetFile: join(stateDir, `${host}.subnet.env`),
    socket: join(stateDir, `${host}.sock`),
  };
}

/**
 * The `vxtap run` arguments of a lab host (shown to the reader, then run).
 * With `l2` (the bridge's name): L2 mode, the TAP a port of that bridge; no
 * subnet file, since an L2 host leases no subnet. Its control socket goes to
 * the state dir instead, which also names the state dir on the daemon's
 * command line, as the subnet file does in routed mode: that is how `lab
 * status` and `lab down` tell the lab's daemons from others (procs.isOurs).
 */
export function daemonArgs(endpoint: string, files: DaemonFiles, l2: { bridge: string } | null = null): string[] {
  return [
    'run',
    ...(l2 !== null ? ['--mode', 'l2', '--bridge', l2.bridge] : []),
    '--etcd-endpoints', endpoint,
    ...(l2 === null ? ['--subnet-file', files.subnetFile] : ['--control-socket', files.socket]),
    ...(files.trace !== null ? ['--trace', '--trace-format', 'json'] : []),
    ...(files.pcap !== null ? ['--pcap', files.pcap] : []),
    '--log-format', 'pretty',
  ];
}

/**
 * Starts the daemon: with --trace, the trace (JSON, a frame a line) is its
 * stdout and goes to the trace file, the log to the log file.
 */
export function startDaemon(sh: Shell, ns: string, endpoint: string, files: DaemonFiles, l2: { bridge: string } | null = null): number {
  const args = [VXTAP_BIN, ...daemonArgs(endpoint, files, l2)];
  sh.show('ip', ['netns', 'exec', ns, process.execPath, ...args]);
  return spawnDetached(ns, process.execPath, args, files.trace ?? files.log, files.log);
}

/**
 * Waits for "vxtap is up" in the log and (routed mode) the subnet file;
 * returns the subnet and MTU (L2 mode: null, the lab knows its MTU). Fails
 * with the log's end.
 */
export async function waitDaemon(host: string, pid: number, files: DaemonFiles, timeoutMs = 30_000, l2 = false): Promise<{ subnet: string; mtu: number } | null> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    let log = '';
    try { log = readFileSync(files.log, 'utf8'); } catch { /* not yet */ }
    if (/vxtap is up/.test(log)) {
      if (l2) return null;
      const sf = readSubnetFile(files.subnetFile);
      if (sf?.subnet !== undefined && sf.mtu !== undefined) return { subnet: sf.subnet, mtu: sf.mtu };
    }
    if (!alive(pid)) throw new LabError('VXTAP_ERR_LAB_START', `vxtap on ${host} exited at start; the end of ${files.log}:\n${tailFile(files.log)}`);
    if (Date.now() > end) throw new LabError('VXTAP_ERR_LAB_START', `vxtap on ${host} did not come up within ${timeoutMs / 1000} s; the end of ${files.log}:\n${tailFile(files.log)}`);
    await sleep(100);
  }
}

/** Runs a vxtap command inside a namespace; returns stdout. */
export function vxtapIn(sh: Shell, ns: string, args: readonly string[], quiet = false): string {
  return sh.run('ip', ['netns', 'exec', ns, process.execPath, VXTAP_BIN, ...args], { quiet });
}

export interface LeaseRow {
  subnet: string | null;
  publicIp: string | null;
  vtepMac: string | null;
  backendType: string | null;
  vni: number | null;
  expiresInSeconds: number | null;
  error: string | null;
}

/** `vxtap leases --json` in namespace `ns`. */
export async function leasesIn(sh: Shell, ns: string, endpoint: string): Promise<LeaseRow[]> {
  const r = await sh.runAsync('ip', ['netns', 'exec', ns, process.execPath, VXTAP_BIN, 'leases', '--json', '--etcd-endpoints', endpoint], 15_000);
  if (r.status !== 0) throw new LabError('VXTAP_ERR_LAB_CMD', `vxtap leases: ${(r.stderr || r.stdout).trim()}`);
  return JSON.parse(r.stdout) as LeaseRow[];
}

/** A row of `vxtap peers --json` (L2 mode: one per VTEP of the flood list). */
export interface PeerRowJson {
  subnet: string;
  publicIp: string;
  vtepMac: string | null;
  route: string | null;
  error: string | null;
}

/** A row of `vxtap fdb --json`. */
export interface FdbRowJson {
  mac: string;
  vtep: string;
  port: number;
  kind: 'learned' | 'static' | 'flood';
  ageSeconds: number | null;
}

/** `vxtap CMD --json` against the daemon of namespace `ns`, at its control socket (null: the default path, found by the namespace's name). */
export async function daemonJson<T>(sh: Shell, ns: string, cmd: 'peers' | 'fdb' | 'stats' | 'arp', socket: string | null): Promise<T> {
  const r = await sh.runAsync('ip', ['netns', 'exec', ns, process.execPath, VXTAP_BIN, cmd, '--json', ...(socket !== null ? ['--control-socket', socket] : [])], 15_000);
  if (r.status !== 0) throw new LabError('VXTAP_ERR_LAB_CMD', `vxtap ${cmd} in ${ns}: ${(r.stderr || r.stdout).trim()}`);
  return JSON.parse(r.stdout) as T;
}
