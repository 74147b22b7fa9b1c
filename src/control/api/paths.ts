/**
 * Where control sockets live, and how a client finds one.
 *
 *   /run/vxtap/<tap>.sock                 a daemon in an unnamed network namespace
 *                                         (the host's, on an ordinary host)
 *   /run/vxtap/netns/<name>/<tap>.sock    a daemon in a named one (`ip netns add NAME`)
 *
 * Why the namespace is in the path: a TAP name is unique only within its
 * network namespace, but every namespace sees the same /run (`ip netns exec`
 * makes a new mount namespace, yet /run is shared). Two daemons with the same
 * TAP name (`vxtap.42` is the default for VNI 42) in two namespaces are
 * normal, and would otherwise claim one socket. The pair (namespace, TAP
 * name) is what identifies a daemon, and a client run in the same namespace
 * (`ip netns exec NAME vxtap fdb`) computes the same directory, so it finds
 * its daemon with no flag. A pid in the name would not be unique in the same
 * way and a client could not guess it.
 *
 * A namespace is named when /run/netns holds a file for it (that is what `ip
 * netns` does); the test compares inodes, as `ip netns identify` does. It
 * needs no access to pid 1 (often denied in containers). A clash in unnamed
 * namespaces sharing one /run (rare: containers have their own /run) is
 * caught at start-up: a daemon never displaces a live one, it stops and says
 * to pass --control-socket.
 */
import { mkdirSync, readdirSync, statSync, lstatSync, chmodSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ConfigError } from '../../errors';
import { CONTROL_ERR, ControlError } from './protocol';

export const CONTROL_DIR = '/run/vxtap';
/** sun_path is 108 bytes with its NUL. */
export const MAX_SOCKET_PATH = 107;

/** The `ip netns` name of the network namespace this process is in, or null (unnamed). */
export function currentNetns(): string | null {
  let self;
  try {
    self = statSync('/proc/self/ns/net');
  } catch {
    return null;
  }
  let names: string[];
  try {
    names = readdirSync('/run/netns').sort();
  } catch {
    return null; // no /run/netns: no named namespaces
  }
  for (const name of names) {
    try {
      const s = statSync(join('/run/netns', name));
      if (s.ino === self.ino && s.dev === self.dev) return name;
    } catch { /* a namespace being deleted */ }
  }
  return null;
}

/**
 * The network namespace of the daemon behind `socketPath`, as the path says
 * (the layout above): a name for /run/vxtap/netns/<name>/<tap>.sock, null
 * (an unnamed one, the host's) for /run/vxtap/<tap>.sock, undefined for a
 * path elsewhere (--control-socket anywhere: the path says nothing).
 */
export function socketNetns(socketPath: string): string | null | undefined {
  const dir = dirname(resolve(socketPath));
  if (dir === CONTROL_DIR) return null;
  if (dirname(dir) === join(CONTROL_DIR, 'netns')) return basename(dir);
  return undefined;
}

/** The directory of this namespace's control sockets. */
export function defaultSocketDir(netns: string | null = currentNetns()): string {
  return netns === null ? CONTROL_DIR : join(CONTROL_DIR, 'netns', netns);
}

export function socketPathFor(tap: string, dir: string = defaultSocketDir()): string {
  checkTapName(tap);
  return join(dir, `${tap}.sock`);
}

/** A TAP name as the kernel allows it (1-15 bytes, no '/', no whitespace): it becomes a file name. */
export function checkTapName(tap: string): void {
  if (!/^[^/\s]{1,15}$/.test(tap) || tap === '.' || tap === '..') {
    throw new ConfigError(`--tap: not an interface name: ${JSON.stringify(tap)}`, 'tap');
  }
}

export function checkSocketPathLength(path: string): void {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw new ControlError(CONTROL_ERR.PATH, `control socket path is ${Buffer.byteLength(path)} bytes, over the ${MAX_SOCKET_PATH} a Unix socket allows: ${path} (pass a shorter --control-socket)`);
  }
}

/**
 * Makes `dir` (and missing parents) 0700. With `strict` (the default
 * directories under /run/vxtap) each level from CONTROL_DIR down must also be
 * a real directory (not a symlink) owned by us, and loses any group/other
 * bits: the sockets' protection is the directory's.
 */
export function prepareSocketDir(dir: string, strict: boolean): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new ControlError(CONTROL_ERR.PATH, `cannot create ${dir}: ${(err as Error).message}`, { cause: err });
  }
  if (!strict) return;
  const uid = process.getuid?.() ?? 0;
  const levels = [CONTROL_DIR];
  for (const part of dir.slice(CONTROL_DIR.length).split('/').filter(Boolean)) levels.push(join(levels[levels.length - 1]!, part));
  for (const d of levels) {
    const s = lstatSync(d);
    if (!s.isDirectory()) throw new ControlError(CONTROL_ERR.PATH, `${d} is not a directory (a symlink?); refusing to put a control socket there`);
    if (s.uid !== uid) throw new ControlError(CONTROL_ERR.PATH, `${d} is owned by uid ${s.uid}, not ${uid}; refusing to put a control socket there`);
    if ((s.mode & 0o077) !== 0) chmodSync(d, 0o700);
  }
}

/** The TAP names with a socket in `dir`, sorted. Throws ControlError(DENIED) when the directory cannot be read. */
export function listSockets(dir: string = defaultSocketDir()): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isSocket() && e.name.endsWith('.sock'))
      .map((e) => e.name.slice(0, -'.sock'.length))
      .sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    if (code === 'EACCES' || code === 'EPERM') throw new ControlError(CONTROL_ERR.DENIED, `cannot read ${dir}: permission denied (the control sockets are root only)`, { cause: err });
    throw err;
  }
}

export interface SocketChoice {
  /** --control-socket: this path, no search. */
  controlSocket?: string;
  /** --tap: the daemon of this TAP, in this namespace's directory. */
  tap?: string;
}

/**
 * The socket a client talks to: --control-socket, else the one of --tap,
 * else the only one in `dir`. None: ControlError(NO_DAEMON); several:
 * ConfigError naming them (a flag must pick one).
 */
export function resolveSocket(choice: SocketChoice, dir: string = defaultSocketDir()): string {
  if (choice.controlSocket !== undefined) return choice.controlSocket;
  if (choice.tap !== undefined) {
    const path = socketPathFor(choice.tap, dir);
    let isSocket = false;
    try { isSocket = statSync(path).isSocket(); } catch { /* absent */ }
    if (isSocket) return path;
    const others = listSockets(dir);
    throw new ControlError(CONTROL_ERR.NO_DAEMON, `no vxtap daemon for TAP ${choice.tap} in ${dir} ${others.length > 0 ? `(daemons here: ${others.join(', ')})` : '(is `vxtap run` running?)'}`);
  }
  const found = listSockets(dir);
  if (found.length === 0) throw new ControlError(CONTROL_ERR.NO_DAEMON, `no vxtap daemon found in ${dir} (is \`vxtap run\` running?)`);
  if (found.length > 1) throw new ConfigError(`several vxtap daemons in ${dir}: ${found.join(', ')}; pick one with --tap NAME (or --control-socket PATH)`, 'tap');
  return join(dir, `${found[0]!}.sock`);
}
