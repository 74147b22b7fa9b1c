/**
 * `vxtap lab down`: removes everything the lab made, found by the prefix
 * first and the state file second, so it works after a crash or a `lab up`
 * cut short, and a second run finds nothing to do.
 *
 *   1. the processes: every process in a namespace with the prefix (etcd,
 *      the vxtap daemons, anything a reader started there), plus the pids in
 *      the state file that are still ours (their command line names the
 *      state dir): SIGTERM, then SIGKILL after 3 s;
 *   2. the namespaces with the prefix (their devices go with them);
 *   3. the daemons' control socket directories, /run/vxtap/netns/<p>*
 *      (a daemon in a named namespace puts its socket there; a killed one
 *      leaves it);
 *   4. the state dir (logs, traces, subnet files, etcd's data), if it is a
 *      lab's: it holds lab.json, or nothing.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CONTROL_DIR } from '../control/api/paths';
import type { LabScope } from './plan';
import { isOurs, stopAll } from './procs';
import type { Say } from './say';
import { listNamespaces, namespacePids, type Shell } from './shell';
import { readState, removeStateDir } from './state';

export interface DownReport {
  processes: number;
  namespaces: string[];
  stateDir: 'removed' | 'absent' | 'foreign';
}

export async function labDown(scope: LabScope, sh: Shell, say: Say | null): Promise<DownReport> {
  const st = readState(scope);
  const mine = (): string[] => listNamespaces(sh).filter((n) => n.startsWith(scope.prefix));
  const namespaces = mine();

  const pids = new Set<number>();
  for (const ns of namespaces) for (const p of namespacePids(sh, ns)) pids.add(p);
  if (st !== null) {
    for (const p of [st.etcd.pid, ...st.hosts.map((h) => h.pid)]) if (p !== null && isOurs(p, `${scope.stateDir}/`)) pids.add(p);
  }
  pids.delete(process.pid);
  await stopAll([...pids]);
  say?.line(pids.size > 0 ? `stopped ${pids.size} process(es): ${[...pids].join(' ')}` : 'no lab process running');

  // Containers first, then hosts, the underlay last; a process that slipped
  // in meanwhile (a namespace still being made by a cut-short `up`) is killed too.
  const order = (n: string): number => (n.endsWith('-c') ? 0 : n === `${scope.prefix}underlay` ? 2 : 1);
  const removed: string[] = [];
  for (let round = 0; round < 3; round++) {
    const left = mine().sort((a, b) => order(a) - order(b));
    if (left.length === 0) break;
    for (const ns of left) {
      const late = namespacePids(sh, ns);
      if (late.length > 0) await stopAll(late, 500);
      if (sh.tryRun('ip', ['netns', 'delete', ns]).status === 0 && !removed.includes(ns)) removed.push(ns);
    }
  }
  const still = mine();
  say?.line(removed.length > 0 ? `removed ${removed.length} namespace(s): ${removed.join(' ')}` : `no namespace with the prefix ${scope.prefix}`);
  if (still.length > 0) say?.line(`could not remove: ${still.join(' ')}`);

  const sockDirs = removeSocketDirs(scope.prefix);
  if (sockDirs > 0) say?.line(`removed ${sockDirs} control socket dir(s) in ${join(CONTROL_DIR, 'netns')}`);

  const dir = removeStateDir(scope.stateDir);
  if (dir === 'removed') say?.line(`removed ${scope.stateDir} (state, logs, traces, etcd's data)`);
  else if (dir === 'foreign') say?.line(`left ${scope.stateDir}: it holds files and no lab.json, so it is not the lab's`);
  return { processes: pids.size, namespaces: removed, stateDir: dir };
}

/** /run/vxtap/netns/<prefix>*: the control socket dirs of the lab's daemons. Returns how many were removed. */
export function removeSocketDirs(prefix: string): number {
  const base = join(CONTROL_DIR, 'netns');
  let names: string[];
  try {
    names = readdirSync(base).filter((n) => n.startsWith(prefix));
  } catch {
    return 0;
  }
  for (const n of names) rmSync(join(base, n), { recursive: true, force: true });
  return names.length;
}
