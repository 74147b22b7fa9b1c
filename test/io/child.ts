/**
 * Running the io tests' child scripts inside a Lab namespace (not a test file).
 */
import { constants, statSync } from 'node:fs';
import type { Lab } from '../helpers/netns';

export interface ChildRun {
  /** Exit status; 124 means the child did not end within the time limit (`timeout`). */
  status: number;
  /** The child's last JSON line. */
  result: Record<string, unknown>;
  stderr: string;
}

/** The command to run `script args` as uid/gid `uid`, with no groups and no capabilities left. */
export function asUser(uid: number, cmd: string[]): string[] {
  return ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', ...cmd];
}

/**
 * /dev/net/tun must be read-write for others for an unprivileged user to
 * attach to its TAP (it usually is 0666). Where it is not (0600 on some
 * machines), this wraps `cmd` so it runs with a private 0666 node of the same
 * device over /dev/net, made in the command's own mount namespace (`ip netns
 * exec` gives it one), so the machine's /dev is not touched.
 */
export function withUserTun(cmd: string[]): { cmd: string[]; note: string | null } {
  const mode = statSync('/dev/net/tun').mode;
  if ((mode & constants.S_IROTH) !== 0 && (mode & constants.S_IWOTH) !== 0) return { cmd, note: null };
  const script = 'mount -t tmpfs -o mode=0755 vxt-tun /dev/net && mknod -m 0666 /dev/net/tun c 10 200 && exec "$@"';
  return {
    cmd: ['sh', '-c', script, 'sh', ...cmd],
    note: `/dev/net/tun is mode ${(mode & 0o777).toString(8)} here: unprivileged users get a private 0666 node in the child's mount namespace`,
  };
}

/** Runs `node script ...args` (or a wrapped form of it) in namespace `host`, at most `limitS` seconds. */
export function runChild(lab: Lab, host: string, cmd: string[], limitS = 20): ChildRun {
  const full = cmd[0] === 'node' ? ['timeout', String(limitS), ...cmd] : cmd;
  const r = lab.tryExec(host, full);
  const lines = r.stdout.trim().split('\n').filter((l) => l.startsWith('{'));
  const last = lines[lines.length - 1];
  let result: Record<string, unknown> = {};
  if (last !== undefined) result = JSON.parse(last) as Record<string, unknown>;
  return { status: r.status, result, stderr: r.stderr };
}
