/**
 * The IPv6 overlay in the routed pipeline (issue #13, part 2), with fakes:
 * Neighbor Solicitations from the TAP answered from the ND table next to the
 * ARP responder, nd-miss and nd-malformed counted, unicast IPv6 switched by
 * the FDB, the inner source check for IPv6 (the sender's subnet6), and the
 * trace's record of an answered NS.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryDatagramPort, MemoryFramePort } from '../../../src/io/fake';
import { SendList } from '../../../src/io/port';
import { ArpTable } from '../../../src/switch/arp-table';
import { Counters, DropReason } from '../../../src/switch/counters';
import { Fdb } from '../../../src/switch/fdb';
import { NdTable } from '../../../src/switch/nd-table';
import { Pipeline, Verdict } from '../../../src/switch/pipeline';
import { checkInnerSource, INNER_BAD_IP6, INNER_BAD_MAC, INNER_OK, PeerTable } from '../../../src/switch/peer-table';
import { Switch } from '../../../src/switch/switch';
import { createTracer, type TraceRecord } from '../../../src/switch/trace';
import { macKeyFromString, parseIpv4 } from '../../../src/wire/addr';
import * as ethernet from '../../../src/wire/ethernet';
import * as icmpv6 from '../../../src/wire/icmpv6';
import * as ipv6 from '../../../src/wire/ipv6';
import { batchOf, ipv4Frame, nsFrame } from '../../helpers/frames';

const SELF_MAC = '02:76:c0:a8:5a:01';
const PEER_MAC = '02:76:c0:a8:5a:02';
/** A flannel host's second device (flannel-v6.<VNI>) has a MAC of its own. */
const PEER_MAC6 = '02:77:c0:a8:5a:02';
const PEER_IP = parseIpv4('192.168.90.2');
const SELF_GW6 = 'fd00:0:0:1::';
const PEER_GW6 = 'fd00:0:0:2::';
const VNI = 7;

function setup(nd: boolean) {
  const fdb = new Fdb();
  const arp = new ArpTable();
  const table = new NdTable();
  const counters = new Counters();
  fdb.set(macKeyFromString(PEER_MAC), PEER_IP, 4789);
  fdb.set(macKeyFromString(PEER_MAC6), PEER_IP, 4789);
  arp.set(parseIpv4('10.44.2.0'), macKeyFromString(PEER_MAC));
  table.set(PEER_GW6, macKeyFromString(PEER_MAC6));
  const p = new Pipeline({ vni: VNI, fdb, arp, nd: nd ? table : null, counters, writesUdpHeader: true });
  return { p, counters, toNet: new SendList(16), toTap: new SendList(16) };
}

/** An IPv6 packet (next header 59: no payload) in an Ethernet frame. */
function ipv6Frame(dstMac: string, srcMac: string, src: string, dst: string): Buffer {
  const b = Buffer.alloc(ethernet.HEADER_LEN + ipv6.HEADER_LEN);
  ethernet.emitHeader(b, 0, macKeyFromString(dstMac), macKeyFromString(srcMac), ethernet.ETHERTYPE_IPV6);
  ipv6.emit({ src, dst, nextHeader: ipv6.NH_NONE, hopLimit: 64, payloadLen: 0, trafficClass: 0, flowLabel: 0 }, b, ethernet.HEADER_LEN);
  return b;
}

test('a multicast NS for a peer\'s <subnet6>:: is answered to the TAP from the ND table, with a valid NA, and never reaches the network', () => {
  const { p, counters, toNet, toTap } = setup(true);
  const ns = nsFrame(SELF_MAC, SELF_GW6, PEER_GW6);
  const b = batchOf([ns]);
  p.encapBatch(b, toNet, toTap);
  assert.equal(toNet.count, 0);
  assert.equal(toTap.count, 1);
  assert.equal(p.decisions.verdict[0], Verdict.ND_REPLY);
  assert.equal(toTap.lens[0], 86, 'an untagged NA with its target link-layer option');
  const na = b.slab.subarray(toTap.starts[0]!, toTap.starts[0]! + toTap.lens[0]!);
  assert.equal(ethernet.dstKey(na, 0), macKeyFromString(SELF_MAC), 'back to the asker');
  assert.equal(ethernet.srcKey(na, 0), macKeyFromString(PEER_MAC6), 'from the MAC the table answers with');
  // checked() runs RFC 4861's checks, the ICMPv6 checksum included.
  const repr = icmpv6.parse(icmpv6.NdPacket.checked(na, ethernet.HEADER_LEN, na.length - ethernet.HEADER_LEN));
  assert.deepEqual(repr, { kind: 'na', src: PEER_GW6, dst: SELF_GW6, target: PEER_GW6, router: false, solicited: true, override: true, targetLinkLayer: PEER_MAC6 });
  assert.equal(counters.arpAnswered, 1, 'counted with the local answers, so the TAP side balances');
  assert.equal(counters.ndAnswered, 1);
  const s = counters.snapshot();
  assert.equal(s.tapInFrames, s.encapFrames + s.arpAnswered + s.tapDrops);
});

