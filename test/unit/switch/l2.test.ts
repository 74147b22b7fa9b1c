/**
 * L2 mode's data plane (issue #10) through a Switch with memory ports:
 * head-end replication on one span, learning (new, refresh, move, static,
 * limit, ageing, a VTEP that leaves), split horizon, ARP suppression, the
 * accounts of refused copies, and the send list sized for floods. The flood
 * list, the learning FDB and the suppression table are also tested alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { ConfigError } from '../../../src/errors';
import { MemoryDatagramPort, MemoryFramePort } from '../../../src/io/fake';
import type { BatchHandler, FrameBatch, SendList } from '../../../src/io/port';
import {
  Fdb, LEARN_MOVED, LEARN_NEW, LEARN_REFRESHED, LEARN_REFUSED, LEARN_STATIC, LEARN_STATIC_CONFLICT,
} from '../../../src/switch/fdb';
import { FloodList } from '../../../src/switch/flood-list';
import { L2ArpTable } from '../../../src/switch/l2-arp';
import { Switch, type L2SwitchOptions } from '../../../src/switch/switch';
import * as arp from '../../../src/wire/arp';
import * as ethernet from '../../../src/wire/ethernet';
import { macKeyFromString, parseIpv4 } from '../../../src/wire/addr';
import { arpRequest, ipv4Frame, nsFrame } from '../../helpers/frames';
import * as icmpv6 from '../../../src/wire/icmpv6';

const VNI = 42;
const PORT = 4789;
const LOCAL_MAC = '02:00:00:00:01:01'; // a station behind our TAP
const REMOTE_MAC = '02:00:00:00:02:02'; // a station behind a remote VTEP
const V2 = '192.168.90.2';
const V3 = '192.168.90.3';
const V4 = '192.168.90.4';
const ip = parseIpv4;
const mac = macKeyFromString;
const EINVAL_ = constants.errno.EINVAL;

function make(opts: { vteps?: string[]; writesUdpHeader?: boolean; batchSize?: number; acceptUnknownVteps?: boolean } & Partial<L2SwitchOptions> = {}) {
  const tap = new MemoryFramePort('vxtap0');
  const net = new MemoryDatagramPort({ writesUdpHeader: opts.writesUdpHeader ?? true });
  const l2: L2SwitchOptions = { port: PORT };
  if (opts.fdbMax !== undefined) l2.fdbMax = opts.fdbMax;
  if (opts.ageingMs !== undefined) l2.ageingMs = opts.ageingMs;
  if (opts.arpSuppress !== undefined) l2.arpSuppress = opts.arpSuppress;
  const sw = new Switch({
    vni: VNI, tap, net, mtu: 1450, batchSize: opts.batchSize ?? 32, mode: 'l2', l2,
    acceptUnknownVteps: opts.acceptUnknownVteps ?? false,
  });
  for (const v of opts.vteps ?? [V2, V3, V4]) sw.floodList.add(ip(v), PORT);
  sw.start();
  return { sw, tap, net };
}

const vxlanOf = (frame: Buffer, vni = VNI) =>
  Buffer.concat([Buffer.from([0x08, 0, 0, 0, vni >> 16, (vni >> 8) & 0xff, vni & 0xff, 0]), frame]);
/** A datagram from `vtep`, from a flow-hash source port (never the segment's port). */
const from = (vtep: string, frame: Buffer, srcPort = 50123) => ({ data: vxlanOf(frame), addr: vtep, port: srcPort });
const toRemote = (dst = REMOTE_MAC) => ipv4Frame(dst, LOCAL_MAC, '10.0.0.1', '10.0.0.2', 17, 1000, 2000);
const fromRemote = (src = REMOTE_MAC, dst = LOCAL_MAC) => ipv4Frame(dst, src, '10.0.0.2', '10.0.0.1', 17, 2000, 1000);
const broadcast = () => ipv4Frame('ff:ff:ff:ff:ff:ff', LOCAL_MAC, '10.0.0.1', '10.0.0.255', 17, 1000, 2000);

function arpReply(senderMac: string, senderIp: string, targetMac: string, targetIp: string): Buffer {
  const b = Buffer.alloc(ethernet.HEADER_LEN + arp.HEADER_LEN);
  ethernet.emitHeader(b, 0, mac(targetMac), mac(senderMac), ethernet.ETHERTYPE_ARP);
  arp.emitEthIpv4(b, ethernet.HEADER_LEN, arp.OP_REPLY, mac(senderMac), ip(senderIp), mac(targetMac), ip(targetIp));
  return b;
}

