/**
 * For the exercise e2e tests: run `vxtap lab exercise NAME --auto --json`,
 * and take a picture of the lab (namespaces, each host's links, routes and
 * bridge ports, etcd's keys and values) to hold against the one taken
 * before, so "the lab is back" is checked, not assumed.
 */
import assert from 'node:assert/strict';
import { VXTAP } from './daemon';
import { labCmd, labNamespaces, type LabResult } from './lab';
import { run } from './netns';

export interface ExerciseJson {
  exercise: string;
  mode: string;
  ok: boolean;
  outcome: string;
  evidence: { lines: string[]; data: Record<string, unknown> } | null;
  restoreProblems: string[];
}

/** `lab exercise NAME --auto --json`: the result, and the teaching text (stderr with --json). */
export async function exerciseAuto(prefix: string, stateDir: string, name: string, timeoutS = 60): Promise<{ r: LabResult; json: ExerciseJson }> {
  const r = await labCmd(prefix, stateDir, 'exercise', [name, '--auto', '--json', '--timeout', String(timeoutS)], {}, (timeoutS + 90) * 1000);
  assert.equal(r.status, 0, `exercise ${name} exits 0:\n${r.stdout}\n${r.stderr}`);
  return { r, json: JSON.parse(r.stdout) as ExerciseJson };
}

/** `vxtap CMD --json` against a host's daemon (routed: its default socket, found by the namespace; L2: the given socket). */
export function daemonJson<T>(ns: string, cmd: 'stats' | 'fdb' | 'arp', socket: string | null = null): T {
  return JSON.parse(run('ip', ['netns', 'exec', ns, process.execPath, VXTAP, cmd, '--json', ...(socket !== null ? ['--control-socket', socket] : [])])) as T;
}

export interface StatsJson {
  counters: { drops: Record<string, number>; l2: { learned: number; floodedFrames: number; floodCopies: number } };
}

export interface LabPicture {
  namespaces: string[];
  hosts: Record<string, { links: string[]; routes: string[]; bridgePorts: string[] }>;
  etcd: string;
}

/** The lab as it is: what an exercise must leave as it found it. Link states and counters are left out (they move). */
export function picture(prefix: string, hostNs: readonly string[]): LabPicture {
  const hosts: LabPicture['hosts'] = {};
  for (const ns of hostNs) {
    const links = (JSON.parse(run('ip', ['-n', ns, '-j', 'link', 'show'])) as { ifname: string; mtu: number; address?: string }[])
      .map((l) => `${l.ifname} mtu ${l.mtu} ${l.address ?? ''}`).sort();
    const routes = run('ip', ['-n', ns, 'route', 'show']).split('\n').map((l) => l.trim()).filter(Boolean).sort();
    const bridgePorts = (JSON.parse(run('ip', ['-n', ns, '-j', 'link', 'show', 'type', 'veth'])) as { ifname: string; master?: string }[])
      .map((l) => `${l.ifname} master ${l.master ?? '-'}`).sort();
    hosts[ns] = { links, routes, bridgePorts };
  }
  const etcd = run('ip', ['netns', 'exec', `${prefix}etcd`, 'env', 'ETCDCTL_API=3', 'etcdctl', '--endpoints', 'http://127.0.0.1:2379', 'get', '--prefix', '/coreos.com/network']);
  return { namespaces: labNamespaces(prefix).sort(), hosts, etcd };
}