test('a unicast NS (the reachability probe) for a peer\'s address is answered locally too', () => {
  const { p, counters, toNet, toTap } = setup(true);
  const b = batchOf([nsFrame(SELF_MAC, SELF_GW6, PEER_GW6, { dstIp: PEER_GW6, dstMac: PEER_MAC6, sourceLla: false })]);
  p.encapBatch(b, toNet, toTap);
  assert.equal(toNet.count, 0);
  assert.equal(toTap.count, 1);
  assert.equal(counters.ndAnswered, 1);
});

test('ND drops by reason: a multicast NS for an unknown address is nd-miss, a bad checksum nd-malformed; a unicast NS miss and IPv6 unicast go by the FDB', () => {
  const { p, counters, toNet, toTap } = setup(true);
  const bad = nsFrame(SELF_MAC, SELF_GW6, PEER_GW6);
  bad[ethernet.HEADER_LEN + ipv6.HEADER_LEN + 2]! ^= 0xff; // the ICMPv6 checksum
  const frames = [
    nsFrame(SELF_MAC, SELF_GW6, 'fd00:0:0:9::'),
    bad,
    nsFrame(SELF_MAC, SELF_GW6, 'fd00:0:0:2::5', { dstIp: 'fd00:0:0:2::5', dstMac: PEER_MAC6 }),
    ipv6Frame(PEER_MAC6, SELF_MAC, SELF_GW6, 'fd00:0:0:2::5'),
    ipv6Frame('33:33:00:00:00:16', SELF_MAC, 'fe80::1', 'ff02::16'), // an MLD report's addresses: multicast, not ND
  ];
  p.encapBatch(batchOf(frames), toNet, toTap);
  assert.deepEqual([...p.decisions.verdict.subarray(0, 5)], [DropReason.ND_MISS, DropReason.ND_MALFORMED, Verdict.ENCAP, Verdict.ENCAP, DropReason.FLOOD]);
  assert.equal(toTap.count, 0);
  assert.equal(toNet.count, 2);
  assert.equal(toNet.addr(0), PEER_IP);
  const s = counters.snapshot();
  assert.equal(s.drops['nd-miss'], 1);
  assert.equal(s.drops['nd-malformed'], 1);
  assert.equal(s.drops['flood'], 1);
});

test('without an ND table (IPv6 off) an NS is multicast like any other: a flood drop, as before the IPv6 overlay', () => {
  const { p, counters, toNet, toTap } = setup(false);
  p.encapBatch(batchOf([nsFrame(SELF_MAC, SELF_GW6, PEER_GW6)]), toNet, toTap);
  assert.equal(toTap.count, 0);
  assert.equal(counters.snapshot().drops['flood'], 1);
  assert.equal(counters.ndAnswered, 0);
});