/** The books of both sides balance (counters.ts). */
function balanced(sw: Switch): void {
  const s = sw.counters.snapshot();
  assert.equal(s.tapInFrames, s.encapFrames + s.arpAnswered + s.tapDrops, 'TAP side');
  assert.equal(s.netInFrames, s.decapFrames + s.netDrops, 'network side');
}

test('a broadcast from the TAP is encapsulated once and sent to every VTEP of the flood list, all copies one span', () => {
  for (const writesUdpHeader of [true, false]) {
    const { sw, tap, net } = make({ writesUdpHeader });
    const frame = broadcast();
    tap.inject([frame]);
    assert.deepEqual(net.sent.map((d) => d.addr), [ip(V2), ip(V3), ip(V4)]);
    for (const d of net.sent) {
      assert.equal(d.port, PORT);
      assert.deepEqual(d.payload, net.sent[0]!.payload, 'the same bytes: one encap');
      assert.deepEqual(d.payload.subarray(8), frame);
      assert.equal(d.payload.readUIntBE(4, 3), VNI);
    }
    if (writesUdpHeader) assert.equal(new Set(net.sent.map((d) => d.srcPort)).size, 1, 'one flow hash, written once');
    const s = sw.counters.snapshot();
    assert.equal(s.encapFrames, 1, 'a frame counts once');
    assert.equal(s.encapBytes, frame.length);
    assert.deepEqual(s.l2, { learned: 0, moved: 0, aged: 0, fdbRefused: 0, floodedFrames: 1, floodCopies: 3, arpSuppressed: 0 });
    balanced(sw);
  }
});

test('multicast and unknown unicast flood too; a unicast with an FDB entry goes to its VTEP alone', () => {
  const { sw, tap, net } = make();
  tap.inject([ipv4Frame('01:00:5e:00:00:fb', LOCAL_MAC, '10.0.0.1', '224.0.0.251', 17, 5353, 5353), toRemote()]);
  assert.equal(net.sent.length, 6);
  net.sent.length = 0;
  sw.fdb.set(mac(REMOTE_MAC), ip(V3), PORT);
  tap.inject([toRemote()]);
  assert.deepEqual(net.sent.map((d) => d.addr), [ip(V3)]);
  const s = sw.counters.snapshot();
  assert.equal(s.encapFrames, 3);
  assert.equal(s.l2.floodedFrames, 2);
  assert.equal(s.l2.floodCopies, 6);
  balanced(sw);
});

test('IPv6 is switched like any other frame (issue #13): an NS floods unchanged, its NA is learned from, then unicast goes to one VTEP', () => {
  const { sw, tap, net } = make();
  const ns = nsFrame(LOCAL_MAC, 'fd60::1', 'fd60::2');
  tap.inject([ns]);
  assert.deepEqual(net.sent.map((d) => d.addr), [ip(V2), ip(V3), ip(V4)]);
  for (const d of net.sent) assert.deepEqual(d.payload.subarray(8), ns, 'the NS crosses as it is: no ND suppression yet');
  net.sent.length = 0;
  // The NA from behind V3: the kernel's frame-8 NA, decapsulated to the TAP, its source learned.
  const na = Buffer.alloc(14 + 72);
  ethernet.emitHeader(na, 0, mac(LOCAL_MAC), mac(REMOTE_MAC), ethernet.ETHERTYPE_IPV6);
  icmpv6.emit({ kind: 'na', src: 'fd60::2', dst: 'fd60::1', target: 'fd60::2', router: false, solicited: true, override: true, targetLinkLayer: REMOTE_MAC }, na, 14);
  net.inject([from(V3, na)]);
  assert.deepEqual(tap.written, [na]);
  tap.inject([Buffer.concat([Buffer.from(na.subarray(6, 12)), Buffer.from(na.subarray(0, 6)), na.subarray(12)])]);
  assert.deepEqual(net.sent.map((d) => d.addr), [ip(V3)]);
  assert.equal(sw.counters.snapshot().l2.learned, 1);
  balanced(sw);
});

test('an empty flood list: a frame to flood is a flood-no-vteps drop', () => {
  const { sw, tap, net } = make({ vteps: [] });
  tap.inject([broadcast(), toRemote()]);
  assert.equal(net.sent.length, 0);
  assert.equal(sw.counters.dropCount('flood-no-vteps'), 2);
  balanced(sw);
});

