import assert from 'node:assert/strict';
import { SocketAddress } from 'node:net';
import { describe, it } from 'node:test';
import { WireError } from '../../../src/errors';
import * as ipv6 from '../../../src/wire/ipv6';

// Fixture frame 13, inner IPv6 header: an MLDv2 report, fe80::98be:c4ff:feb0:6cd2 > ff02::16,
// next header 0 (hop-by-hop options), hop limit 1, payload 36 bytes.
const MLD = [
  0x60, 0x00, 0x00, 0x00, //                         version 6, traffic class 0, flow label 0
  0x00, 0x24, 0x00, 0x01, //                         payload length 36, next header 0, hop limit 1
  0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // src
  0x98, 0xbe, 0xc4, 0xff, 0xfe, 0xb0, 0x6c, 0xd2,
  0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // dst
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x16,
];

function packet(header: number[], payload = 36): Buffer {
  return Buffer.concat([Buffer.from(header), Buffer.alloc(payload, 0x3a)]);
}

describe('ipv6', () => {
  it('field offsets', () => {
    assert.deepEqual(ipv6.field, { VER_TC_FLOW: 0, PAYLOAD_LEN: 4, NEXT_HEADER: 6, HOP_LIMIT: 7, SRC: 8, DST: 24, PAYLOAD: 40 });
    assert.equal(ipv6.HEADER_LEN, 40);
  });

  it('decodes fixture frame 13 inner header', () => {
    const buf = packet(MLD);
    const p = ipv6.Ipv6Packet.checked(buf, 0, buf.length);
    assert.equal(p.version, 6);
    assert.equal(p.trafficClass, 0);
    assert.equal(p.flowLabel, 0);
    assert.equal(p.payloadLen, 36);
    assert.equal(p.nextHeader, ipv6.NH_HOPOPT);
    assert.equal(p.hopLimit, 1);
    assert.equal(p.src, 'fe80::98be:c4ff:feb0:6cd2');
    assert.equal(p.dst, 'ff02::16');
    assert.equal(p.payloadOffset, 40);
    assert.equal(p.payload.length, 36);
    assert.deepEqual(ipv6.parse(p), {
      src: 'fe80::98be:c4ff:feb0:6cd2', dst: 'ff02::16', nextHeader: 0, hopLimit: 1, payloadLen: 36, trafficClass: 0, flowLabel: 0,
    });
    assert.equal(ipv6.version(buf, 0), 6);
    assert.equal(ipv6.payloadLen(buf, 0), 36);
    assert.equal(ipv6.nextHeader(buf, 0), 0);
  });

  it('emits the same header from its Repr', () => {
    const repr = ipv6.parse(new ipv6.Ipv6Packet(packet(MLD), 0, 76));
    const out = Buffer.alloc(ipv6.bufferLen(repr));
    assert.equal(ipv6.emit(repr, out, 0), 40);
    assert.deepEqual(out, Buffer.from(MLD));
  });

  it('traffic class and flow label straddle byte boundaries', () => {
    // version 6, traffic class 0xb8 (EF), flow label 0xabcde
    const hdr = [0x6b, 0x8a, 0xbc, 0xde, ...MLD.slice(4)];
    const p = ipv6.Ipv6Packet.checked(packet(hdr), 0, 76);
    assert.equal(p.trafficClass, 0xb8);
    assert.equal(p.flowLabel, 0xabcde);
    const out = Buffer.alloc(40);
    ipv6.emit(ipv6.parse(p), out, 0);
    assert.deepEqual(out, Buffer.from(hdr));
  });

  it('works at a non-zero offset in a pooled slice', () => {
    const slab = Buffer.alloc(160, 0xee).subarray(13);
    packet(MLD).copy(slab, 22);
    const p = ipv6.Ipv6Packet.checked(slab, 22, 76);
    assert.equal(p.dst, 'ff02::16');
    assert.equal(p.payloadOffset, 62);
  });

  it('formats addresses in RFC 5952 form', () => {
    const f = (hex: string): string => ipv6.formatAddress(Buffer.from(hex, 'hex'));
    assert.equal(f('00000000000000000000000000000000'), '::');
    assert.equal(f('00000000000000000000000000000001'), '::1');
    assert.equal(f('ff020000000000000000000000000016'), 'ff02::16');
    assert.equal(f('ff0200000000000000000001ff15af60'), 'ff02::1:ff15:af60');
    assert.equal(f('20010db8000000000001000000000001'), '2001:db8::1:0:0:1'); // first longest run wins
    assert.equal(f('20010db8000100000001000100010001'), '2001:db8:1:0:1:1:1:1'); // one zero group stays
    assert.equal(f('20010db8000000010000000000000000'), '2001:db8:0:1::');
    assert.equal(f('00000000000000000000ffffc0a85f01'), '::ffff:192.168.95.1');
  });

  it('parses addresses back to the same bytes', () => {
    for (const text of ['::', '::1', 'ff02::16', 'fe80::98be:c4ff:feb0:6cd2', '2001:db8::1:0:0:1', '2001:db8:0:1::', '::ffff:192.168.95.1',
      '2001:db8:1:0:1:1:1:1']) {
      assert.equal(ipv6.formatAddress(ipv6.parseAddress(text)), text);
    }
    assert.equal(ipv6.parseAddress('FE80:0:0:0:0:0:0:1').toString('hex'), 'fe800000000000000000000000000001');
    for (const bad of ['1::2::3', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '12345::', 'g::', '1:2:3:4:5:6:7::8', '::1.2.3.256']) {
      assert.throws(() => ipv6.parseAddress(bad), WireError, bad);
    }
  });

  it('checked() says what is wrong', () => {
    const wire = (f: () => unknown, re: RegExp): void => {
      assert.throws(f, (e: unknown) => e instanceof WireError && re.test(e.message));
    };
    const buf = packet(MLD);
    wire(() => ipv6.Ipv6Packet.checked(buf, 0, 30), /30 bytes, the header needs 40 \(10 short\)/);
    wire(() => ipv6.Ipv6Packet.checked(buf, 0, 60), /payload length 36 needs 76 bytes, the packet is 60 \(16 short\)/);
    const v4 = Buffer.from(buf); v4[0] = 0x45;
    wire(() => ipv6.Ipv6Packet.checked(v4, 0, v4.length), /version field is 4, not 6/);
  });

  it('nextHeaderName', () => {
    assert.equal(ipv6.nextHeaderName(0), 'HOPOPT');
    assert.equal(ipv6.nextHeaderName(58), 'ICMPv6');
    assert.equal(ipv6.nextHeaderName(17), 'UDP');
    assert.equal(ipv6.nextHeaderName(253), '253');
  });
  it('formats as node:net does (inet_ntop): RFC 5952 text for every case here', () => {
    for (const text of ['::', '::1', 'FD00:0:0:0:0:0:0:1', '2001:db8:0:0:1:0:0:1', '2001:0db8:0000:0001:0000:0000:0000:0000', 'fe80::60:ff:fe00:2',
      '2001:db8:1:0:1:1:1:1', 'ff02::1:ff00:2', '1:0:0:2:0:0:0:3', '0:0:0:0:0:0:0:2']) {
      assert.equal(ipv6.formatAddress(ipv6.parseAddress(text)), new SocketAddress({ address: text, family: 'ipv6' }).address, text);
    }
  });

  it('solicited-node groups and their MACs (RFC 4291 section 2.7.1, RFC 2464 section 7)', () => {
    const a = ipv6.parseAddress('fd60::2');
    assert.equal(ipv6.formatAddress(ipv6.solicitedNode(a)), 'ff02::1:ff00:2');
    assert.equal(ipv6.formatAddress(ipv6.solicitedNode(ipv6.parseAddress('fe80::4059:1cff:fe15:af60'))), 'ff02::1:ff15:af60');
    assert.equal(ipv6.isSolicitedNode(ipv6.solicitedNode(a), 0), true);
    assert.equal(ipv6.isSolicitedNode(ipv6.ALL_NODES, 0), false);
    assert.equal(ipv6.multicastMacKey(ipv6.solicitedNode(a), 0), 0x3333ff000002);
    assert.equal(ipv6.multicastMacKey(ipv6.ALL_NODES, 0), 0x333300000001);
    // In place, over the address itself (the low bytes are read first).
    const b = Buffer.from(ipv6.parseAddress('2001:db8::abcd:ef12'));
    ipv6.writeSolicitedNode(b, 0, b, 0);
    assert.equal(ipv6.formatAddress(b), 'ff02::1:ffcd:ef12');
    assert.equal(ipv6.isMulticastAddr(b, 0), true);
    assert.equal(ipv6.isUnspecifiedAddr(ipv6.parseAddress('::'), 0), true);
    assert.equal(ipv6.isUnspecifiedAddr(ipv6.parseAddress('::1'), 0), false);
    assert.equal(ipv6.addrEquals(a, 0, ipv6.parseAddress('fd60:0::2'), 0), true);
  });

  it('prefixes: parse, format, contain, network, and the subnet\'s :: address', () => {
    const c = ipv6.parseCidr('fd00:44:2::/64');
    assert.equal(c.len, 64);
    assert.equal(ipv6.formatCidr(c), 'fd00:44:2::/64');
    assert.equal(ipv6.subnetRouterAddress(c), 'fd00:44:2::');
    assert.equal(ipv6.cidrContains(c, ipv6.parseAddress('fd00:44:2::1')), true);
    assert.equal(ipv6.cidrContains(c, ipv6.parseAddress('fd00:44:2:0:ffff:ffff:ffff:ffff')), true);
    assert.equal(ipv6.cidrContains(c, ipv6.parseAddress('fd00:44:3::')), false);
    // Lengths that are not multiples of 8.
    const odd = ipv6.parseCidr('fd00:40::/26');
    assert.equal(ipv6.cidrContains(odd, ipv6.parseAddress('fd00:7f::1')), true);
    assert.equal(ipv6.cidrContains(odd, ipv6.parseAddress('fd00:80::1')), false);
    assert.equal(ipv6.formatAddress(ipv6.networkOf(ipv6.parseAddress('fd00:44:2:3:4:5:6:7'), 0, 56)), 'fd00:44:2::');
    assert.equal(ipv6.formatAddress(ipv6.networkOf(ipv6.parseAddress('fd00:44:2:3:4:5:6:7'), 0, 63)), 'fd00:44:2:2::');
    assert.equal(ipv6.cidrContains(ipv6.parseCidr('::/0'), ipv6.parseAddress('2001:db8::1')), true);
    assert.equal(ipv6.cidrContains(ipv6.parseCidr('fd00::1/128'), ipv6.parseAddress('fd00::1')), true);
    assert.equal(ipv6.cidrContains(ipv6.parseCidr('fd00::1/128'), ipv6.parseAddress('fd00::2')), false);
    // At an offset in a frame, as the data plane reads it.
    const slab = Buffer.alloc(40, 0xee);
    ipv6.parseAddress('fd00:44:2::9').copy(slab, 11);
    assert.equal(ipv6.cidrContains(c, slab, 11), true);
    assert.throws(() => ipv6.parseCidr('fd00:44:2::1/64'), /host bits are set in "fd00:44:2::1\/64" \(did you mean fd00:44:2::\/64\?\)/);
    assert.throws(() => ipv6.parseCidr('fd00::/129'), WireError);
    assert.throws(() => ipv6.parseCidr('fd00::'), /not an IPv6 CIDR/);
    assert.throws(() => ipv6.networkOf(slab, 0, 130), /outside 0..128/);
  });
});
