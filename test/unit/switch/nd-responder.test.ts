/**
 * The ND table and responder (switch/nd-table.ts, nd-responder.ts): the
 * IPv6 counterpart of arp-responder.test.ts. The golden NA is the one the
 * kernel sent in kernel-vxlan6-vni42.pcap frame 8, with the Ethernet header
 * our responder writes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DropReason } from '../../../src/switch/drops';
import { NdTable, addrHash } from '../../../src/switch/nd-table';
import { ND_MALFORMED, ND_MISS, ND_NOT_NS, answerNsInPlace, ndDropReason } from '../../../src/switch/nd-responder';
import { macKeyFromString } from '../../../src/wire/addr';
import * as ethernet from '../../../src/wire/ethernet';
import * as icmpv6 from '../../../src/wire/icmpv6';
import * as ipv6 from '../../../src/wire/ipv6';
import { ipv4Frame, nsFrame } from '../../helpers/frames';

const ASKER = '02:60:00:00:00:01';
const PEER = '02:60:00:00:00:02';
const SLOT = 2048;

function table(): NdTable {
  const t = new NdTable();
  t.set('fd60::2', macKeyFromString(PEER));
  return t;
}

/** A frame in a slot-sized buffer, as the TAP batch holds it. */
function inSlot(frame: Buffer, at = 0): Buffer {
  const slot = Buffer.alloc(SLOT, 0xee);
  frame.copy(slot, at);
  return slot;
}

test('a multicast NS for a known address becomes the kernel\'s NA in place (golden bytes)', () => {
  const ns = nsFrame(ASKER, 'fd60::1', 'fd60::2');
  // The kernel's NS of fixture frame 7, byte for byte.
  assert.equal(ns.toString('hex'),
    '3333ff000002' + '026000000001' + '86dd' +
    '6000000000203afffd600000000000000000000000000001ff0200000000000000000001ff000002' +
    '87007c7700000000fd60000000000000000000000000000201010260' + '00000001');
  const slot = inSlot(ns);
  const n = answerNsInPlace(slot, 0, ns.length, ethernet.HEADER_LEN, SLOT, table());
  assert.equal(n, 86);
  // Ethernet back to the asker from the peer's MAC, then the kernel's own NA of frame 8.
  const golden = Buffer.from(
    '026000000001' + '026000000002' + '86dd' +
    '6000000000203afffd600000000000000000000000000002fd600000000000000000000000000001' +
    '88001b1a60000000fd600000000000000000000000000002' + '0201026000000002', 'hex');
  assert.deepEqual(slot.subarray(0, n), golden);
  assert.equal(slot[n], 0xee, 'nothing written past the NA');
});

test('a unicast NS is answered too, to the asker\'s link-layer option or, without one, its Ethernet source', () => {
  const withOption = nsFrame(ASKER, 'fe80::1', 'fd60::2', { dstIp: 'fd60::2', dstMac: PEER });
  const s1 = inSlot(withOption);
  assert.equal(answerNsInPlace(s1, 0, withOption.length, 14, SLOT, table()), 86);
  assert.equal(ethernet.dstKey(s1, 0), macKeyFromString(ASKER));
  const na = icmpv6.parse(icmpv6.NdPacket.checked(s1, 14, 72));
  assert.deepEqual(na, {
    kind: 'na', src: 'fd60::2', dst: 'fe80::1', target: 'fd60::2', router: false, solicited: true, override: true, targetLinkLayer: PEER,
  });
  // No option (a unicast NS may leave it out): back to the Ethernet source; the NA is 8 bytes longer than the NS.
  const bare = nsFrame('02:00:00:00:00:aa', 'fe80::1', 'fd60::2', { dstIp: 'fd60::2', dstMac: PEER, sourceLla: false });
  assert.equal(bare.length, 78);
  const s2 = inSlot(bare);
  assert.equal(answerNsInPlace(s2, 0, bare.length, 14, SLOT, table()), 86);
  assert.equal(ethernet.dstKey(s2, 0), macKeyFromString('02:00:00:00:00:aa'));
  assert.equal(icmpv6.checkNd(s2, 14, 72), icmpv6.ND_OK);
});

