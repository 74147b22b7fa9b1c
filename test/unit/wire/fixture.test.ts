/**
 * Golden input made by no code of this project: 27 frames the Linux kernel's
 * vxlan driver sent (VNI 42, port 4789), captured with tcpdump. See
 * test/fixtures/README.md for what each frame is.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fixturePath } from '../../helpers/fixtures';
import { readPcap } from '../../../src/io/pcap';
import { decodeFrame, formatLayers, type DecodedLayer } from '../../../src/wire/decode';

const FIXTURE = fixturePath('kernel-vxlan-vni42.pcap');

describe('fixture kernel-vxlan-vni42.pcap', () => {
  assert.ok(existsSync(FIXTURE), `fixture missing: ${FIXTURE}`);
  const file = readPcap(readFileSync(FIXTURE));
  /** frames[n] is frame n as Wireshark numbers them (1-based). */
  const frames: DecodedLayer[][] = [[], ...file.records.map((r) => decodeFrame(r.data))];
  const inner = (n: number): DecodedLayer[] => frames[n]!.slice(4);
  const layer = (n: number, name: string): DecodedLayer => {
    const l = inner(n).find((x) => x.name === name);
    assert.ok(l, `frame ${n} has no inner ${name} layer:\n${formatLayers(frames[n]!)}`);
    return l;
  };
  const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);

  it('holds 27 whole Ethernet frames', () => {
    assert.equal(file.linktype, 1);
    assert.equal(file.records.length, 27);
    for (const r of file.records) assert.equal(r.data.length, r.origLen);
  });

  it('decodes every frame with no DecodeFailure, all VXLAN VNI 42 on port 4789', () => {
    for (const n of range(1, 27)) {
      const layers = frames[n]!;
      const text = formatLayers(layers);
      assert.ok(!layers.some((l) => l.name === 'DecodeFailure'), `frame ${n}:\n${text}`);
      assert.deepEqual(layers.slice(0, 5).map((l) => l.name), ['Ethernet', 'IPv4', 'UDP', 'VXLAN', 'Ethernet'], `frame ${n}`);
      assert.equal(layers[1]!.fields.checksumStatus, 'ok');
      assert.ok(['192.168.95.1', '192.168.95.2'].includes(String(layers[1]!.fields.src)));
      assert.equal(layers[2]!.fields.dstPort, 4789);
      assert.deepEqual(layers[3]!.fields, { flags: '0x08', vni: 42 });
      // The layers tile the frame: the last one ends where the frame ends.
      const last = layers[layers.length - 1]!;
      assert.equal(last.offset + last.length, file.records[n - 1]!.data.length, `frame ${n}`);
    }
  });

  it('frames 1-4, 13-16 and 25 are IPv6 multicast (MLD, neighbour and router solicitations)', () => {
    const expect: Record<number, [string, string]> = {
      1: ['ff02::16', 'HOPOPT'], 2: ['ff02::1:ff15:af60', 'ICMPv6'], 3: ['ff02::1:ffb0:6cd2', 'ICMPv6'], 4: ['ff02::16', 'HOPOPT'],
      13: ['ff02::16', 'HOPOPT'], 14: ['ff02::2', 'ICMPv6'], 15: ['ff02::16', 'HOPOPT'], 16: ['ff02::2', 'ICMPv6'], 25: ['ff02::16', 'HOPOPT'],
    };
    for (const [n, [dst, nh]] of Object.entries(expect).map(([k, v]) => [Number(k), v] as const)) {
      // MLD sits behind a hop-by-hop header, which is not followed; ICMPv6 is decoded.
      const names = nh === 'HOPOPT' ? ['Ethernet', 'IPv6', 'Payload']
        : n === 2 || n === 3 ? ['Ethernet', 'IPv6', 'ICMPv6'] : ['Ethernet', 'IPv6', 'ICMPv6', 'Payload'];
      assert.deepEqual(inner(n).map((l) => l.name), names, `frame ${n}`);
      assert.equal(inner(n)[0]!.fields.etherType, 'IPv6');
      assert.match(String(inner(n)[0]!.fields.dst), /^33:33:/, 'IPv6 multicast MAC');
      const ip6 = layer(n, 'IPv6');
      assert.equal(ip6.fields.dst, dst, `frame ${n}`);
      assert.equal(ip6.fields.nextHeader, nh, `frame ${n}`);
    }
    // Duplicate address detection and the first MLD reports come from the unspecified address.
    assert.equal(layer(1, 'IPv6').fields.src, '::');
    assert.equal(layer(13, 'IPv6').fields.src, 'fe80::98be:c4ff:feb0:6cd2');
    assert.equal(layer(1, 'IPv6').summary, 'IPv6 :: > ff02::16 hlim 1 next HOPOPT len 36');
    // Duplicate address detection: an NS from :: to the solicited-node group, no link-layer option.
    assert.equal(layer(2, 'ICMPv6').summary, 'ICMPv6 neighbor-solicitation who-has fe80::4059:1cff:fe15:af60');
    assert.equal(layer(2, 'ICMPv6').fields.ndCheck, 'ok');
    assert.equal(layer(2, 'ICMPv6').fields.checksumStatus, 'ok');
    assert.equal(layer(14, 'ICMPv6').summary, 'ICMPv6 router-solicitation code 0');
  });

  it('frames 5-6 are the ARP who-has 10.50.2.0 and its reply', () => {
    assert.equal(inner(5)[0]!.fields.dst, 'ff:ff:ff:ff:ff:ff');
    assert.equal(layer(5, 'ARP').summary, 'ARP who-has 10.50.2.0 tell 10.50.1.0');
    assert.deepEqual(layer(5, 'ARP').fields, {
      op: 1, opName: 'request', sha: '9a:be:c4:b0:6c:d2', spa: '10.50.1.0', tha: '00:00:00:00:00:00', tpa: '10.50.2.0',
    });
    assert.equal(layer(6, 'ARP').summary, 'ARP 10.50.2.0 is-at 42:59:1c:15:af:60');
    assert.deepEqual(layer(6, 'ARP').fields, {
      op: 2, opName: 'reply', sha: '42:59:1c:15:af:60', spa: '10.50.2.0', tha: '9a:be:c4:b0:6c:d2', tpa: '10.50.1.0',
    });
  });

  it('frames 7-12 are three echo request/reply pairs 10.50.1.0 <-> 10.50.2.1', () => {
    for (const n of range(7, 12)) {
      const request = n % 2 === 1;
      const seq = (n - 5) >> 1;
      assert.deepEqual(inner(n).map((l) => l.name), ['Ethernet', 'IPv4', 'ICMPv4', 'Payload'], `frame ${n}`);
      const ip = layer(n, 'IPv4');
      assert.equal(ip.fields.src, request ? '10.50.1.0' : '10.50.2.1');
      assert.equal(ip.fields.dst, request ? '10.50.2.1' : '10.50.1.0');
      const ic = layer(n, 'ICMPv4');
      assert.equal(ic.fields.typeName, request ? 'echo-request' : 'echo-reply');
      assert.equal(ic.fields.ident, 0x3e9f);
      assert.equal(ic.fields.seq, seq);
      assert.equal(ic.fields.checksumStatus, 'ok');
      assert.equal(layer(n, 'Payload').length, 56);
    }
    assert.equal(layer(7, 'IPv4').summary, 'IPv4 10.50.1.0 > 10.50.2.1 ttl 64 proto ICMP len 84');
  });

  it('frames 17-24 are one TCP connection to 7777: SYN, data of 240 bytes, FIN', () => {
    const tcp = (n: number): DecodedLayer => layer(n, 'TCP');
    const flags = range(17, 24).map((n) => tcp(n).fields.flags);
    assert.deepEqual(flags, ['SYN', 'SYN,ACK', 'ACK', 'PSH,ACK', 'ACK', 'FIN,ACK', 'FIN,ACK', 'ACK']);
    for (const n of range(17, 24)) {
      const fromClient = ![18, 21, 23].includes(n);
      assert.equal(tcp(n).fields.srcPort, fromClient ? 58286 : 7777, `frame ${n}`);
      assert.equal(tcp(n).fields.dstPort, fromClient ? 7777 : 58286, `frame ${n}`);
    }
    const num = (n: number, f: string): number => Number(tcp(n).fields[f]);
    const isn = num(17, 'seq');
    assert.equal(num(18, 'ack'), isn + 1, 'the SYN takes one sequence number');
    assert.equal(num(20, 'payloadLen'), 240);
    assert.equal(layer(20, 'Payload').length, 240);
    assert.equal(num(21, 'ack'), isn + 1 + 240, 'the data is acknowledged');
    assert.equal(num(22, 'seq'), isn + 1 + 240);
    assert.equal(num(23, 'ack'), isn + 1 + 240 + 1, 'the FIN takes one sequence number');
    assert.equal(num(17, 'headerLen'), 40, 'SYN carries MSS, SACK, timestamps, window scale');
    assert.equal(tcp(17).summary, `TCP 58286 > 7777 [SYN] seq ${isn} win 64860`);
    assert.match(tcp(20).summary, /^TCP 58286 > 7777 \[PSH,ACK\] seq \d+ ack \d+ win 64 len 240$/);
  });

  it('frames 26-27 are a UDP datagram to 9999 and the port unreachable it caused', () => {
    assert.deepEqual(inner(26).map((l) => l.name), ['Ethernet', 'IPv4', 'UDP', 'Payload']);
    assert.equal(layer(26, 'UDP').summary, 'UDP 54309 > 9999 len 22');
    const p = layer(26, 'Payload');
    assert.equal(file.records[25]!.data.subarray(p.offset, p.offset + p.length).toString(), 'udp over vxlan');

    const ic = layer(27, 'ICMPv4');
    assert.equal(ic.summary, 'ICMPv4 dest-unreachable port-unreachable');
    assert.equal(ic.fields.codeName, 'port-unreachable');
    assert.equal(layer(27, 'IPv4').fields.src, '10.50.2.1');
    // The error quotes the offending IPv4 header and UDP header (and here the whole datagram).
    const ip26 = layer(26, 'IPv4');
    const quoted = layer(27, 'Payload');
    const original = file.records[25]!.data.subarray(ip26.offset, ip26.offset + 42);
    assert.deepEqual(file.records[26]!.data.subarray(quoted.offset, quoted.offset + quoted.length), original);
  });

  it('the kernel picks the outer UDP source port by hashing the inner flow', () => {
    const sport = (n: number): number => Number(frames[n]![2]!.fields.srcPort);
    // Every packet of one flow in one direction leaves from the same port ...
    assert.deepEqual(new Set([7, 9, 11].map(sport)).size, 1);
    assert.deepEqual(new Set([17, 19, 20, 22, 24].map(sport)).size, 1);
    // ... and different flows leave from different ports.
    const ping = sport(7);
    const tcp = sport(17);
    const udp = sport(26);
    const arp = sport(5);
    assert.equal(new Set([ping, tcp, udp, arp]).size, 4, `ping ${ping} tcp ${tcp} udp ${udp} arp ${arp}`);
    for (const p of [ping, tcp, udp, arp]) assert.ok(p >= 32768 && p <= 65535, `${p} is in the kernel's default range`);
  });
});
