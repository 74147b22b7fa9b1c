/**
 * The pcap recorder and its middleware ports: a Switch with memory ports
 * wrapped in PcapFramePort / PcapDatagramPort writes one pcapng file that
 * io/pcapng.ts readPcapng and tshark both read: interface 0 the TAP,
 * interface 1 the underlay, a direction on every packet, and the underlay
 * packets rebuilt as Ethernet / IPv4 / UDP / VXLAN around the inner frame
 * with a comment saying what was reconstructed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../src/errors';
import { MemoryDatagramPort, MemoryFramePort } from '../../../src/io/fake';
import { LINKTYPE_ETHERNET } from '../../../src/io/pcap';
import { DIR_INBOUND, DIR_OUTBOUND, readPcapng, type PcapngFile } from '../../../src/io/pcapng';
import { PcapDatagramPort, PcapFramePort, PcapRecorder, type UnderlayFacts } from '../../../src/io/pcap-port';
import { Switch } from '../../../src/switch/switch';
import { formatMac, macKeyFromString, parseIpv4 } from '../../../src/wire/addr';
import * as ipv4 from '../../../src/wire/ipv4';
import * as udp from '../../../src/wire/udp';
import { arpRequest, ipv4Frame } from '../../helpers/frames';

const SELF_MAC = '02:76:c0:a8:5a:01';
const PEER_MAC = '02:76:c0:a8:5a:02';
const LOCAL_IP = '192.168.90.1';
const PEER_IP = '192.168.90.2';
const VNI = 42;
/** 2024-01-02T03:04:05.678901Z in microseconds. */
const T_US = 1704164645678901;

