/**
 * `vxtap explain`'s dry run (switch/dry-run.ts, control/api/explain.ts): a
 * made-up frame goes through the same Pipeline code as the data plane, and
 * nothing moves: the switch's counters, FDB (learning included), ARP
 * suppression table and send lists are the same before and after, and no
 * port sent or wrote anything. Then what the explanation says, with each
 * entry's source: etcd (a probe double), a static file's line (read again
 * when asked), a learned entry's VTEP and age.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryDatagramPort, MemoryFramePort } from '../../../src/io/fake';
import { DryRun } from '../../../src/switch/dry-run';
import { LEARN_MOVED, LEARN_NEW } from '../../../src/switch/fdb';
import { Verdict } from '../../../src/switch/pipeline';
import { DropReason } from '../../../src/switch/drops';
import { Switch } from '../../../src/switch/switch';
import { explain, nodeExplainer, type ExplainContext } from '../../../src/control/api/explain';
import type { EtcdKeyNow } from '../../../src/control/origin';
import type { Peer } from '../../../src/control/peers';
import { macKeyFromString, parseIpv4 } from '../../../src/wire/addr';
import { arpRequest, ipv4Frame } from '../../helpers/frames';

const VNI = 7;
const PORT = 4789;
const SELF = { ip: '192.168.90.1', mac: '02:76:c0:a8:5a:01', subnet: '10.44.1.0/24' };
const PEER: Peer = {
  subnet: '10.44.2.0/24', publicIp: '192.168.90.2', vtepMac: '02:76:c0:a8:5a:02',
  source: { kind: 'etcd', key: '/coreos.com/network/subnets/10.44.2.0-24', modRevision: 12, createRevision: 9, lease: '7587869251594410762' },
};
const vxlanOf = (frame: Buffer, vni = VNI): Buffer => Buffer.concat([Buffer.from([0x08, 0, 0, 0, vni >> 16, (vni >> 8) & 0xff, vni & 0xff, 0]), frame]);

/** Everything of a switch that must not change: counters, tables, what the ports saw. */
function state(sw: Switch, tap: MemoryFramePort, net: MemoryDatagramPort): string {
  return JSON.stringify({
    counters: sw.counters.snapshot(),
    fdb: [...sw.fdb.entries()].map((e) => sw.fdb.describe(e)),
    learned: sw.fdb.learned,
    arp: sw.arp.list(),
    l2Arp: sw.l2Arp?.list() ?? null,
    flood: sw.floodList.size,
    sent: net.sent.length,
    written: tap.written.length,
  });
}

function routed() {
  const tap = new MemoryFramePort('vxtap.7');
  const net = new MemoryDatagramPort({ writesUdpHeader: true });
  const sw = new Switch({ vni: VNI, tap, net, mtu: 1450, innerSourceCheck: true });
  sw.fdb.set(macKeyFromString(PEER.vtepMac), parseIpv4(PEER.publicIp), PORT);
  sw.arp.set(parseIpv4('10.44.2.0'), macKeyFromString(PEER.vtepMac));
  sw.peers.set(parseIpv4(PEER.publicIp), macKeyFromString(PEER.vtepMac), parseIpv4('10.44.2.0'), 24);
  sw.start();
  return { sw, tap, net };
}

