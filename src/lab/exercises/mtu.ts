/**
 * mtu: nothing to set up. The learner pings across the overlay with the
 * Don't Fragment bit: one byte of payload too many is refused at the
 * container ("message too long"), a packet of exactly the overlay's MTU goes
 * through, and h1's trace shows it encapsulated into a full underlay packet.
 */
import { renderRecord } from '../trace-view';
import { mtuOf, needHosts, nsStep, watchStep } from './common';
import { sizeOf, traceOf, traceSince } from './evidence';
import type { Exercise } from './types';

/** ICMP echo header + IPv4 header: what ping adds to -s. */
const PING_OVERHEAD = 8 + 20;
/** Inner Ethernet + VXLAN + UDP + outer IPv4: what VXLAN adds inside the underlay's MTU. */
const VXLAN_OVERHEAD = 14 + 8 + 8 + 20;

export const mtu: Exercise = {
  name: 'mtu',
  modes: ['routed', 'l2'],
  teaches: 'the overlay\'s MTU is the underlay\'s less 50 bytes, and a packet with DF set that does not fit is refused',
  async setUp(ctx) {
    const hs = needHosts(ctx.st, 2, 'mtu', ctx.flags);
    const a = hs[0]!;
    const b = hs[1]!;
    const trace = traceOf(a, ctx.flags);
    const cMtu = mtuOf(ctx.sh, a.containerNs, 'eth0');
    const tapMtu = mtuOf(ctx.sh, a.ns, ctx.st.tap);
    const underMtu = mtuOf(ctx.sh, a.ns, 'eth0');
    const from = sizeOf(trace);
    ctx.say.line('Nothing to set up. The MTUs as they are:');
    ctx.say.line(`  underlay: ${a.name}'s eth0 MTU ${underMtu}`);
    ctx.say.line(`  overlay:  ${a.name}'s TAP ${ctx.st.tap} MTU ${tapMtu}, the container ${a.containerNs}'s eth0 MTU ${cMtu}`);
    const bigS = cMtu - PING_OVERHEAD + 1;
    const fitS = cMtu - PING_OVERHEAD;
    return {
      steps: [
        watchStep(`npx vxtap lab trace ${a.name} --filter icmp${ctx.flags}`, `follow ${a.name}'s ICMP frames`),
        nsStep(a.containerNs, ['ping', '-c', '1', '-W', '2', '-M', 'do', '-s', String(bigS), b.containerIp!], `${bigS} bytes of payload + ${PING_OVERHEAD} of headers = ${bigS + PING_OVERHEAD}: one more than the MTU, with DF set`),
        nsStep(a.containerNs, ['ping', '-c', '1', '-W', '2', '-M', 'do', '-s', String(fitS), b.containerIp!], `${fitS} + ${PING_OVERHEAD} = ${cMtu}: exactly the MTU`),
      ],
      expect: [
        `the first ping fails at once, in the container: "message too long, mtu=${cMtu}"; nothing is sent`,
        `the second one is answered, and ${a.name}'s trace shows a ${cMtu + 14}-byte frame encapsulated: an outer IPv4 packet of ${cMtu + VXLAN_OVERHEAD} bytes, the underlay's whole MTU`,
      ],
      async check() {
        const rec = traceSince(trace, from).find((r) => r.dir === 'tap' && r.encap !== null && r.len === cMtu + 14);
        if (rec === undefined) return null;
        return {
          lines: [
            `${a.name} encapsulated a ${rec.len}-byte frame (an IP packet of ${cMtu} bytes, the MTU) for ${rec.encap!.vtep}:`,
            ...renderRecord(rec, a.name, false).trimEnd().split('\n').map((l) => `  ${l}`),
          ],
          data: { host: a.name, containerMtu: cMtu, tapMtu, underlayMtu: underMtu, frameLen: rec.len, wireLen: rec.encap!.wireLen },
        };
      },
      explain: () => [
        `VXLAN wraps the whole inner Ethernet frame: 14 (inner Ethernet) + 8 (VXLAN) + 8 (UDP) + 20 (outer IPv4) = ${VXLAN_OVERHEAD} bytes go`,
        `around the inner IP packet, and all of it must fit in the underlay's MTU of ${underMtu}, so the overlay gets ${underMtu} - ${VXLAN_OVERHEAD} = ${underMtu - VXLAN_OVERHEAD}.`,
        `RFC 7348 §4.3 says VTEPs must not fragment VXLAN packets, so the MTU has to be set lower at the edge: flannel`,
        `writes FLANNEL_MTU=${tapMtu} into subnet.env, vxtap sets it on its TAP, and the container's interface gets it too.`,
        `With DF set (-M do) a bigger packet is refused by the sender's own stack ("message too long"), which is what`,
        `path-MTU discovery relies on.`,
      ],
    };
  },
};
