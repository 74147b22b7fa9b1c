/**
 * Test hosts in network namespaces.
 *
 * Rules this file enforces for every test that uses it:
 * - Each test file gives its own prefix, so files can run side by side.
 *   Everything a Lab makes (namespaces, processes) carries that prefix or is
 *   tracked, and `cleanup()` removes it, also when a test fails or the process
 *   exits early. A stale namespace with the prefix from an earlier crashed run
 *   is removed at start.
 * - Where namespaces cannot be made (not root, no /dev/net/tun, no `ip`), a
 *   test skips with the reason, except under CI=true, where it fails: CI runs
 *   as root and a silent skip there would hide a broken test.
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';

export const inCI = process.env.CI === 'true';

/**
 * A test file's namespace prefix. `VXT_NS_TAG` (one letter, either case)
 * replaces the third letter of 'vxt-…', so two checkouts can run the same
 * test file at once on one machine without their namespaces colliding
 * ('vxa-e2e-', 'vxN-e2e-'). An upper-case tag used to be ignored silently,
 * which left two checkouts on the same 'vxt-' names, each deleting the
 * other's namespaces as stale. The length stays the same, so derived
 * interface names still fit.
 */
export function nsPrefix(prefix: string): string {
  const tag = process.env.VXT_NS_TAG;
  if (!tag || !/^[a-zA-Z]$/.test(tag) || !prefix.startsWith('vxt-')) return prefix;
  return `vx${tag}${prefix.slice(3)}`;
}

/** Why namespace tests cannot run here, or null when they can. */
export function namespaceBlocker(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, TAP devices)';
  if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'no `ip` command (apt-get install iproute2)';
  }
  return null;
}

/**
 * Call first in a namespace test. Returns true when the test may go on.
 * Skips with the reason outside CI; throws under CI=true.
 */
export function needNamespaces(t: TestContext): boolean {
  const why = namespaceBlocker();
  if (why === null) return true;
  if (inCI) throw new Error(`namespace test cannot run under CI=true: ${why}`);
  t.skip(why);
  return false;
}

/**
 * Call first in a test that needs a program (promtool, prometheus, ...).
 * Returns true when it is installed; skips with the package that brings it
 * outside CI, throws under CI=true (scripts/setup.sh installs it there).
 */
export function needCommand(t: TestContext, cmd: string, pkg: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    const why = `no \`${cmd}\` (apt-get install ${pkg})`;
    if (inCI) throw new Error(`test cannot run under CI=true: ${why}`);
    t.skip(why);
    return false;
  }
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

export class Lab {
  private readonly namespaces = new Set<string>();
  private readonly procs = new Set<ChildProcess>();
  private readonly onExit = (): void => this.cleanupSync();

  /** `prefix` must be unique per test file, e.g. 'vxt-e2e-'. Keep it short: names are prefix + host. */
  readonly prefix: string;

  constructor(prefix: string) {
    this.prefix = nsPrefix(prefix);
    this.removeStale();
    process.once('exit', this.onExit);
  }

  /** The full namespace name for a short host name. */
  ns(host: string): string {
    return `${this.prefix}${host}`;
  }

  /** Creates namespace `prefix+host` with loopback up. Returns its full name. */
  addNs(host: string): string {
    const name = this.ns(host);
    run('ip', ['netns', 'add', name]);
    this.namespaces.add(name);
    run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return name;
  }

  /** Runs a command inside a namespace and returns its output; throws with stderr on failure. */
  exec(host: string, cmd: string[], input?: string): string {
    return run('ip', ['netns', 'exec', this.ns(host), ...cmd], input);
  }

  /** Like exec, but returns the exit status instead of throwing. */
  tryExec(host: string, cmd: string[]): { status: number; stdout: string; stderr: string } {
    try {
      return { status: 0, stdout: this.exec(host, cmd), stderr: '' };
    } catch (err) {
      const e = err as { status?: number; stdout?: string; stderr?: string };
      return { status: e.status ?? 1, stdout: String(e.stdout ?? ''), stderr: String(e.stderr ?? '') };
    }
  }

