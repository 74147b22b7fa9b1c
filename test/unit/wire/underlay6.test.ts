/**
 * The IPv6 outer headers (underlay.emitOuter6) and the UDP checksum over
 * IPv6 (udp.checksumIpv6 / verifyChecksumIpv6). Golden bytes: fixture
 * kernel-vxlan6-vni42.pcap frame 7, as the kernel's vxlan sent it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as ethernet from '../../../src/wire/ethernet';
import * as ipv6 from '../../../src/wire/ipv6';
import * as udp from '../../../src/wire/udp';
import * as underlay from '../../../src/wire/underlay';
import * as vxlan from '../../../src/wire/vxlan';

function hex(text: string): Buffer {
  return Buffer.from(text.replace(/#.*$/gm, '').replace(/\s+/g, ''), 'hex');
}

// Fixture frame 7: the outer 70 bytes, then the inner frame (an NS).
const OUTER = hex(`
  020000000002 020000000001 86dd                # Ethernet 02:00:00:00:00:01 > :02, IPv6
  6000 0000 0066 11 40                          # version 6, tc 0, flow label 0; payload 102, UDP, hop limit 64
  fd00 0000 0000 0000 0000 0000 0000 0001       # src fd00::1
  fd00 0000 0000 0000 0000 0000 0000 0002       # dst fd00::2
  c9a1 12b5 0066 a08c                           # UDP 51617 > 4789, length 102, checksum 0xa08c
  0800 0000 0000 2a00                           # VXLAN I flag, VNI 42
`);
const INNER = hex(`
  3333ff000002 026000000001 86dd
  6000 0000 0020 3aff fd60 0000 0000 0000 0000 0000 0000 0001 ff02 0000 0000 0000 0000 0001 ff00 0002
  8700 7c77 0000 0000 fd60 0000 0000 0000 0000 0000 0000 0002 0101 0260 0000 0001
`);
const FRAME7 = Buffer.concat([OUTER, INNER]);
const SRC = ipv6.parseAddress('fd00::1');
const DST = ipv6.parseAddress('fd00::2');

describe('IPv6 underlay', () => {
  it('is 70 bytes of overhead: Ethernet 14 + IPv6 40 + UDP 8 + VXLAN 8', () => {
    assert.equal(underlay.OUTER6_LEN, 62);
    assert.equal(underlay.WIRE_OVERHEAD6, 70);
    assert.equal(OUTER.length, 70);
    assert.equal(underlay.WIRE_OVERHEAD6 - underlay.WIRE_OVERHEAD, ipv6.HEADER_LEN - 20);
  });

  it('rebuilds the kernel\'s outer headers of fixture frame 7 byte for byte, UDP checksum included', () => {
    const out = Buffer.alloc(FRAME7.length, 0xee);
    FRAME7.copy(out, underlay.OUTER6_LEN, underlay.OUTER6_LEN);
    assert.equal(underlay.emitOuter6(out, 0, SRC, 0, 51617, DST, 0, vxlan.PORT_IANA, FRAME7.length - underlay.OUTER6_LEN), 62);
    assert.deepEqual(out, FRAME7);
    assert.deepEqual(underlay.wrapPayload6(FRAME7.subarray(62), { src: SRC, srcPort: 51617, dst: DST, dstPort: 4789 }), FRAME7);
    assert.equal(underlay.placeholderMacKey6(SRC), 0x020000000001);
  });

  it('writes a flow label and hop limit when given, at an offset, from addresses inside other buffers', () => {
    const addrs = Buffer.alloc(40, 0xaa);
    SRC.copy(addrs, 3);
    DST.copy(addrs, 21);
    const slab = Buffer.alloc(300, 0xee).subarray(9);
    FRAME7.copy(slab, 5 + 62, 62);
    underlay.emitOuter6(slab, 5, addrs, 3, 51617, addrs, 21, 4789, FRAME7.length - 62, 0xabcde, 255);
    const ip = new ipv6.Ipv6Packet(slab, 5 + ethernet.HEADER_LEN, 40 + 102);
    assert.equal(ip.flowLabel, 0xabcde);
    assert.equal(ip.trafficClass, 0);
    assert.equal(ip.hopLimit, 255);
    assert.equal(ip.src, 'fd00::1');
    assert.equal(ip.dst, 'fd00::2');
    // The flow label is not in the pseudo-header: the checksum is the kernel's.
    assert.equal(udp.UdpPacket.checked(slab, 5 + 54, 102).checksum, 0xa08c);
    assert.equal(slab[4], 0xee);
  });

  it('the UDP checksum over IPv6: right, verified, never sent as zero, and a zero one refused unless allowed (RFC 6935/6936)', () => {
    const b = Buffer.from(FRAME7);
    const u = 54;
    assert.equal(udp.checksumIpv6(b, u, 102, 22, 38), 0xa08c);
    assert.equal(udp.verifyChecksumIpv6(b, u, 102, 22, 38), true);
    b[u + 20] ^= 1; // a bit of the VXLAN payload
    assert.equal(udp.verifyChecksumIpv6(b, u, 102, 22, 38), false);
    // Zero: "no checksum" over IPv4, refused over IPv6 unless the port is configured for it.
    const z = Buffer.from(FRAME7);
    z.writeUInt16BE(0, u + udp.field.CHECKSUM);
    assert.equal(udp.verifyChecksumIpv6(z, u, 102, 22, 38), false);
    assert.equal(udp.verifyChecksumIpv6(z, u, 102, 22, 38, true), true);
    // A datagram whose sum comes to zero carries 0xffff instead: make one by
    // choosing the last two payload bytes, then check both verify.
    const c = Buffer.from(FRAME7);
    c.writeUInt16BE(0, c.length - 2);
    const natural = udp.checksumIpv6(c, u, 102, 22, 38);
    // Adding `natural` to the data drives the complemented sum to 0 (or 0xffff, its twin).
    c.writeUInt16BE(natural, c.length - 2);
    assert.equal(udp.checksumIpv6(c, u, 102, 22, 38), 0xffff);
    udp.fillChecksumIpv6(c, u, 102, 22, 38);
    assert.equal(c.readUInt16BE(u + udp.field.CHECKSUM), 0xffff);
    assert.equal(udp.verifyChecksumIpv6(c, u, 102, 22, 38), true);
  });

  it('refuses a datagram too long for a non-jumbo IPv6 packet', () => {
    const b = Buffer.alloc(100);
    assert.throws(() => underlay.emitOuter6(b, 0, SRC, 0, 1, DST, 0, 2, 0xfff8), RangeError);
  });
});