const dir = mkdtempSync(join(tmpdir(), 'vxtap-pcap-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const tempPcap = (): string => join(dir, `t${++files}.pcapng`);
const readFile = (path: string): PcapngFile => readPcapng(readFileSync(path));
const LOCAL_MAC = '02:42:c0:a8:5a:01';
const UNDERLAY: UnderlayFacts = { name: 'eth0', localMac: Buffer.from(LOCAL_MAC.replace(/:/g, ''), 'hex'), ttl: 61, df: false };

function make(opts: { writesUdpHeader: boolean; port?: number; path?: string; snaplen?: number; underlay?: UnderlayFacts }) {
  const port = opts.port ?? 4789;
  const path = opts.path ?? tempPcap();
  const rec = PcapRecorder.open(path, { clock: () => T_US, tapName: 'vxtap.42', underlay: opts.underlay ?? UNDERLAY, ...(opts.snaplen ? { snaplen: opts.snaplen } : {}) });
  const tap = new MemoryFramePort('vxtap.42');
  const net = new MemoryDatagramPort({ writesUdpHeader: opts.writesUdpHeader, localPort: port });
  const sw = new Switch({
    vni: VNI,
    tap: new PcapFramePort(tap, rec),
    net: new PcapDatagramPort(net, rec, { localIp: LOCAL_IP, localPort: port }),
    mtu: 1450,
    batchSize: 32,
  });
  sw.fdb.set(macKeyFromString(PEER_MAC), parseIpv4(PEER_IP), port);
  sw.arp.set(parseIpv4('10.44.2.0'), macKeyFromString(PEER_MAC));
  sw.start();
  return { path, rec, tap, net, sw };
}

const request = ipv4Frame(PEER_MAC, SELF_MAC, '10.44.1.0', '10.44.2.0', 1, 0x0800, 1);
const reply = ipv4Frame(SELF_MAC, PEER_MAC, '10.44.2.0', '10.44.1.0', 1, 0, 0);
const vxlanOf = (frame: Buffer, vni = VNI): Buffer =>
  Buffer.concat([Buffer.from([0x08, 0, 0, 0, vni >> 16, (vni >> 8) & 0xff, vni & 0xff, 0]), frame]);

/** ARP answered locally, a ping out (encap), its reply in (decap). */
function traffic(m: ReturnType<typeof make>): void {
  m.tap.inject([arpRequest(SELF_MAC, '10.44.1.0', '10.44.2.0'), request]);
  m.net.inject([{ data: vxlanOf(reply), addr: PEER_IP, port: 51234 }]);
}

function tshark(args: string[]): string[][] {
  const out = execFileSync('tshark', ['-n', ...args, '-T', 'fields', '-E', 'separator=|'], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
  });
  return out.trim().split('\n').map((l) => l.split('|'));
}

test('both sides in one pcapng: TAP frames as they are, underlay packets rebuilt as Ethernet/IPv4/UDP/VXLAN, named interfaces, directions, comments', () => {
  const m = make({ writesUdpHeader: true });
  traffic(m);
  m.rec.close();
  const f = readFile(m.path);
  assert.deepEqual(f.interfaces.map((i) => [i.linktype, i.snaplen, i.name, i.tsresol]), [
    [LINKTYPE_ETHERNET, 65535, 'vxtap.42', 6], [LINKTYPE_ETHERNET, 65535, 'eth0', 6],
  ]);
  assert.equal(f.packets.length, 6);
  // Direction from each interface's side, as tcpdump -i IF shows it: read from the TAP = the TAP transmitted it.
  assert.deepEqual(f.packets.map((p) => [p.iface, p.flags]), [
    [0, DIR_OUTBOUND], [0, DIR_OUTBOUND], [1, DIR_OUTBOUND], [0, DIR_INBOUND], [1, DIR_INBOUND], [0, DIR_INBOUND],
  ]);
  assert.ok(f.packets.filter((p) => p.iface === 0).every((p) => p.comment === null), 'TAP frames are the real bytes: no comment');
  const [arpIn, pingIn, pingOut, arpReply, pongIn, pongOut] = f.packets.map((r) => r.data) as Buffer[];
  // TAP side: the request as read (before it was rewritten into the reply), the reply as written.
  assert.deepEqual(arpIn, arpRequest(SELF_MAC, '10.44.1.0', '10.44.2.0'));
  assert.equal(arpReply!.readUInt16BE(14 + 6), 2, 'the ARP reply written back to the TAP');
  assert.deepEqual(pingIn, request);
  assert.deepEqual(pongOut, reply);
  // Underlay side, sent: outer Ethernet (our MAC, the next hop's unknown) + IPv4 + the UDP header the pipeline wrote + VXLAN.
  const sent = m.net.sent[0]!;
  assert.equal(pingOut!.length, 14 + 20 + 8 + 8 + request.length, 'the inner frame + 50 bytes');
  assert.equal(formatMac(pingOut!, 0), '00:00:00:00:00:00', 'the next hop\'s MAC is not known without a resolver');
  assert.equal(formatMac(pingOut!, 6), LOCAL_MAC);
  assert.equal(pingOut!.readUInt16BE(12), 0x0800);
  assert.equal(ipv4.src(pingOut!, 14), parseIpv4(LOCAL_IP));
  assert.equal(ipv4.dst(pingOut!, 14), parseIpv4(PEER_IP));
  assert.equal(ipv4.totalLen(pingOut!, 14), 20 + 8 + 8 + request.length);
  assert.equal(pingOut!.readUInt16BE(14 + 4), 0, 'IPv4 ID: not known, 0');
  assert.equal(pingOut!.readUInt16BE(14 + 6), 0, 'DF clear, as the socket sends (UnderlayFacts.df)');
  assert.equal(pingOut![14 + 8], 61, 'the TTL the socket sends');
  assert.ok(ipv4.verifyChecksum(pingOut!, 14), 'the IPv4 header checksum is right');
  assert.deepEqual(pingOut!.subarray(34), sent.data, 'the UDP datagram exactly as sent');
  assert.match(f.packets[2]!.comment!, /^reconstructed by vxtap from the socket's addresses: Ethernet header \(source eth0's MAC; destination = the next hop's MAC, unknown, 00:00:00:00:00:00 here\); IPv4 header \(ID chosen by the kernel at send time, unknown, 0 here; TTL 61 and DF clear as the socket sends them; header checksum computed\)\. The UDP header, the VXLAN header and the inner frame are the bytes sent\.$/);
  // Underlay side, received: rebuilt from the sender and the local address.
  assert.equal(ipv4.src(pongIn!, 14), parseIpv4(PEER_IP));
  assert.equal(ipv4.dst(pongIn!, 14), parseIpv4(LOCAL_IP));
  assert.equal(formatMac(pongIn!, 0), LOCAL_MAC);
  assert.deepEqual([pongIn!.readUInt16BE(34), pongIn!.readUInt16BE(36), pongIn!.readUInt16BE(38)], [51234, 4789, 8 + 8 + reply.length]);
  assert.ok(udp.verifyChecksumIpv4(pongIn!, 34, 8 + 8 + reply.length, parseIpv4(PEER_IP), parseIpv4(LOCAL_IP)) && pongIn!.readUInt16BE(40) !== 0, 'a UDP checksum, and a right one');
  assert.deepEqual(pongIn!.subarray(42), vxlanOf(reply));
  assert.match(f.packets[4]!.comment!, /ID, TTL and DF are the sender's, unknown.*UDP header \(length and checksum computed by vxtap/);
  for (const r of f.packets) {
    assert.deepEqual([r.tsSec, r.tsUsec, r.origLen], [1704164645, 678901, r.data.length]);
  }
});

test('a resolver gives the outer MACs: source ours, destination the next hop\'s, both ways, and the comment says where they came from', () => {
  const hop = Buffer.from('0242c0a85afe', 'hex');
  const calls: number[] = [];
  const outerMacs = (ip: number): { src: Uint8Array; dst: Uint8Array } | null => { calls.push(ip); return { src: UNDERLAY.localMac!, dst: hop }; };
  const m = make({ writesUdpHeader: false, underlay: { ...UNDERLAY, outerMacs } });
  traffic(m);
  m.rec.close();
  const [out, back] = readFile(m.path).packets.filter((p) => p.iface === 1);
  assert.deepEqual([formatMac(out!.data, 0), formatMac(out!.data, 6)], ['02:42:c0:a8:5a:fe', LOCAL_MAC]);
  assert.deepEqual([formatMac(back!.data, 0), formatMac(back!.data, 6)], [LOCAL_MAC, '02:42:c0:a8:5a:fe']);
  assert.deepEqual(calls, [parseIpv4(PEER_IP), parseIpv4(PEER_IP)]);
  assert.match(out!.comment!, /Ethernet header \(source and destination MACs from the neighbour table\)/);
  assert.match(out!.comment!, /UDP header \(length and checksum computed by vxtap as the kernel computes them\)/);
});

test('tshark opens the file and dissects VXLAN: the VNI and the inner frame', () => {
  const m = make({ writesUdpHeader: true });
  traffic(m);
  m.rec.close();
  const rows = tshark(['-r', m.path, '-d', 'udp.port==4789,vxlan', '-o', 'ip.check_checksum:TRUE',
    '-e', 'frame.protocols', '-e', 'vxlan.vni', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'udp.dstport', '-e', 'ip.checksum.status', '-e', 'icmp.type']);
  assert.deepEqual(rows.map((r) => r[0]), [
    'eth:ethertype:arp',
    'eth:ethertype:ip:icmp:data',
    'eth:ethertype:ip:udp:vxlan:eth:ethertype:ip:icmp:data',
    'eth:ethertype:arp',
    'eth:ethertype:ip:udp:vxlan:eth:ethertype:ip:icmp:data',
    'eth:ethertype:ip:icmp:data',
  ]);
  const [, , out, , back] = rows as string[][];
  assert.deepEqual(out!.slice(1), [String(VNI), `${LOCAL_IP},10.44.1.0`, `${PEER_IP},10.44.2.0`, '4789', '1,1', '8']);
  assert.deepEqual(back!.slice(1), [String(VNI), `${PEER_IP},10.44.2.0`, `${LOCAL_IP},10.44.1.0`, '4789', '1,1', '0']);
});

test('a port other than 4789 (a plain socket: source port = the bound port) dissects with -d udp.port==PORT,vxlan', () => {
  const m = make({ writesUdpHeader: false, port: 8999 });
  traffic(m);
  m.rec.close();
  const fields = ['-e', 'vxlan.vni', '-e', 'udp.srcport', '-e', 'udp.dstport', '-e', 'ip.dst'];
  const rows = tshark(['-r', m.path, '-d', 'udp.port==8999,vxlan', '-Y', 'vxlan', ...fields]);
  assert.deepEqual(rows, [
    [String(VNI), '8999', '8999', `${PEER_IP},10.44.2.0`],
    [String(VNI), '51234', '8999', `${LOCAL_IP},10.44.1.0`],
  ]);
  const plain = tshark(['-r', m.path, '-Y', 'vxlan', '-e', 'vxlan.vni']);
  assert.deepEqual(plain, [['']], 'without -d, port 8999 is not known as VXLAN');
  assert.equal(readFile(m.path).packets.length, 6);
  // The rebuilt UDP checksums are the real ones (status 1 = good), and tshark shows the comments and directions.
  const checked = tshark(['-r', m.path, '-d', 'udp.port==8999,vxlan', '-o', 'udp.check_checksum:TRUE', '-Y', 'vxlan',
    '-e', 'udp.checksum.status', '-e', 'frame.interface_name', '-e', 'frame.packet_flags_direction', '-e', 'frame.comment']);
  assert.deepEqual(checked.map((r) => [r[0]!.split(',')[0], r[1], Number(r[2])]), [['1', 'eth0', DIR_OUTBOUND], ['1', 'eth0', DIR_INBOUND]]);
  assert.ok(checked.every((r) => /^reconstructed by vxtap/.test(r[3]!)), 'each rebuilt packet carries its comment');
});

test('the file is readable while recording: a header first, whole records after each batch', () => {
  const m = make({ writesUdpHeader: true });
  const atOpen = readFile(m.path);
  assert.deepEqual(atOpen.interfaces.map((i) => i.name), ['vxtap.42', 'eth0'], 'the section header and both interfaces are written at open');
  assert.equal(readFile(m.path).packets.length, 0);
  m.tap.inject([request]);
  assert.equal(readFile(m.path).packets.length, 2, 'the read and the send, written at the end of the port calls');
  assert.equal(tshark(['-r', m.path, '-e', 'frame.number']).length, 2);
  m.net.inject([{ data: vxlanOf(reply), addr: PEER_IP, port: 51234 }]);
  assert.equal(readFile(m.path).packets.length, 4);
  m.rec.close();
  m.rec.close();
  assert.equal(m.rec.closed, true);
  assert.equal(m.rec.records, 4);
  // Recording after close is a no-op, not an error.
  m.tap.inject([request]);
  assert.equal(readFile(m.path).packets.length, 4);
});

test('only what the port took is recorded', () => {
  const m = make({ writesUdpHeader: true });
  m.net.acceptLimit = 1;
  m.tap.inject([request, request, request]);
  m.rec.close();
  const recs = readFile(m.path).packets;
  assert.equal(recs.length, 3 + 1, 'three frames read, one datagram sent');
  assert.equal(m.sw.counters.dropCount('udp-send'), 2);
});

test('issue #10: an entry refused in the middle is not recorded; the entries after it are', () => {
  const m = make({ writesUdpHeader: true });
  // Requests of 74, 84 and 94 bytes out; the socket refuses the middle one.
  const out = [0, 1, 2].map((k) => ipv4Frame(PEER_MAC, SELF_MAC, '10.44.1.0', '10.44.2.0', 17, 1000 + k, 80, 32 + 10 * k));
  m.net.refuse = (_data, k) => (k === 1 ? 13 /* EACCES */ : 0);
  m.tap.inject(out);
  // Replies of 74, 84 and 94 bytes in; the TAP refuses the first.
  const back = [0, 1, 2].map((k) => ipv4Frame(SELF_MAC, PEER_MAC, '10.44.2.0', '10.44.1.0', 1, 0, 0, 32 + 10 * k));
  m.tap.refuse = (_data, k) => (k === 0 ? 22 /* EINVAL */ : 0);
  m.net.inject(back.map((f) => ({ data: vxlanOf(f), addr: PEER_IP, port: 51234 })));
  m.rec.close();
  const recs = readFile(m.path).packets;
  // 3 TAP reads, 2 datagrams sent (50 bytes of outer headers each), 3 datagrams received, 2 TAP writes.
  assert.deepEqual(recs.map((r) => r.data.length), [74, 84, 94, 50 + 74, 50 + 94, 50 + 74, 50 + 84, 50 + 94, 84, 94]);
  assert.deepEqual(recs[3]!.data.subarray(50), out[0]);
  assert.deepEqual(recs[4]!.data.subarray(50), out[2]);
  assert.deepEqual(recs.slice(8).map((r) => r.data), [back[1], back[2]]);
});

test('a batch bigger than the staging buffer is written in whole records, in order', () => {
  const path = tempPcap();
  const rec = PcapRecorder.open(path, { bufferSize: 100, clock: () => T_US });
  const frames = Array.from({ length: 5 }, (_, i) => ipv4Frame(PEER_MAC, SELF_MAC, '10.44.1.0', '10.44.2.0', 17, i, 1, 200));
  for (const f of frames) rec.frame(f, 0, f.length, DIR_OUTBOUND);
  rec.udpPayload(frames[0]!, 0, 200, parseIpv4(PEER_IP), 1, parseIpv4(LOCAL_IP), 2, DIR_INBOUND);
  rec.close();
  const recs = readFile(path).packets;
  assert.deepEqual(recs.slice(0, 5).map((r) => r.data), frames);
  assert.equal(recs[5]!.data.length, 42 + 200);
});

test('snaplen: long packets are cut, their original length kept', () => {
  const m = make({ writesUdpHeader: true, snaplen: 60 });
  traffic(m);
  m.rec.close();
  const f = readFile(m.path);
  assert.deepEqual(f.interfaces.map((i) => i.snaplen), [60, 60]);
  const out = f.packets[2]!;
  assert.equal(out.iface, 1);
  assert.equal(out.data.length, 60);
  assert.equal(out.origLen, 50 + request.length);
  assert.equal(tshark(['-r', m.path, '-e', 'frame.cap_len']).length, 6);
});

test('a path that cannot be opened is a ConfigError naming it', () => {
  const bad = join(dir, 'no-such-dir', 'x.pcap');
  assert.throws(() => PcapRecorder.open(bad), (e: unknown) =>
    e instanceof ConfigError && e.message === `--pcap: cannot open ${JSON.stringify(bad)} for writing: ENOENT`);
});

test('a failed write (disk full) stops the recording, not the switch', () => {
  const errors: Error[] = [];
  const rec = PcapRecorder.open('/dev/full', { onError: (e) => errors.push(e) });
  assert.equal(errors.length, 1);
  assert.match(errors[0]!.message, /ENOSPC/);
  assert.equal(rec.closed, true);
  const tap = new MemoryFramePort();
  const net = new MemoryDatagramPort();
  const sw = new Switch({ vni: VNI, tap: new PcapFramePort(tap, rec), net: new PcapDatagramPort(net, rec, { localIp: LOCAL_IP, localPort: 4789 }), mtu: 1450 });
  sw.fdb.set(macKeyFromString(PEER_MAC), parseIpv4(PEER_IP), 4789);
  sw.start();
  tap.inject([request]);
  assert.equal(net.sent.length, 1);
  assert.equal(errors.length, 1, 'told once');
  rec.close();
});

test('the wrapping ports pass everything through; close() closes the port, not the recorder', () => {
  const m = make({ writesUdpHeader: true });
  const wrappedTap = new PcapFramePort(m.tap, m.rec);
  const wrappedNet = new PcapDatagramPort(m.net, m.rec, { localIp: parseIpv4(LOCAL_IP), localPort: 4789 });
  assert.equal(wrappedTap.name, 'vxtap.42');
  assert.equal(wrappedTap.stats, m.tap.stats);
  assert.equal(wrappedNet.stats, m.net.stats);
  assert.equal(wrappedNet.writesUdpHeader, true);
  const h = (): void => undefined;
  wrappedTap.onError = h;
  wrappedNet.onError = h;
  assert.equal(m.tap.onError, h);
  assert.equal(wrappedNet.onError, h);
  wrappedTap.close();
  wrappedNet.close();
  assert.equal(m.tap.closed, true);
  assert.equal(m.net.closed, true);
  assert.equal(m.rec.closed, false);
  m.rec.close();
});

test('a UDP GSO pool port (the kernel writes the UDP header): the datagram is rebuilt around the payload, with the pipeline\'s source port and the kernel\'s checksum', () => {
  const path = tempPcap();
  const rec = PcapRecorder.open(path, { clock: () => T_US, tapName: 'vxtap.42', underlay: UNDERLAY });
  const tap = new MemoryFramePort('vxtap.42');
  // A memory port that says what a BatchUdpPort over its GSO pool says: the caller writes a header, from these source ports.
  const net = new (class extends MemoryDatagramPort {
    get sourcePorts(): { min: number; count: number } { return { min: 50000, count: 64 }; }
  })({ writesUdpHeader: true, localPort: 4789 });
  const sw = new Switch({ vni: VNI, tap: new PcapFramePort(tap, rec), net: new PcapDatagramPort(net, rec, { localIp: LOCAL_IP, localPort: 4789 }), mtu: 1450, batchSize: 32 });
  sw.fdb.set(macKeyFromString(PEER_MAC), parseIpv4(PEER_IP), 4789);
  sw.start();
  tap.inject([request]);
  rec.close();
  const [out] = readFile(path).packets.filter((p) => p.iface === 1);
  const span = net.sent[0]!.data;
  assert.equal(out!.data.length, 14 + 20 + span.length);
  assert.equal(out!.data.readUInt16BE(34), span.readUInt16BE(0), 'the source port the pipeline chose');
  assert.notEqual(out!.data.readUInt16BE(40), 0, 'a checksum, as the kernel writes for a GSO socket');
  assert.ok(udp.verifyChecksumIpv4(out!.data, 34, span.length, parseIpv4(LOCAL_IP), parseIpv4(PEER_IP)), 'and the right one');
  assert.deepEqual(out!.data.subarray(42), span.subarray(8), 'VXLAN and the inner frame as sent');
  assert.match(out!.comment!, /UDP header \(length and checksum computed by vxtap as the kernel computes them\)/);
  assert.match(out!.comment!, /Sent through a UDP GSO socket: recorded as one datagram/);
});
