/**
 * The lab's long-running processes (etcd, one vxtap daemon per host): each
 * started inside its namespace with `ip netns exec` (which execs, so the pid
 * is the program's), in a session of its own, its output to files in the
 * state dir, so it outlives the `vxtap lab up` that started it.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** bin/vxtap.js of this checkout (dist/src/lab/ -> the repository root). */
export const VXTAP_BIN = join(__dirname, '..', '..', '..', 'bin', 'vxtap.js');

/** Starts `cmd args` in namespace `ns`, stdout and stderr to files (the same file when equal). Returns the pid. */
export function spawnDetached(ns: string, cmd: string, args: readonly string[], stdoutPath: string, stderrPath: string): number {
  const out = openSync(stdoutPath, 'a');
  const err = stderrPath === stdoutPath ? out : openSync(stderrPath, 'a');
  try {
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { detached: true, stdio: ['ignore', out, err] });
    if (child.pid === undefined) throw new Error(`could not start ${cmd} in ${ns}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(out);
    if (err !== out) closeSync(err);
  }
}

export function alive(pid: number | null | undefined): boolean {
  if (pid === null || pid === undefined || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie (exited, not yet reaped by us) is not alive.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) Z /.test(stat);
  } catch {
    return false;
  }
}

/** The process's command line, '' when it is gone. */
export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

/** True when `pid` runs and its command line mentions `mark` (the state dir): it is ours, not a reused pid. */
export function isOurs(pid: number | null | undefined, mark: string): boolean {
  return pid !== null && pid !== undefined && alive(pid) && cmdline(pid).includes(mark);
}

/** SIGTERM to each, then SIGKILL to what is left after `graceMs`. Resolves when all are gone. */
export async function stopAll(pids: readonly number[], graceMs = 3000): Promise<void> {
  const left = new Set(pids.filter((p) => alive(p)));
  for (const p of left) {
    try { process.kill(p, 'SIGTERM'); } catch { /* gone */ }
  }
  const end = Date.now() + graceMs;
  while (left.size > 0 && Date.now() < end) {
    await sleep(50);
    for (const p of left) if (!alive(p)) left.delete(p);
  }
  for (const p of left) {
    try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
  }
  const hard = Date.now() + 5000;
  while ([...left].some((p) => alive(p)) && Date.now() < hard) await sleep(20);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The last lines of a file (a log), '' when it is missing. */
export function tailFile(path: string, lines = 20): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