test('decap learns the inner source MAC behind the outer source IP, at the segment\'s port (not the sender\'s flow-hash port)', () => {
  const { sw, tap, net } = make();
  net.inject([from(V2, fromRemote(), 51000)]);
  assert.equal(tap.written.length, 1);
  const e = sw.fdb.lookup(mac(REMOTE_MAC))!;
  assert.deepEqual(sw.fdb.describe(e), { mac: REMOTE_MAC, vtep: V2, port: PORT, kind: 'learned', updatedAt: e.updatedAt });
  assert.ok(Math.abs(e.updatedAt - Date.now()) < 60_000, 'stamped with the batch clock');
  // The reply goes to that VTEP alone now.
  tap.inject([toRemote()]);
  assert.deepEqual(net.sent.map((d) => [d.addr, d.port]), [[ip(V2), PORT]]);
  // Refreshed, not learned again.
  net.inject([from(V2, fromRemote(), 52000)]);
  assert.equal(sw.counters.snapshot().l2.learned, 1);
  assert.equal(sw.fdb.learned, 1);
  balanced(sw);
});

test('a MAC seen behind another VTEP moves there, counted', () => {
  const { sw, net } = make();
  net.inject([from(V2, fromRemote()), from(V3, fromRemote())]);
  assert.equal(sw.fdb.lookup(mac(REMOTE_MAC))!.vtep, ip(V3));
  assert.deepEqual([sw.counters.l2.learned, sw.counters.l2.moved], [1, 1]);
  assert.equal(sw.fdb.knowsVtep(ip(V2)), false, 'no entry points at V2 any more');
});

test('a static entry wins: never refreshed or moved by traffic; a frame claiming it from elsewhere is l2-static-mac', () => {
  const { sw, tap, net } = make();
  sw.fdb.set(mac(REMOTE_MAC), ip(V2), PORT, 1);
  net.inject([from(V2, fromRemote()), from(V3, fromRemote())]);
  const e = sw.fdb.lookup(mac(REMOTE_MAC))!;
  assert.deepEqual([e.kind, e.vtep, e.updatedAt], ['static', ip(V2), 1]);
  assert.equal(tap.written.length, 1, 'from its own VTEP it is delivered');
  assert.equal(sw.counters.dropCount('l2-static-mac'), 1);
  assert.deepEqual([sw.counters.l2.learned, sw.counters.l2.moved], [0, 0]);
  balanced(sw);
});

test('a multicast or zero inner source is l2-bad-source, never learned', () => {
  const { sw, tap, net } = make();
  net.inject([from(V2, fromRemote('01:00:5e:00:00:01')), from(V2, fromRemote('00:00:00:00:00:00'))]);
  assert.equal(tap.written.length, 0);
  assert.equal(sw.counters.dropCount('l2-bad-source'), 2);
  assert.equal(sw.fdb.size, 0);
  balanced(sw);
});

test('fdbMax: a new MAC past it is refused and counted, the frame still delivered; known MACs still refresh and move', () => {
  const { sw, tap, net } = make({ fdbMax: 2 });
  const macs = ['02:00:00:00:0a:01', '02:00:00:00:0a:02', '02:00:00:00:0a:03'];
  net.inject(macs.map((m) => from(V2, fromRemote(m))));
  assert.equal(tap.written.length, 3);
  assert.equal(sw.fdb.learned, 2);
  assert.equal(sw.fdb.lookup(mac(macs[2]!)), undefined);
  net.inject([from(V3, fromRemote(macs[0]))]);
  assert.equal(sw.fdb.lookup(mac(macs[0]!))!.vtep, ip(V3), 'a move at the limit');
  sw.fdb.set(mac('02:00:00:00:0b:01'), ip(V4), PORT);
  assert.equal(sw.fdb.size, 3, 'statics are not limited by fdbMax');
  assert.deepEqual(sw.counters.snapshot().l2, { learned: 2, moved: 1, aged: 0, fdbRefused: 1, floodedFrames: 0, floodCopies: 0, arpSuppressed: 0 });
  balanced(sw);
});