test('duplicate address detection for a peer\'s address is answered to all-nodes, unsolicited', () => {
  const dad = nsFrame(ASKER, '::', 'fd60::2');
  const slot = inSlot(dad);
  assert.equal(answerNsInPlace(slot, 0, dad.length, 14, SLOT, table()), 86);
  assert.equal(ethernet.dstKey(slot, 0), 0x333300000001);
  assert.deepEqual(icmpv6.parse(icmpv6.NdPacket.checked(slot, 14, 72)), {
    kind: 'na', src: 'fd60::2', dst: 'ff02::1', target: 'fd60::2', router: false, solicited: false, override: true, targetLinkLayer: PEER,
  });
});

test('an 802.1Q-tagged NS keeps its tag, at an offset in the slot', () => {
  const ns = nsFrame(ASKER, 'fd60::1', 'fd60::2');
  const tagged = Buffer.concat([ns.subarray(0, 12), Buffer.from([0x81, 0x00, 0x00, 0x07]), ns.subarray(12)]);
  const slot = inSlot(tagged, 64);
  const n = answerNsInPlace(slot, 64, tagged.length, 64 + 18, SLOT - 64, table());
  assert.equal(n, 90);
  assert.equal(slot.readUInt16BE(64 + 12), 0x8100);
  assert.equal(slot.readUInt16BE(64 + 14), 7);
  assert.equal(icmpv6.NdPacket.checked(slot, 64 + 18, 72).target, 'fd60::2');
});

test('an NS for an unknown address is a miss, bytes untouched', () => {
  const ns = nsFrame(ASKER, 'fd60::1', 'fd60::9');
  const before = Buffer.from(ns);
  assert.equal(answerNsInPlace(ns, 0, ns.length, 14, SLOT, table()), ND_MISS);
  assert.deepEqual(ns, before);
  assert.equal(ndDropReason(ND_MISS), DropReason.ND_MISS);
});

test('malformed ND is a counted drop, bytes untouched; a valid NA and other frames are not ND questions', () => {
  const t = table();
  const mangles: [string, (b: Buffer) => void][] = [
    ['hop limit 64', (b) => { b[14 + 7] = 64; }],
    ['a checksum bit', (b) => { b[b.length - 1] ^= 1; }],
    ['code 1', (b) => { b[54 + 1] = 1; }],
    ['an option of length 0', (b) => { b[54 + 25] = 0; }],
  ];
  for (const [what, mangle] of mangles) {
    const ns = nsFrame(ASKER, 'fd60::1', 'fd60::2');
    mangle(ns);
    const before = Buffer.from(ns);
    assert.equal(answerNsInPlace(ns, 0, ns.length, 14, SLOT, t), ND_MALFORMED, what);
    assert.deepEqual(ns, before, what);
  }
  // Cut short: the payload length runs past the frame.
  const ns = nsFrame(ASKER, 'fd60::1', 'fd60::2');
  assert.equal(answerNsInPlace(ns, 0, ns.length - 10, 14, SLOT, t), ND_MALFORMED);
  assert.equal(ndDropReason(ND_MALFORMED), DropReason.ND_MALFORMED);
  // A malformed NA is dropped too; a valid one is switched as usual.
  const na = inSlot(nsFrame(ASKER, 'fd60::1', 'fd60::2'));
  answerNsInPlace(na, 0, 78 + 8, 14, SLOT, t);
  assert.equal(answerNsInPlace(na, 0, 86, 14, SLOT, t), ND_NOT_NS);
  na[14 + 7] = 1;
  assert.equal(answerNsInPlace(na, 0, 86, 14, SLOT, t), ND_MALFORMED);
  // IPv4, ICMPv6 that is not ND, an IPv6 header cut short: not ND questions.
  assert.equal(answerNsInPlace(ipv4Frame(ASKER, PEER, '10.0.0.1', '10.0.0.2', 1, 0, 0), 0, 74, 14, SLOT, t), ND_NOT_NS);
  const echo = nsFrame(ASKER, 'fd60::1', 'fd60::2'); echo[54] = icmpv6.TYPE_ECHO_REQUEST;
  assert.equal(answerNsInPlace(echo, 0, echo.length, 14, SLOT, t), ND_NOT_NS);
  assert.equal(answerNsInPlace(echo, 0, 14 + 30, 14, SLOT, t), ND_NOT_NS);
  assert.equal(ndDropReason(ND_NOT_NS), -1);
});

