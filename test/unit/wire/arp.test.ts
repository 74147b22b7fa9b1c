import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WireError } from '../../../src/errors';
import { macKeyFromString, parseIpv4 } from '../../../src/wire/addr';
import * as arp from '../../../src/wire/arp';

// Fixture frame 5, inner ARP: who-has 10.50.2.0 tell 10.50.1.0.
const REQUEST = [
  0x00, 0x01, //                         htype Ethernet
  0x08, 0x00, //                         ptype IPv4
  0x06, 0x04, //                         hlen 6, plen 4
  0x00, 0x01, //                         op request
  0x9a, 0xbe, 0xc4, 0xb0, 0x6c, 0xd2, // sha
  0x0a, 0x32, 0x01, 0x00, //             spa 10.50.1.0
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // tha (unknown)
  0x0a, 0x32, 0x02, 0x00, //             tpa 10.50.2.0
];

// Fixture frame 6, inner ARP: 10.50.2.0 is-at 42:59:1c:15:af:60.
const REPLY = [
  0x00, 0x01, 0x08, 0x00, 0x06, 0x04,
  0x00, 0x02, //                         op reply
  0x42, 0x59, 0x1c, 0x15, 0xaf, 0x60, // sha
  0x0a, 0x32, 0x02, 0x00, //             spa 10.50.2.0
  0x9a, 0xbe, 0xc4, 0xb0, 0x6c, 0xd2, // tha
  0x0a, 0x32, 0x01, 0x00, //             tpa 10.50.1.0
];

describe('arp', () => {
  it('field offsets for Ethernet/IPv4', () => {
    assert.deepEqual(arp.field, { HTYPE: 0, PTYPE: 2, HLEN: 4, PLEN: 5, OPER: 6, SHA: 8, SPA: 14, THA: 18, TPA: 24, END: 28 });
    assert.equal(arp.HEADER_LEN, 28);
    assert.equal(arp.OP_REQUEST, 1);
    assert.equal(arp.OP_REPLY, 2);
  });

  it('decodes the request of fixture frame 5', () => {
    const buf = Buffer.from(REQUEST);
    const p = arp.ArpPacket.checked(buf, 0, buf.length);
    assert.equal(p.htype, 1);
    assert.equal(p.ptype, 0x0800);
    assert.equal(p.hlen, 6);
    assert.equal(p.plen, 4);
    assert.equal(p.op, arp.OP_REQUEST);
    assert.equal(p.isEthIpv4, true);
    assert.equal(p.sha, '9a:be:c4:b0:6c:d2');
    assert.equal(p.shaKey, macKeyFromString('9a:be:c4:b0:6c:d2'));
    assert.equal(p.spa, parseIpv4('10.50.1.0'));
    assert.equal(p.tha, '00:00:00:00:00:00');
    assert.equal(p.thaKey, 0);
    assert.equal(p.tpa, parseIpv4('10.50.2.0'));
    assert.deepEqual(arp.parse(p), { op: 1, sha: '9a:be:c4:b0:6c:d2', spa: '10.50.1.0', tha: '00:00:00:00:00:00', tpa: '10.50.2.0' });
  });

  it('hot-path readers agree with the view', () => {
    const buf = Buffer.from(REPLY);
    assert.equal(arp.isEthIpv4(buf, 0, buf.length), true);
    assert.equal(arp.op(buf, 0), arp.OP_REPLY);
    assert.equal(arp.senderMacKey(buf, 0), macKeyFromString('42:59:1c:15:af:60'));
    assert.equal(arp.senderIp(buf, 0), parseIpv4('10.50.2.0'));
    assert.equal(arp.targetMacKey(buf, 0), macKeyFromString('9a:be:c4:b0:6c:d2'));
    assert.equal(arp.targetIp(buf, 0), parseIpv4('10.50.1.0'));
  });

  it('emits both fixture packets byte for byte, from a Repr and from emitEthIpv4', () => {
    for (const golden of [REQUEST, REPLY]) {
      const repr = arp.parse(new arp.ArpPacket(Buffer.from(golden), 0, golden.length));
      const out = Buffer.alloc(arp.bufferLen(repr));
      assert.equal(arp.emit(repr, out, 0), 28);
      assert.deepEqual(out, Buffer.from(golden));
    }
    const out = Buffer.alloc(28);
    arp.emitEthIpv4(out, 0, arp.OP_REPLY, macKeyFromString('42:59:1c:15:af:60'), parseIpv4('10.50.2.0'),
      macKeyFromString('9a:be:c4:b0:6c:d2'), parseIpv4('10.50.1.0'));
    assert.deepEqual(out, Buffer.from(REPLY));
  });

  it('works at a non-zero offset in a pooled slice', () => {
    const slab = Buffer.alloc(64, 0xee).subarray(7);
    Buffer.from(REPLY).copy(slab, 9);
    const p = arp.ArpPacket.checked(slab, 9, 28);
    assert.equal(p.sha, '42:59:1c:15:af:60');
    assert.equal(arp.targetIp(slab, 9), parseIpv4('10.50.1.0'));
    p.tpa = parseIpv4('10.50.1.9');
    assert.equal(slab.subarray(9 + 24, 9 + 28).toString('hex'), '0a320109');
  });

  it('isEthIpv4 refuses other pairings and short packets', () => {
    const buf = Buffer.from(REQUEST);
    assert.equal(arp.isEthIpv4(buf, 0, 27), false);
    const v6 = Buffer.from(REQUEST); v6[3] = 0xdd; v6[2] = 0x86; // ptype IPv6
    assert.equal(arp.isEthIpv4(v6, 0, v6.length), false);
    const hlen8 = Buffer.from(REQUEST); hlen8[4] = 8;
    assert.equal(arp.isEthIpv4(hlen8, 0, hlen8.length), false);
  });

  it('checked() sizes the packet from hlen and plen', () => {
    assert.throws(() => arp.ArpPacket.checked(Buffer.from(REQUEST), 0, 6),
      (e: unknown) => e instanceof WireError && /6 bytes.*fixed part needs 8 \(2 short\)/.test(e.message));
    assert.throws(() => arp.ArpPacket.checked(Buffer.from(REQUEST), 0, 20),
      (e: unknown) => e instanceof WireError && /hlen 6 and plen 4 need 28 \(8 short\)/.test(e.message));
    // Crafted: hlen 255 claims 8 + 2*255 + 2*4 bytes.
    const crafted = Buffer.from([0x00, 0x01, 0x08, 0x00, 0xff, 0x04, 0x00, 0x01, ...new Array<number>(20).fill(0)]);
    assert.throws(() => arp.ArpPacket.checked(crafted, 0, crafted.length), /need 526 \(498 short\)/);
  });

  it('parse() refuses non Ethernet/IPv4 ARP', () => {
    const v6 = Buffer.from(REQUEST); v6[2] = 0x86; v6[3] = 0xdd;
    assert.throws(() => arp.parse(arp.ArpPacket.checked(v6, 0, v6.length)),
      (e: unknown) => e instanceof WireError && /ptype 0x86dd.*not Ethernet\/IPv4/.test(e.message));
  });

  it('opName', () => {
    assert.equal(arp.opName(1), 'request');
    assert.equal(arp.opName(2), 'reply');
    assert.equal(arp.opName(3), '3');
  });
});
