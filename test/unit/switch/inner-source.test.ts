/**
 * The inner source check (switch/peer-table.ts) with golden frames, through a
 * Switch with memory ports: a peer may send only from its VTEP MAC and, for
 * IPv4 and ARP, from its own subnet. Also: the switch's books balance per
 * side, port-level drops included.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryDatagramPort, MemoryFramePort } from '../../../src/io/fake';
import { Switch } from '../../../src/switch/switch';
import {
  checkInnerSource, INNER_BAD_ARP_IP, INNER_BAD_ARP_MAC, INNER_BAD_IP, INNER_BAD_MAC, INNER_NO_ROW, INNER_OK, INNER_SHORT, PeerTable,
} from '../../../src/switch/peer-table';
import { macKeyFromString, parseIpv4 } from '../../../src/wire/addr';
import { arpRequest, ipv4Frame } from '../../helpers/frames';

const SELF_MAC = '02:76:c0:a8:5a:01';
const PEER_MAC = '02:76:c0:a8:5a:02';
const PEER_IP = '192.168.90.2';
const VNI = 7;

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

/**
 * Golden inner frames, byte for byte: Ethernet (dst, src, type) and the
 * fields the check reads. An ICMP echo from 10.44.2.5 (inside the peer's
 * 10.44.2.0/24), from the peer's VTEP MAC.
 */
const legitIpv4 = hex(
  '0276c0a85a01 0276c0a85a02 0800' + //          Ethernet: to us, from the peer's VTEP MAC, IPv4
  '4500001c 00004000 40010000' + //               IPv4: 28 bytes, DF, TTL 64, ICMP (the checksum is not the check's business)
  '0a2c0205 0a2c0102' + //                        10.44.2.5 > 10.44.1.2
  '0800f7ff00000000', //                          ICMP echo request
);
/** The same frame from 10.44.3.5: another host's subnet. */
const spoofedIp = hex('0276c0a85a01 0276c0a85a02 0800 4500001c00004000400100000a2c03050a2c0102 0800f7ff00000000');
/** The same frame from the right address but another MAC. */
const spoofedMac = hex('0276c0a85a01 02aabbccddee 0800 4500001c00004000400100000a2c02050a2c0102 0800f7ff00000000');
/** The peer VTEP's own .0 address: what a host sends from (flannel.1 or a vxtap TAP hold <subnet>.0/32). */
const fromDotZero = hex('0276c0a85a01 0276c0a85a02 0800 4500001c00004000400100000a2c02000a2c0102 0800f7ff00000000');
/** An IPv6 frame (MLD / RS from a kernel peer): from fe80::..., the VTEP MAC as source. */
const ipv6FromVtep = hex('333300000016 0276c0a85a02 86dd 6000000000083a01 fe800000000000000076c0fffea85a02 ff020000000000000000000000000016 8500000000000000');
const ipv6Spoofed = hex('333300000016 02aabbccddee 86dd 6000000000083a01 fe800000000000000076c0fffea85a02 ff020000000000000000000000000016 8500000000000000');
/** An IPv4 frame cut inside its header: no source address to check. */
const cutIpv4 = hex('0276c0a85a01 0276c0a85a02 0800 4500001c0000');

function table(): PeerTable {
  const t = new PeerTable();
  t.set(parseIpv4(PEER_IP), macKeyFromString(PEER_MAC), parseIpv4('10.44.2.0'), 24);
  return t;
}

test('checkInnerSource: golden frames, one rule each', () => {
  const row = table().get(parseIpv4(PEER_IP))!;
  const check = (f: Buffer): number => checkInnerSource(row, f, 0, f.length);
  assert.equal(check(legitIpv4), INNER_OK);
  assert.equal(check(fromDotZero), INNER_OK, 'the whole subnet, .0 included');
  assert.equal(check(spoofedIp), INNER_BAD_IP);
  assert.equal(check(spoofedMac), INNER_BAD_MAC);
  assert.equal(check(ipv6FromVtep), INNER_OK, 'IPv6: the MAC check only');
  assert.equal(check(ipv6Spoofed), INNER_BAD_MAC);
  assert.equal(check(cutIpv4), INNER_SHORT);
  // ARP from the peer: sender MAC and sender address are checked too.
  assert.equal(check(arpRequest(PEER_MAC, '10.44.2.0', '10.44.1.0')), INNER_OK);
  assert.equal(check(arpRequest(PEER_MAC, '10.44.3.0', '10.44.1.0')), INNER_BAD_ARP_IP);
  const arpBadSender = arpRequest(PEER_MAC, '10.44.2.0', '10.44.1.0');
  arpBadSender.set([0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee], 14 + 8); // sender hardware address
  assert.equal(check(arpBadSender), INNER_BAD_ARP_MAC);
  // A frame at an offset in a larger buffer reads the same.
  const padded = Buffer.concat([Buffer.alloc(64), spoofedIp]);
  assert.equal(checkInnerSource(row, padded, 64, spoofedIp.length), INNER_BAD_IP);
});

test('PeerTable: set, replace, delete only the subnet that is still there', () => {
  const t = table();
  const vtep = parseIpv4(PEER_IP);
  assert.equal(t.size, 1);
  t.set(vtep, macKeyFromString(PEER_MAC), parseIpv4('10.44.9.0'), 24); // the host re-leased another subnet
  assert.equal(t.delete(vtep, parseIpv4('10.44.2.0')), false, 'removing the old lease leaves the new row');
  assert.equal(t.get(vtep)!.net, parseIpv4('10.44.9.0'));
  assert.equal(t.delete(vtep), true);
  assert.equal(t.size, 0);
  t.set(vtep, 1, 0, 0);
  assert.equal(t.get(vtep)!.mask, 0, 'a /0 allows every address');
  assert.throws(() => t.set(vtep, 1, 0, 33), RangeError);
});

