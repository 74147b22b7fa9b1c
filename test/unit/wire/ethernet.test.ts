import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WireError } from '../../../src/errors';
import { macKeyFromString } from '../../../src/wire/addr';
import * as ethernet from '../../../src/wire/ethernet';

/** A copy of bytes inside a bigger allocation, so byteOffset and the view offset are both non-zero. */
function embedded(bytes: number[], lead = 5): { buf: Buffer; off: number } {
  const slab = Buffer.alloc(bytes.length + lead + 16, 0xee);
  const buf = slab.subarray(3); // byteOffset 3
  Buffer.from(bytes).copy(buf, lead);
  return { buf, off: lead };
}

// The outer Ethernet header of fixture frame 7 (host 1 to host 2, IPv4), plus 2 payload bytes.
const FRAME7_ETH = [
  0x02, 0x4d, 0x59, 0xf2, 0xd7, 0xd7, // dst
  0xfe, 0x4d, 0xbb, 0x95, 0xdd, 0x46, // src
  0x08, 0x00, //                         EtherType IPv4
  0x45, 0x00,
];

// A tagged broadcast ARP frame: VID 100, PCP 5, DEI set.
const TAGGED = [
  0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
  0x9a, 0xbe, 0xc4, 0xb0, 0x6c, 0xd2,
  0x81, 0x00, //             TPID
  0xb0, 0x64, //             TCI: PCP 5 (101), DEI 1, VID 0x064
  0x08, 0x06, //             ARP
  0x00, 0x01,
];

