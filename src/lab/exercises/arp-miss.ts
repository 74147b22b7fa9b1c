/**
 * arp-miss (routed): h1 gets a route to a subnet nobody leased, through its
 * TAP and "onlink" via the subnet's .0, as vxtap routes every peer's subnet.
 * A ping from h1's container to it makes h1's kernel ask (ARP) for that .0
 * on the TAP, and vxtap's ARP responder has no lease to answer from:
 * `arp-miss`.
 */
import { buildConfig, subnetSize } from '../../control/etcd/network-config';
import { formatCidr, formatIpv4, parseCidr } from '../../wire/addr';
import { LabError } from '../errors';
import { leasesIn } from '../vxtap';
import { daemonCmd, needHosts, nsStep, watchStep } from './common';
import { dropEvidence, sizeOf, statsOf, traceOf } from './evidence';
import type { Exercise } from './types';

const DROP = 'arp-miss';

export const arpMiss: Exercise = {
  name: 'arp-miss',
  modes: ['routed'],
  teaches: 'vxtap answers ARP for a peer\'s gateway from its lease; an address with no lease gets no answer',
  async setUp(ctx) {
    const a = needHosts(ctx.st, 1, 'arp-miss', ctx.flags)[0]!;
    const o = ctx.st.options;
    const trace = traceOf(a, ctx.flags);
    const leased = new Set((await leasesIn(ctx.sh, ctx.st.etcd.ns, ctx.st.etcd.endpoint)).map((l) => l.subnet).filter((s): s is string => s !== null));
    for (const h of ctx.st.hosts) if (h.subnet !== null) leased.add(h.subnet);
    // From the top of the range down: the lab's hosts lease from the bottom.
    const cfg = buildConfig({ network: o.network, vni: o.vni, port: o.port });
    let subnet: string | null = null;
    for (let s = cfg.subnetMax; s >= cfg.subnetMin; s -= subnetSize(cfg)) {
      const c = formatCidr({ addr: s >>> 0, len: cfg.subnetLen });
      if (!leased.has(c)) { subnet = c; break; }
    }
    if (subnet === null) throw new LabError('VXTAP_ERR_LAB_EXERCISE', `no unleased subnet in ${o.network}`);
    const net = parseCidr(subnet);
    const gw = formatIpv4(net.addr);
    const target = formatIpv4((net.addr + 1) >>> 0);
    const before = (await statsOf(ctx.sh, a)).counters;
    const from = sizeOf(trace);
    ctx.say.line(`${subnet} is in the overlay ${o.network}, and no host has leased it. The exercise gives ${a.name} a route to it`);
    ctx.say.line(`the way vxtap routes every peer's subnet (via its .0, onlink, through the TAP):`);
    const route = ['route', 'add', subnet, 'via', gw, 'dev', ctx.st.tap, 'onlink'];
    ctx.sh.run('ip', ['-n', a.ns, ...route]);
    ctx.undo(`removed the route to ${subnet} from ${a.name}`, () => {
      ctx.sh.run('ip', ['-n', a.ns, 'route', 'del', subnet, 'via', gw, 'dev', ctx.st.tap, 'onlink']);
      // The neighbour entry the kernel made (FAILED) goes too, so the ARP table is as before.
      ctx.sh.tryRun('ip', ['-n', a.ns, 'neigh', 'del', gw, 'dev', ctx.st.tap]);
    });
    ctx.say.line(`$ ip -n ${a.ns} ${route.join(' ')}`);
    return {
      steps: [
        watchStep(`npx vxtap lab trace ${a.name} --filter arp${ctx.flags}`, `follow ${a.name}'s ARP frames`),
        nsStep(a.containerNs, ['ping', '-c', '3', '-W', '1', target], `ping an address in ${subnet} from ${a.name}'s container; ${a.name} forwards it to the TAP`),
        watchStep(daemonCmd(a, 'stats'), `${a.name}'s counters`),
      ],
      expect: [
        `the ping gets no reply (100% packet loss): ${a.name} never learns a MAC for ${gw}, so it cannot send the packets on`,
        `${a.name}'s trace: "who has ${gw}?" read from the TAP, the ARP table lookup missed, dropped: ${DROP}`,
        `vxtap stats on ${a.name}: ${DROP} goes up, once per ARP request (the kernel asks 3 times a second)`,
      ],
      check: () => dropEvidence(ctx.sh, a, DROP, before, trace, from, () => true, { subnet, asked: gw }),
      explain: () => [
        `flannel routes each remote subnet via its .0 address over the vxlan device and writes one ARP entry per lease:`,
        `.0 → the peer's VtepMAC (1 route, 1 ARP entry, 1 FDB entry per host). vxtap answers the same ARP at its TAP, from`,
        `a table filled from the leases in etcd. ${gw} has no lease, so there is no answer to give, and in routed mode`,
        `nothing is flooded: the request is dropped as ${DROP}, the kernel marks ${gw} FAILED, and ping reports the host unreachable.`,
      ],
    };
  },
};
