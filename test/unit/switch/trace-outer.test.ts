/**
 * The encap trace's outer headers (issue #12): fixed facts in, exact lines
 * out (trace-outer.ts), and through a Switch with memory ports, the record
 * carries the VXLAN bytes and source port the port was handed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryDatagramPort, MemoryFramePort } from '../../../src/io/fake';
import { Switch } from '../../../src/switch/switch';
import { createTracer, renderText, type SendPath, type TraceRecord, type UnderlayFacts } from '../../../src/switch/trace';
import { renderWire, wireRecord, type WireInput } from '../../../src/switch/trace-outer';
import { flowSourcePort } from '../../../src/switch/flow-hash';
import { macKeyFromString, parseIpv4 } from '../../../src/wire/addr';
import { ipv4Frame } from '../../helpers/frames';

const SELF_MAC = '02:76:c0:a8:5a:01';
const PEER_MAC = '02:76:c0:a8:5a:02';
const VTEP = '192.168.93.12';
const RAW: SendPath = { kind: 'raw', pmtudisc: 'dont', ttl: null, checksum: 'zero', srcPorts: { min: 49152, count: 16384 }, srcIp: '192.168.93.11' };
const DGRAM: SendPath = { kind: 'dgram', pmtudisc: 'want', ttl: null, checksum: 'kernel', srcPorts: null, srcIp: null };

/** A UDP flow inside: 10.44.1.0:40000 > 10.44.2.0:53, 32 bytes of payload (74-byte frame). */
const inner = ipv4Frame(PEER_MAC, SELF_MAC, '10.44.1.0', '10.44.2.0', 17, 40000, 53);
const port = flowSourcePort(inner, 0, inner.length);

const onLink: UnderlayFacts = {
  vtep: VTEP, at: 1000, error: null, dev: 'eth0', oif: 2, devMac: '0a:00:00:00:00:0b', mtu: 1500, src: '192.168.93.11',
  gateway: null, nextHop: VTEP, neighMac: '0a:00:00:00:00:0c', neighState: 'REACHABLE', hoplimit: null, routeMtu: null, defaultTtl: 64,
};

function input(over: Partial<WireInput> = {}): WireInput {
  return { inner, vni: 7, vteps: [parseIpv4(VTEP)], dstPort: 4789, srcPort: port, vxlanHeader: Buffer.from('0800000000000700', 'hex'), ...over };
}

test('the raw send path, an on-link VTEP whose MAC the kernel knows: every header, line by line', () => {
  const w = wireRecord(input(), RAW, () => onLink);
  assert.deepEqual(renderWire(w, inner.length), [
    'ON THE WIRE: 124 bytes as the kernel will send them (50 bytes of outer headers, then the frame above)',
    '- header 1 (14 bytes) = Ethernet {0a:00:00:00:00:0b (eth0, mtu 1500) > 0a:00:00:00:00:0c (next hop 192.168.93.12 (on-link: the VTEP itself), neighbour REACHABLE) type IPv4}',
    '- header 2 (20 bytes) = IPv4 {192.168.93.11 > 192.168.93.12 tos 0x0 ttl 64 (net.ipv4.ip_default_ttl) no DF (IP_PMTUDISC_DONT: the kernel fragments rather than refuse) id: the kernel\'s choice, not known in advance; proto UDP len 110, checksum by the kernel}',
    `- header 3 (08 bytes) = UDP {${port} > 4789 len 90, checksum 0 (none: the raw socket's header says so, valid over IPv4); source port = 49152 + flow hash mod 16384, the hash of inner IPv4 src 10.44.1.0, dst 10.44.2.0, proto 17, UDP ports 40000 > 53}`,
    '- header 4 (08 bytes) = VXLAN {08 00 00 00 00 00 07 00: flags 0x08 (I set: the VNI is valid), VNI 7, reserved bytes 0}',
    '- header 5.. = the frame above (74 bytes)',
  ]);
  assert.deepEqual(w.headers.map((h) => h.name), ['Ethernet', 'IPv4', 'UDP', 'VXLAN']);
  assert.deepEqual(w.headers[1]!.fields, {
    src: '192.168.93.11', srcFrom: 'the socket\'s bound address', dst: VTEP, tos: 0, ttl: 64, ttlFrom: 'net.ipv4.ip_default_ttl',
    df: false, dfFrom: 'IP_PMTUDISC_DONT: the kernel fragments rather than refuse',
    id: null, idFrom: 'chosen by the kernel when it sends: not known in advance', protocol: 'UDP', length: 110, checksum: 'computed by the kernel',
  });
  assert.equal(w.headers[2]!.fields.srcPort, port);
  assert.deepEqual(w.headers[3]!.fields, { hex: '08 00 00 00 00 00 07 00', flags: 8, iFlag: true, vni: 7 });
});

