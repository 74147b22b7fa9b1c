/**
 * What the lab needs of this machine, checked before anything is made. Each
 * missing piece is a PrerequisiteError that names the command that fixes it
 * (`scripts/setup.sh` installs all of them at once).
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { PrerequisiteError } from '../errors';
import { loadAddon } from '../io/native';

export const ETCD_BIN = process.env.VXTAP_ETCD ?? '/usr/bin/etcd';
export const ETCDCTL_BIN = process.env.VXTAP_ETCDCTL ?? '/usr/bin/etcdctl';

/** The full path of a command on PATH (or as given, when it has a slash); null when missing. */
export function which(cmd: string): string | null {
  const candidates = cmd.includes('/') ? [cmd] : (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter).map((d) => join(d, cmd));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch { /* next */ }
  }
  return null;
}

export interface PrereqNeeds {
  /** `lab up`: etcd, etcdctl, the addon, /dev/net/tun. */
  readonly up?: boolean;
  /** `--kernel-peer`: bridge. */
  readonly kernelPeer?: boolean;
  /** `lab ping`. */
  readonly ping?: boolean;
}

/** Throws PrerequisiteError for the first thing missing. */
export function checkPrereqs(needs: PrereqNeeds): void {
  if (process.getuid?.() !== 0) {
    throw new PrerequisiteError('the lab needs root (network namespaces, TAP devices, etcd on the underlay)', `run it as root: sudo npx vxtap ${process.argv.slice(2).join(' ')}`);
  }
  if (which('ip') === null) throw new PrerequisiteError('no `ip` command', 'apt-get install iproute2');
  if (needs.up) {
    if (!existsSync('/dev/net/tun')) throw new PrerequisiteError('no /dev/net/tun (vxtap opens a TAP device through it)', 'modprobe tun, or in a container run it with --device /dev/net/tun --cap-add NET_ADMIN');
    if (which(ETCD_BIN) === null) throw new PrerequisiteError(`no etcd binary at ${ETCD_BIN} (the lab runs a real etcd)`, 'apt-get install etcd-server');
    if (which(ETCDCTL_BIN) === null) throw new PrerequisiteError(`no etcdctl at ${ETCDCTL_BIN} (the lab checks etcd's health and writes the kernel host's lease with it)`, 'apt-get install etcd-client');
    loadAddon(); // the daemons need it; its PrerequisiteError says how to build it
  }
  if (needs.kernelPeer) {
    if (which('bridge') === null) throw new PrerequisiteError('no `bridge` command (FDB entries on the kernel host)', 'apt-get install iproute2');
  }
  if (needs.up || needs.ping) {
    if (which('ping') === null) throw new PrerequisiteError('no `ping` command', 'apt-get install iputils-ping');
  }
}
