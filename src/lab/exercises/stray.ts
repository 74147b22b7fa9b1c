/**
 * A stray VTEP for the wrong-vni and unknown-vtep exercises: a kernel vxlan
 * device, `vxex0`, whose flood list (the all-zeros FDB entry) names one lab
 * host. A ping from it to an address of its little subnet sends ARP
 * requests, and each goes out as a VXLAN datagram to that host: real VXLAN,
 * made by the kernel, as a misconfigured or unregistered node would send it.
 */
import type { Shell } from '../shell';
import { STRAY_NET } from './common';
import type { ExerciseContext } from './types';

export const STRAY_DEV = 'vxex0';

export interface StrayVtep {
  readonly ns: string;
  readonly vni: number;
  /** The device's own UDP port: where it listens (another than a vxtap's in the same namespace). */
  readonly listenPort: number;
  readonly local: string;
  readonly to: string;
  readonly toPort: number;
}

/** The `ip` and `bridge` commands, as the exercise shows them. */
export function strayCommands(s: StrayVtep): string[][] {
  return [
    ['ip', '-n', s.ns, 'link', 'add', STRAY_DEV, 'type', 'vxlan', 'id', String(s.vni), 'dstport', String(s.listenPort), 'local', s.local, 'dev', 'eth0', 'nolearning'],
    // No IPv6 on it: no MLD reports or router solicitations, so what it sends is the learner's ARP alone.
    ['ip', 'netns', 'exec', s.ns, 'sysctl', '-q', '-w', `net.ipv6.conf.${STRAY_DEV}.disable_ipv6=1`],
    ['bridge', '-n', s.ns, 'fdb', 'append', '00:00:00:00:00:00', 'dev', STRAY_DEV, 'dst', s.to, 'port', String(s.toPort)],
    ['ip', '-n', s.ns, 'addr', 'add', STRAY_NET.local, 'dev', STRAY_DEV],
    ['ip', '-n', s.ns, 'link', 'set', STRAY_DEV, 'up'],
  ];
}

export function addStrayVtep(ctx: ExerciseContext, s: StrayVtep): void {
  const sh: Shell = ctx.sh;
  const cmds = strayCommands(s);
  sh.tryRun('ip', ['-n', s.ns, 'link', 'del', STRAY_DEV]); // left by an exercise that was killed: start clean
  sh.run(cmds[0]![0]!, cmds[0]!.slice(1));
  ctx.undo(`removed ${STRAY_DEV} from ${s.ns}`, () => { sh.run('ip', ['-n', s.ns, 'link', 'del', STRAY_DEV]); });
  for (const c of cmds.slice(1)) sh.run(c[0]!, c.slice(1));
  for (const c of cmds) ctx.say.line(`$ ${c.join(' ')}`);
}
