/**
 * Golden input made by no code of this project: 16 frames the Linux
 * kernel's vxlan driver sent over an IPv6-only underlay (VNI 42, port 4789),
 * captured with tcpdump by test/fixtures/make-kernel-vxlan6.sh. See
 * test/fixtures/README.md for what each frame is.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fixturePath } from '../../helpers/fixtures';
import { readPcap } from '../../../src/io/pcap';
import { decodeFrame, formatLayers, type DecodedLayer } from '../../../src/wire/decode';
import * as ethernet from '../../../src/wire/ethernet';
import * as icmpv6 from '../../../src/wire/icmpv6';
import * as ipv6 from '../../../src/wire/ipv6';
import * as udp from '../../../src/wire/udp';
import * as underlay from '../../../src/wire/underlay';
import * as vxlan from '../../../src/wire/vxlan';
import { macKeyFromString } from '../../../src/wire/addr';

const FIXTURE = fixturePath('kernel-vxlan6-vni42.pcap');
const IP = ethernet.HEADER_LEN;
const UDP = IP + ipv6.HEADER_LEN;
const VX = UDP + udp.HEADER_LEN;
const INNER = VX + vxlan.HEADER_LEN;

describe('fixture kernel-vxlan6-vni42.pcap', () => {
  assert.ok(existsSync(FIXTURE), `fixture missing: ${FIXTURE}`);
  const file = readPcap(readFileSync(FIXTURE));
  /** data[n] is frame n as Wireshark numbers them (1-based). */
  const data: Buffer[] = [Buffer.alloc(0), ...file.records.map((r) => r.data)];
  const frames: DecodedLayer[][] = data.map((d) => decodeFrame(d));
  const all = Array.from({ length: 16 }, (_, i) => i + 1);
  const inner = (n: number): DecodedLayer[] => frames[n]!.slice(4);

  it('holds 16 whole Ethernet frames', () => {
    assert.equal(file.linktype, 1);
    assert.equal(file.records.length, 16);
    for (const r of file.records) assert.equal(r.data.length, r.origLen);
  });

  it('every outer header: IPv6 between fd00::1 and fd00::2, hop limit 64, flow label 0, UDP to 4789, 70 bytes before the inner frame', () => {
    for (const n of all) {
      const d = data[n]!;
      assert.equal(ethernet.etherType(d, 0), ethernet.ETHERTYPE_IPV6, `frame ${n}`);
      const ip = ipv6.Ipv6Packet.checked(d, IP, d.length - IP);
      assert.equal(ip.nextHeader, ipv6.NH_UDP);
      assert.equal(ip.hopLimit, 64);
      assert.equal(ip.trafficClass, 0);
      assert.equal(ip.flowLabel, 0, `frame ${n}: the kernel's vxlan sends its fixed flow label, 0`);
      assert.ok([['fd00::1', 'fd00::2'], ['fd00::2', 'fd00::1']].some(([s, t]) => ip.src === s && ip.dst === t), `frame ${n}`);
      assert.equal(ip.payloadLen, d.length - UDP);
      const u = udp.UdpPacket.checked(d, UDP, ip.payloadLen);
      assert.equal(u.dstPort, vxlan.PORT_IANA);
      assert.ok(u.srcPort >= 32768, `frame ${n}: source port ${u.srcPort} from the kernel's range`);
      assert.deepEqual(frames[n]!.slice(0, 5).map((l) => l.name), ['Ethernet', 'IPv6', 'UDP', 'VXLAN', 'Ethernet'], `frame ${n}`);
      assert.ok(!frames[n]!.some((l) => l.name === 'DecodeFailure'), formatLayers(frames[n]!));
      assert.equal(frames[n]![4]!.offset, underlay.WIRE_OVERHEAD6);
    }
  });

  it('every outer UDP checksum is non-zero and right (recomputed over the IPv6 pseudo-header)', () => {
    for (const n of all) {
      const d = data[n]!;
      const len = d.length - UDP;
      const stored = udp.UdpPacket.checked(d, UDP, len).checksum;
      assert.notEqual(stored, 0, `frame ${n}`);
      assert.equal(udp.checksumIpv6(d, UDP, len, IP + ipv6.field.SRC, IP + ipv6.field.DST), stored, `frame ${n}`);
      assert.equal(udp.verifyChecksumIpv6(d, UDP, len, IP + ipv6.field.SRC, IP + ipv6.field.DST), true);
    }
  });

  it('our IPv6 outer emitter rebuilds all 16 outer headers byte for byte (the underlay MACs are 02:00 + the address\'s low 32 bits)', () => {
    for (const n of all) {
      const d = data[n]!;
      const rebuilt = underlay.wrapPayload6(d.subarray(underlay.OUTER6_LEN), {
        src: d.subarray(IP + ipv6.field.SRC, IP + ipv6.field.SRC + 16), srcPort: udp.srcPort(d, UDP),
        dst: d.subarray(IP + ipv6.field.DST, IP + ipv6.field.DST + 16), dstPort: udp.dstPort(d, UDP),
      });
      assert.deepEqual(rebuilt, d, `frame ${n}`);
    }
  });

  it('VXLAN: the I flag and VNI 42 in every frame', () => {
    for (const n of all) {
      assert.equal(vxlan.check(data[n]!, VX, data[n]!.length - VX), vxlan.CHECK_OK);
      assert.equal(vxlan.vni(data[n]!, VX), 42);
      assert.deepEqual(frames[n]![3]!.fields, { flags: '0x08', vni: 42 });
    }
  });

  it('the inner frames: ARP, ping, NS/NA, ping6, ARP, unicast NS/NA', () => {
    const summary = (n: number): string => inner(n).slice(1).map((l) => l.summary).join(' | ');
    assert.equal(summary(1), 'ARP who-has 10.60.0.2 tell 10.60.0.1');
    assert.equal(summary(2), 'ARP 10.60.0.2 is-at 02:60:00:00:00:02');
    for (const n of [3, 5]) assert.match(summary(n), /^IPv4 10\.60\.0\.1 > 10\.60\.0\.2 ttl 64 proto ICMP len 84 \| ICMPv4 echo-request id \d+ seq [12] \| Payload 56 bytes$/);
    for (const n of [4, 6]) assert.match(summary(n), /^IPv4 10\.60\.0\.2 > 10\.60\.0\.1 .* ICMPv4 echo-reply/);
    assert.equal(summary(7), 'IPv6 fd60::1 > ff02::1:ff00:2 hlim 255 next ICMPv6 len 32 | ICMPv6 neighbor-solicitation who-has fd60::2 from 02:60:00:00:00:01');
    assert.equal(summary(8), 'IPv6 fd60::2 > fd60::1 hlim 255 next ICMPv6 len 32 | ICMPv6 neighbor-advertisement fd60::2 is-at 02:60:00:00:00:02 [S,O]');
    for (const n of [9, 11]) assert.match(summary(n), /^IPv6 fd60::1 > fd60::2 hlim 64 next ICMPv6 len 64 \| ICMPv6 echo-request id \d+ seq [12] \| Payload 56 bytes$/);
    for (const n of [10, 12]) assert.match(summary(n), /^IPv6 fd60::2 > fd60::1 hlim 64 next ICMPv6 len 64 \| ICMPv6 echo-reply id \d+ seq [12] \| Payload 56 bytes$/);
    assert.equal(summary(13), 'ARP who-has 10.60.0.1 tell 10.60.0.2');
    assert.equal(summary(15), 'IPv6 fe80::60:ff:fe00:2 > fd60::1 hlim 255 next ICMPv6 len 32 | ICMPv6 neighbor-solicitation who-has fd60::1 from 02:60:00:00:00:02');
    assert.equal(summary(16), 'IPv6 fd60::1 > fe80::60:ff:fe00:2 hlim 255 next ICMPv6 len 24 | ICMPv6 neighbor-advertisement fd60::1 [S]');
    for (const n of [7, 8, 9, 10, 11, 12, 15, 16]) assert.equal(inner(n).find((l) => l.name === 'ICMPv6')!.fields.checksumStatus, 'ok', `frame ${n}`);
    // The multicast NS goes to the solicited-node group's MAC, 33:33:ff + the target's low 24 bits.
    assert.equal(inner(7)[0]!.fields.dst, '33:33:ff:00:00:02');
    assert.equal(ethernet.dstKey(data[7]!, INNER), ipv6.multicastMacKey(ipv6.solicitedNode(ipv6.parseAddress('fd60::2')), 0));
  });

  it('the NS/NA codecs on the kernel\'s ND packets: valid, parsed, re-emitted byte for byte', () => {
    const nd = (n: number): icmpv6.NdPacket => icmpv6.NdPacket.checked(data[n]!, INNER + IP, data[n]!.length - INNER - IP);
    assert.deepEqual(icmpv6.parse(nd(7)), { kind: 'ns', src: 'fd60::1', dst: 'ff02::1:ff00:2', target: 'fd60::2', sourceLinkLayer: '02:60:00:00:00:01' });
    assert.deepEqual(icmpv6.parse(nd(8)), {
      kind: 'na', src: 'fd60::2', dst: 'fd60::1', target: 'fd60::2', router: false, solicited: true, override: true, targetLinkLayer: '02:60:00:00:00:02',
    });
    assert.deepEqual(icmpv6.parse(nd(15)), { kind: 'ns', src: 'fe80::60:ff:fe00:2', dst: 'fd60::1', target: 'fd60::1', sourceLinkLayer: '02:60:00:00:00:02' });
    assert.deepEqual(icmpv6.parse(nd(16)), {
      kind: 'na', src: 'fd60::1', dst: 'fe80::60:ff:fe00:2', target: 'fd60::1', router: false, solicited: true, override: false, targetLinkLayer: undefined,
    });
    for (const n of [7, 8, 15, 16]) {
      const p = nd(n);
      const out = Buffer.alloc(icmpv6.bufferLen(icmpv6.parse(p)));
      icmpv6.emit(icmpv6.parse(p), out, 0);
      assert.deepEqual(out, data[n]!.subarray(INNER + IP), `frame ${n}`);
    }
  });

  it('emitNaForNs answers frame 7\'s NS with exactly the NA the kernel sent in frame 8', () => {
    const ns = Buffer.from(data[7]!.subarray(INNER + IP));
    const out = Buffer.alloc(icmpv6.NA_LEN + ipv6.HEADER_LEN);
    icmpv6.emitNaForNs(ns, 0, out, 0, macKeyFromString('02:60:00:00:00:02'));
    assert.deepEqual(out, data[8]!.subarray(INNER + IP));
  });
});