  /** Starts a long-running process inside a namespace; it is killed by cleanup(). */
  spawn(host: string, cmd: string[], opts: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.ns(host), ...cmd], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...opts,
    });
    this.procs.add(child);
    child.once('exit', () => this.procs.delete(child));
    return child;
  }

  /**
   * Underlay: a bridge in namespace `prefix+switchHost`, and a veth from each
   * host's `eth0` to it, with `addrs[host]` (CIDR) on eth0. Creates the
   * namespaces that do not exist yet.
   */
  underlay(switchHost: string, addrs: Record<string, string>, mtu = 1500): void {
    if (!this.namespaces.has(this.ns(switchHost))) this.addNs(switchHost);
    const sw = this.ns(switchHost);
    run('ip', ['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
    run('ip', ['-n', sw, 'link', 'set', 'br0', 'up']);
    for (const [host, cidr] of Object.entries(addrs)) {
      if (!this.namespaces.has(this.ns(host))) this.addNs(host);
      const peer = `p-${host}`.slice(0, 15);
      run('ip', ['-n', sw, 'link', 'add', peer, 'mtu', String(mtu), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.ns(host)]);
      run('ip', ['-n', sw, 'link', 'set', peer, 'master', 'br0', 'up']);
      run('ip', ['-n', this.ns(host), 'link', 'set', 'eth0', 'mtu', String(mtu), 'up']);
      run('ip', ['-n', this.ns(host), 'addr', 'add', cidr, 'dev', 'eth0']);
    }
  }

  /** Kills every process started here and deletes every namespace with the prefix. Idempotent. */
  async cleanup(): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const p of this.procs) {
      if (p.exitCode !== null || p.signalCode !== null) continue;
      waits.push(new Promise((resolve) => {
        const timer = setTimeout(() => { p.kill('SIGKILL'); }, 3000);
        p.once('exit', () => { clearTimeout(timer); resolve(); });
      }));
      p.kill('SIGTERM');
    }
    await Promise.all(waits);
    this.procs.clear();
    this.removeNamespaces();
    process.removeListener('exit', this.onExit);
  }

  private cleanupSync(): void {
    for (const p of this.procs) p.kill('SIGKILL');
    this.removeNamespaces();
  }

  private removeNamespaces(): void {
    for (const name of listNamespaces()) {
      if (name.startsWith(this.prefix)) killAndDelete(name);
    }
    this.namespaces.clear();
  }

  private removeStale(): void {
    for (const name of listNamespaces()) if (name.startsWith(this.prefix)) killAndDelete(name);
  }
}

function listNamespaces(): string[] {
  try {
    return run('ip', ['netns', 'list'])
      .split('\n')
      .map((l) => l.split(' ')[0] ?? '')
      .filter((n) => n.length > 0);
  } catch {
    return [];
  }
}

/** Kills whatever still runs in a namespace (processes started outside a Lab too), then deletes it. */
function killAndDelete(name: string): void {
  try {
    const pids = run('ip', ['netns', 'pids', name]).split('\n').filter(Boolean);
    for (const pid of pids) {
      try { process.kill(Number(pid), 'SIGKILL'); } catch { /* already gone */ }
    }
  } catch { /* namespace already gone */ }
  try { execFileSync('ip', ['netns', 'delete', name], { stdio: 'ignore' }); } catch { /* already gone */ }
}

export function run(cmd: string, args: string[], input?: string): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    const detail = (e.stderr ?? '').trim() || e.message;
    const wrapped = new Error(`${cmd} ${args.join(' ')}: ${detail}`) as Error & { status?: number; stdout?: string; stderr?: string };
    Object.assign(wrapped, { status: (err as { status?: number }).status, stdout: (err as { stdout?: string }).stdout, stderr: e.stderr });
    throw wrapped;
  }
}

/** Resolves when `pred()` is true, polling every `everyMs`; rejects with `what` after `timeoutMs`. */
export async function waitFor(what: string, pred: () => boolean | Promise<boolean>, timeoutMs = 10000, everyMs = 100): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await pred()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
