/**
 * Suite 7, L2 mode's head-end replication (issue #10): `Pipeline.encapBatch`
 * in L2 mode over a batch of 128 frames (one op = one batch; per frame = op
 * / 128), with the raw-socket port's headers (VXLAN + UDP with the flow's
 * source port). No socket: the decisions and the send list, as the Switch
 * hands them to the port.
 *
 *   unicast    128 unicast frames, each an FDB hit: one entry each (the
 *              same work as routed mode's encap, in L2 mode's path);
 *   flood 8    128 broadcast frames to a flood list of 8 VTEPs: the
 *              headers written once per frame, 8 entries on its span;
 *   flood 64   the same to 64 VTEPs (8,192 entries per batch).
 *
 * What it prints at the end: ns per frame, ns per copy, and a flood's cost
 * per frame as a multiple of the unicast encap's. The Switch's send list is
 * sized for a batch flooded to the whole list (Switch.sizeSendList), as here.
 */
import { add } from 'benny';
import { SendList } from '../../src/io/port';
import { ArpTable } from '../../src/switch/arp-table';
import { Counters } from '../../src/switch/counters';
import { Fdb } from '../../src/switch/fdb';
import { FloodList } from '../../src/switch/flood-list';
import { Pipeline } from '../../src/switch/pipeline';
import { macKeyFromString, parseIpv4 } from '../../src/wire/addr';
import { main, runSuite, sink, type Case, type Summary } from './common';
import { batchOf, udpFrame } from './frames';
import { BATCH, SLOT_SIZE, VNI, VXLAN_PORT } from './scene';
import { SLOT_HEADROOM } from '../../src/switch/switch';

export const SUITE = 'flood';
export const FLOODS = [8, 64] as const;
export const CASES = {
  unicast: 'unicast: FDB hit, 1 copy per frame',
  flood8: 'broadcast: flooded to 8 VTEPs',
  flood64: 'broadcast: flooded to 64 VTEPs',
} as const;

const LOCAL_MAC = '02:00:00:00:01:01';
const REMOTE_MAC = '02:00:00:00:02:02';

/** An L2 pipeline with `vteps` on its flood list, REMOTE_MAC behind the first, and a batch of 128 frames to `dst`. */
function scene(vteps: number, dst: string): () => void {
  const fdb = new Fdb();
  const floodList = new FloodList(VXLAN_PORT, 8, fdb.endpoints);
  for (let i = 0; i < vteps; i++) floodList.add(parseIpv4(`192.168.${90 + (i >> 8)}.${(i & 0xff) + 2}`), VXLAN_PORT);
  fdb.set(macKeyFromString(REMOTE_MAC), floodList.addrs[0]!, VXLAN_PORT, 0);
  const counters = new Counters();
  const pipeline = new Pipeline({
    vni: VNI, fdb, arp: new ArpTable(), counters, writesUdpHeader: true,
    mode: 'l2', l2: { port: VXLAN_PORT, floodList, arp: null },
  });
  // 128 flows (another source port each), so the flow hash is not one value.
  const frames = Array.from({ length: BATCH }, (_, i) => udpFrame({
    dstMac: dst, srcMac: LOCAL_MAC, srcIp: '10.0.0.1', dstIp: '10.0.0.2', sport: 10000 + i, dport: 53,
  }, 64));
  const batch = batchOf(frames, SLOT_SIZE, SLOT_HEADROOM);
  const toNet = new SendList(BATCH * Math.max(1, vteps));
  const toTap = new SendList(BATCH);
  const copies = dst === REMOTE_MAC ? 1 : vteps;
  const op = (): void => {
    toNet.count = 0;
    toTap.count = 0;
    pipeline.encapBatch(batch, toNet, toTap);
    sink.n += toNet.count;
  };
  op();
  if (toNet.count !== BATCH * copies) throw new Error(`expected ${BATCH * copies} entries, got ${toNet.count}`);
  return op;
}

export function cases(): Case[] {
  return [
    add(CASES.unicast, () => scene(8, REMOTE_MAC)),
    add(CASES.flood8, () => scene(8, 'ff:ff:ff:ff:ff:ff')),
    add(CASES.flood64, () => scene(64, 'ff:ff:ff:ff:ff:ff')),
  ];
}

/** The figures the suite is for, from benny's ops/s (one op = one batch of 128). */
export function figures(s: Summary): string {
  const nsPerFrame = (name: string): number => {
    const r = s.results.find((x) => x.name === name);
    if (r === undefined) throw new Error(`no result for ${name}`);
    return 1e9 / r.ops / BATCH;
  };
  const uni = nsPerFrame(CASES.unicast);
  const lines = [`unicast encap: ${uni.toFixed(1)} ns/frame`];
  for (const [n, name] of [[8, CASES.flood8], [64, CASES.flood64]] as const) {
    const f = nsPerFrame(name);
    lines.push(`flood to ${n}: ${f.toFixed(1)} ns/frame, ${(f / n).toFixed(1)} ns/copy, ${(f / uni).toFixed(1)}x the unicast encap`);
  }
  return lines.join('\n');
}

export async function run(): Promise<unknown> {
  const summary = await runSuite(SUITE, 'flood: L2 Pipeline.encapBatch, one 128-frame batch per op', 'batch', cases());
  console.log(`\n${figures(summary)}\n`);
  return summary;
}

if (require.main === module) main(run);
