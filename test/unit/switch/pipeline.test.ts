import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArpTable } from '../../../src/switch/arp-table';
import { Counters } from '../../../src/switch/counters';
import { Fdb } from '../../../src/switch/fdb';
import { Pipeline } from '../../../src/switch/pipeline';
import { SendList } from '../../../src/io/port';
import { macKeyFromString, parseIpv4 } from '../../../src/wire/addr';
import { arpRequest, batchOf, ipv4Frame } from '../../helpers/frames';

const SELF_MAC = '02:76:c0:a8:5a:01';
const PEER_MAC = '02:76:c0:a8:5a:02';
const PEER_IP = parseIpv4('192.168.90.2');
const VNI = 7;

function setup(writesUdpHeader: boolean) {
  const fdb = new Fdb();
  const arp = new ArpTable();
  const counters = new Counters();
  fdb.set(macKeyFromString(PEER_MAC), PEER_IP, 4789);
  arp.set(parseIpv4('10.44.2.0'), macKeyFromString(PEER_MAC));
  const p = new Pipeline({ vni: VNI, fdb, arp, counters, writesUdpHeader });
  return { p, counters, toNet: new SendList(16), toTap: new SendList(16) };
}

test('encap: a unicast frame to a known MAC gets UDP + VXLAN headers in place (golden header bytes)', () => {
  const { p, counters, toNet, toTap } = setup(true);
  const frame = ipv4Frame(PEER_MAC, SELF_MAC, '10.44.1.0', '10.44.2.0', 1, 0x0800, 1);
  const b = batchOf([frame]);
  p.encapBatch(b, toNet, toTap);
  assert.equal(toNet.count, 1);
  assert.equal(toTap.count, 0);
  const start = toNet.starts[0]!;
  assert.equal(start, b.frameStart(0) - 16, 'the span starts 16 bytes before the frame: UDP + VXLAN');
  assert.equal(toNet.lens[0], frame.length + 16);
  assert.equal(toNet.addr(0), PEER_IP);
  assert.equal(toNet.port(0), 4789);
  const out = b.slab.subarray(start, start + toNet.lens[0]!);
  const srcPort = out.readUInt16BE(0);
  assert.ok(srcPort >= 49152, `source port ${srcPort} is not in the RFC 7348 range`);
  assert.equal(toNet.srcPorts[0], srcPort);
  // UDP: dst 4789 (0x12b5), length frame+16, checksum 0 (RFC 7348: SHOULD be zero).
  assert.deepEqual(out.subarray(2, 8), Buffer.from([0x12, 0xb5, (frame.length + 16) >> 8, (frame.length + 16) & 0xff, 0, 0]));
  // VXLAN: flags 0x08, reserved 0, VNI 7, reserved 0.
  assert.deepEqual(out.subarray(8, 16), Buffer.from([0x08, 0, 0, 0, 0, 0, 7, 0]));
  assert.deepEqual(out.subarray(16), frame, 'the inner frame is untouched');
  assert.equal(counters.encapFrames, 1);
  assert.equal(counters.encapBytes, frame.length);
});

test('encap for a plain UDP socket writes only the VXLAN header', () => {
  const { p, toNet, toTap } = setup(false);
  const frame = ipv4Frame(PEER_MAC, SELF_MAC, '10.44.1.0', '10.44.2.0', 17, 1000, 2000);
  const b = batchOf([frame]);
  p.encapBatch(b, toNet, toTap);
  assert.equal(toNet.starts[0], b.frameStart(0) - 8);
  assert.equal(toNet.lens[0], frame.length + 8);
  assert.deepEqual(b.slab.subarray(toNet.starts[0]!, toNet.starts[0]! + 8), Buffer.from([0x08, 0, 0, 0, 0, 0, 7, 0]));
});

test('encap: ARP for a known address is answered to the TAP, never sent to the network', () => {
  const { p, counters, toNet, toTap } = setup(true);
  const b = batchOf([arpRequest(SELF_MAC, '10.44.1.0', '10.44.2.0')]);
  p.encapBatch(b, toNet, toTap);
  assert.equal(toNet.count, 0);
  assert.equal(toTap.count, 1);
  assert.equal(toTap.starts[0], b.frameStart(0));
  assert.equal(counters.arpAnswered, 1);
  const reply = b.slab.subarray(toTap.starts[0]!, toTap.starts[0]! + toTap.lens[0]!);
  assert.equal(reply.readUInt16BE(14 + 6), 2, 'op is reply');
  assert.equal(reply.subarray(6, 12).toString('hex'), PEER_MAC.replace(/:/g, ''));
});

