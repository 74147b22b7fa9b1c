/**
 * `vxtap explain`'s grammar (cli/explain-spec.ts): what each spec parses to,
 * that each bad one names the word that is wrong (a ConfigError: exit 2),
 * and that the frames it builds decode cleanly, with valid checksums.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/errors';
import { buildDatagram, buildFrame, parseNetSpec, parseTapSpec, words } from '../../../src/cli/explain-spec';
import { decodeFrame } from '../../../src/wire/decode';
import * as icmp from '../../../src/wire/icmp';
import * as ipv4 from '../../../src/wire/ipv4';
import * as tcp from '../../../src/wire/tcp';
import * as udp from '../../../src/wire/udp';
import { parseIpv4 } from '../../../src/wire/addr';
import { arpRequest } from '../../helpers/frames';

const SRC = '02:76:c0:a8:5d:01';
const DST = '02:76:c0:a8:5d:02';

test('words: ">" is always a word; ":" is one when it ends a word, never inside IP:PORT or a MAC', () => {
  assert.deepEqual(words('icmp 10.44.1.2>10.44.2.2'), ['icmp', '10.44.1.2', '>', '10.44.2.2']);
  assert.deepEqual(words('tcp 10.44.1.2:1234 > 10.44.2.2:80'), ['tcp', '10.44.1.2:1234', '>', '10.44.2.2:80']);
  assert.deepEqual(words('vxlan from 192.168.93.2: icmp 1.1.1.1 > 2.2.2.2'), ['vxlan', 'from', '192.168.93.2', ':', 'icmp', '1.1.1.1', '>', '2.2.2.2']);
  assert.deepEqual(words(`ether ${SRC} > ${DST} : arp`), ['ether', SRC, '>', DST, ':', 'arp']);
});

test('from the TAP: icmp, tcp, udp, arp, with or without ether', () => {
  assert.deepEqual(parseTapSpec('icmp 10.44.1.2 > 10.44.2.2'), { ether: null, packet: { kind: 'icmp', src: '10.44.1.2', dst: '10.44.2.2' } });
  assert.deepEqual(parseTapSpec('tcp 10.44.1.2:1234 > 10.44.2.2:80').packet, { kind: 'tcp', src: '10.44.1.2', srcPort: 1234, dst: '10.44.2.2', dstPort: 80 });
  assert.deepEqual(parseTapSpec('udp 10.44.1.2:53 > 10.44.2.2:53').packet, { kind: 'udp', src: '10.44.1.2', srcPort: 53, dst: '10.44.2.2', dstPort: 53 });
  assert.deepEqual(parseTapSpec('arp who-has 10.44.2.0 tell 10.44.1.0').packet, { kind: 'arp', target: '10.44.2.0', sender: '10.44.1.0' });
  assert.deepEqual(parseTapSpec(`ether ${SRC.toUpperCase()} > ${DST} : icmp 1.1.1.1 > 2.2.2.2`).ether, { src: SRC, dst: DST });
});

test('from the network: vni, no-i-flag, from IP[:PORT], then the inner packet', () => {
  assert.deepEqual(parseNetSpec('vxlan vni 1 from 192.168.93.12 : icmp 10.44.2.2 > 10.44.1.2'), {
    vni: 1, noIFlag: false, from: '192.168.93.12', fromPort: null,
    inner: { ether: null, packet: { kind: 'icmp', src: '10.44.2.2', dst: '10.44.1.2' } },
  });
  const s = parseNetSpec('vxlan no-i-flag from 192.168.93.12:8472 : arp who-has 10.44.1.0 tell 10.44.2.0');
  assert.equal(s.vni, null);
  assert.equal(s.noIFlag, true);
  assert.equal(s.fromPort, 8472);
});

test('each bad spec is a ConfigError that names what is wrong', () => {
  const bad = (f: () => unknown, re: RegExp): void => {
    assert.throws(f, (e: unknown) => e instanceof ConfigError && e.code === 'VXTAP_ERR_CONFIG' && re.test(e.message), re.source);
  };
  bad(() => parseTapSpec('icmpx 1.2.3.4 > 1.2.3.5'), /expected icmp, tcp, udp or arp.*got "icmpx"/);
  bad(() => parseTapSpec('icmp 10.44.1.2 >'), /the destination: expected an IPv4 address, got ""/);
  bad(() => parseTapSpec('icmp 10.44.1.300 > 10.44.2.2'), /the source: expected an IPv4 address, got "10.44.1.300"/);
  bad(() => parseTapSpec('icmp 10.44.1.2 10.44.2.2'), /expected "icmp SRC > DST"/);
  bad(() => parseTapSpec('tcp 10.44.1.2 > 10.44.2.2:80'), /the source: expected IP:PORT/);
  bad(() => parseTapSpec('udp 10.44.1.2:1 > 10.44.2.2:70000'), /port 70000 is outside/);
  bad(() => parseTapSpec('arp who 10.44.2.0 tell 10.44.1.0'), /arp who-has TARGET tell SENDER/);
  bad(() => parseTapSpec('icmp 1.1.1.1 > 2.2.2.2 extra'), /unexpected "extra" at the end/);
  bad(() => parseTapSpec('ether 02:00:00:00:00:01 > nope : icmp 1.1.1.1 > 2.2.2.2'), /destination MAC/);
  bad(() => parseTapSpec('ether 02:00:00:00:00:01 > 02:00:00:00:00:02 icmp 1.1.1.1 > 2.2.2.2'), /ends with " : "/);
  bad(() => parseNetSpec('icmp 1.1.1.1 > 2.2.2.2'), /expected "vxlan/);
  bad(() => parseNetSpec('vxlan vni 1 : icmp 1.1.1.1 > 2.2.2.2'), /"from IP" is required/);
  bad(() => parseNetSpec('vxlan vni 99999999 from 1.1.1.1 : icmp 1.1.1.1 > 2.2.2.2'), /vni: expected 0\.\.16777215/);
  bad(() => parseNetSpec('vxlan from 1.1.1.1 icmp 1.1.1.1 > 2.2.2.2'), /unexpected "icmp"/);
  bad(() => parseNetSpec('vxlan from 1.1.1.1'), /expected " : " and the inner packet/);
});

test('the frames built decode cleanly (checksums valid) and say what was asked', () => {
  const macs = { src: SRC, dst: DST };
  for (const [spec, last] of [
    ['icmp 10.44.1.2 > 10.44.2.2', 'ICMPv4 echo-request'],
    ['tcp 10.44.1.2:1234 > 10.44.2.2:80', 'TCP 1234 > 80'],
    ['udp 10.44.1.2:5353 > 10.44.2.2:53', 'UDP 5353 > 53'],
  ] as const) {
    const layers = decodeFrame(buildFrame(parseTapSpec(spec), macs));
    assert.equal(layers.find((l) => l.name === 'DecodeFailure'), undefined, `${spec}: ${JSON.stringify(layers.map((l) => l.error ?? l.summary))}`);
    assert.match(layers.map((l) => l.summary).join(' | '), new RegExp(`Ethernet ${SRC} > ${DST} type IPv4.*IPv4 10.44.1.2 > 10.44.2.2`));
    assert.ok(layers.some((l) => l.summary.startsWith(last)), `${spec}: ${layers.map((l) => l.summary).join(' | ')}`);
    const f = buildFrame(parseTapSpec(spec), macs);
    const l4 = 14 + ipv4.HEADER_LEN;
    const [a, b] = [parseIpv4('10.44.1.2'), parseIpv4('10.44.2.2')];
    assert.ok(ipv4.verifyChecksum(f, 14), `${spec}: IPv4 checksum`);
    const l4ok = spec.startsWith('icmp') ? icmp.verifyChecksum(f, l4, f.length - l4)
      : spec.startsWith('tcp') ? tcp.verifyChecksumIpv4(f, l4, f.length - l4, a, b) : udp.verifyChecksumIpv4(f, l4, f.length - l4, a, b);
    assert.ok(l4ok, `${spec}: L4 checksum`);
  }
  // An ARP request is the same bytes as the tests' own helper makes.
  assert.deepEqual(buildFrame(parseTapSpec('arp who-has 10.44.2.0 tell 10.44.1.0'), { src: SRC, dst: 'ff:ff:ff:ff:ff:ff' }), arpRequest(SRC, '10.44.1.0', '10.44.2.0'));
  // ether in the spec wins over the caller's MACs.
  const f = buildFrame(parseTapSpec(`ether ${DST} > ${SRC} : icmp 1.1.1.1 > 2.2.2.2`), macs);
  assert.deepEqual([...f.subarray(0, 12)], [...Buffer.from((SRC + DST).replace(/:/g, ''), 'hex')]);
});

test('a datagram: VXLAN header (I flag, VNI) in front of the inner frame; no-i-flag clears the flags', () => {
  const inner = buildFrame(parseTapSpec('icmp 1.1.1.1 > 2.2.2.2'), { src: SRC, dst: DST });
  const d = buildDatagram(0x123456, false, inner);
  assert.deepEqual([...d.subarray(0, 8)], [0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0]);
  assert.deepEqual(d.subarray(8), inner);
  assert.equal(buildDatagram(1, true, inner)[0], 0);
});
