import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WireError } from '../../../src/errors';
import { parseIpv4 } from '../../../src/wire/addr';
import * as ipv4 from '../../../src/wire/ipv4';

// Fixture frame 7, inner IPv4 header: 10.50.1.0 > 10.50.2.1, ICMP, DF, total length 84.
const INNER = [
  0x45, 0x00, 0x00, 0x54, // version 4, IHL 5, DSCP/ECN 0, total length 84
  0xf8, 0x70, 0x40, 0x00, // ident 0xf870, flags DF, fragment offset 0
  0x40, 0x01, 0x2a, 0xd4, // TTL 64, protocol ICMP, checksum 0x2ad4
  0x0a, 0x32, 0x01, 0x00, // src 10.50.1.0
  0x0a, 0x32, 0x02, 0x01, // dst 10.50.2.1
];

// Fixture frame 27, inner IPv4 header of the ICMP port unreachable: DSCP/ECN 0xc0 (CS6), no DF.
const UNREACH = [
  0x45, 0xc0, 0x00, 0x46, 0xcd, 0x78, 0x00, 0x00,
  0x40, 0x01, 0x95, 0x1a, 0x0a, 0x32, 0x02, 0x01, 0x0a, 0x32, 0x01, 0x00,
];

/** The header followed by `total - 20` payload bytes, so checked() sees a whole packet. */
function packet(header: number[]): Buffer {
  const total = (header[2]! << 8) | header[3]!;
  return Buffer.concat([Buffer.from(header), Buffer.alloc(total - header.length, 0xab)]);
}