test('routed: encap, ARP answer, fdb-miss and unknown VNI in a dry run; no counter, table or port moves', () => {
  const { sw, tap, net } = routed();
  const before = state(sw, tap, net);
  const dry = new DryRun(sw.pipeline, { vni: VNI, port: PORT, localIp: parseIpv4(SELF.ip), describePeer: null });

  const enc = dry.run('tap', ipv4Frame(PEER.vtepMac, SELF.mac, '10.44.1.2', '10.44.2.2', 1, 0, 0));
  assert.equal(enc.verdict, Verdict.ENCAP);
  assert.deepEqual(enc.frame.encap && { vtep: enc.frame.encap.vtep, port: enc.frame.encap.port, vni: enc.frame.encap.vni }, { vtep: parseIpv4(PEER.publicIp), port: PORT, vni: VNI });
  assert.equal(enc.record.encap?.vtep, PEER.publicIp);

  const ans = dry.run('tap', arpRequest(SELF.mac, '10.44.1.0', '10.44.2.0'));
  assert.equal(ans.verdict, Verdict.ARP_REPLY);
  assert.ok(ans.frame.reply !== null && ans.frame.reply.subarray(22, 28).equals(Buffer.from('0276c0a85a02', 'hex')), 'the reply says is-at the peer\'s VTEP MAC');

  assert.equal(dry.run('tap', ipv4Frame('02:00:00:00:00:99', SELF.mac, '10.44.1.2', '10.44.9.9', 1, 0, 0)).verdict, DropReason.FDB_MISS);
  const inner = ipv4Frame(SELF.mac, PEER.vtepMac, '10.44.2.2', '10.44.1.2', 1, 0, 0);
  assert.equal(dry.run('net', vxlanOf(inner, 9), parseIpv4(PEER.publicIp), PORT).verdict, DropReason.VXLAN_UNKNOWN_VNI);
  assert.equal(dry.run('net', vxlanOf(inner), parseIpv4(PEER.publicIp), PORT).verdict, Verdict.DECAP);
  assert.equal(dry.run('net', vxlanOf(inner), parseIpv4('192.168.90.9'), PORT).verdict, DropReason.UNKNOWN_VTEP);

  assert.equal(state(sw, tap, net), before, 'the switch is as it was: counters, tables, ports');
  assert.equal(dry.counters.tapInFrames, 3, 'the dry run counted on its own counters');
});

test('L2: unknown unicast floods to every VTEP; a datagram from a VTEP would learn, and the FDB and ARP table stay as they were', () => {
  const tap = new MemoryFramePort('vxtap0');
  const net = new MemoryDatagramPort({ writesUdpHeader: true });
  const sw = new Switch({ vni: VNI, tap, net, mtu: 1450, mode: 'l2', l2: { port: PORT } });
  for (const v of ['192.168.90.2', '192.168.90.3', '192.168.90.4']) sw.floodList.add(parseIpv4(v), PORT);
  sw.start();
  const before = state(sw, tap, net);
  const dry = new DryRun(sw.pipeline, { vni: VNI, port: PORT, localIp: parseIpv4(SELF.ip), describePeer: null });

  const f = dry.run('tap', ipv4Frame('02:00:00:00:02:02', '02:00:00:00:01:01', '10.0.0.1', '10.0.0.2', 17, 1, 2));
  assert.equal(f.verdict, Verdict.FLOOD);
  assert.deepEqual(f.record.flood?.vteps, ['192.168.90.2', '192.168.90.3', '192.168.90.4']);

  // An ARP reply from a remote station: live, it would learn the MAC and snoop the ARP entry.
  const reply = Buffer.from(arpRequest('02:00:00:00:02:02', '10.0.0.2', '10.0.0.1', '02:00:00:00:01:01'));
  reply.writeUInt16BE(2, 14 + 6); // op: reply
  const d = dry.run('net', vxlanOf(reply), parseIpv4('192.168.90.2'), 50000);
  assert.equal(d.verdict, Verdict.DECAP);
  const learn = d.frame.lookups.find((l) => l.table === 'learn');
  assert.ok(learn !== undefined && learn.table === 'learn' && learn.result === LEARN_NEW, 'the explanation says it would be learned');
  assert.equal(sw.fdb.lookup(macKeyFromString('02:00:00:00:02:02')), undefined, 'but nothing was learned');
  assert.equal(state(sw, tap, net), before, 'the switch is as it was: counters, FDB, ARP suppression, ports');
});

