/**
 * learning (L2): two new stations, one behind h1's bridge and one behind
 * h2's, that no VTEP has seen. One ping between them, and each VTEP learns
 * the far station's MAC behind the other's address (`vxtap fdb`: kind
 * learned), from the frames it decapsulates.
 */
import { daemonJson, type FdbRowJson } from '../vxtap';
import { daemonArgv, daemonCmd, needHosts, nsStep, spareL2Ip, watchStep } from './common';
import { statsOf } from './evidence';
import { addStation } from './l2-station';
import type { Exercise } from './types';

export const learning: Exercise = {
  name: 'learning',
  modes: ['l2'],
  teaches: 'flood and learn: a VTEP learns a MAC behind the VTEP its frames came from (RFC 7348 §4.1)',
  async setUp(ctx) {
    const hs = needHosts(ctx.st, 2, 'learning', ctx.flags);
    const a = hs[0]!;
    const b = hs[1]!;
    const arpRows = async (h: typeof a): Promise<string[]> => (await daemonJson<{ ip: string }[]>(ctx.sh, h.ns, 'arp', h.socket ?? null)).map((r) => r.ip);
    const known = new Set([...await arpRows(a), ...await arpRows(b)]);
    const ipA = spareL2Ip(ctx.st, known);
    known.add(ipA.ip);
    const ipB = spareL2Ip(ctx.st, known);
    ctx.say.line('Two stations no VTEP has seen: new MACs, new addresses.');
    const sa = addStation(ctx, a, 'xa', ipA.ip, ipA.len);
    const sb = addStation(ctx, b, 'xb', ipB.ip, ipB.len);
    const before = { a: (await statsOf(ctx.sh, a)).counters.l2.learned, b: (await statsOf(ctx.sh, b)).counters.l2.learned };
    const learned = async (h: typeof a, mac: string): Promise<FdbRowJson | undefined> =>
      (await daemonJson<FdbRowJson[]>(ctx.sh, h.ns, 'fdb', h.socket ?? null)).find((r) => r.mac === mac);
    return {
      steps: [
        watchStep(`npx vxtap lab trace ${b.name} --filter arp${ctx.flags}`, `${b.name}'s trace: "learned ${sa.mac} behind ${a.ip}"`),
        { show: daemonCmd(a, 'fdb'), why: `${a.name}'s VXLAN FDB before: no ${sb.mac} in it`, argv: daemonArgv(a, 'fdb') },
        nsStep(sa.ns, ['ping', '-c', '2', '-W', '2', sb.ip], `ping from the station behind ${a.name} to the one behind ${b.name}`),
        { show: daemonCmd(a, 'fdb'), why: `${a.name}'s FDB after`, argv: daemonArgv(a, 'fdb') },
        { show: daemonCmd(b, 'fdb'), why: `${b.name}'s FDB after`, argv: daemonArgv(b, 'fdb') },
      ],
      expect: [
        'the ping is answered (the first reply takes a little longer: an ARP request is flooded first)',
        `${a.name}'s FDB: ${sb.mac} → ${b.ip}, kind learned`,
        `${b.name}'s FDB: ${sa.mac} → ${a.ip}, kind learned`,
      ],
      async check() {
        const onA = await learned(a, sb.mac);
        const onB = await learned(b, sa.mac);
        if (onA?.kind !== 'learned' || onA.vtep !== b.ip || onB?.kind !== 'learned' || onB.vtep !== a.ip) return null;
        const after = { a: (await statsOf(ctx.sh, a)).counters.l2.learned, b: (await statsOf(ctx.sh, b)).counters.l2.learned };
        if (after.a <= before.a || after.b <= before.b) return null;
        return {
          lines: [
            `${a.name}: ${sb.mac} learned behind ${b.ip}:${onA.port} (l2.learned ${before.a} → ${after.a})`,
            `${b.name}: ${sa.mac} learned behind ${a.ip}:${onB.port} (l2.learned ${before.b} → ${after.b})`,
          ],
          data: { learnedOn: { [a.name]: { mac: sb.mac, vtep: b.ip }, [b.name]: { mac: sa.mac, vtep: a.ip } }, before, after },
        };
      },
      explain: () => [
        `RFC 7348 §4.1: a VTEP learns "inner source MAC → outer source IP" from every frame it decapsulates. The ping's`,
        `first frame is an ARP request, a broadcast: ${a.name} floods it to every VTEP on its flood list, and ${b.name} learns`,
        `${sa.mac} behind ${a.ip}. The reply is a unicast to a MAC ${b.name} now knows, sent to ${a.ip} alone, and ${a.name}`,
        `learns ${sb.mac} from it. From then on both directions are unicast. Each host's Linux bridge learns the same way on its ports.`,
        'When the stations are gone, their entries stay until they age out (`vxtap fdb` shows the age), as in a hardware switch.',
      ],
    };
  },
};