test('ageOut removes learned entries not refreshed for ageingMs, keeps statics and fresh ones; counted as aged', () => {
  const { sw } = make({ ageingMs: 1000 });
  sw.fdb.learn(mac('02:00:00:00:0a:01'), ip(V2), PORT, 1000);
  sw.fdb.learn(mac('02:00:00:00:0a:02'), ip(V2), PORT, 1500);
  sw.fdb.set(mac('02:00:00:00:0a:03'), ip(V3), PORT, 0);
  assert.equal(sw.ageOut(1999), 0);
  assert.equal(sw.ageOut(2000), 1);
  assert.equal(sw.fdb.lookup(mac('02:00:00:00:0a:01')), undefined);
  assert.equal(sw.ageOut(10_000), 1);
  assert.equal(sw.fdb.size, 1, 'the static entry stays');
  assert.equal(sw.counters.snapshot().l2.aged, 2);
  assert.equal(sw.fdb.learned, 0);
});

test('removeVtep drops the learned entries behind a VTEP that left, not its statics; it is then an unknown VTEP', () => {
  const { sw, net, tap } = make();
  net.inject([from(V2, fromRemote('02:00:00:00:0a:01')), from(V2, fromRemote('02:00:00:00:0a:02')), from(V3, fromRemote('02:00:00:00:0a:03'))]);
  sw.fdb.set(mac('02:00:00:00:0b:01'), ip(V4), PORT);
  assert.equal(sw.floodList.remove(ip(V2)), true);
  assert.equal(sw.fdb.removeVtep(ip(V2)), 2);
  assert.equal(sw.fdb.removeVtep(ip(V4)), 0, 'statics belong to the control plane');
  assert.deepEqual([...sw.fdb.entries()].map((e) => e.mac).sort(), [mac('02:00:00:00:0a:03'), mac('02:00:00:00:0b:01')].sort());
  net.inject([from(V2, fromRemote())]);
  assert.equal(tap.written.length, 3);
  assert.equal(sw.counters.dropCount('unknown-vtep'), 1);
});

test('decap accepts a flood-list VTEP or one with a static entry; others are unknown-vtep unless accepted, then learned', () => {
  const { sw, tap, net } = make({ vteps: [V2] });
  sw.fdb.set(mac('02:00:00:00:0b:01'), ip(V3), PORT);
  net.inject([from(V2, fromRemote('02:00:00:00:0a:01')), from(V3, fromRemote('02:00:00:00:0a:02')), from('192.168.90.9', fromRemote('02:00:00:00:0a:03'))]);
  assert.equal(tap.written.length, 2);
  assert.equal(sw.counters.dropCount('unknown-vtep'), 1);
  const open = make({ vteps: [], acceptUnknownVteps: true });
  open.net.inject([from('192.168.90.9', fromRemote())]);
  assert.equal(open.tap.written.length, 1);
  assert.equal(open.sw.fdb.lookup(mac(REMOTE_MAC))!.vtep, ip('192.168.90.9'));
});

test('split horizon: a broadcast or unknown unicast from the network goes to the TAP only, never back to the network', () => {
  const { sw, tap, net } = make();
  net.inject([
    from(V2, ipv4Frame('ff:ff:ff:ff:ff:ff', REMOTE_MAC, '10.0.0.2', '10.0.0.255', 17, 1, 2)),
    from(V2, fromRemote(REMOTE_MAC, '02:00:00:00:0c:0c')), // a MAC nobody knows
  ]);
  assert.equal(tap.written.length, 2);
  assert.equal(net.sent.length, 0);
  const s = sw.counters.snapshot();
  assert.equal(s.decapFrames, 2);
  assert.equal(s.l2.floodedFrames, 0);
  balanced(sw);
});