test('explain(): each entry names its source; etcd is asked now (revision, lease TTL), a file for its line now', async () => {
  const { sw, tap, net } = routed();
  const asked: string[] = [];
  const etcdNow: EtcdKeyNow = { key: PEER.source!.kind === 'etcd' ? PEER.source!.key : '', modRevision: 15, createRevision: 9, lease: '7587869251594410762', ttl: 23, grantedTtl: 30 };
  const base: Omit<ExplainContext, 'dry' | 'fdb'> = {
    mode: 'routed', vni: VNI, port: PORT, publicIp: SELF.ip, vtepMac: SELF.mac, subnet: () => SELF.subnet, peers: () => [PEER],
    etcd: { keyNow: async (k) => { asked.push(k); return etcdNow; } },
  };
  const run = nodeExplainer(sw.pipeline, base, null);
  const before = state(sw, tap, net);
  const e = await run({ side: 'tap', frame: ipv4Frame(PEER.vtepMac, SELF.mac, '10.44.1.2', '10.44.2.2', 1, 0, 0) });
  assert.equal(e.verdict, 'encap');
  assert.equal(e.dryRun, true);
  const fdb = e.sources.find((s) => s.entry.startsWith('FDB'));
  assert.ok(fdb !== undefined);
  assert.equal(fdb.kind, 'etcd');
  assert.deepEqual(fdb.etcd, etcdNow, 'the key as etcd holds it now');
  assert.match(fdb.text, /etcd key \/coreos\.com\/network\/subnets\/10\.44\.2\.0-24 \(mod revision 15, create revision 9, lease 7587869251594410762 .*TTL 23 s of 30 s\)/);
  assert.deepEqual(asked, [etcdNow.key]);
  assert.ok(e.peerChecks.some((c) => /VNI 7/.test(c)) && e.peerChecks.some((c) => /inner source MAC 02:76:c0:a8:5a:01 is this host's VTEP MAC/.test(c)), e.peerChecks.join('\n'));
  assert.ok(e.peerChecks.some((c) => /inner IPv4 source 10\.44\.1\.2 is in this host's subnet/.test(c)));

  // A spoofed inner source: the peer would drop it, and the explanation says so before it is sent.
  const spoof = await run({ side: 'tap', frame: ipv4Frame(PEER.vtepMac, SELF.mac, '10.44.7.2', '10.44.2.2', 1, 0, 0) });
  assert.ok(spoof.peerChecks.some((c) => /10\.44\.7\.2 is NOT in this host's subnet.*inner-spoof/.test(c)), spoof.peerChecks.join('\n'));

  // A static file: the line the peer's object starts on, looked up again when asked (an edit above it moves it).
  const dir = mkdtempSync(join(tmpdir(), 'vxtap-explain-'));
  try {
    const path = join(dir, 'peers.json');
    const fileText = (pad: number): string => `{\n  "self": {"subnet": "10.44.1.0/24"},\n${'\n'.repeat(pad)}  "peers": [\n    {\n      "subnet": "10.44.2.0/24",\n      "publicIp": "192.168.90.2"\n    }\n  ]\n}\n`;
    writeFileSync(path, fileText(0));
    const filePeer: Peer = { ...PEER, source: { kind: 'file', path, line: 4 } };
    const ctx: ExplainContext = { ...base, peers: () => [filePeer], etcd: undefined, dry: new DryRun(sw.pipeline, { vni: VNI, port: PORT, localIp: 0, describePeer: null }), fdb: sw.fdb };
    const frame = ipv4Frame(PEER.vtepMac, SELF.mac, '10.44.1.2', '10.44.2.2', 1, 0, 0);
    let s = (await explain(ctx, { side: 'tap', frame })).sources.find((x) => x.entry.startsWith('FDB'))!;
    assert.equal(s.text, `FDB 02:76:c0:a8:5a:02 -> 192.168.90.2:4789 (static): from ${path} line 4`);
    writeFileSync(path, fileText(3));
    s = (await explain(ctx, { side: 'tap', frame })).sources.find((x) => x.entry.startsWith('FDB'))!;
    assert.deepEqual(s.origin, { kind: 'file', path, line: 7 }, 'three lines added above: line 7 now');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(state(sw, tap, net), before);
});

test('explain(): a learned L2 entry names the VTEP it was learned from and its age', async () => {
  const tap = new MemoryFramePort('vxtap0');
  const net = new MemoryDatagramPort({ writesUdpHeader: true });
  const sw = new Switch({ vni: VNI, tap, net, mtu: 1450, mode: 'l2', l2: { port: PORT } });
  sw.floodList.add(parseIpv4('192.168.90.2'), PORT);
  sw.fdb.observe(macKeyFromString('02:00:00:00:02:02'), parseIpv4('192.168.90.2'), PORT, 1_000_000);
  sw.start();
  const run = nodeExplainer(sw.pipeline, {
    mode: 'l2', vni: VNI, port: PORT, publicIp: SELF.ip, vtepMac: SELF.mac, subnet: () => null, peers: () => [],
    vteps: () => [{ publicIp: '192.168.90.2', port: PORT, vtepMac: null, macs: [], source: { kind: 'file', path: '/nonexistent/l2.json', line: 4 } }],
    now: () => 1_042_000,
  }, null);
  const e = await run({ side: 'tap', frame: ipv4Frame('02:00:00:00:02:02', '02:00:00:00:01:01', '10.0.0.1', '10.0.0.2', 17, 1, 2) });
  assert.equal(e.verdict, 'encap');
  assert.deepEqual(e.sources.map((s) => s.text), ['FDB 02:00:00:00:02:02 -> 192.168.90.2:4789 (learned): learned from a frame from VTEP 192.168.90.2, 42 s ago']);
  const f = await run({ side: 'tap', frame: ipv4Frame('02:00:00:00:09:09', '02:00:00:00:01:01', '10.0.0.1', '10.0.0.9', 17, 1, 2) });
  assert.equal(f.verdict, 'flood');
  assert.deepEqual(f.sources.map((s) => s.text), ['flood list 192.168.90.2:4789: from /nonexistent/l2.json line 4 (as read; the entry is not in the file now)']);
});

test('the dry run hashes the UDP source port into the port\'s own range (a GSO pool\'s block), as the live pipeline does', () => {
  const tap = new MemoryFramePort('vxtap.7');
  // A memory port that says what a BatchUdpPort over its GSO pool says: the caller writes the header, from these 64 ports.
  const net = new (class extends MemoryDatagramPort {
    get sourcePorts(): { min: number; count: number } { return { min: 40000, count: 64 }; }
  })({ writesUdpHeader: true });
  const sw = new Switch({ vni: VNI, tap, net, mtu: 1450 });
  sw.fdb.set(macKeyFromString(PEER.vtepMac), parseIpv4(PEER.publicIp), PORT);
  sw.start();
  const dry = new DryRun(sw.pipeline, { vni: VNI, port: PORT, localIp: parseIpv4(SELF.ip), describePeer: null });
  for (const sport of [1, 2, 3, 4000, 55555]) {
    const frame = ipv4Frame(PEER.vtepMac, SELF.mac, '10.44.1.2', '10.44.2.2', 17, sport, 53);
    const d = dry.run('tap', frame);
    assert.equal(d.verdict, Verdict.ENCAP);
    tap.inject([frame]);
    const live = net.sent.at(-1)!;
    assert.ok(live.srcPort >= 40000 && live.srcPort < 40064, `live source port ${live.srcPort} is in the pool's block`);
    assert.equal(d.record.encap?.srcPort, live.srcPort, 'dry run and live pipeline choose the same source port');
  }
});

test('a dry run of a move names the VTEP before and leaves the live Fdb.movedFrom as the last real move set it', () => {
  const tap = new MemoryFramePort('vxtap0');
  const net = new MemoryDatagramPort({ writesUdpHeader: true });
  const sw = new Switch({ vni: VNI, tap, net, mtu: 1450, mode: 'l2', l2: { port: PORT } });
  for (const v of ['192.168.90.2', '192.168.90.3']) sw.floodList.add(parseIpv4(v), PORT);
  const mac = macKeyFromString('02:00:00:00:02:02');
  sw.fdb.observe(mac, parseIpv4('192.168.90.2'), PORT, 1_000);
  sw.start();
  const movedBefore = sw.fdb.movedFrom;
  const dry = new DryRun(sw.pipeline, { vni: VNI, port: PORT, localIp: parseIpv4(SELF.ip), describePeer: null });
  // The same MAC now from another VTEP: live, a move from .2 to .3.
  const d = dry.run('net', vxlanOf(ipv4Frame('02:00:00:00:01:01', '02:00:00:00:02:02', '10.0.0.2', '10.0.0.1', 17, 1, 2)), parseIpv4('192.168.90.3'), 50000);
  assert.equal(d.verdict, Verdict.DECAP);
  const learn = d.frame.lookups.find((l) => l.table === 'learn');
  assert.ok(learn !== undefined && learn.table === 'learn');
  assert.equal(learn.result, LEARN_MOVED);
  assert.equal(learn.from, parseIpv4('192.168.90.2'), 'the explanation names the VTEP the MAC would move from');
  assert.equal(sw.fdb.movedFrom, movedBefore, 'the live Fdb.movedFrom is untouched');
  assert.equal(sw.fdb.lookup(mac)?.vtep, parseIpv4('192.168.90.2'), 'and the entry has not moved');
});
