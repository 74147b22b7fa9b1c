/**
 * wrong-vni: h2 gets a second, kernel vxlan device with another VNI that
 * floods to h1; a ping through it makes h1 receive VXLAN from a known VTEP
 * (h2's address) with a VNI that is not the lab's: `vxlan-unknown-vni`.
 */
import { needHosts, daemonCmd, nsStep, watchStep, STRAY_NET } from './common';
import { dropEvidence, sizeOf, statsOf, traceOf } from './evidence';
import { addStrayVtep, STRAY_DEV } from './stray';
import type { Exercise } from './types';

const DROP = 'vxlan-unknown-vni';

export const wrongVni: Exercise = {
  name: 'wrong-vni',
  modes: ['routed', 'l2'],
  teaches: 'a VXLAN datagram with another VNI is dropped: the VNI names the segment (RFC 7348 §5)',
  async setUp(ctx) {
    const hs = needHosts(ctx.st, 2, 'wrong-vni', ctx.flags);
    const a = hs[0]!;
    const b = hs[1]!;
    const o = ctx.st.options;
    const vni = o.vni + 100 <= 0xffffff ? o.vni + 100 : o.vni - 100;
    const trace = traceOf(a, ctx.flags);
    const before = (await statsOf(ctx.sh, a)).counters;
    const from = sizeOf(trace);
    ctx.say.line(`The lab's VNI is ${o.vni}. On ${b.name} (a known VTEP, ${b.ip}) the exercise adds a kernel vxlan device ${STRAY_DEV}`);
    ctx.say.line(`with VNI ${vni} whose flood list is ${a.name} (${a.ip}:${o.port}): a node configured for another network.`);
    ctx.say.line(`It listens on UDP ${o.port + 1}, since ${b.name}'s vxtap holds ${o.port}.`);
    addStrayVtep(ctx, { ns: b.ns, vni, listenPort: o.port + 1, local: b.ip, to: a.ip, toPort: o.port });
    return {
      steps: [
        watchStep(`npx vxtap lab trace ${a.name} --filter drops${ctx.flags}`, `follow ${a.name}'s drops`),
        nsStep(b.ns, ['ping', '-c', '3', '-W', '1', STRAY_NET.remote], `send through ${STRAY_DEV}: each ARP request for ${STRAY_NET.remote} leaves ${b.name} as VXLAN with VNI ${vni}`),
        watchStep(daemonCmd(a, 'stats'), `${a.name}'s counters: the drop by reason`),
      ],
      expect: [
        `the ping gets no reply (100% packet loss): nobody on VNI ${vni} answers`,
        `${a.name}'s trace: a frame from ${b.ip}, dropped: ${DROP} (VNI ${vni}, not ${o.vni})`,
        `vxtap stats on ${a.name}: ${DROP} goes up by one per ARP request`,
      ],
      check: () => dropEvidence(ctx.sh, a, DROP, before, trace, from, () => true, { wrongVni: vni, from: null }),
      explain: () => [
        `The VNI is VXLAN's 24-bit segment ID (RFC 7348 §5): a VTEP hands a frame only to the segment the VNI names,`,
        `and ${a.name} serves VNI ${o.vni} only, so a frame for VNI ${vni} has nowhere to go and is counted as ${DROP}.`,
        `In flannel every host reads the VNI from the network config in etcd (Backend.VNI), so a host with another VNI`,
        `is a host of another network. vxtap checks the sender first: the same datagram from an address that is no VTEP`,
        `would be counted as unknown-vtep (exercise unknown-vtep), which is why this one came from ${b.name}'s address.`,
      ],
    };
  },
};