test('ARP suppression: a snooped reply answers the next request locally, while the MAC is behind a VTEP', () => {
  const { sw, tap, net } = make();
  // A request from our side floods; the remote owner's reply comes back and is snooped.
  tap.inject([arpRequest(LOCAL_MAC, '10.0.0.1', '10.0.0.2')]);
  assert.equal(net.sent.length, 3);
  net.inject([from(V3, arpReply(REMOTE_MAC, '10.0.0.2', LOCAL_MAC, '10.0.0.1'))]);
  assert.equal(sw.l2Arp!.lookup(ip('10.0.0.2')), mac(REMOTE_MAC));
  tap.written.length = 0;
  net.sent.length = 0;
  tap.inject([arpRequest(LOCAL_MAC, '10.0.0.1', '10.0.0.2')]);
  assert.equal(net.sent.length, 0, 'not flooded');
  assert.equal(tap.written.length, 1);
  const reply = tap.written[0]!;
  const l3 = ethernet.HEADER_LEN;
  assert.equal(arp.op(reply, l3), arp.OP_REPLY);
  assert.equal(arp.senderMacKey(reply, l3), mac(REMOTE_MAC));
  assert.equal(arp.senderIp(reply, l3), ip('10.0.0.2'));
  assert.equal(ethernet.dstKey(reply, 0), mac(LOCAL_MAC));
  let s = sw.counters.snapshot();
  assert.equal(s.l2.arpSuppressed, 1);
  assert.equal(s.arpAnswered, 1);
  // The owner's MAC ages out of the FDB: the request floods again.
  sw.fdb.delete(mac(REMOTE_MAC));
  tap.inject([arpRequest(LOCAL_MAC, '10.0.0.1', '10.0.0.2')]);
  assert.equal(net.sent.length, 3);
  s = sw.counters.snapshot();
  assert.equal(s.l2.arpSuppressed, 1);
  balanced(sw);
});

test('ARP suppression learns from gratuitous ARP, not from ordinary requests or probes; --no-arp-suppress floods every request', () => {
  const { sw, net } = make();
  net.inject([
    from(V2, arpRequest(REMOTE_MAC, '10.0.0.2', '10.0.0.2')), // gratuitous
    from(V2, arpRequest('02:00:00:00:0a:05', '10.0.0.5', '10.0.0.1')), // an ordinary request
    from(V2, arpRequest('02:00:00:00:0a:06', '0.0.0.0', '10.0.0.6')), // a probe
  ]);
  assert.deepEqual(sw.l2Arp!.list().map((e) => [e.ip, e.mac, e.kind]), [['10.0.0.2', REMOTE_MAC, 'learned']]);
  const off = make({ arpSuppress: false });
  assert.equal(off.sw.l2Arp, null);
  off.net.inject([from(V2, arpReply(REMOTE_MAC, '10.0.0.2', LOCAL_MAC, '10.0.0.1'))]);
  off.tap.inject([arpRequest(LOCAL_MAC, '10.0.0.1', '10.0.0.2')]);
  assert.equal(off.net.sent.length, 3);
  assert.equal(off.sw.counters.snapshot().l2.arpSuppressed, 0);
});

test('ARP suppression never answers a gratuitous ARP (a host announcing a move must reach every VTEP) nor the owner asking for itself', () => {
  const { sw, tap, net } = make();
  net.inject([from(V3, arpReply(REMOTE_MAC, '10.0.0.2', LOCAL_MAC, '10.0.0.1'))]);
  assert.equal(sw.l2Arp!.lookup(ip('10.0.0.2')), mac(REMOTE_MAC));
  net.sent.length = 0;
  tap.written.length = 0; // the decapsulated reply itself
  // The station moved behind our TAP and announces itself: flooded, so the other VTEPs learn it here.
  tap.inject([arpRequest(REMOTE_MAC, '10.0.0.2', '10.0.0.2')]);
  assert.equal(net.sent.length, 3, 'the gratuitous ARP is flooded');
  assert.equal(tap.written.length, 0, 'and not answered with its own MAC');
  // The owner's MAC asking for its own address (not gratuitous: another sender IP): flooded too.
  tap.inject([arpRequest(REMOTE_MAC, '10.0.0.9', '10.0.0.2')]);
  assert.equal(net.sent.length, 6);
  assert.equal(tap.written.length, 0);
  assert.equal(sw.counters.snapshot().l2.arpSuppressed, 0);
  balanced(sw);
});

test('a flood to a single VTEP whose copy is refused leaves the flood counters too (one entry marked as a flood)', () => {
  const { sw, tap, net } = make({ vteps: [V2] });
  net.acceptLimit = 0;
  tap.inject([broadcast()]);
  const s = sw.counters.snapshot();
  assert.deepEqual([s.encapFrames, s.l2.floodedFrames, s.l2.floodCopies, s.drops['udp-send']], [0, 0, 0, 1]);
  balanced(sw);
});

