/**
 * `vxtap lab` as the e2e tests run it: the real binary with a prefix and a
 * state dir of the test's own, and the check that `lab down` left nothing
 * (no namespace with the prefix, no process whose command line names the
 * state dir, no state dir, no control socket dir).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { VXTAP } from './daemon';
import { run } from './netns';

export interface LabResult { status: number; stdout: string; stderr: string }

/** `vxtap lab CMD --prefix PREFIX --state-dir DIR ...args`. */
export function labCmd(prefix: string, stateDir: string, cmd: string, args: string[] = [], env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000): Promise<LabResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [VXTAP, 'lab', cmd, '--prefix', prefix, '--state-dir', stateDir, ...args],
      { encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, NO_COLOR: '1', ...env } }, (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1;
        resolve({ status: code, stdout, stderr });
      });
  });
}

/** The namespaces whose names start with `prefix`. */
export function labNamespaces(prefix: string): string[] {
  return run('ip', ['netns', 'list']).split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n.startsWith(prefix));
}

/** Processes whose command line names the state dir (the lab's etcd and daemons). */
export function labProcesses(stateDir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (cmd.includes(`${stateDir}/`) && !/\) Z /.test(stat)) found.push(`${pid}: ${cmd.trim()}`);
    } catch { /* gone */ }
  }
  return found;
}

export function assertNothingLeft(prefix: string, stateDir: string): void {
  assert.deepEqual(labNamespaces(prefix), [], 'no namespace with the prefix is left');
  assert.deepEqual(labProcesses(stateDir), [], 'no lab process (etcd, vxtap) is left');
  assert.equal(existsSync(stateDir), false, 'the state dir is gone');
  let sockDirs: string[] = [];
  try { sockDirs = readdirSync('/run/vxtap/netns').filter((n) => n.startsWith(prefix)); } catch { /* none */ }
  assert.deepEqual(sockDirs, [], 'no control socket dir of the lab\'s daemons is left');
}
