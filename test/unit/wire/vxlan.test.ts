import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WireError } from '../../../src/errors';
import * as vxlan from '../../../src/wire/vxlan';

// Fixture frame 7: VXLAN header with VNI 42, then the inner Ethernet header.
const HEADER = [
  0x08, //             flags: I bit
  0x00, 0x00, 0x00, // reserved
  0x00, 0x00, 0x2a, // VNI 42
  0x00, //             reserved
];
const INNER_ETH = [0x42, 0x59, 0x1c, 0x15, 0xaf, 0x60, 0x9a, 0xbe, 0xc4, 0xb0, 0x6c, 0xd2, 0x08, 0x00];
const DATAGRAM = [...HEADER, ...INNER_ETH];

describe('vxlan', () => {
  it('constants follow RFC 7348 section 5', () => {
    assert.deepEqual(vxlan.field, { FLAGS: 0, RESERVED1: 1, VNI: 4, RESERVED2: 7, PAYLOAD: 8 });
    assert.equal(vxlan.HEADER_LEN, 8);
    assert.equal(vxlan.FLAG_I, 0x08);
    assert.equal(vxlan.VNI_MAX, 0xffffff);
    assert.equal(vxlan.MIN_LEN, 22);
    assert.equal(vxlan.PORT_IANA, 4789);
  });

  it('decodes fixture frame 7 header', () => {
    const buf = Buffer.from(DATAGRAM);
    const p = vxlan.VxlanPacket.checked(buf, 0, buf.length);
    assert.equal(p.flags, 0x08);
    assert.equal(p.vni, 42);
    assert.equal(p.reserved1, 0);
    assert.equal(p.reserved2, 0);
    assert.equal(p.payloadOffset, 8);
    assert.equal(p.payloadLen, 14);
    assert.deepEqual([...p.payload], INNER_ETH);
    assert.deepEqual(vxlan.parse(p), { vni: 42 });
    assert.equal(vxlan.vni(buf, 0), 42);
    assert.equal(vxlan.check(buf, 0, buf.length), vxlan.CHECK_OK);
  });

  it('emit() writes the same 8 bytes, and zeroes whatever was there', () => {
    const out = Buffer.alloc(8, 0xff);
    assert.equal(vxlan.emit(out, 0, 42), 8);
    assert.deepEqual(out, Buffer.from(HEADER));
    const out2 = Buffer.alloc(8, 0xff);
    assert.equal(vxlan.emitRepr({ vni: 42 }, out2, 0), vxlan.bufferLen({ vni: 42 }));
    assert.deepEqual(out2, Buffer.from(HEADER));
  });

  it('carries the maximum VNI and VNI 0', () => {
    const out = Buffer.alloc(22);
    vxlan.emit(out, 0, vxlan.VNI_MAX);
    assert.equal(out.subarray(0, 8).toString('hex'), '08000000ffffff00');
    assert.equal(vxlan.vni(out, 0), 0xffffff);
    assert.equal(vxlan.check(out, 0, out.length), vxlan.CHECK_OK);
    vxlan.emit(out, 0, 0);
    assert.equal(vxlan.vni(out, 0), 0);
    assert.throws(() => vxlan.emitRepr({ vni: vxlan.VNI_MAX + 1 }, out, 0), /VNI 16777216 is outside 0\.\.16777215/);
    assert.throws(() => vxlan.emitRepr({ vni: -1 }, out, 0), WireError);
  });

  it('check(): too short, counting the inner Ethernet header', () => {
    const buf = Buffer.from(DATAGRAM);
    assert.equal(vxlan.check(buf, 0, 21), vxlan.CHECK_TOO_SHORT);
    assert.equal(vxlan.check(buf, 0, 8), vxlan.CHECK_TOO_SHORT);
    assert.equal(vxlan.check(buf, 0, 0), vxlan.CHECK_TOO_SHORT);
    assert.equal(vxlan.check(buf, 0, 22), vxlan.CHECK_OK);
    assert.equal(vxlan.checkReasonName(vxlan.CHECK_TOO_SHORT), 'vxlan-too-short');
  });

  it('check(): no I flag', () => {
    const buf = Buffer.from(DATAGRAM);
    buf[0] = 0x00;
    assert.equal(vxlan.check(buf, 0, buf.length), vxlan.CHECK_NO_I_FLAG);
    buf[0] = 0xf7; // every flag bit but I
    assert.equal(vxlan.check(buf, 0, buf.length), vxlan.CHECK_NO_I_FLAG);
    assert.equal(vxlan.checkReasonName(vxlan.CHECK_NO_I_FLAG), 'vxlan-no-i-flag');
  });

  it('check(): reserved bits and other flags are ignored on receipt when I is set', () => {
    const buf = Buffer.from(DATAGRAM);
    buf[0] = 0xff; buf[1] = 0xaa; buf[2] = 0xbb; buf[3] = 0xcc; buf[7] = 0xdd;
    assert.equal(vxlan.check(buf, 0, buf.length), vxlan.CHECK_OK);
    assert.equal(vxlan.vni(buf, 0), 42);
    const p = vxlan.VxlanPacket.checked(buf, 0, buf.length);
    assert.equal(p.reserved1, 0xaabbcc);
    assert.equal(p.reserved2, 0xdd);
    assert.deepEqual(vxlan.parse(p), { vni: 42 });
  });

  it('checkReasonName is stable and total', () => {
    assert.equal(vxlan.checkReasonName(vxlan.CHECK_OK), 'ok');
    assert.equal(vxlan.checkReasonName(99), 'vxlan-check-99');
  });

  it('works at a non-zero offset in a pooled slice', () => {
    const slab = Buffer.alloc(64, 0xee).subarray(5);
    Buffer.from(DATAGRAM).copy(slab, 42);
    assert.equal(vxlan.check(slab, 42, 22), vxlan.CHECK_OK);
    assert.equal(vxlan.vni(slab, 42), 42);
    vxlan.emit(slab, 42, 0x123456);
    assert.equal(new vxlan.VxlanPacket(slab, 42, 22).vni, 0x123456);
    assert.equal(slab[41], 0xee);
  });

  it('checked() throws what check() would count', () => {
    const buf = Buffer.from(DATAGRAM);
    assert.throws(() => vxlan.VxlanPacket.checked(buf, 0, 15),
      (e: unknown) => e instanceof WireError && /15 bytes, header and inner Ethernet header need 22 \(7 short\)/.test(e.message));
    buf[0] = 0x04;
    assert.throws(() => vxlan.VxlanPacket.checked(buf, 0, buf.length),
      (e: unknown) => e instanceof WireError && /flags 0x04 lack the I bit/.test(e.message));
  });
});