function make(innerSourceCheck: boolean) {
  const tap = new MemoryFramePort('vxtap.7');
  const net = new MemoryDatagramPort({ writesUdpHeader: true });
  const sw = new Switch({ vni: VNI, tap, net, mtu: 1450, batchSize: 32, innerSourceCheck });
  sw.fdb.set(macKeyFromString(PEER_MAC), parseIpv4(PEER_IP), 4789);
  sw.arp.set(parseIpv4('10.44.2.0'), macKeyFromString(PEER_MAC));
  sw.peers.set(parseIpv4(PEER_IP), macKeyFromString(PEER_MAC), parseIpv4('10.44.2.0'), 24);
  sw.start();
  return { tap, net, sw };
}

const vxlanOf = (frame: Buffer): Buffer => Buffer.concat([Buffer.from([0x08, 0, 0, 0, 0, 0, VNI, 0]), frame]);
const fromPeer = (frame: Buffer, addr = PEER_IP) => ({ data: vxlanOf(frame), addr, port: 51234 });

test('decap: spoofed frames are inner-spoof drops, legit ones pass, and the counts balance', () => {
  const { tap, net, sw } = make(true);
  const arpLegit = arpRequest(PEER_MAC, '10.44.2.0', '10.44.1.0');
  const arpSpoof = arpRequest(PEER_MAC, '10.44.7.1', '10.44.1.0');
  net.inject([
    fromPeer(legitIpv4), fromPeer(spoofedIp), fromPeer(spoofedMac), fromPeer(fromDotZero),
    fromPeer(ipv6FromVtep), fromPeer(ipv6Spoofed), fromPeer(arpLegit), fromPeer(arpSpoof), fromPeer(cutIpv4),
  ]);
  assert.deepEqual(tap.written, [legitIpv4, fromDotZero, ipv6FromVtep, arpLegit]);
  assert.equal(sw.counters.dropCount('inner-spoof'), 5);
  const s = sw.counters.snapshot();
  assert.equal(s.netInFrames, 9);
  assert.equal(s.netInFrames, s.decapFrames + s.netDrops);
});

test('decap: a VTEP the FDB knows but no installed peer has is an inner-spoof drop', () => {
  const { tap, net, sw } = make(true);
  sw.peers.delete(parseIpv4(PEER_IP));
  net.inject([fromPeer(legitIpv4)]);
  assert.equal(tap.written.length, 0);
  assert.equal(sw.counters.dropCount('inner-spoof'), 1);
  assert.equal(INNER_NO_ROW, 1);
});

test('decap: with the check off (vxtap run --no-inner-source-check) spoofed frames go through', () => {
  const { tap, net, sw } = make(false);
  net.inject([fromPeer(spoofedIp), fromPeer(spoofedMac), fromPeer(legitIpv4)]);
  assert.deepEqual(tap.written, [spoofedIp, spoofedMac, legitIpv4]);
  assert.equal(sw.counters.dropCount('inner-spoof'), 0);
});

test('the books balance per side, with what the ports could not hand over folded in', () => {
  const { tap, net, sw } = make(true);
  // TAP side: encap, an ARP answer, an ARP answer the TAP refuses, drops of each kind, and a frame too long for a slot.
  tap.inject([
    ipv4Frame(PEER_MAC, SELF_MAC, '10.44.1.0', '10.44.2.0', 17, 1, 2),
    arpRequest(SELF_MAC, '10.44.1.0', '10.44.2.0'),
    Buffer.alloc(5),
    ipv4Frame('ff:ff:ff:ff:ff:ff', SELF_MAC, '10.44.1.0', '10.44.255.255', 17, 1, 2),
    Buffer.alloc(4000),
  ]);
  tap.acceptLimit = 0;
  tap.inject([arpRequest(SELF_MAC, '10.44.1.0', '10.44.2.0')]);
  // Network side: decap (refused by the TAP), zero-length, too long for a slot, unknown VTEP, spoofed.
  net.inject([fromPeer(legitIpv4), { data: Buffer.alloc(0), addr: PEER_IP, port: 1 }, { data: Buffer.alloc(4000), addr: PEER_IP, port: 1 },
    fromPeer(legitIpv4, '192.168.90.77'), fromPeer(spoofedIp)]);
  const s = sw.counters.snapshot();
  assert.equal(s.tapInFrames, 6);
  assert.equal(s.tapInFrames, s.encapFrames + s.arpAnswered + s.tapDrops);
  assert.equal(s.arpAnswered, 1);
  assert.equal(s.drops['arp-reply-write'], 1);
  assert.equal(s.drops['tap-too-long'], 1);
  assert.equal(s.netInFrames, 5);
  assert.equal(s.netInFrames, s.decapFrames + s.netDrops);
  assert.equal(s.drops['vxlan-too-long'], 1);
  assert.equal(s.drops['vxlan-too-short'], 1);
  assert.equal(s.drops['tap-write'], 1);
  // Folding twice counts nothing twice.
  const again = sw.counters.snapshot();
  assert.deepEqual(again, s);
});
