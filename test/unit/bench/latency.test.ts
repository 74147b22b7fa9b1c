/**
 * The latency budget's reading and arithmetic (bench/latency/): pcap files
 * as tcpdump writes them, ICMP echoes found plain and inside VXLAN, the
 * addon's stamp file, the grouping of one daemon's stamps per frame, hops
 * between points of one clock, nearest-rank percentiles, and the tables.
 * Crafted bytes, no timing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { budget, framePoints, handlings, HOPS, index, parsePing, percentile, summarize } from '../../../bench/latency/budget';
import { budgetTable, parseWindows, pingId, referenceTable } from '../../../bench/latency/main';
import { icmpEcho, PcapError, readPcap } from '../../../bench/latency/pcap';
import { Point, readStamps, Side, StampFileError, type Stamp } from '../../../bench/latency/stamps';

// An echo request from 10.44.1.0 to 10.44.2.0, id 0x1c2a, seq 5, as a's kernel hands it to the TAP.
const ECHO = (type: number, seq: number): Buffer => Buffer.from(
  '0276c0a85802' + '0276c0a85801' + '0800' +
  '45000054123440004001' + '0000' + '0a2c0100' + '0a2c0200' +
  type.toString(16).padStart(2, '0') + '00' + '0000' + '1c2a' + seq.toString(16).padStart(4, '0') + '00'.repeat(56), 'hex');
// The same frame in VXLAN (VNI 1) over UDP/IPv4 from 192.168.88.1:50000 to 192.168.88.2:4789.
const VXLAN = (inner: Buffer): Buffer => Buffer.concat([Buffer.from(
  '020000000002' + '020000000001' + '0800' +
  '4500' + (20 + 8 + 8 + inner.length).toString(16).padStart(4, '0') + '000040004011' + '0000' + 'c0a85801' + 'c0a85802' +
  'c35012b5' + (8 + 8 + inner.length).toString(16).padStart(4, '0') + '0000' +
  '0800000000000100', 'hex'), inner]);

/** A pcap file: nanosecond (or microsecond) magic, either byte order, Ethernet. */
function pcap(records: [bigint, Buffer][], o: { nano?: boolean; be?: boolean; link?: number } = {}): Buffer {
  const nano = o.nano ?? true;
  const w32 = (b: Buffer, v: number, off: number): void => { if (o.be) b.writeUInt32BE(v, off); else b.writeUInt32LE(v, off); };
  const h = Buffer.alloc(24);
  w32(h, nano ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  if (o.be) { h.writeUInt16BE(2, 4); h.writeUInt16BE(4, 6); } else { h.writeUInt16LE(2, 4); h.writeUInt16LE(4, 6); }
  w32(h, 262144, 16);
  w32(h, o.link ?? 1, 20);
  const parts: Buffer[] = [h];
  for (const [ns, data] of records) {
    const r = Buffer.alloc(16);
    w32(r, Number(ns / 1_000_000_000n), 0);
    w32(r, Number(nano ? ns % 1_000_000_000n : (ns % 1_000_000_000n) / 1000n), 4);
    w32(r, data.length, 8);
    w32(r, data.length, 12);
    parts.push(r, data);
  }
  return Buffer.concat(parts);
}

/** A stamp file as native/stamps.cc writes it. */
function stampFile(stamps: Partial<Stamp>[], capacity = 64): Buffer {
  const b = Buffer.alloc(64 + capacity * 16);
  b.write('VXSTAMP1', 0, 'latin1');
  b.writeBigUInt64LE(BigInt(capacity), 8);
  b.writeBigUInt64LE(BigInt(stamps.length), 16);
  stamps.forEach((s, i) => {
    const o = 64 + i * 16;
    b.writeBigUInt64LE(s.ns ?? 0n, o);
    b.writeUInt16LE(s.icmpId ?? 0, o + 8);
    b.writeUInt16LE(s.icmpSeq ?? 0, o + 10);
    b[o + 12] = s.point ?? 0;
    b[o + 13] = s.side ?? 0;
    b[o + 14] = s.icmpType ?? 255;
    b[o + 15] = s.frames ?? 0;
  });
  return b;
}

const T0 = 1_795_998_700_000_000_000n;
const at = (us: number): bigint => T0 + BigInt(Math.round(us * 1000));

test('readPcap: nanosecond and microsecond files, both byte orders; a cut-off last record is left out', () => {
  const f = ECHO(8, 5);
  for (const o of [{}, { be: true }, { nano: false }, { nano: false, be: true }]) {
    const recs = readPcap(pcap([[at(1.5), f], [at(2), f]], o));
    assert.equal(recs.length, 2);
    assert.equal(recs[0]!.ns, o.nano === false ? at(1) : at(1.5), 'a microsecond file keeps whole microseconds');
    assert.deepEqual(recs[1]!.data, f);
  }
  const whole = pcap([[at(1), f], [at(2), f]]);
  assert.equal(readPcap(whole.subarray(0, whole.length - 10)).length, 1);
});

test('readPcap refuses what it cannot read, with a stable code', () => {
  assert.throws(() => readPcap(Buffer.alloc(10)), (e: unknown) => e instanceof PcapError && e.code === 'VXTAP_ERR_PCAP');
  assert.throws(() => readPcap(Buffer.alloc(24)), /not a pcap file/);
  assert.throws(() => readPcap(pcap([], { link: 113 })), /link type 113/);
});

test('icmpEcho: the echo on a TAP, the same echo inside VXLAN on the underlay, and nothing else', () => {
  assert.deepEqual(icmpEcho(ECHO(8, 5)), { type: 8, id: 0x1c2a, seq: 5, vxlan: false });
  assert.deepEqual(icmpEcho(VXLAN(ECHO(0, 65535))), { type: 0, id: 0x1c2a, seq: 65535, vxlan: true });
  const arp = Buffer.from(ECHO(8, 5)); arp.writeUInt16BE(0x0806, 12);
  assert.equal(icmpEcho(arp), null);
  const unreachable = Buffer.from(ECHO(8, 5)); unreachable[34] = 3;
  assert.equal(icmpEcho(unreachable), null);
  assert.equal(icmpEcho(ECHO(8, 5).subarray(0, 40)), null, 'too short for the echo header');
  const otherPort = VXLAN(ECHO(8, 5)); otherPort.writeUInt16BE(8472, 36);
  assert.equal(icmpEcho(otherPort), null, 'only UDP port 4789 is VXLAN');
  assert.equal(icmpEcho(VXLAN(VXLAN(ECHO(8, 5)))), null, 'VXLAN in VXLAN is not looked into');
});

test('readStamps: the header count, the fields, "full" when the file ran out of room; a stranger file is refused', () => {
  const s = readStamps(stampFile([{ ns: at(3), point: Point.ReadDone, side: Side.Udp, icmpType: 8, icmpId: 7, icmpSeq: 9, frames: 1 }, { ns: at(4), point: Point.JsEnter, side: Side.Udp }], 2));
  assert.equal(s.full, true);
  assert.deepEqual(s.stamps[0], { ns: at(3), point: Point.ReadDone, side: Side.Udp, icmpType: 8, icmpId: 7, icmpSeq: 9, frames: 1 });
  assert.equal(s.stamps[1]!.icmpType, 255);
  assert.equal(readStamps(stampFile([{}], 8)).full, false);
  assert.throws(() => readStamps(Buffer.alloc(64)), (e: unknown) => e instanceof StampFileError && e.code === 'VXTAP_ERR_STAMPS');
  const lying = stampFile([], 1); lying.writeBigUInt64LE(5n, 16);
  assert.throws(() => readStamps(lying), /says 5 records/);
});

/** One daemon's stamps for reading `type` on `side` and sending to the other side, from `t` µs on. */
function handled(t: number, side: Side, type: number, seq: number): Partial<Stamp>[] {
  const other = side === Side.Tap ? Side.Udp : Side.Tap;
  return [
    { ns: at(t), point: Point.PollWake, side },
    { ns: at(t + 1), point: Point.ReadDone, side, icmpType: type, icmpId: 0x1c2a, icmpSeq: seq, frames: 1 },
    { ns: at(t + 2), point: Point.JsCall, side },
    { ns: at(t + 3), point: Point.JsEnter, side },
    { ns: at(t + 5), point: Point.SendEnter, side: other, frames: 1 },
    { ns: at(t + 9), point: Point.SendExit, side: other },
    { ns: at(t + 10), point: Point.JsExit, side },
    { ns: at(t + 11), point: Point.JsReturn, side },
  ];
}

test('handlings: a wake-up\'s stamps belong to the echo its read carried; the next wake-up starts another', () => {
  const stamps = readStamps(stampFile([...handled(100, Side.Tap, 8, 1), { ns: at(150), point: Point.PollWake, side: Side.Udp },
    { ns: at(151), point: Point.ReadDone, side: Side.Udp, icmpType: 255, frames: 1 }, ...handled(200, Side.Tap, 8, 2)])).stamps;
  const h = handlings(stamps, Side.Tap);
  assert.deepEqual([...h.keys()], ['8:7210:1', '8:7210:2']);
  assert.deepEqual(h.get('8:7210:1'), { read: at(101), frames: 1, wake: at(100), jsCall: at(102), jsEnter: at(103), sendEnter: at(105), sendExit: at(109), jsExit: at(110), jsReturn: at(111) });
  assert.equal(handlings(stamps, Side.Udp).size, 0, 'a batch that carried no echo is not an echo\'s');
});

test('budget: one round trip through both daemons and four captures, each hop the difference of its two points', () => {
  // a's TAP at 0; a handles it from 10; a's eth0 at 17; b's eth0 at 20; b handles from 30; b's TAP at 36;
  // the kernel answers at 40; b handles the reply from 50; b's eth0 57; a's eth0 60; a handles from 70; a's TAP at 76; ping: 90 µs.
  const x = index({
    tapA: readPcap(pcap([[at(0), ECHO(8, 1)], [at(76), ECHO(0, 1)]])),
    ethA: readPcap(pcap([[at(17), VXLAN(ECHO(8, 1))], [at(60), VXLAN(ECHO(0, 1))]])),
    ethB: readPcap(pcap([[at(20), VXLAN(ECHO(8, 1))], [at(57), VXLAN(ECHO(0, 1))]])),
    tapB: readPcap(pcap([[at(36), ECHO(8, 1)], [at(40), ECHO(0, 1)]])),
    stampsA: readStamps(stampFile([...handled(10, Side.Tap, 8, 1), ...handled(70, Side.Udp, 0, 1)])).stamps,
    stampsB: readStamps(stampFile([...handled(30, Side.Udp, 8, 1), ...handled(50, Side.Tap, 0, 1)])).stamps,
  });
  const r = budget([framePoints(x, 0x1c2a, 1, 90)]);
  const hop = (name: string): number => r.find((h) => h.name === name)!.stats.p50;
  assert.equal(r.length, HOPS.length);
  assert.equal(hop('a: TAP queued (tcpdump) → poll wake-up'), 10);
  assert.equal(hop('a: TAP read syscall'), 1);
  assert.equal(hop('a: read → JS batch handler (crossing)'), 2);
  assert.equal(hop('a: decision (encap) → send call'), 2);
  assert.equal(hop('a: UDP send call (whole)'), 4);
  assert.equal(hop('a: send call → datagram on a\'s eth0'), 2);
  assert.equal(hop('underlay: a\'s eth0 → b\'s eth0 (veth)'), 3);
  assert.equal(hop('b: eth0 (skb stamp, = SO_TIMESTAMPNS) → poll wake-up'), 10);
  assert.equal(hop('b: write call → frame seen on b\'s TAP'), 1);
  assert.equal(hop('a\'s TAP → b\'s TAP (the tunnel, one way)'), 36);
  assert.equal(hop('b: the kernel answers the echo (TAP in → TAP out)'), 4);
  assert.equal(hop('b\'s TAP → a\'s TAP (the tunnel, one way)'), 36);
  assert.equal(hop('a: TAP to TAP, the whole round trip outside ping'), 76);
  const inferred = r.find((h) => h.name.startsWith('a: ping\'s own socket path'))!;
  assert.equal(inferred.how, 'inferred');
  assert.equal(inferred.stats.p50, 14);
  assert.equal(r.find((h) => h.name.startsWith('ping RTT'))!.how, 'ping');
  assert.equal(hop('off the path: a after its send (JS returns, microtasks)'), 2);
  // An echo seen nowhere adds nothing: each hop counts only the echoes it saw both ends of.
  const r2 = budget([framePoints(x, 0x1c2a, 1, 90), framePoints(x, 0x1c2a, 2, 95)]);
  assert.equal(r2.find((h) => h.name === 'a: TAP read syscall')!.stats.n, 1);
  assert.equal(r2.find((h) => h.name.startsWith('ping RTT'))!.stats.n, 2);
  assert.match(budgetTable({ '0.01': r }), /\| a→b \| underlay: a's eth0 → b's eth0 \(veth\) \| pcap \| 3\.0 \| 3\.0 \| 1 \|/);
});

test('percentiles are nearest-rank, as the lab bench takes them', () => {
  const xs = Array.from({ length: 1000 }, (_, i) => i + 1);
  assert.equal(percentile(xs, 0.5), 500);
  assert.equal(percentile(xs, 0.99), 990);
  assert.equal(percentile(xs, 0.999), 999, 'of 1,000 the second highest');
  assert.equal(percentile([7], 0.999), 7);
  assert.ok(Number.isNaN(percentile([], 0.5)));
  assert.deepEqual(summarize([3, 1, 2]), { n: 3, p50: 2, p99: 3, p999: 3 });
});

test('ping output, run windows, the run\'s ICMP id, and the reference table with the time added over kernel vxlan', () => {
  const ping = parsePing('PING 10.44.2.0 (10.44.2.0) 56(84) bytes of data.\n64 bytes from 10.44.2.0: icmp_seq=1 ttl=64 time=0.345 ms\n64 bytes from 10.44.2.0: icmp_seq=2 ttl=64 time=1.02 ms\n\n--- 10.44.2.0 ping statistics ---\nrtt min/avg/max/mdev = 0.001/0.006/0.025/0.009 ms\n');
  assert.deepEqual([...ping], [[1, 345], [2, 1020]]);
  const w = parseWindows('0.01 100 200\n0.0002 300 400\n');
  assert.deepEqual(w, [{ spacing: '0.01', start: 100n, end: 200n }, { spacing: '0.0002', start: 300n, end: 400n }]);
  const recs = readPcap(pcap([[150n, ECHO(8, 1)], [160n, ECHO(0, 1)], [350n, ECHO(8, 1)]]));
  assert.equal(pingId(recs, w[0]!), 0x1c2a);
  assert.equal(pingId(recs, { spacing: 'x', start: 500n, end: 600n }), undefined);
  const t = referenceTable({ kernel: { '0.01': summarize([70]) }, vxtap: { '0.01': summarize([347]) } });
  assert.match(t, /\| vxtap \| 347 \(\+277\) \| 347 \| 347 \| – \| – \| – \| – \| – \| – \|/);
});