describe('ipv4', () => {
  it('field offsets', () => {
    assert.deepEqual(ipv4.field, {
      VER_IHL: 0, DSCP_ECN: 1, LENGTH: 2, IDENT: 4, FLG_OFF: 6, TTL: 8, PROTOCOL: 9, CHECKSUM: 10, SRC: 12, DST: 16, OPTIONS: 20,
    });
    assert.equal(ipv4.HEADER_LEN, 20);
    assert.equal(ipv4.PROTO_ICMP, 1);
    assert.equal(ipv4.PROTO_TCP, 6);
    assert.equal(ipv4.PROTO_UDP, 17);
  });

  it('decodes every field of fixture frame 7 inner header', () => {
    const buf = packet(INNER);
    const p = ipv4.Ipv4Packet.checked(buf, 0, buf.length);
    assert.equal(p.version, 4);
    assert.equal(p.headerLen, 20);
    assert.equal(p.dscpEcn, 0);
    assert.equal(p.totalLen, 84);
    assert.equal(p.ident, 0xf870);
    assert.equal(p.dontFrag, true);
    assert.equal(p.moreFrags, false);
    assert.equal(p.fragOffset, 0);
    assert.equal(p.isFragment, false);
    assert.equal(p.ttl, 64);
    assert.equal(p.protocol, ipv4.PROTO_ICMP);
    assert.equal(p.checksum, 0x2ad4);
    assert.equal(p.checksumOk, true);
    assert.equal(p.src, parseIpv4('10.50.1.0'));
    assert.equal(p.dst, parseIpv4('10.50.2.1'));
    assert.equal(p.payloadOffset, 20);
    assert.equal(p.payloadLen, 64);
    assert.equal(p.options.length, 0);
    assert.deepEqual(ipv4.parse(p), {
      src: '10.50.1.0', dst: '10.50.2.1', protocol: 1, ttl: 64, payloadLen: 64,
      dscpEcn: 0, ident: 0xf870, dontFrag: true, moreFrags: false, fragOffset: 0,
    });
  });

  it('hot-path readers', () => {
    const buf = Buffer.from(INNER);
    assert.equal(ipv4.version(buf, 0), 4);
    assert.equal(ipv4.headerLen(buf, 0), 20);
    assert.equal(ipv4.totalLen(buf, 0), 84);
    assert.equal(ipv4.ttl(buf, 0), 64);
    assert.equal(ipv4.protocol(buf, 0), 1);
    assert.equal(ipv4.src(buf, 0), parseIpv4('10.50.1.0'));
    assert.equal(ipv4.dst(buf, 0), parseIpv4('10.50.2.1'));
  });

  it('emits both fixture headers byte for byte from their Repr (checksum included)', () => {
    for (const golden of [INNER, UNREACH]) {
      const buf = packet(golden);
      const repr = ipv4.parse(ipv4.Ipv4Packet.checked(buf, 0, buf.length));
      const out = Buffer.alloc(ipv4.bufferLen(repr));
      assert.equal(ipv4.emit(repr, out, 0), 20);
      assert.deepEqual(out, Buffer.from(golden));
    }
  });

  it('computes, verifies and fills the header checksum', () => {
    const buf = Buffer.from(INNER);
    assert.equal(ipv4.computeChecksum(buf, 0), 0x2ad4);
    assert.equal(ipv4.verifyChecksum(buf, 0), true);
    buf[8] = 63; // TTL decremented: the checksum no longer holds
    assert.equal(ipv4.verifyChecksum(buf, 0), false);
    ipv4.fillChecksum(buf, 0);
    assert.equal(ipv4.verifyChecksum(buf, 0), true);
    assert.equal(buf.readUInt16BE(10), 0x2bd4); // RFC 1624: TTL-1 adds 0x0100
  });

  it('works at a non-zero offset in a pooled slice', () => {
    const slab = Buffer.alloc(200, 0xee).subarray(11);
    packet(INNER).copy(slab, 6);
    const p = ipv4.Ipv4Packet.checked(slab, 6, 84);
    assert.equal(p.src, parseIpv4('10.50.1.0'));
    assert.equal(p.checksumOk, true);
    assert.equal(ipv4.computeChecksum(slab, 6), 0x2ad4);
    assert.equal(p.payloadOffset, 26);
  });

  it('keeps options and ignores Ethernet padding after Total Length', () => {
    // IHL 6: one 4-byte option (Router Alert, RFC 2113), total length 28, then 6 bytes of padding.
    const hdr = Buffer.from([
      0x46, 0x00, 0x00, 0x1c, 0x00, 0x01, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00,
      0x0a, 0x00, 0x00, 0x01, 0xe0, 0x00, 0x00, 0x16, 0x94, 0x04, 0x00, 0x00,
    ]);
    ipv4.fillChecksum(hdr, 0);
    const buf = Buffer.concat([hdr, Buffer.from([1, 2, 3, 4]), Buffer.alloc(6)]);
    const p = ipv4.Ipv4Packet.checked(buf, 0, buf.length);
    assert.equal(p.headerLen, 24);
    assert.equal(p.payloadLen, 4);
    assert.deepEqual([...p.payload], [1, 2, 3, 4]);
    assert.deepEqual([...p.options], [0x94, 0x04, 0x00, 0x00]);
    const repr = ipv4.parse(p);
    assert.deepEqual(repr.options, Buffer.from([0x94, 0x04, 0x00, 0x00]));
    const out = Buffer.alloc(ipv4.bufferLen(repr));
    ipv4.emit(repr, out, 0);
    assert.deepEqual(out, hdr);
  });

  it('fragments are recognised', () => {
    const buf = packet(INNER);
    const p = new ipv4.Ipv4Packet(buf, 0, buf.length);
    p.flagsFragOff = ipv4.FLAG_MF | 185; // more fragments, offset 1480 bytes
    assert.equal(p.moreFrags, true);
    assert.equal(p.fragOffset, 185);
    assert.equal(p.isFragment, true);
  });

  it('checked() says what is wrong', () => {
    const full = packet(INNER);
    const wire = (f: () => unknown, re: RegExp): void => {
      assert.throws(f, (e: unknown) => e instanceof WireError && re.test(e.message));
    };
    wire(() => ipv4.Ipv4Packet.checked(full, 0, 12), /12 bytes, the header needs 20 \(8 short\)/);
    const v6 = Buffer.from(full); v6[0] = 0x65;
    wire(() => ipv4.Ipv4Packet.checked(v6, 0, v6.length), /version field is 6/);
    const ihl4 = Buffer.from(full); ihl4[0] = 0x44;
    wire(() => ipv4.Ipv4Packet.checked(ihl4, 0, ihl4.length), /IHL is 4 \(16 bytes\)/);
    const ihl15 = Buffer.from(full.subarray(0, 40)); ihl15[3] = 40; ihl15[0] = 0x4f;
    wire(() => ipv4.Ipv4Packet.checked(ihl15, 0, 40), /60-byte header, the packet is 40 bytes \(20 short\)/);
    wire(() => ipv4.Ipv4Packet.checked(full, 0, 80), /total length 84 is over the 80 bytes present \(4 short\)/);
    const tl10 = Buffer.from(full); tl10[3] = 10;
    wire(() => ipv4.Ipv4Packet.checked(tl10, 0, tl10.length), /total length 10 is under the header length 20/);
    wire(() => ipv4.Ipv4Packet.checked(full, 70, 84), /runs past/);
  });

  it('parse() refuses a bad checksum with both values', () => {
    const buf = packet(INNER);
    buf[11] ^= 0xff;
    assert.throws(() => ipv4.parse(ipv4.Ipv4Packet.checked(buf, 0, buf.length)),
      (e: unknown) => e instanceof WireError && /checksum 0x2a2b is wrong \(should be 0x2ad4\)/.test(e.message));
  });

  it('protocolName keeps unknown protocols as numbers', () => {
    assert.equal(ipv4.protocolName(1), 'ICMP');
    assert.equal(ipv4.protocolName(6), 'TCP');
    assert.equal(ipv4.protocolName(17), 'UDP');
    assert.equal(ipv4.protocolName(132), '132');
  });
});
