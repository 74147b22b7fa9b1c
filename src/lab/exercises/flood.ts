/**
 * flood (L2): from h1's container, a ping to an address of the subnet that
 * nobody has. Its ARP requests are broadcasts that no table can answer, so
 * h1 floods each: one unicast copy per VTEP on its flood list (head-end
 * replication), counted in l2.floodedFrames and l2.floodCopies.
 */
import { renderRecord } from '../trace-view';
import { daemonJson } from '../vxtap';
import { daemonCmd, needHosts, nsStep, spareL2Ip, watchStep } from './common';
import { sizeOf, statsOf, traceOf, traceSince } from './evidence';
import type { Exercise } from './types';

export const flood: Exercise = {
  name: 'flood',
  modes: ['l2'],
  teaches: 'a broadcast is copied to every VTEP on the flood list (head-end replication), and what it costs',
  async setUp(ctx) {
    const a = needHosts(ctx.st, 2, 'flood', ctx.flags)[0]!;
    const trace = traceOf(a, ctx.flags);
    const known = new Set((await daemonJson<{ ip: string }[]>(ctx.sh, a.ns, 'arp', a.socket ?? null)).map((r) => r.ip));
    const nobody = spareL2Ip(ctx.st, known).ip;
    const s0 = await statsOf(ctx.sh, a);
    const vteps = s0.tables.floodList ?? 0;
    const from = sizeOf(trace);
    ctx.say.line(`Nothing to add. ${a.name}'s flood list has ${vteps} VTEP${vteps === 1 ? '' : 's'}; ${nobody} is an address of ${ctx.st.options.network} that nobody has.`);
    ctx.undo(`forgot ${nobody} in ${a.containerNs}'s ARP cache`, () => { ctx.sh.tryRun('ip', ['-n', a.containerNs, 'neigh', 'del', nobody, 'dev', 'eth0']); });
    return {
      steps: [
        watchStep(`npx vxtap lab trace ${a.name} --filter arp${ctx.flags}`, `follow ${a.name}'s ARP frames`),
        nsStep(a.containerNs, ['ping', '-c', '2', '-W', '1', nobody], `ask for ${nobody}: the container broadcasts "who has ${nobody}?"`),
        watchStep(daemonCmd(a, 'stats'), `${a.name}'s counters: l2.floodedFrames and l2.floodCopies`),
      ],
      expect: [
        'the ping gets no reply (100% packet loss): nobody has that address',
        `${a.name}'s trace: the ARP request, "flooded to ${vteps} VTEPs (head-end replication)"`,
        `vxtap stats on ${a.name}: l2.floodedFrames up by one per request, l2.floodCopies by ${vteps} per request`,
      ],
      async check() {
        const s1 = await statsOf(ctx.sh, a);
        const frames = s1.counters.l2.floodedFrames - s0.counters.l2.floodedFrames;
        const copies = s1.counters.l2.floodCopies - s0.counters.l2.floodCopies;
        const rec = traceSince(trace, from).find((r) => r.flood !== null && r.flood.vteps.length > 0 && JSON.stringify(r.layers).includes(nobody));
        if (frames < 1 || copies < vteps || rec === undefined) return null;
        return {
          lines: [
            `${a.name}: l2.floodedFrames ${s0.counters.l2.floodedFrames} → ${s1.counters.l2.floodedFrames}, l2.floodCopies ${s0.counters.l2.floodCopies} → ${s1.counters.l2.floodCopies} (${vteps} per frame)`,
            `${a.name}'s trace:`,
            ...renderRecord(rec, a.name, false).trimEnd().split('\n').map((l) => `  ${l}`),
          ],
          data: { host: a.name, floodList: vteps, floodedFrames: frames, floodCopies: copies, asked: nobody },
        };
      },
      explain: () => [
        `RFC 7348 §4.2: a broadcast, a multicast or a frame to an unknown MAC must reach every VTEP of the segment. The RFC`,
        `maps the segment to an IP multicast group; without multicast in the underlay (as here, and in most clouds) the VTEP`,
        `sends one unicast copy to each VTEP on its flood list instead (head-end replication; the kernel's all-zeros FDB entry).`,
        `The cost grows with the number of hosts: ${vteps} copies per ARP request here. That is why vxtap answers ARP requests for`,
        `addresses it has seen from its table (ARP suppression), and why a copy that arrives is never flooded on (split horizon).`,
      ],
    };
  },
};