test('refused copies: the frame stays encapsulated while one copy went out; none out is one udp-send drop', () => {
  const { sw, tap, net } = make();
  net.refuse = (_d, k) => (k === 1 ? constants.errno.EACCES : 0);
  tap.inject([broadcast()]);
  let s = sw.counters.snapshot();
  assert.deepEqual([s.encapFrames, s.l2.floodedFrames, s.l2.floodCopies, s.drops['udp-send']], [1, 1, 2, 0]);
  balanced(sw);
  net.refuse = null;
  net.acceptLimit = 0; // a full socket: every copy refused
  tap.inject([broadcast(), toRemote()]);
  s = sw.counters.snapshot();
  assert.deepEqual([s.encapFrames, s.l2.floodedFrames, s.l2.floodCopies, s.drops['udp-send']], [1, 1, 2, 2]);
  assert.equal(s.encapBytes, broadcast().length);
  balanced(sw);
});

test('the send list grows with the flood list: a full batch flooded to 64 VTEPs goes out in one send', () => {
  const vteps = Array.from({ length: 64 }, (_, i) => `192.168.91.${i + 1}`);
  const { sw, tap, net } = make({ vteps: vteps.slice(0, 2), batchSize: 16 });
  for (const v of vteps.slice(2)) sw.floodList.add(ip(v), PORT);
  tap.inject(Array.from({ length: 16 }, () => broadcast()));
  assert.equal(net.sent.length, 16 * 64);
  assert.equal(net.calls.txCalls, 1);
  assert.deepEqual(sw.counters.snapshot().l2.floodCopies, 16 * 64);
  balanced(sw);
});

test('routed mode: the l2 counters are present and zero, and a broadcast is still a flood drop', () => {
  const tap = new MemoryFramePort('t');
  const net = new MemoryDatagramPort();
  const sw = new Switch({ vni: VNI, tap, net, mtu: 1450 });
  sw.floodList.add(ip(V2), PORT); // ignored by the routed pipeline
  sw.start();
  tap.inject([broadcast()]);
  const s = sw.counters.snapshot();
  assert.deepEqual(s.l2, { learned: 0, moved: 0, aged: 0, fdbRefused: 0, floodedFrames: 0, floodCopies: 0, arpSuppressed: 0 });
  assert.equal(s.drops.flood, 1);
  assert.equal(sw.l2Arp, null);
  assert.throws(() => new Switch({ vni: VNI, tap, net, mtu: 1450, mode: 'l2' }), RangeError);
});

test('FloodList: add, update, remove (the last fills the hole), has, entries; the segment\'s port only', () => {
  const fl = new FloodList(PORT, 2);
  assert.equal(fl.add(ip(V2), PORT), true);
  assert.equal(fl.add(ip(V3), PORT), true);
  assert.equal(fl.add(ip(V4), PORT), true, 'grows past its first capacity');
  assert.equal(fl.add(ip(V3), PORT), false, 'already there');
  assert.equal(fl.size, 3);
  assert.equal(fl.remove(ip(V2)), true);
  assert.equal(fl.remove(ip(V2)), false);
  assert.deepEqual(fl.entries(), [{ ip: ip(V4), port: PORT }, { ip: ip(V3), port: PORT }]);
  assert.equal(fl.has(ip(V4)), true);
  assert.equal(fl.has(ip(V2)), false);
  assert.deepEqual([...fl.addrs.subarray(0, fl.size)], [ip(V4), ip(V3)]);
  assert.throws(() => fl.add(ip(V2), 8472), (e: unknown) => e instanceof ConfigError && e.code === 'VXTAP_ERR_CONFIG');
  assert.throws(() => fl.add(-1, PORT), RangeError);
  const any = new FloodList();
  assert.equal(any.add(ip(V2), 8472), true, 'without a segment port any port goes');
});

test('Fdb.observe: its answers, one by one', () => {
  const fdb = new Fdb({ max: 1, ageingMs: 10 });
  const A = mac('02:00:00:00:0a:01');
  const B = mac('02:00:00:00:0a:02');
  const S = mac('02:00:00:00:0a:03');
  fdb.set(S, ip(V4), PORT, 0);
  assert.equal(fdb.observe(A, ip(V2), PORT, 1), LEARN_NEW);
  assert.equal(fdb.observe(A, ip(V2), PORT, 2), LEARN_REFRESHED);
  assert.equal(fdb.lookup(A)!.updatedAt, 2);
  assert.equal(fdb.observe(B, ip(V2), PORT, 3), LEARN_REFUSED);
  assert.equal(fdb.observe(A, ip(V3), PORT, 4), LEARN_MOVED);
  assert.equal(fdb.movedFrom, ip(V2));
  assert.equal(fdb.observe(S, ip(V4), PORT, 5), LEARN_STATIC);
  assert.equal(fdb.observe(S, ip(V2), PORT, 6), LEARN_STATIC_CONFLICT);
  assert.equal(fdb.learn(B, ip(V2), PORT, 7), false, 'learn() says refused as not taken');
  assert.equal(fdb.knowsStaticVtep(ip(V4)), true);
  assert.equal(fdb.knowsStaticVtep(ip(V3)), false);
  assert.equal(fdb.ageOut(13), 0);
  assert.equal(fdb.ageOut(14), 1);
  assert.equal(fdb.observe(B, ip(V2), PORT, 15), LEARN_NEW, 'room again after ageing');
  assert.throws(() => new Fdb({ max: -1 }), RangeError);
});