test('a slot too small for the NA is a caller\'s bug, not a drop', () => {
  const ns = nsFrame(ASKER, 'fd60::1', 'fd60::2');
  assert.throws(() => answerNsInPlace(ns, 0, ns.length, 14, 80, table()), /an NA of 86 bytes does not fit the 80-byte slot/);
});

test('the ND table: set, replace, delete, lookup at an offset, refusing multicast and ::', () => {
  const t = new NdTable();
  assert.equal(t.size, 0);
  t.set('fd00:44:2::', 1);
  t.set(ipv6.parseAddress('fd00:44:3::'), 2);
  t.set('fd00:44:2::', 3);
  assert.equal(t.size, 2);
  assert.equal(t.lookupText('fd00:44:2::'), 3);
  const slab = Buffer.alloc(64, 0xee);
  ipv6.parseAddress('fd00:44:3::').copy(slab, 17);
  assert.equal(t.lookup(slab, 17), 2);
  assert.equal(t.lookupText('fd00:44:4::'), undefined);
  assert.deepEqual(t.list().sort((a, b) => a.ip.localeCompare(b.ip)), [
    { ip: 'fd00:44:2::', mac: '00:00:00:00:00:03' }, { ip: 'fd00:44:3::', mac: '00:00:00:00:00:02' },
  ]);
  assert.equal(t.delete('fd00:44:2::'), true);
  assert.equal(t.delete('fd00:44:2::'), false);
  assert.equal(t.size, 1);
  assert.throws(() => t.set('ff02::1', 1), /not a unicast address/);
  assert.throws(() => t.set('::', 1), /not a unicast address/);
  assert.throws(() => t.set(Buffer.alloc(4), 1), /16 bytes, not 4/);
});

test('the ND table holds many subnets apart even when their hashes collide', () => {
  const t = new NdTable();
  // 4096 flannel-style /64 gateways: fd00:44:0..fff::
  for (let i = 0; i < 4096; i++) t.set(`fd00:44:${i.toString(16)}::`, i);
  assert.equal(t.size, 4096);
  for (let i = 0; i < 4096; i++) assert.equal(t.lookupText(`fd00:44:${i.toString(16)}::`), i);
  const hashes = new Set(Array.from({ length: 4096 }, (_, i) => addrHash(ipv6.parseAddress(`fd00:44:${i.toString(16)}::`), 0)));
  assert.ok(hashes.size > 4000, `${hashes.size} distinct hashes of 4096`);
  // One bucket for all (a constant hash): entries are still told apart by their bytes.
  const one = new NdTable(() => 42);
  one.set('fd00::1', 7);
  one.set('fd00::2', 8);
  one.set('fd01::1', 9);
  assert.deepEqual(['fd00::1', 'fd00::2', 'fd01::1', 'fd00::3'].map((a) => one.lookupText(a)), [7, 8, 9, undefined]);
  assert.equal(one.delete('fd00::2'), true);
  assert.deepEqual(['fd00::1', 'fd00::2', 'fd01::1'].map((a) => one.lookupText(a)), [7, undefined, 9]);
  assert.equal(one.size, 2);
});
