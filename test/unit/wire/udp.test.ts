import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WireError } from '../../../src/errors';
import { parseIpv4 } from '../../../src/wire/addr';
import * as csum from '../../../src/wire/checksum';
import * as udp from '../../../src/wire/udp';

// Fixture frame 7, outer UDP header: 34666 > 4789, length 114, checksum field 0x3fd8
// (a partial sum before offload, see the fixtures README: not asserted as a checksum).
const OUTER = [0x87, 0x6a, 0x12, 0xb5, 0x00, 0x72, 0x3f, 0xd8];

// Fixture frame 26, inner datagram: 54309 > 9999, length 22, "udp over vxlan".
const TEXT = [...Buffer.from('udp over vxlan')];
const INNER = [0xd4, 0x25, 0x27, 0x0f, 0x00, 0x16, 0x17, 0x8c, ...TEXT];

describe('udp', () => {
  it('field offsets', () => {
    assert.deepEqual(udp.field, { SRC_PORT: 0, DST_PORT: 2, LENGTH: 4, CHECKSUM: 6, PAYLOAD: 8 });
    assert.equal(udp.HEADER_LEN, 8);
  });

  it('decodes the inner datagram of fixture frame 26', () => {
    const buf = Buffer.from(INNER);
    const p = udp.UdpPacket.checked(buf, 0, buf.length);
    assert.equal(p.srcPort, 54309);
    assert.equal(p.dstPort, 9999);
    assert.equal(p.length, 22);
    assert.equal(p.checksum, 0x178c);
    assert.equal(p.payloadOffset, 8);
    assert.equal(p.payloadLen, 14);
    assert.equal(p.payload.toString(), 'udp over vxlan');
    assert.deepEqual(udp.parse(p), { srcPort: 54309, dstPort: 9999, payloadLen: 14, checksum: 0x178c });
    assert.equal(udp.srcPort(buf, 0), 54309);
    assert.equal(udp.dstPort(buf, 0), 9999);
    assert.equal(udp.length(buf, 0), 22);
  });

  it('emits both fixture headers byte for byte, from a Repr and from emitHeader', () => {
    for (const golden of [OUTER, INNER]) {
      const buf = Buffer.concat([Buffer.from(golden), Buffer.alloc(200)]);
      const repr = udp.parse(new udp.UdpPacket(buf, 0, buf.length));
      const out = Buffer.alloc(udp.bufferLen(repr));
      assert.equal(udp.emit(repr, out, 0), 8);
      assert.deepEqual(out, Buffer.from(golden.slice(0, 8)));
    }
    const out = Buffer.alloc(8);
    assert.equal(udp.emitHeader(out, 0, 34666, 4789, 114, 0x3fd8), 8);
    assert.deepEqual(out, Buffer.from(OUTER));
    udp.emitHeader(out, 0, 34666, 4789, 114);
    assert.equal(out.readUInt16BE(6), 0, 'checksum defaults to 0 (none), as VXLAN senders use');
  });

  it('completes the partial checksum the way offload would, and verifies it', () => {
    const src = parseIpv4('10.50.1.0');
    const dst = parseIpv4('10.50.2.1');
    const buf = Buffer.from(INNER);
    // The field holds the pseudo-header sum: summing the datagram over it gives the final checksum.
    const final = csum.checksum(buf, 0, buf.length);
    assert.equal(udp.checksumIpv4(buf, 0, buf.length, src, dst), final);
    buf.writeUInt16BE(final, 6);
    assert.equal(udp.verifyChecksumIpv4(buf, 0, buf.length, src, dst), true);
    buf[20] ^= 0x01;
    assert.equal(udp.verifyChecksumIpv4(buf, 0, buf.length, src, dst), false);
    buf.writeUInt16BE(0, 6);
    assert.equal(udp.verifyChecksumIpv4(buf, 0, buf.length, src, dst), true, 'zero means no checksum');
  });

  it('sends a computed zero checksum as 0xffff', () => {
    // Find the payload word that makes the sum 0xffff, so the checksum comes out zero.
    const src = parseIpv4('10.0.0.1');
    const dst = parseIpv4('10.0.0.2');
    const buf = Buffer.from([0x04, 0xd2, 0x16, 0x2e, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00]);
    const partial = csum.fold(csum.sum(buf, 0, buf.length, csum.pseudoHeaderSumIpv4(src, dst, 17, 10)));
    buf.writeUInt16BE(0xffff - partial, 8);
    assert.equal(udp.checksumIpv4(buf, 0, buf.length, src, dst), 0xffff);
    buf.writeUInt16BE(0xffff, 6);
    assert.equal(udp.verifyChecksumIpv4(buf, 0, buf.length, src, dst), true);
  });

  it('works at a non-zero offset in a pooled slice', () => {
    const slab = Buffer.alloc(64, 0xee).subarray(1);
    Buffer.from(INNER).copy(slab, 17);
    const p = udp.UdpPacket.checked(slab, 17, 22);
    assert.equal(p.dstPort, 9999);
    assert.equal(p.payload.toString(), 'udp over vxlan');
    udp.emitHeader(slab, 17, 1, 2, 22);
    assert.equal(slab.subarray(17, 25).toString('hex'), '0001000200160000');
    assert.equal(slab[16], 0xee);
  });

  it('checked() says what is wrong', () => {
    const wire = (f: () => unknown, re: RegExp): void => {
      assert.throws(f, (e: unknown) => e instanceof WireError && re.test(e.message));
    };
    wire(() => udp.UdpPacket.checked(Buffer.from(INNER), 0, 7), /7 bytes, the header needs 8 \(1 short\)/);
    wire(() => udp.UdpPacket.checked(Buffer.from(INNER), 0, 20), /length field 22 is over the 20 bytes present \(2 short\)/);
    const crafted = Buffer.from([0, 1, 0, 2, 0x00, 0x04, 0, 0]);
    wire(() => udp.UdpPacket.checked(crafted, 0, 8), /length field 4 is under the header length 8/);
  });
});