test('L2ArpTable: snooped entries age and are bounded; static ones (the control plane\'s) are neither, nor replaced by snooping', () => {
  const t = new L2ArpTable(1, 100);
  assert.equal(t.snoop(ip('10.0.0.2'), mac(REMOTE_MAC), 0), true);
  assert.equal(t.snoop(ip('10.0.0.3'), mac(LOCAL_MAC), 0), false, 'full');
  t.set(ip('10.0.0.9'), mac(LOCAL_MAC), 0);
  assert.equal(t.snoop(ip('10.0.0.9'), mac(REMOTE_MAC), 1), false);
  assert.equal(t.lookup(ip('10.0.0.9')), mac(LOCAL_MAC));
  assert.equal(t.ageOut(99), 0);
  assert.equal(t.ageOut(100), 1);
  assert.equal(t.lookup(ip('10.0.0.2')), undefined);
  assert.equal(t.lookup(ip('10.0.0.9')), mac(LOCAL_MAC));
  assert.equal(t.snoop(ip('10.0.0.3'), mac(LOCAL_MAC), 101), true, 'room again');
});

test('a whole TCP super-frame to an unknown MAC floods as one decision: every copy names it (wholeOf), counted as its segments once', () => {
  class WholeTap extends MemoryFramePort {
    readonly keepsWhole = true;
    kept: FrameBatch | null = null;
    override start(b: FrameBatch, cb: BatchHandler): void { this.kept = b; super.start(b, cb); }
  }
  class WholeNet extends MemoryDatagramPort {
    readonly sendsWhole = true;
    wholeOf: number[] = [];
    same: number[] = [];
    override send(slab: Buffer, list: SendList): number {
      this.wholeOf = [...list.wholeOf.subarray(0, list.count)];
      this.same = [...list.sameFrame.subarray(0, list.count)];
      return super.send(slab, list);
    }
  }
  const tap = new WholeTap('vxtap0');
  const net = new WholeNet({ writesUdpHeader: true });
  const sw = new Switch({ vni: VNI, tap, net, mtu: 1450, batchSize: 8, mode: 'l2', l2: { port: PORT } });
  for (const v of [V2, V3, V4]) sw.floodList.add(ip(v), PORT);
  sw.start();
  const b = tap.kept!;
  const seg0 = ipv4Frame('02:00:00:00:09:09', LOCAL_MAC, '10.0.0.1', '10.0.0.9', 6, 1, 2);
  const mss = seg0.length - 54;
  b.whole!.set([0, 0, 0, 0], 0);
  b.whole!.set([0, 54 + 4 * mss + 10, mss, 5], 4); // slot 1 stands for 5 segments
  tap.inject([broadcast(), seg0]);
  assert.deepEqual(net.wholeOf, [-1, -1, -1, 1, 1, 1]);
  assert.deepEqual(net.same, [2, 1, 1, 2, 1, 1]);
  let s = sw.counters.snapshot();
  assert.deepEqual([s.tapInFrames, s.encapFrames, s.l2.floodedFrames, s.l2.floodCopies], [6, 6, 2, 6]);
  // None of the super-frame's copies taken: its 5 segments are udp-send drops; the broadcast's copies went.
  net.refuse = (_d, k) => (k >= 3 ? EINVAL_ : 0);
  tap.inject([broadcast(), seg0]);
  s = sw.counters.snapshot();
  assert.deepEqual([s.encapFrames, s.l2.floodedFrames, s.l2.floodCopies, s.drops['udp-send']], [7, 3, 9, 5]);
  balanced(sw);
});