test('encap drops by reason: runt, flood, arp-miss, fdb-miss; a batch of mixed frames is decided frame by frame', () => {
  const { p, counters, toNet, toTap } = setup(true);
  const frames = [
    Buffer.alloc(10), // runt
    ipv4Frame('ff:ff:ff:ff:ff:ff', SELF_MAC, '10.44.1.0', '10.44.255.255', 17, 1, 2), // broadcast
    ipv4Frame('33:33:00:00:00:16', SELF_MAC, '10.44.1.0', '10.44.2.0', 17, 1, 2), // multicast
    arpRequest(SELF_MAC, '10.44.1.0', '10.44.9.0'), // ARP for an unknown address
    ipv4Frame('02:00:00:00:00:99', SELF_MAC, '10.44.1.0', '10.44.9.1', 6, 1, 2), // unknown unicast
    ipv4Frame(PEER_MAC, SELF_MAC, '10.44.1.0', '10.44.2.5', 6, 1, 2), // forwarded
  ];
  p.encapBatch(batchOf(frames), toNet, toTap);
  assert.equal(toNet.count, 1);
  assert.equal(toTap.count, 0);
  const s = counters.snapshot();
  assert.deepEqual({ runt: s.drops['runt'], flood: s.drops['flood'], arp: s.drops['arp-miss'], fdb: s.drops['fdb-miss'] }, { runt: 1, flood: 2, arp: 1, fdb: 1 });
  assert.equal(s.tapInFrames, 6);
  assert.equal(s.tapBatches, 1);
});

test('decap: only well-formed VXLAN with our VNI from a known VTEP reaches the TAP; the rest is counted by reason', () => {
  const { p, counters, toTap } = setup(true);
  const inner = ipv4Frame(SELF_MAC, PEER_MAC, '10.44.2.0', '10.44.1.0', 1, 0, 0);
  const vx = (flags: number, vni: number) => Buffer.concat([Buffer.from([flags, 0, 0, 0, vni >> 16, (vni >> 8) & 0xff, vni & 0xff, 0]), inner]);
  const good = vx(0x08, VNI);
  const reservedSet = Buffer.from(good); reservedSet[1] = 0xff; reservedSet[7] = 0xff; // reserved bits are ignored on receipt
  const cases = [good, reservedSet, vx(0x00, VNI), vx(0x08, 9), good.subarray(0, 20), Buffer.alloc(0)];
  const b = batchOf(cases, { addr: PEER_IP, port: 51234 });
  p.decapBatch(b, toTap);
  assert.equal(toTap.count, 2);
  for (let k = 0; k < 2; k++) {
    assert.deepEqual(b.slab.subarray(toTap.starts[k]!, toTap.starts[k]! + toTap.lens[k]!), inner);
  }
  const d = counters.snapshot().drops;
  assert.deepEqual([d['vxlan-no-i-flag'], d['vxlan-unknown-vni'], d['vxlan-too-short']], [1, 1, 2]);
  assert.equal(counters.decapFrames, 2);
});

test('decap: a datagram from an unknown source is dropped unless unknown VTEPs are accepted', () => {
  const { p, counters, toTap } = setup(true);
  const inner = ipv4Frame(SELF_MAC, PEER_MAC, '10.44.2.0', '10.44.1.0', 1, 0, 0);
  const dgram = Buffer.concat([Buffer.from([0x08, 0, 0, 0, 0, 0, VNI, 0]), inner]);
  p.decapBatch(batchOf([dgram], { addr: parseIpv4('192.168.90.77') }), toTap);
  assert.equal(toTap.count, 0);
  assert.equal(counters.dropCount('unknown-vtep'), 1);

  const open = new Pipeline({ vni: VNI, fdb: new Fdb(), arp: new ArpTable(), counters: new Counters(), writesUdpHeader: true, acceptUnknownVteps: true });
  const t2 = new SendList(4);
  open.decapBatch(batchOf([dgram], { addr: parseIpv4('192.168.90.77') }), t2);
  assert.equal(t2.count, 1);
});

test('a VNI out of range is refused at construction', () => {
  assert.throws(() => new Pipeline({ vni: 1 << 24, fdb: new Fdb(), arp: new ArpTable(), counters: new Counters(), writesUdpHeader: true }), /VNI/);
});

test('encap of whole super-frames: one decision stands for all segments, in the counters and in wholeOf', () => {
  const { p, counters, toNet, toTap } = setup(true);
  const seg0 = ipv4Frame(PEER_MAC, SELF_MAC, '10.44.1.0', '10.44.2.5', 6, 1, 2); // segment 0 of a super-frame
  const lost = ipv4Frame('02:00:00:00:00:99', SELF_MAC, '10.44.1.0', '10.44.9.1', 6, 1, 2); // another, to an unknown MAC
  const plain = ipv4Frame(PEER_MAC, SELF_MAC, '10.44.1.0', '10.44.2.5', 17, 1, 2);
  const b = batchOf([seg0, plain, lost]);
  b.keepWhole(1);
  // Slot 0: 5 segments, MSS = its payload (frame - 54 bytes of headers), 4000 payload bytes + headers once.
  const mss = seg0.length - 54;
  b.whole!.set([0, 54 + 4000, mss, 5], 0);
  b.whole!.set([0, 0, 0, 0], 4);
  b.whole!.set([0, 54 + 3000, mss, 3], 8);
  p.encapBatch(b, toNet, toTap);
  assert.equal(toNet.count, 2);
  assert.deepEqual([...toNet.wholeOf.subarray(0, 2)], [0, -1], 'entry 0 is slot 0 kept whole; entry 1 is plain');
  assert.equal(counters.encapFrames, 5 + 1);
  assert.equal(counters.encapBytes, 54 * 5 + 4000 + plain.length, 'every segment with its own headers');
  assert.equal(counters.dropCount('fdb-miss'), 3, 'a dropped super-frame counts its segments');
  assert.equal(counters.snapshot().tapInFrames, 5 + 1 + 3);
});