test('inner source check for IPv6: the source must be in the sender\'s subnet6, from either of its VTEP MACs', () => {
  const peers = new PeerTable();
  peers.set(PEER_IP, macKeyFromString(PEER_MAC), parseIpv4('10.44.2.0'), 24,
    { mac6: macKeyFromString(PEER_MAC6), net6: ipv6.parseCidr('fd00:0:0:2::/64') });
  const row = peers.get(PEER_IP)!;
  const ok = ipv6Frame(SELF_MAC, PEER_MAC6, 'fd00:0:0:2::7', 'fd00:0:0:1::2');
  assert.equal(checkInnerSource(row, ok, 0, ok.length), INNER_OK);
  const gw = ipv6Frame(SELF_MAC, PEER_MAC, PEER_GW6, 'fd00:0:0:1::2');
  assert.equal(checkInnerSource(row, gw, 0, gw.length), INNER_OK, 'the VTEP\'s own <subnet6>::, from the IPv4 MAC too (one TAP)');
  const spoof = ipv6Frame(SELF_MAC, PEER_MAC6, 'fd00:0:0:3::7', 'fd00:0:0:1::2');
  assert.equal(checkInnerSource(row, spoof, 0, spoof.length), INNER_BAD_IP6);
  const other = ipv6Frame(SELF_MAC, '02:00:00:00:00:99', 'fd00:0:0:2::7', 'fd00:0:0:1::2');
  assert.equal(checkInnerSource(row, other, 0, other.length), INNER_BAD_MAC);
  const v4 = ipv4Frame(SELF_MAC, PEER_MAC6, '10.44.2.7', '10.44.1.2', 17, 1, 2);
  assert.equal(checkInnerSource(row, v4, 0, v4.length), INNER_OK, 'IPv4 from the IPv6 MAC: the MAC is the peer\'s');

  // An IPv4-only row checks the MAC only for IPv6, as before.
  const v4only = new PeerTable();
  v4only.set(PEER_IP, macKeyFromString(PEER_MAC), parseIpv4('10.44.2.0'), 24);
  const any = ipv6Frame(SELF_MAC, PEER_MAC, 'fd00:0:0:3::7', 'fd00:0:0:1::2');
  assert.equal(checkInnerSource(v4only.get(PEER_IP)!, any, 0, any.length), INNER_OK);
});

class Sink {
  readonly chunks: string[] = [];
  isTTY = false;
  writableLength = 0;
  write(s: string): boolean {
    this.chunks.push(s);
    return true;
  }
}

test('a traced switch with IPv6: the NS is answered to the TAP, and its record names the ND lookup and the NA; a spoofed IPv6 source is an inner-spoof drop', () => {
  const out = new Sink();
  const tracer = createTracer({ out, format: 'json', vni: VNI, port: 4789, localIp: '192.168.90.1', clock: () => 0 });
  const tap = new MemoryFramePort('vxtap.7');
  const net = new MemoryDatagramPort({ writesUdpHeader: true });
  const sw = new Switch({ vni: VNI, tap, net, mtu: 1450, batchSize: 32, tracer, innerSourceCheck: true, ipv6: true });
  sw.nd!.set(PEER_GW6, macKeyFromString(PEER_MAC6));
  sw.fdb.set(macKeyFromString(PEER_MAC6), PEER_IP, 4789);
  sw.peers.set(PEER_IP, macKeyFromString(PEER_MAC), parseIpv4('10.44.2.0'), 24, { mac6: macKeyFromString(PEER_MAC6), net6: ipv6.parseCidr('fd00:0:0:2::/64') });
  sw.start();
  tap.inject([nsFrame(SELF_MAC, SELF_GW6, PEER_GW6)]);
  assert.equal(tap.written.length, 1);
  assert.equal(tap.written[0]!.length, 86);
  assert.equal(net.sent.length, 0);
  const vx = (f: Buffer) => Buffer.concat([Buffer.from([0x08, 0, 0, 0, 0, 0, VNI, 0]), f]);
  net.inject([
    { data: vx(ipv6Frame(SELF_MAC, PEER_MAC6, 'fd00:0:0:2::7', 'fd00:0:0:1::2')), addr: '192.168.90.2', port: 50000 },
    { data: vx(ipv6Frame(SELF_MAC, PEER_MAC6, 'fd00:0:0:3::7', 'fd00:0:0:1::2')), addr: '192.168.90.2', port: 50000 },
  ]);
  assert.equal(tap.written.length, 2, 'the good one decapsulated, the spoofed one not');
  const recs = out.chunks.join('').trim().split('\n').map((l) => JSON.parse(l) as TraceRecord);
  assert.equal(recs[0]!.decision, 'arp-reply');
  const nd = recs[0]!.lookups.find((l) => l.table === 'nd');
  assert.ok(nd !== undefined && nd.hit, JSON.stringify(recs[0]!.lookups));
  assert.equal(nd.result, PEER_MAC6);
  assert.match(nd.text, /ND who-has fd00:0:0:2:: → answered locally/);
  assert.match(recs[0]!.reason, /answered locally: .*(never crosses the network)/);
  assert.equal(recs[2]!.drop, 'inner-spoof');
  assert.match(recs[2]!.reason, /IPv6 source is outside the peer's IPv6 subnet/);
  assert.equal(sw.counters.ndAnswered, 1);
});
