/**
 * Tracing as middleware at the switch's edge (switch/trace-edge.ts): the
 * pipeline records every decision (switch/decisions.ts) traced or not, and
 * the edge explains a whole batch after the ports answered. What can go
 * wrong with that cut, and is checked here: a fact that changes within a
 * batch (a MAC moved twice), a frame's place on the send lists when
 * floods, unicasts, ARP answers and drops are mixed in one batch, and
 * records for batches larger than any before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { MemoryDatagramPort, MemoryFramePort, type InjectedDatagram } from '../../../src/io/fake';
import { SendList } from '../../../src/io/port';
import { ArpTable } from '../../../src/switch/arp-table';
import { Counters, DropReason } from '../../../src/switch/counters';
import { Fdb, LEARN_MOVED, LEARN_NEW } from '../../../src/switch/fdb';
import { FloodList } from '../../../src/switch/flood-list';
import { Pipeline, Verdict } from '../../../src/switch/pipeline';
import { Switch } from '../../../src/switch/switch';
import { createTracer, type TraceRecord } from '../../../src/switch/trace';
import { macKeyFromString, parseIpv4 } from '../../../src/wire/addr';
import { arpRequest, batchOf, ipv4Frame } from '../../helpers/frames';

const SELF_MAC = '02:76:c0:a8:5a:01';
const PEER_MAC = '02:76:c0:a8:5a:02';
const REMOTE = '02:00:00:00:02:02';
const V1 = '192.168.90.2';
const V2 = '192.168.90.3';
const V3 = '192.168.90.4';
const VNI = 7;

class Sink {
  readonly chunks: string[] = [];
  isTTY = false;
  writableLength = 0;
  write(s: string): boolean {
    this.chunks.push(s);
    return true;
  }
  get text(): string {
    return this.chunks.join('');
  }
  get json(): TraceRecord[] {
    return this.text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as TraceRecord);
  }
}

/** An L2 switch with V1..V3 on its flood list and PEER_MAC static behind V1, traced to a Sink. */
function l2Switch(format: 'text' | 'json') {
  const out = new Sink();
  const tracer = createTracer({ out, format, vni: VNI, port: 4789, localIp: '192.168.90.1', clock: () => 0 });
  const tap = new MemoryFramePort('vxtap.7');
  const net = new MemoryDatagramPort({ writesUdpHeader: true });
  const sw = new Switch({ vni: VNI, tap, net, mtu: 1450, batchSize: 32, tracer, mode: 'l2', l2: { port: 4789 } });
  for (const ip of [V1, V2, V3]) sw.floodList.add(parseIpv4(ip), 4789);
  sw.fdb.set(macKeyFromString(PEER_MAC), parseIpv4(V1), 4789);
  sw.start();
  return { out, tap, net, sw };
}

const vxlanOf = (frame: Buffer) => Buffer.concat([Buffer.from([0x08, 0, 0, 0, 0, 0, VNI, 0]), frame]);
const fromVtep = (frame: Buffer, addr: string): InjectedDatagram => ({ data: vxlanOf(frame), addr, port: 51234 });
const toSelfFrom = (src: string) => ipv4Frame(SELF_MAC, src, '10.0.0.2', '10.0.0.1', 17, 1, 2);
const broadcast = (sport: number) => ipv4Frame('ff:ff:ff:ff:ff:ff', SELF_MAC, '10.0.0.1', '10.0.0.255', 17, sport, 2);

test('one batch that moves a MAC twice: each datagram\'s trace names the move it made, not the last one', () => {
  const { out, net, sw } = l2Switch('text');
  net.inject([fromVtep(toSelfFrom(REMOTE), V1), fromVtep(toSelfFrom(REMOTE), V2), fromVtep(toSelfFrom(REMOTE), V3)]);
  const learns = out.text.split('\n').filter((l) => l.includes(REMOTE) && l.startsWith('  lookup'));
  assert.deepEqual(learns, [
    `  lookup  learned ${REMOTE} behind ${V1}`,
    `  lookup  moved ${REMOTE} from ${V1} to ${V2}`,
    `  lookup  moved ${REMOTE} from ${V2} to ${V3}`,
  ]);
  assert.equal(sw.counters.l2.moved, 2);
});