test('a gateway with no neighbour entry yet, a route hoplimit: the kernel will ARP, the route\'s TTL', () => {
  const viaGw: UnderlayFacts = { ...onLink, gateway: '192.168.93.1', nextHop: '192.168.93.1', neighMac: null, neighState: null, hoplimit: 9 };
  const [, eth, ip] = renderWire(wireRecord(input(), RAW, () => viaGw), inner.length);
  assert.equal(eth, '- header 1 (14 bytes) = Ethernet {0a:00:00:00:00:0b (eth0, mtu 1500) > next hop 192.168.93.1 (gateway): no neighbour entry yet (the kernel will ARP for it) type IPv4}');
  assert.match(ip!, / ttl 9 \(the route's hoplimit\) /);
  const incomplete = { ...viaGw, neighState: 'INCOMPLETE' };
  assert.match(renderWire(wireRecord(input(), RAW, () => incomplete), inner.length)[1]!, /neighbour INCOMPLETE, no MAC yet/);
});

test('facts not looked up yet, and a route the kernel refuses: said, not made up', () => {
  const lines = renderWire(wireRecord(input(), RAW, () => null), inner.length);
  assert.equal(lines[1], '- header 1 (14 bytes) = Ethernet {? > ? type IPv4: the route to 192.168.93.12 is not looked up yet (asked now: later frames show it)}');
  assert.match(lines[2]!, / ttl \? \(not known yet\) /);
  const refused: UnderlayFacts = { ...onLink, error: 'RTM_GETROUTE 192.168.93.12: ENETUNREACH', dev: null, devMac: null, neighMac: null, neighState: null };
  assert.match(renderWire(wireRecord(input(), RAW, () => refused), inner.length)[1]!, /RTM_GETROUTE 192\.168\.93\.12: ENETUNREACH: the kernel will refuse the send/);
});

test('Node\'s socket: DF when it fits the path MTU (IP_PMTUDISC_WANT), the route\'s source, the socket\'s own port, a kernel checksum', () => {
  const w = wireRecord(input({ srcPort: 4789 }), DGRAM, () => onLink);
  const ip = w.headers[1]!;
  assert.equal(ip.fields.df, true);
  assert.equal(ip.fields.src, '192.168.93.11');
  assert.equal(ip.fields.srcFrom, 'the route\'s preferred source');
  assert.match(ip.summary, / DF \(IP_PMTUDISC_WANT, the kernel's default: it fits the path MTU 1500\) /);
  assert.equal(w.headers[2]!.summary, '4789 > 4789 len 90, checksum computed by the kernel or the NIC; source port = the socket\'s own port (Node\'s socket cannot choose one per flow)');
  const small = wireRecord(input(), DGRAM, () => ({ ...onLink, routeMtu: 100 }));
  assert.equal(small.headers[1]!.fields.df, false, 'over a learned path MTU of 100: fragmented, no DF');
});

test('a flood: the first copy in full, one line for each other copy', () => {
  const other = parseIpv4('192.168.93.13');
  const w = wireRecord(input({ vteps: [parseIpv4(VTEP), other] }), RAW, (v) => (v === other ? null : onLink));
  assert.deepEqual(w.copies, ['to 192.168.93.13: the route to 192.168.93.13 is not looked up yet (asked now: later frames show it)']);
  assert.equal(renderWire(w, inner.length).at(-1), '- copy to 192.168.93.13: the route to 192.168.93.13 is not looked up yet (asked now: later frames show it)');
});

test('through a Switch: the record carries the VXLAN bytes and the source port the port was handed; text and JSON agree', () => {
  const chunks: string[] = [];
  const out = { write: (s: string) => { chunks.push(s); return true; }, isTTY: false };
  const asked: number[] = [];
  const tracer = createTracer({
    out, format: 'json', vni: 7, port: 4789, localIp: '192.168.93.11',
    outer: { sendPath: RAW, underlay: (v) => { asked.push(v); return onLink; } },
  });
  const tap = new MemoryFramePort('vxtap.7');
  const net = new MemoryDatagramPort({ writesUdpHeader: true });
  const sw = new Switch({ vni: 7, tap, net, mtu: 1450, batchSize: 32, tracer, innerSourceCheck: false });
  sw.fdb.set(macKeyFromString(PEER_MAC), parseIpv4(VTEP), 4789);
  sw.start();
  tap.inject([inner]);
  const sent = net.sent[0]!;
  const rec = JSON.parse(chunks.join('').trim()) as TraceRecord;
  assert.deepEqual(asked, [parseIpv4(VTEP)]);
  assert.ok(rec.wire !== null);
  assert.equal(rec.wire.headers[3]!.fields.hex, sent.payload.subarray(0, 8).toString('hex').match(/../g)!.join(' '), 'the VXLAN bytes as sent');
  assert.equal(rec.wire.headers[2]!.fields.srcPort, sent.srcPort, 'the source port as sent');
  assert.equal(rec.wire.len, sent.payload.length + 42, 'Ethernet 14 + IPv4 20 + UDP 8 in front of the payload');
  const text = renderText(rec, { color: false });
  assert.ok(text.includes(`  - header 3 (08 bytes) = UDP {${sent.srcPort} > 4789 len 90`), text);
  assert.ok(text.indexOf('=>      encap') < text.indexOf('ON THE WIRE'), 'the outer headers follow the decision');
  sw.close();
});

test('a send the socket refused put nothing on the wire: no outer headers in its record', () => {
  const chunks: string[] = [];
  const out = { write: (s: string) => { chunks.push(s); return true; }, isTTY: false };
  const tracer = createTracer({ out, format: 'json', vni: 7, port: 4789, localIp: '192.168.93.11', outer: { sendPath: RAW, underlay: () => onLink } });
  const tap = new MemoryFramePort('vxtap.7');
  const net = new MemoryDatagramPort({ writesUdpHeader: true });
  net.refuse = () => 101; // ENETUNREACH
  const sw = new Switch({ vni: 7, tap, net, mtu: 1450, batchSize: 32, tracer, innerSourceCheck: false });
  sw.fdb.set(macKeyFromString(PEER_MAC), parseIpv4(VTEP), 4789);
  sw.start();
  tap.inject([inner]);
  const rec = JSON.parse(chunks.join('').trim()) as TraceRecord;
  assert.deepEqual([rec.decision, rec.drop, rec.wire], ['drop', 'udp-send', null]);
  assert.ok(!renderText(rec, { color: false }).includes('ON THE WIRE'));
  sw.close();
});
