/**
 * unknown-vtep: a spare namespace on the underlay, <prefix>ex at .200, with a
 * kernel vxlan device on the lab's VNI and port that floods to h1. It has no
 * lease (no VTEP key in L2 mode), so h1 drops what it sends: `unknown-vtep`.
 */
import { attachHost } from '../topology';
import { daemonCmd, needHosts, nsStep, STRAY_NET, underlayAt, watchStep } from './common';
import { dropEvidence, sizeOf, statsOf, traceOf } from './evidence';
import { addStrayVtep, STRAY_DEV } from './stray';
import type { Exercise } from './types';

const DROP = 'unknown-vtep';
/** The spare host's offset in the underlay: the lab uses .1-.20, .101 and .250. */
const SPARE_OFFSET = 200;

export const unknownVtep: Exercise = {
  name: 'unknown-vtep',
  modes: ['routed', 'l2'],
  teaches: 'VXLAN from an underlay address that is no known VTEP is dropped: peers come from etcd, not from traffic',
  async setUp(ctx) {
    const a = needHosts(ctx.st, 1, 'unknown-vtep', ctx.flags)[0]!;
    const o = ctx.st.options;
    const ns = `${ctx.st.prefix}ex`;
    const spare = underlayAt(ctx.st, SPARE_OFFSET);
    const trace = traceOf(a, ctx.flags);
    const before = (await statsOf(ctx.sh, a)).counters;
    const from = sizeOf(trace);
    ctx.say.line(`A spare node joins the underlay: namespace ${ns}, ${spare.ip}/${spare.len} on the underlay bridge. It runs VXLAN`);
    ctx.say.line(`on the lab's VNI ${o.vni} and port ${o.port}, but it never registered in etcd (no lease${ctx.st.options.mode === 'l2' ? ', no VTEP key' : ''}).`);
    ctx.sh.tryRun('ip', ['netns', 'del', ns]); // left by an exercise that was killed: start clean
    attachHost(ctx.sh, ctx.st.underlayNs, 'ex', ns, spare.ip, spare.len);
    ctx.undo(`removed namespace ${ns} (and its veth on the underlay)`, () => { ctx.sh.run('ip', ['netns', 'del', ns]); });
    addStrayVtep(ctx, { ns, vni: o.vni, listenPort: o.port, local: spare.ip, to: a.ip, toPort: o.port });
    return {
      steps: [
        watchStep(`npx vxtap lab trace ${a.name} --filter drops${ctx.flags}`, `follow ${a.name}'s drops`),
        nsStep(ns, ['ping', '-c', '3', '-W', '1', STRAY_NET.remote], `send through ${STRAY_DEV}: each ARP request leaves ${spare.ip} as VXLAN to ${a.ip}:${o.port}`),
        watchStep(daemonCmd(a, 'stats'), `${a.name}'s counters`),
      ],
      expect: [
        'the ping gets no reply (100% packet loss)',
        `${a.name}'s trace: a datagram from ${spare.ip}, dropped: ${DROP}, before its VXLAN header is even read`,
        `vxtap stats on ${a.name}: ${DROP} goes up by one per datagram`,
      ],
      check: () => dropEvidence(ctx.sh, a, DROP, before, trace, from, (r) => r.outer?.src === spare.ip, { from: spare.ip }),
      explain: () => [
        'VXLAN has no authentication of its own (RFC 7348 §7): any node on the underlay can send a datagram to port',
        `${o.port}. In flannel's scheme the peers are the hosts with a lease in etcd${o.mode === 'l2' ? ' (here: a VTEP key)' : ''}, and the FDB holds only them`,
        `(the kernel device is created "nolearning"); vxtap keeps the same rule in its data plane and drops a datagram whose`,
        `source address is no known VTEP, so a stray or forged datagram cannot put a frame into the overlay.`,
      ],
    };
  },
};