test('one batch from the TAP mixing floods, a unicast, a runt and an ARP request: each record has its own copies, and a refusal lands on its frame', () => {
  const { out, tap, net } = l2Switch('json');
  // Entries on the list to the network: flood 0-2, unicast 3, flood 4-6. The
  // socket refuses the unicast and every copy of the second flood.
  net.refuse = (_d, k) => (k === 3 || k >= 4 ? constants.errno.EACCES : 0);
  tap.inject([
    broadcast(1),
    ipv4Frame(PEER_MAC, SELF_MAC, '10.0.0.1', '10.0.0.2', 17, 1, 2),
    Buffer.alloc(5),
    arpRequest(SELF_MAC, '10.0.0.1', '10.0.0.9'), // not in the suppression table: flooded too, entries 4-6
  ]);
  const recs = out.json;
  assert.deepEqual(recs.map((r) => [r.len, r.decision, r.drop]), [
    [broadcast(1).length, 'encap', null],
    [74, 'drop', 'udp-send'],
    [5, 'drop', 'runt'],
    [42, 'drop', 'udp-send'],
  ]);
  assert.deepEqual(recs[0]!.flood, { vteps: [V1, V2, V3], refused: 0 });
  assert.deepEqual(recs[3]!.flood, { vteps: [V1, V2, V3], refused: 3 });
  assert.match(recs[1]!.reason, /EACCES/);
  assert.equal(recs[2]!.flood, null);
  assert.equal(net.sent.length, 3, 'the first flood\'s three copies went out');
});

test('the pipeline records every decision, traced or not, also for a batch larger than any before', () => {
  const fdb = new Fdb();
  const arp = new ArpTable();
  const counters = new Counters();
  fdb.set(macKeyFromString(PEER_MAC), parseIpv4(V1), 4789);
  arp.set(parseIpv4('10.44.2.0'), macKeyFromString(PEER_MAC));
  const p = new Pipeline({ vni: VNI, fdb, arp, counters, writesUdpHeader: true });
  const frames: Buffer[] = [];
  for (let i = 0; i < 300; i++) {
    frames.push(i % 3 === 0 ? ipv4Frame(PEER_MAC, SELF_MAC, '10.44.1.0', '10.44.2.0', 17, i, 2)
      : i % 3 === 1 ? arpRequest(SELF_MAC, '10.44.1.0', '10.44.2.0') : Buffer.alloc(6));
  }
  const toNet = new SendList(300);
  const toTap = new SendList(300);
  toNet.push(0, 1, 1, 1); // entries before the batch: its own start at 1
  p.encapBatch(batchOf(frames), toNet, toTap);
  const d = p.decisions;
  assert.equal(d.count, 300);
  assert.equal(d.netStart, 1);
  assert.equal(d.tapStart, 0);
  const want = frames.map((_, i) => (i % 3 === 0 ? Verdict.ENCAP : i % 3 === 1 ? Verdict.ARP_REPLY : DropReason.RUNT));
  assert.deepEqual([...d.verdict.subarray(0, 300)], want);
  // L2 decap: what learning did, frame by frame.
  const l2fdb = new Fdb();
  const fl = new FloodList(4789, 8, l2fdb.endpoints); // one endpoint table for both, as the Switch makes them
  fl.add(parseIpv4(V1), 4789);
  fl.add(parseIpv4(V2), 4789);
  const l2 = new Pipeline({ vni: VNI, fdb: l2fdb, arp, counters, writesUdpHeader: true, mode: 'l2', l2: { port: 4789, floodList: fl, arp: null } });
  const a = batchOf([vxlanOf(toSelfFrom(REMOTE))], { addr: parseIpv4(V1) });
  const b = batchOf([vxlanOf(toSelfFrom(REMOTE))], { addr: parseIpv4(V2) });
  l2.decapBatch(a, new SendList(4));
  assert.deepEqual([l2.decisions.verdict[0], l2.decisions.learn[0]], [Verdict.DECAP, LEARN_NEW]);
  l2.decapBatch(b, new SendList(4));
  assert.deepEqual([l2.decisions.learn[0], l2.decisions.movedFrom[0]], [LEARN_MOVED, parseIpv4(V1)]);
});