describe('ethernet', () => {
  it('offsets and HEADER_LEN come from the field table', () => {
    assert.deepEqual(ethernet.field, { DST: 0, SRC: 6, ETHERTYPE: 12, PAYLOAD: 14 });
    assert.equal(ethernet.HEADER_LEN, 14);
    assert.equal(ethernet.VLAN_HEADER_LEN, 18);
    assert.equal(ethernet.VLAN_TAG_LEN, 4);
  });

  it('decodes an untagged frame (fixture frame 7 outer header)', () => {
    const buf = Buffer.from(FRAME7_ETH);
    const f = ethernet.EthernetFrame.checked(buf, 0, buf.length);
    assert.equal(f.dst, '02:4d:59:f2:d7:d7');
    assert.equal(f.src, 'fe:4d:bb:95:dd:46');
    assert.equal(f.dstKey, macKeyFromString('02:4d:59:f2:d7:d7'));
    assert.equal(f.srcKey, macKeyFromString('fe:4d:bb:95:dd:46'));
    assert.equal(f.etherType, ethernet.ETHERTYPE_IPV4);
    assert.equal(f.payloadType, ethernet.ETHERTYPE_IPV4);
    assert.equal(f.tagged, false);
    assert.equal(f.headerLen, 14);
    assert.equal(f.payloadOffset, 14);
    assert.equal(f.payloadLen, 2);
    assert.deepEqual([...f.payload], [0x45, 0x00]);
    assert.equal(f.isMulticast, false);
    assert.equal(f.isBroadcast, false);
    assert.deepEqual(ethernet.parse(f), { dst: '02:4d:59:f2:d7:d7', src: 'fe:4d:bb:95:dd:46', etherType: 0x0800 });
  });

  it('emits the same header from its Repr', () => {
    const repr: ethernet.EthernetRepr = { dst: '02:4d:59:f2:d7:d7', src: 'fe:4d:bb:95:dd:46', etherType: ethernet.ETHERTYPE_IPV4 };
    const out = Buffer.alloc(ethernet.bufferLen(repr));
    assert.equal(ethernet.emit(repr, out, 0), 14);
    assert.deepEqual(out, Buffer.from(FRAME7_ETH.slice(0, 14)));
  });

  it('emitHeader (hot path, MAC keys) writes the same bytes', () => {
    const out = Buffer.alloc(14);
    ethernet.emitHeader(out, 0, macKeyFromString('02:4d:59:f2:d7:d7'), macKeyFromString('fe:4d:bb:95:dd:46'), 0x0800);
    assert.deepEqual(out, Buffer.from(FRAME7_ETH.slice(0, 14)));
  });

  it('decodes and re-emits an 802.1Q-tagged frame', () => {
    const buf = Buffer.from(TAGGED);
    const f = ethernet.EthernetFrame.checked(buf, 0, buf.length);
    assert.equal(f.etherType, ethernet.ETHERTYPE_VLAN);
    assert.equal(f.tagged, true);
    assert.equal(f.vid, 100);
    assert.equal(f.pcp, 5);
    assert.equal(f.dei, true);
    assert.equal(f.payloadType, ethernet.ETHERTYPE_ARP);
    assert.equal(f.headerLen, 18);
    assert.equal(f.payloadLen, 2);
    assert.equal(f.isBroadcast, true);
    assert.equal(f.isMulticast, true);
    const repr = ethernet.parse(f);
    assert.deepEqual(repr, {
      dst: 'ff:ff:ff:ff:ff:ff', src: '9a:be:c4:b0:6c:d2', etherType: 0x0806, vlan: { vid: 100, pcp: 5, dei: true },
    });
    const out = Buffer.alloc(ethernet.bufferLen(repr));
    assert.equal(ethernet.emit(repr, out, 0), 18);
    assert.deepEqual(out, Buffer.from(TAGGED.slice(0, 18)));
  });

  it('hot-path etherType() skips one 802.1Q tag and l3Offset() follows it', () => {
    const plain = Buffer.from(FRAME7_ETH);
    const tagged = Buffer.from(TAGGED);
    assert.equal(ethernet.etherType(plain, 0), 0x0800);
    assert.equal(ethernet.l3Offset(plain, 0), 14);
    assert.equal(ethernet.etherType(tagged, 0), 0x0806);
    assert.equal(ethernet.l3Offset(tagged, 0), 18);
    // A tagged frame cut right after the TPID reads EtherType 0 instead of throwing.
    const cut = Buffer.from(TAGGED.slice(0, 14));
    assert.equal(ethernet.etherType(cut, 0), 0);
  });

  it('isMulticast tests the I/G bit, isBroadcast all ones', () => {
    const f = (dst: number[]): Buffer => Buffer.from([...dst, 0, 0, 0, 0, 0, 1, 0x08, 0x00]);
    assert.equal(ethernet.isMulticast(f([0x33, 0x33, 0, 0, 0, 0x16]), 0), true); // IPv6 multicast
    assert.equal(ethernet.isMulticast(f([0x01, 0x00, 0x5e, 0, 0, 1]), 0), true); // IPv4 multicast
    assert.equal(ethernet.isBroadcast(f([0x33, 0x33, 0, 0, 0, 0x16]), 0), false);
    assert.equal(ethernet.isMulticast(f([0x02, 0, 0, 0, 0, 1]), 0), false); //    locally administered unicast
    assert.equal(ethernet.isBroadcast(f([0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]), 0), false);
    assert.equal(ethernet.isBroadcast(f([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 0), true);
    assert.equal(ethernet.dstKey(f([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 0), ethernet.BROADCAST_KEY);
  });

  it('works on a pooled Buffer slice at a non-zero offset', () => {
    const { buf, off } = embedded(FRAME7_ETH);
    assert.notEqual(buf.byteOffset, 0);
    const f = ethernet.EthernetFrame.checked(buf, off, FRAME7_ETH.length);
    assert.equal(f.dst, '02:4d:59:f2:d7:d7');
    assert.equal(f.etherType, 0x0800);
    assert.equal(ethernet.etherType(buf, off), 0x0800);
    assert.equal(ethernet.srcKey(buf, off), macKeyFromString('fe:4d:bb:95:dd:46'));
    assert.equal(f.payloadOffset, off + 14);
    // Small Buffer.from() results are slices of Node's pool too.
    const pooled = Buffer.from(FRAME7_ETH);
    assert.equal(new ethernet.EthernetFrame(pooled, 0, pooled.length).src, 'fe:4d:bb:95:dd:46');
  });

  it('setters write in place', () => {
    const { buf, off } = embedded(FRAME7_ETH);
    const f = new ethernet.EthernetFrame(buf, off, FRAME7_ETH.length);
    f.dst = 'aa:bb:cc:dd:ee:ff';
    f.srcKey = macKeyFromString('11:22:33:44:55:66');
    f.etherType = ethernet.ETHERTYPE_IPV6;
    assert.equal(buf.subarray(off, off + 14).toString('hex'), 'aabbccddeeff11223344556686dd');
    assert.equal(buf[off - 1], 0xee, 'nothing before the frame was touched');
  });

  it('names EtherTypes and keeps unknown ones as hex', () => {
    assert.equal(ethernet.etherTypeName(0x0800), 'IPv4');
    assert.equal(ethernet.etherTypeName(0x0806), 'ARP');
    assert.equal(ethernet.etherTypeName(0x86dd), 'IPv6');
    assert.equal(ethernet.etherTypeName(0x8100), '802.1Q');
    assert.equal(ethernet.etherTypeName(0x1234), '0x1234');
    assert.equal(ethernet.etherTypeName(0x0042), '0x0042');
  });

  it('checked() refuses short and out-of-buffer frames with the numbers', () => {
    const buf = Buffer.from(FRAME7_ETH);
    assert.throws(() => ethernet.EthernetFrame.checked(buf, 0, 10),
      (e: unknown) => e instanceof WireError && e.code === 'VXTAP_ERR_WIRE' && /10 bytes.*needs 14 \(4 short\)/.test(e.message));
    assert.throws(() => ethernet.EthernetFrame.checked(Buffer.from(TAGGED), 0, 16),
      (e: unknown) => e instanceof WireError && /802\.1Q.*16 bytes.*needs 18 \(2 short\)/.test(e.message));
    assert.throws(() => ethernet.EthernetFrame.checked(buf, 4, buf.length),
      (e: unknown) => e instanceof WireError && /runs past the 16-byte buffer/.test(e.message));
  });

  it('emit() refuses a VID over 4095', () => {
    assert.throws(() => ethernet.emit({ dst: ethernet.BROADCAST, src: '02:00:00:00:00:01', etherType: 0x0800, vlan: { vid: 4096, pcp: 0, dei: false } }, Buffer.alloc(18), 0),
      WireError);
  });
});
