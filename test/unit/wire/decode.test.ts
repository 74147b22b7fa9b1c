import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseIpv4 } from '../../../src/wire/addr';
import * as csum from '../../../src/wire/checksum';
import { decodeFrame, formatLayers, type DecodedLayer } from '../../../src/wire/decode';
import * as ethernet from '../../../src/wire/ethernet';
import * as icmp from '../../../src/wire/icmp';
import * as ipv4 from '../../../src/wire/ipv4';
import * as udp from '../../../src/wire/udp';
import * as vxlan from '../../../src/wire/vxlan';

/** Hex with spaces, comments and line breaks allowed, as copied from a capture. */
function hex(text: string): Buffer {
  return Buffer.from(text.replace(/#.*$/gm, '').replace(/\s+/g, ''), 'hex');
}

// Fixture frame 7 (148 bytes), as the kernel's vxlan driver sent it:
// ping 10.50.1.0 > 10.50.2.1 inside VXLAN VNI 42 between 192.168.95.1 and .2.
const FRAME7 = hex(`
  024d59f2d7d7 fe4dbb95dd46 0800                          # Ethernet
  4500 0086 fec0 0000 4011 3c52 c0a85f01 c0a85f02         # IPv4, UDP
  876a 12b5 0072 3fd8                                     # UDP 34666 > 4789
  08000000 00002a00                                       # VXLAN VNI 42
  42591c15af60 9abec4b06cd2 0800                          # inner Ethernet
  4500 0054 f870 4000 4001 2ad4 0a320100 0a320201         # inner IPv4, ICMP
  0800 cb7f 3e9f 0001                                     # ICMP echo request
  ccbf046b00000000 52e20b0000000000                       # ping data: timestamp
  101112131415161718191a1b1c1d1e1f 202122232425262728292a2b2c2d2e2f 3031323334353637
`);

const names = (layers: DecodedLayer[]): string[] => layers.map((l) => l.name);

describe('decodeFrame', () => {
  it('decodes the whole VXLAN stack of fixture frame 7, every field', () => {
    assert.equal(FRAME7.length, 148);
    const layers = decodeFrame(FRAME7);
    assert.deepEqual(names(layers), ['Ethernet', 'IPv4', 'UDP', 'VXLAN', 'Ethernet', 'IPv4', 'ICMPv4', 'Payload']);
    assert.deepEqual(layers.map((l) => [l.offset, l.length]),
      [[0, 14], [14, 20], [34, 8], [42, 8], [50, 14], [64, 20], [84, 8], [92, 56]]);
    assert.deepEqual(layers[0]!.fields, { dst: '02:4d:59:f2:d7:d7', src: 'fe:4d:bb:95:dd:46', etherType: 'IPv4' });
    assert.deepEqual(layers[1]!.fields, {
      version: 4, headerLen: 20, dscpEcn: 0, length: 134, id: 0xfec0, flags: '', fragOffset: 0, ttl: 64, protocol: 'UDP',
      checksum: '0x3c52', checksumStatus: 'ok', src: '192.168.95.1', dst: '192.168.95.2',
    });
    assert.equal(layers[2]!.fields.srcPort, 34666);
    assert.equal(layers[2]!.fields.dstPort, 4789);
    assert.equal(layers[2]!.fields.length, 114);
    assert.deepEqual(layers[3]!.fields, { flags: '0x08', vni: 42 });
    assert.deepEqual(layers[4]!.fields, { dst: '42:59:1c:15:af:60', src: '9a:be:c4:b0:6c:d2', etherType: 'IPv4' });
    assert.deepEqual(layers[5]!.fields, {
      version: 4, headerLen: 20, dscpEcn: 0, length: 84, id: 0xf870, flags: 'DF', fragOffset: 0, ttl: 64, protocol: 'ICMP',
      checksum: '0x2ad4', checksumStatus: 'ok', src: '10.50.1.0', dst: '10.50.2.1',
    });
    assert.deepEqual(layers[6]!.fields, {
      type: 8, code: 0, typeName: 'echo-request', checksum: '0xcb7f', checksumStatus: 'ok', ident: 0x3e9f, seq: 1,
    });
    assert.deepEqual(layers[7]!.fields, { length: 56 });
    assert.deepEqual(layers.map((l) => l.summary), [
      'Ethernet fe:4d:bb:95:dd:46 > 02:4d:59:f2:d7:d7 type IPv4',
      'IPv4 192.168.95.1 > 192.168.95.2 ttl 64 proto UDP len 134',
      'UDP 34666 > 4789 len 114',
      'VXLAN vni 42 flags 0x08',
      'Ethernet 9a:be:c4:b0:6c:d2 > 42:59:1c:15:af:60 type IPv4',
      'IPv4 10.50.1.0 > 10.50.2.1 ttl 64 proto ICMP len 84',
      'ICMPv4 echo-request id 16031 seq 1',
      'Payload 56 bytes',
    ]);
  });

  it('re-parses frame 7 into Reprs and re-emits it byte for byte', () => {
    const eth = ethernet.parse(ethernet.EthernetFrame.checked(FRAME7, 0, 148));
    const ip = ipv4.parse(ipv4.Ipv4Packet.checked(FRAME7, 14, 134));
    const u = udp.parse(udp.UdpPacket.checked(FRAME7, 34, 114));
    const vx = vxlan.parse(vxlan.VxlanPacket.checked(FRAME7, 42, 106));
    const ieth = ethernet.parse(ethernet.EthernetFrame.checked(FRAME7, 50, 98));
    const iip = ipv4.parse(ipv4.Ipv4Packet.checked(FRAME7, 64, 84));
    const ic = icmp.parse(icmp.IcmpPacket.checked(FRAME7, 84, 64));
    // Serialize from the innermost header outward, as gopacket does.
    const out = Buffer.alloc(148, 0xcc);
    icmp.emit(ic, out, 84);
    ipv4.emit(iip, out, 64);
    ethernet.emit(ieth, out, 50);
    vxlan.emitRepr(vx, out, 42);
    udp.emit(u, out, 34);
    ipv4.emit(ip, out, 14);
    ethernet.emit(eth, out, 0);
    assert.deepEqual(out, FRAME7);
  });

  it('builds frame 7 from hand-written values with the hot-path emitters', () => {
    const out = Buffer.alloc(148);
    const data = FRAME7.subarray(92); // the ping's own payload
    let off = 0;
    off += ethernet.emitHeader(out, off, 0x024d59f2d7d7, 0xfe4dbb95dd46, ethernet.ETHERTYPE_IPV4);
    off += ipv4.emit({ src: '192.168.95.1', dst: '192.168.95.2', protocol: ipv4.PROTO_UDP, ttl: 64, ident: 0xfec0, payloadLen: 114 }, out, off);
    // The kernel left the pseudo-header sum in the UDP checksum field for the device to finish.
    const partial = csum.fold(csum.pseudoHeaderSumIpv4(parseIpv4('192.168.95.1'), parseIpv4('192.168.95.2'), 17, 114));
    off += udp.emitHeader(out, off, 34666, vxlan.PORT_IANA, 114, partial);
    off += vxlan.emit(out, off, 42);
    off += ethernet.emitHeader(out, off, 0x42591c15af60, 0x9abec4b06cd2, ethernet.ETHERTYPE_IPV4);
    off += ipv4.emit({
      src: '10.50.1.0', dst: '10.50.2.1', protocol: ipv4.PROTO_ICMP, ttl: 64, ident: 0xf870, dontFrag: true, payloadLen: 64,
    }, out, off);
    off += icmp.emit({ type: icmp.TYPE_ECHO_REQUEST, code: 0, ident: 0x3e9f, seq: 1, data }, out, off);
    assert.equal(off, 148);
    assert.deepEqual(out, FRAME7);
  });

  it('decodes a frame held at a non-zero byteOffset (pooled slice)', () => {
    const slab = Buffer.alloc(300, 0xee);
    FRAME7.copy(slab, 77);
    const frame = slab.subarray(77, 77 + 148);
    assert.equal(frame.byteOffset, 77);
    const layers = decodeFrame(frame);
    assert.deepEqual(names(layers), ['Ethernet', 'IPv4', 'UDP', 'VXLAN', 'Ethernet', 'IPv4', 'ICMPv4', 'Payload']);
    assert.equal(layers[5]!.fields.checksumStatus, 'ok');
  });

  it('formats like gopacket', () => {
    assert.equal(formatLayers(decodeFrame(FRAME7)), [
      'PACKET: 148 bytes',
      '- header 1 (14 bytes) = Ethernet {fe:4d:bb:95:dd:46 > 02:4d:59:f2:d7:d7 type IPv4}',
      '- header 2 (20 bytes) = IPv4 {192.168.95.1 > 192.168.95.2 ttl 64 proto UDP len 134}',
      '- header 3 (08 bytes) = UDP {34666 > 4789 len 114}',
      '- header 4 (08 bytes) = VXLAN {vni 42 flags 0x08}',
      '- header 5 (14 bytes) = Ethernet {9a:be:c4:b0:6c:d2 > 42:59:1c:15:af:60 type IPv4}',
      '- header 6 (20 bytes) = IPv4 {10.50.1.0 > 10.50.2.1 ttl 64 proto ICMP len 84}',
      '- header 7 (08 bytes) = ICMPv4 {echo-request id 16031 seq 1}',
      '- header 8 (56 bytes) = Payload {56 bytes}',
    ].join('\n'));
  });

  it('adds a hex dump per layer when given the buffer', () => {
    const text = formatLayers(decodeFrame(FRAME7), { buf: FRAME7 });
    const lines = text.split('\n');
    assert.equal(lines[1], '- header 1 (14 bytes) = Ethernet {fe:4d:bb:95:dd:46 > 02:4d:59:f2:d7:d7 type IPv4}');
    assert.equal(lines[2], '    00000000  02 4d 59 f2 d7 d7 fe 4d bb 95 dd 46 08 00        |.MY....M...F..|');
    assert.ok(text.includes('    00000020  20 21 22 23 24 25 26 27 28 29 2a 2b 2c 2d 2e 2f  | !"#$%&\'()*+,-./|'));
  });

  it('follows UDP to VXLAN only on the configured ports', () => {
    assert.deepEqual(names(decodeFrame(FRAME7, { vxlanPorts: [] })), ['Ethernet', 'IPv4', 'UDP', 'Payload']);
    const on8472 = Buffer.from(FRAME7);
    on8472.writeUInt16BE(8472, 36);
    assert.equal(decodeFrame(on8472).filter((l) => l.name === 'VXLAN').length, 1, '8472 is a default VXLAN port');
    assert.equal(decodeFrame(on8472, { vxlanPorts: [4789] })[3]!.name, 'Payload');
  });

  it('decodes an 802.1Q-tagged ARP request', () => {
    const frame = hex(`
      ffffffffffff 9abec4b06cd2 8100 0064 0806
      0001 0800 06 04 0001 9abec4b06cd2 0a320100 000000000000 0a320200
    `);
    const layers = decodeFrame(frame);
    assert.deepEqual(names(layers), ['Ethernet', '802.1Q', 'ARP']);
    assert.equal(layers[0]!.fields.etherType, '802.1Q');
    assert.deepEqual(layers[1]!.fields, { vid: 100, pcp: 0, dei: 0, etherType: 'ARP' });
    assert.equal(layers[1]!.summary, '802.1Q vlan 100 pri 0 type ARP');
    assert.equal(layers[2]!.offset, 18);
    assert.equal(layers[2]!.summary, 'ARP who-has 10.50.2.0 tell 10.50.1.0');
  });

  it('keeps unknown EtherTypes as hex and their bytes as Payload', () => {
    const layers = decodeFrame(hex('ffffffffffff 020000000001 1234 deadbeef'));
    assert.deepEqual(names(layers), ['Ethernet', 'Payload']);
    assert.equal(layers[0]!.summary, 'Ethernet 02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff type 0x1234');
    assert.equal(layers[1]!.length, 4);
  });

  it('shows Ethernet padding on the Ethernet layer, not as a layer', () => {
    // A 60-byte ARP request: 14 + 28 bytes, then 18 bytes of padding.
    const arpFrame = Buffer.concat([
      hex('ffffffffffff 9abec4b06cd2 0806 0001 0800 06 04 0001 9abec4b06cd2 0a320100 000000000000 0a320200'),
      Buffer.alloc(18),
    ]);
    const layers = decodeFrame(arpFrame);
    assert.deepEqual(names(layers), ['Ethernet', 'ARP']);
    assert.equal(layers[0]!.fields.padding, 18);
    assert.equal(layers[0]!.summary, 'Ethernet 9a:be:c4:b0:6c:d2 > ff:ff:ff:ff:ff:ff type ARP padding 18');
    assert.match(formatLayers(layers), /^PACKET: 60 bytes\n/);

    // The same padded frame inside VXLAN: the padding belongs to the inner frame only.
    const outer = Buffer.alloc(50 + 60);
    ethernet.emitHeader(outer, 0, 0x024d59f2d7d7, 0xfe4dbb95dd46, ethernet.ETHERTYPE_IPV4);
    ipv4.emit({ src: '192.168.95.1', dst: '192.168.95.2', protocol: ipv4.PROTO_UDP, ttl: 64, payloadLen: 8 + 8 + 60 }, outer, 14);
    udp.emitHeader(outer, 34, 50000, vxlan.PORT_IANA, 8 + 8 + 60);
    vxlan.emit(outer, 42, 7);
    arpFrame.copy(outer, 50);
    const nested = decodeFrame(outer);
    assert.deepEqual(names(nested), ['Ethernet', 'IPv4', 'UDP', 'VXLAN', 'Ethernet', 'ARP']);
    assert.equal(nested[0]!.fields.padding, undefined);
    assert.equal(nested[4]!.fields.padding, 18);
    assert.match(formatLayers(nested), /^PACKET: 110 bytes\n/);
  });

  it('survives every truncation and every single-byte corruption of frame 7 without a decoder bug', () => {
    const check = (frame: Buffer, what: string): void => {
      const layers = decodeFrame(frame);
      assert.ok(layers.length > 0, what);
      const failures = layers.filter((l) => l.name === 'DecodeFailure');
      assert.ok(failures.length <= 1, what);
      assert.ok(!failures.some((l) => l.fields.layer === 'decoder'), `${what}: ${failures[0]?.error}`);
      if (failures.length) assert.equal(layers[layers.length - 1], failures[0], `${what}: decoding stops at the failure`);
    };
    for (let n = 0; n <= FRAME7.length; n++) check(FRAME7.subarray(0, n), `cut to ${n}`);
    for (let i = 0; i < FRAME7.length; i++) {
      for (const v of [0x00, 0xff, FRAME7[i]! ^ 0x80]) {
        const bad = Buffer.from(FRAME7);
        bad[i] = v;
        check(bad, `byte ${i} = ${v}`);
      }
    }
  });

  describe('DecodeFailure keeps the partial decode', () => {
    it('on an empty or runt frame', () => {
      const layers = decodeFrame(Buffer.alloc(0));
      assert.deepEqual(names(layers), ['DecodeFailure']);
      assert.match(layers[0]!.error!, /0 bytes, the header needs 14 \(14 short\)/);
      const runt = decodeFrame(hex('ffffffffffff0200'));
      assert.equal(runt[0]!.fields.hex, 'ffffffffffff0200');
      assert.equal(runt[0]!.fields.layer, 'Ethernet');
      assert.equal(runt[0]!.length, 8);
    });

    it('on a truncated capture: the outer IPv4 total length runs past the frame', () => {
      const layers = decodeFrame(FRAME7.subarray(0, 80));
      assert.deepEqual(names(layers), ['Ethernet', 'DecodeFailure']);
      assert.equal(layers[1]!.offset, 14);
      assert.equal(layers[1]!.length, 66);
      assert.match(layers[1]!.error!, /IPv4 total length 134 is over the 66 bytes present \(68 short\)/);
      assert.match(layers[1]!.summary, /^DecodeFailure IPv4: /);
    });

    it('on a VXLAN header without the I flag', () => {
      const bad = Buffer.from(FRAME7);
      bad[42] = 0x00;
      const layers = decodeFrame(bad);
      assert.deepEqual(names(layers), ['Ethernet', 'IPv4', 'UDP', 'DecodeFailure']);
      assert.equal(layers[3]!.offset, 42);
      assert.equal(layers[3]!.length, 106);
      assert.match(layers[3]!.error!, /lack the I bit/);
      assert.match(String(layers[3]!.fields.hex), /^08000000|^00000000/);
      assert.match(String(layers[3]!.fields.hex), /\.\.\.$/, 'long failures keep the first 64 bytes');
    });

    it('on a broken inner IPv4 header, after the outer layers', () => {
      const bad = Buffer.from(FRAME7);
      bad[64] = 0x55; // inner version 5
      const layers = decodeFrame(bad);
      assert.deepEqual(names(layers), ['Ethernet', 'IPv4', 'UDP', 'VXLAN', 'Ethernet', 'DecodeFailure']);
      assert.match(layers[5]!.error!, /version field is 5/);
      const text = formatLayers(layers);
      assert.match(text, /- header 6 \(84 bytes\) = DecodeFailure \{IPv4: IPv4 version field is 5, not 4\}/);
    });

    it('on a UDP length past the IPv4 payload', () => {
      const bad = Buffer.from(FRAME7);
      bad.writeUInt16BE(200, 38); // outer UDP length
      const layers = decodeFrame(bad);
      assert.deepEqual(names(layers), ['Ethernet', 'IPv4', 'DecodeFailure']);
      assert.match(layers[2]!.error!, /UDP length field 200 is over the 114 bytes present/);
    });

    it('marks a bad IPv4 header checksum without failing', () => {
      const bad = Buffer.from(FRAME7);
      bad[64 + 8] = 1; // inner TTL 1, checksum not updated
      const layers = decodeFrame(bad);
      assert.equal(layers[5]!.fields.checksumStatus, 'bad');
      assert.equal(layers[5]!.summary, 'IPv4 10.50.1.0 > 10.50.2.1 ttl 1 proto ICMP len 84 bad-cksum');
      assert.equal(layers.length, 8);
    });
  });
  it('decodes ICMPv6 inside IPv6: NS/NA with target, flags and link-layer address, echo, and names a failed ND check', () => {
    // kernel-vxlan6-vni42.pcap frame 7's inner frame: the NS for fd60::2.
    const ns = hex(`
      3333ff000002 026000000001 86dd
      6000 0000 0020 3aff fd60 0000 0000 0000 0000 0000 0000 0001 ff02 0000 0000 0000 0000 0001 ff00 0002
      8700 7c77 0000 0000 fd60 0000 0000 0000 0000 0000 0000 0002 0101 0260 0000 0001
    `);
    const layers = decodeFrame(ns);
    assert.deepEqual(names(layers), ['Ethernet', 'IPv6', 'ICMPv6']);
    assert.deepEqual(layers.map((l) => [l.offset, l.length]), [[0, 14], [14, 40], [54, 32]]);
    assert.deepEqual(layers[2]!.fields, {
      type: 135, code: 0, typeName: 'neighbor-solicitation', checksum: '0x7c77', checksumStatus: 'ok',
      ndCheck: 'ok', target: 'fd60::2', sourceLinkLayer: '02:60:00:00:00:01',
    });
    assert.equal(formatLayers(layers).split('\n')[3],
      '- header 3 (32 bytes) = ICMPv6 {neighbor-solicitation who-has fd60::2 from 02:60:00:00:00:01}');
    // Routed (hop limit 64): the checksum still holds, the ND check fails.
    const routed = Buffer.from(ns); routed[14 + 7] = 64;
    const bad = decodeFrame(routed)[2]!;
    assert.equal(bad.fields.ndCheck, 'nd-hop-limit');
    assert.equal(bad.summary, 'ICMPv6 neighbor-solicitation who-has fd60::2 invalid (nd-hop-limit)');
    const flipped = Buffer.from(ns); flipped[ns.length - 1] ^= 1;
    assert.equal(decodeFrame(flipped)[2]!.summary, 'ICMPv6 neighbor-solicitation who-has fd60::2 bad-cksum');
    // An echo request: id, seq, then the data as Payload.
    const echo = Buffer.alloc(14 + 40 + 16);
    echo.writeUInt16BE(0x86dd, 12);
    echo.writeUInt32BE(0x60000000, 14); echo.writeUInt16BE(16, 18); echo[20] = 58; echo[21] = 64;
    echo[22] = 0xfd; echo[37] = 1; echo[38] = 0xfd; echo[53] = 2;
    echo[54] = 128; echo.writeUInt16BE(7, 58); echo.writeUInt16BE(3, 60);
    const c = csum.checksum(echo, 54, 16, csum.pseudoHeaderSumIpv6(echo, 22, 38, 58, 16));
    echo.writeUInt16BE(c, 56);
    const e = decodeFrame(echo);
    assert.deepEqual(names(e), ['Ethernet', 'IPv6', 'ICMPv6', 'Payload']);
    assert.equal(e[2]!.summary, 'ICMPv6 echo-request id 7 seq 3');
    assert.equal(e[2]!.fields.checksumStatus, 'ok');
    // Too short for an ICMPv6 header: a DecodeFailure, not a throw.
    const short = Buffer.from(echo.subarray(0, 14 + 40 + 2)); short.writeUInt16BE(2, 18);
    assert.deepEqual(names(decodeFrame(short)), ['Ethernet', 'IPv6', 'DecodeFailure']);
  });
});
