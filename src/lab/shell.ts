/**
 * Running the commands that build the lab (`ip`, `bridge`, `sysctl`,
 * `etcdctl`): a lab builder may shell out, the data plane never does. With
 * `verbose`, every command is echoed (`  $ ip -n vxlab-h1 ...`) so a reader
 * can replay the lab by hand.
 */
import { execFile, execFileSync } from 'node:child_process';
import { LabError } from './errors';

export interface Shell {
  /** Runs a command; returns stdout; throws LabError (VXTAP_ERR_LAB_CMD) with its stderr on failure. */
  run(cmd: string, args: readonly string[], opts?: { input?: string; quiet?: boolean }): string;
  /** The same inside a namespace (`ip netns exec NS ...`). */
  inNs(ns: string, cmd: string, args: readonly string[], opts?: { input?: string; quiet?: boolean }): string;
  /** Like run, but never throws: the exit status and both outputs. */
  tryRun(cmd: string, args: readonly string[]): { status: number; stdout: string; stderr: string };
  /** Echoes a command that is started some other way (a detached daemon), when verbose. */
  show(cmd: string, args: readonly string[]): void;
  /** Asynchronous, never throws (for commands run side by side, e.g. pings). */
  runAsync(cmd: string, args: readonly string[], timeoutMs?: number): Promise<{ status: number; stdout: string; stderr: string }>;
}

export function makeShell(echo: ((line: string) => void) | null): Shell {
  const show = (cmd: string, args: readonly string[]): void => {
    if (echo !== null) echo(`$ ${[cmd, ...args].map(quote).join(' ')}`);
  };
  const run = (cmd: string, args: readonly string[], opts: { input?: string; quiet?: boolean } = {}): string => {
    if (opts.quiet !== true) show(cmd, args);
    try {
      return execFileSync(cmd, args, { encoding: 'utf8', input: opts.input, stdio: ['pipe', 'pipe', 'pipe'], timeout: 60_000 });
    } catch (err) {
      const e = err as { stderr?: string; message: string; code?: string };
      if (e.code === 'ENOENT') throw new LabError('VXTAP_ERR_LAB_CMD', `${cmd}: command not found`, { cause: err });
      const detail = (e.stderr ?? '').trim() || e.message;
      throw new LabError('VXTAP_ERR_LAB_CMD', `\`${[cmd, ...args].join(' ')}\` failed: ${detail}`, { cause: err });
    }
  };
  return {
    run,
    show,
    inNs: (ns, cmd, args, opts) => run('ip', ['netns', 'exec', ns, cmd, ...args], opts),
    tryRun(cmd, args) {
      try {
        return { status: 0, stdout: execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 }), stderr: '' };
      } catch (err) {
        const e = err as { status?: number | null; stdout?: string; stderr?: string };
        return { status: e.status ?? 1, stdout: String(e.stdout ?? ''), stderr: String(e.stderr ?? '') };
      }
    },
    runAsync(cmd, args, timeoutMs = 30_000) {
      return new Promise((resolve) => {
        execFile(cmd, args, { encoding: 'utf8', timeout: timeoutMs }, (err, stdout, stderr) => {
          const status = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1;
          resolve({ status, stdout, stderr });
        });
      });
    },
  };
}

function quote(a: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

/** The namespaces that exist now (`ip netns list`), names only. */
export function listNamespaces(sh: Shell): string[] {
  const r = sh.tryRun('ip', ['netns', 'list']);
  if (r.status !== 0) return [];
  return r.stdout.split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n.length > 0);
}

/** The pids of the processes in a namespace (`ip netns pids`); [] when it is gone. */
export function namespacePids(sh: Shell, ns: string): number[] {
  const r = sh.tryRun('ip', ['netns', 'pids', ns]);
  if (r.status !== 0) return [];
  return r.stdout.split('\n').filter(Boolean).map(Number).filter((n) => Number.isInteger(n) && n > 0);
}
