/**
 * L2 exercises: a spare station plugged into a host's bridge br0: a
 * namespace with a veth port on br0, a random MAC and an address of the one
 * subnet that no VTEP has seen, so whatever it does is new to every table.
 * Removed whole (the namespace and its veth) when the exercise ends.
 */
import { L2_BRIDGE } from '../plan';
import { noIpv6, addNamespace } from '../topology';
import type { HostState } from '../state';
import { mtuOf, randomMac } from './common';
import type { ExerciseContext } from './types';

export interface Station {
  readonly ns: string;
  readonly ip: string;
  readonly mac: string;
  readonly host: HostState;
}

export function addStation(ctx: ExerciseContext, host: HostState, tag: string, ip: string, len: number): Station {
  const sh = ctx.sh;
  const ns = `${ctx.st.prefix}${tag}`;
  const port = `vex-${tag}`.slice(0, 15);
  const mac = randomMac();
  const mtu = String(mtuOf(sh, host.containerNs, 'eth0'));
  sh.tryRun('ip', ['netns', 'del', ns]); // left by an exercise that was killed: start clean (its veth goes with it)
  addNamespace(sh, ns);
  ctx.undo(`removed station ${ns} (${ip}, ${mac}) from ${host.name}'s ${L2_BRIDGE}`, () => { sh.run('ip', ['netns', 'del', ns]); });
  noIpv6(sh, ns);
  sh.run('ip', ['-n', host.ns, 'link', 'add', port, 'mtu', mtu, 'type', 'veth', 'peer', 'name', 'eth0', 'mtu', mtu, 'netns', ns]);
  sh.run('ip', ['-n', host.ns, 'link', 'set', port, 'master', L2_BRIDGE, 'up']);
  sh.run('ip', ['-n', ns, 'link', 'set', 'eth0', 'address', mac]);
  sh.run('ip', ['-n', ns, 'addr', 'add', `${ip}/${len}`, 'brd', '+', 'dev', 'eth0']);
  sh.run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
  ctx.say.line(`station ${ns}: ${ip}/${len}, MAC ${mac}, a port of ${host.name}'s ${L2_BRIDGE}`);
  return { ns, ip, mac, host };
}
