/**
 * PeerInstaller with a route table double and a real pino logger writing into
 * an array: how much it logs (issue #9: 5,000 peers made 10,000 info lines),
 * and what it does with a route conflict (the peer rolled back, listed in
 * `failed`, counted).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { PeerInstaller, SMALL_BATCH } from '../../../src/control/installer';
import type { RouteSpec } from '../../../src/control/kernel';
import { macFromIp, type Peer, type PeerEvent } from '../../../src/control/peers';
import { RouteConflictError } from '../../../src/errors';
import { ArpTable } from '../../../src/switch/arp-table';
import { Fdb } from '../../../src/switch/fdb';
import { macKeyFromString, parseIpv4 } from '../../../src/wire/addr';

interface Line { level: number; msg: string; [k: string]: unknown }
const INFO = 30;
const DEBUG = 20;
const ERROR = 50;

/** A route table in memory; `taken` destinations hold a route that is not ours. */
class FakeRoutes {
  readonly routes = new Map<string, RouteSpec>();
  readonly taken = new Set<string>();
  async replaceRoute(r: RouteSpec): Promise<void> {
    if (this.taken.has(r.dst)) throw new RouteConflictError(`adding route ${r.dst}: taken`, r.dst, `${r.dst} dev eth0 proto kernel`);
    this.routes.set(r.dst, r);
  }
  async deleteRoute(r: RouteSpec): Promise<void> {
    this.routes.delete(r.dst);
  }
}

function setup(): { inst: PeerInstaller; lines: Line[]; routes: FakeRoutes; fdb: Fdb; arp: ArpTable } {
  const lines: Line[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => { lines.push(JSON.parse(s) as Line); } });
  const routes = new FakeRoutes();
  const fdb = new Fdb();
  const arp = new ArpTable();
  const inst = new PeerInstaller({ sw: { fdb, arp }, routes, dev: 'vxtap.1', port: 4789, log });
  return { inst, lines, routes, fdb, arp };
}

/** The i-th peer: 10.44.0.0/16 and beyond, one /24 each. */
function peer(i: number): Peer {
  const n = 2 + i;
  const publicIp = `192.168.${90 + (n >> 8)}.${n & 255}`;
  return { subnet: `10.${44 + (n >> 8)}.${n & 255}.0/24`, publicIp, vtepMac: macFromIp(publicIp) };
}

const added = (peers: Peer[]): PeerEvent[] => peers.map((p) => ({ type: 'added', peer: p }));
const removed = (peers: Peer[]): PeerEvent[] => peers.map((p) => ({ type: 'removed', peer: p }));
const at = (lines: Line[], level: number): Line[] => lines.filter((l) => l.level === level);

test('5,000 peers in one batch: one info line (a count and the first few), each peer at debug', async () => {
  const { inst, lines, routes } = setup();
  const peers = Array.from({ length: 5000 }, (_, i) => peer(i));
  await inst.apply(added(peers));
  assert.equal(routes.routes.size, 5000);
  assert.equal(inst.peers.length, 5000);
  const info = at(lines, INFO);
  assert.equal(info.length, 1, info.map((l) => l.msg).join('\n'));
  assert.equal(info[0]!.msg, 'adding 5000 subnets: 10.44.2.0/24 (192.168.90.2), 10.44.3.0/24 (192.168.90.3), 10.44.4.0/24 (192.168.90.4) and 4997 more');
  assert.equal(info[0]!['count'], 5000);
  // flannel's per-peer wording is still there, at debug, with the tables' line.
  const debug = at(lines, DEBUG);
  assert.equal(debug.filter((l) => l.msg.startsWith('adding subnet: ')).length, 5000);
  assert.ok(debug.some((l) => l.msg === `adding subnet: 10.44.2.0/24 PublicIP: 192.168.90.2 VtepMAC: ${macFromIp('192.168.90.2')}`));

  // Removing them all is one info line too; re-putting an unchanged peer says nothing.
  lines.length = 0;
  await inst.apply(added(peers.slice(0, 10)));
  assert.deepEqual(at(lines, INFO), []);
  await inst.apply(removed(peers));
  assert.deepEqual(at(lines, INFO).map((l) => l.msg), ['removing 5000 subnets: 10.44.2.0/24 (192.168.90.2), 10.44.3.0/24 (192.168.90.3), 10.44.4.0/24 (192.168.90.4) and 4997 more']);
  assert.equal(routes.routes.size, 0);
});

test(`a batch of up to ${SMALL_BATCH} peers keeps flannel's line per peer at info`, async () => {
  const { inst, lines } = setup();
  await inst.apply(added([peer(0), peer(1), peer(2)]));
  assert.deepEqual(at(lines, INFO).map((l) => l.msg), [0, 1, 2].map((i) => {
    const p = peer(i);
    return `adding subnet: ${p.subnet} PublicIP: ${p.publicIp} VtepMAC: ${p.vtepMac}`;
  }));
  lines.length = 0;
  await inst.apply(removed([peer(1)]));
  assert.deepEqual(at(lines, INFO).map((l) => l.msg), [`removing subnet: 10.44.3.0/24 PublicIP: 192.168.90.3 VtepMAC: ${peer(1).vtepMac}`]);
});

test('a route conflict: the peer is rolled back, listed in failed, counted; the others are installed', async () => {
  const { inst, lines, routes, fdb, arp } = setup();
  const bad = peer(1);
  routes.taken.add(bad.subnet);
  await inst.apply(added([peer(0), bad, peer(2)]));
  assert.deepEqual(inst.peers.map((p) => p.subnet), [peer(0).subnet, peer(2).subnet]);
  assert.equal(inst.routeConflicts, 1);
  assert.match(inst.failed.get(bad.subnet)!, /taken/);
  // No half peer: neither its ARP nor its FDB entry stays.
  assert.equal(arp.lookup(parseIpv4('10.44.3.0')), undefined);
  assert.equal(fdb.lookup(macKeyFromString(bad.vtepMac)), undefined);
  assert.equal(arp.size, 2);
  assert.equal(fdb.size, 2);
  const errors = at(lines, ERROR);
  assert.equal(errors.length, 1);
  assert.match(errors[0]!.msg, /^failed to add subnet 10\.44\.3\.0\/24: adding route 10\.44\.3\.0\/24: taken/);
  assert.equal((errors[0]!['err'] as { code: string }).code, 'VXTAP_ERR_ROUTE_CONFLICT');

  // Once the other route is gone, the same lease goes in; failed forgets it, the count stays.
  routes.taken.delete(bad.subnet);
  await inst.apply(added([{ ...bad, publicIp: '192.168.90.99', vtepMac: macFromIp('192.168.90.99') }]));
  assert.equal(inst.failed.size, 0);
  assert.equal(inst.peers.length, 3);
  assert.equal(inst.routeConflicts, 1);
});

test('5,000 conflicts in one batch: a bounded number of error lines, every one counted', async () => {
  const { inst, lines, routes } = setup();
  const peers = Array.from({ length: 5000 }, (_, i) => peer(i));
  for (const p of peers) routes.taken.add(p.subnet);
  await inst.apply(added(peers));
  assert.equal(inst.routeConflicts, 5000);
  assert.equal(inst.failed.size, 5000);
  assert.equal(inst.peers.length, 0);
  const errors = at(lines, ERROR);
  assert.equal(errors.length, SMALL_BATCH + 1, errors.map((l) => l.msg).join('\n'));
  assert.equal(errors.at(-1)!.msg, '… and 4997 more subnets failed in this batch (5000 route conflicts in all); `vxtap peers` lists them');
  assert.ok(at(lines, INFO).length <= 2);
});

test('batches that arrive while one is applied are applied (and logged) as one, in order', async () => {
  const { inst, lines, routes } = setup();
  // A source that delivers a burst one event at a time (an etcd watch during a bulk put).
  const peers = Array.from({ length: 1000 }, (_, i) => peer(i));
  const done = peers.map((p) => inst.apply(added([p])));
  // The last one removes the first: order holds across the merged batches.
  const last = inst.apply(removed([peers[0]!]));
  await Promise.all([...done, last]);
  assert.equal(routes.routes.size, 999);
  assert.ok(!routes.routes.has(peers[0]!.subnet));
  // The first batch started alone (one line, flannel's); the rest came as one batch, logged as one.
  const info = at(lines, INFO).map((l) => l.msg);
  assert.deepEqual(info, [
    `adding subnet: 10.44.2.0/24 PublicIP: 192.168.90.2 VtepMAC: ${peers[0]!.vtepMac}`,
    'adding 999 subnets: 10.44.3.0/24 (192.168.90.3), 10.44.4.0/24 (192.168.90.4), 10.44.5.0/24 (192.168.90.5) and 996 more',
    'removing 1 subnet: 10.44.2.0/24 (192.168.90.2)',
  ]);
});

test('a peer whose route was in the way is tried again and goes in once the route goes; a deleted one leaves no stale row (review of issue #9)', async () => {
  const lines: Line[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => { lines.push(JSON.parse(s) as Line); } });
  const routes = new FakeRoutes();
  const fdb = new Fdb();
  const arp = new ArpTable();
  const inst = new PeerInstaller({ sw: { fdb, arp }, routes, dev: 'vxtap.1', port: 4789, log, retryMs: 20 });
  const [a, b] = [peer(0), peer(1)];
  routes.taken.add(a.subnet);
  routes.taken.add(b.subnet);
  await inst.apply(added([a, b]));
  assert.deepEqual([...inst.failed.keys()], [a.subnet, b.subnet]);
  assert.equal(inst.routeConflicts, 2);
  const errorsBefore = at(lines, ERROR).length;
  // Still in the way for a few retries: nothing new logged at error, nothing counted twice.
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(at(lines, ERROR).length, errorsBefore);
  assert.equal(inst.routeConflicts, 2);
  // a's obstacle goes: a goes in at the next try. b's lease is deleted: its row goes, and it is not tried again.
  routes.taken.delete(a.subnet);
  await inst.apply(removed([b]));
  routes.taken.delete(b.subnet);
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(inst.peers.map((p) => p.subnet), [a.subnet]);
  assert.deepEqual([...inst.failed.keys()], []);
  assert.equal(routes.routes.has(b.subnet), false, 'b was not installed after its lease went');
  assert.ok(lines.some((l) => l.msg.startsWith(`subnet ${a.subnet} installed now`)));
  await inst.removeAllRoutes();
});

/** A route table that also records each call, in order. */
class RecordingRoutes extends FakeRoutes {
  readonly calls: string[] = [];
  override async replaceRoute(r: RouteSpec): Promise<void> {
    this.calls.push(`replace ${r.dst}`);
    await super.replaceRoute(r);
  }
  override async deleteRoute(r: RouteSpec): Promise<void> {
    this.calls.push(`delete ${r.dst}`);
    await super.deleteRoute(r);
  }
}

test('a change of the IPv6 half only (diffPeers: removed then added) is an update in place; a change of the IPv4 half is a real remove and add', async () => {
  const lines: Line[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => { lines.push(JSON.parse(s) as Line); } });
  const routes = new RecordingRoutes();
  const fdb = new Fdb();
  const arp = new ArpTable();
  const inst = new PeerInstaller({ sw: { fdb, arp }, routes, dev: 'vxtap.1', port: 4789, log });
  const v4 = peer(0);
  const before: Peer = { ...v4, subnet6: 'fd00:44:2::/64', publicIpv6: 'fd00:90::2', vtepMac6: v4.vtepMac };
  await inst.apply(added([before]));
  routes.calls.length = 0;
  lines.length = 0;
  // Gone from the tables: the FDB entry and ARP entry are deleted by a remove; watch them too.
  const fdbDeletes: number[] = [];
  const arpDeletes: number[] = [];
  const fdbDelete = fdb.delete.bind(fdb);
  const arpDelete = arp.delete.bind(arp);
  fdb.delete = (mac: number) => { fdbDeletes.push(mac); return fdbDelete(mac); };
  arp.delete = (ip: number) => { arpDeletes.push(ip); return arpDelete(ip); };

  const after: Peer = { ...before, publicIpv6: 'fd00:90::22' };
  await inst.apply([{ type: 'removed', peer: before }, { type: 'added', peer: after }]);
  assert.deepEqual(routes.calls, [], 'no route deleted or replaced');
  assert.deepEqual([fdbDeletes, arpDeletes], [[], []], 'no FDB or ARP entry deleted');
  assert.ok(!lines.some((l) => l.msg.startsWith('removing subnet') || l.msg.startsWith('adding subnet')), lines.map((l) => l.msg).join('\n'));
  assert.deepEqual(inst.peers, [after], 'the new record, IPv6 half included, is the one kept');
  assert.equal(fdb.lookup(macKeyFromString(v4.vtepMac))?.vtep, parseIpv4(v4.publicIp));
  assert.equal(arp.lookup(parseIpv4('10.44.2.0')), macKeyFromString(v4.vtepMac));

  // The host moved (a new public IP, so a new VTEP MAC): the old entries go, the new ones come.
  const moved: Peer = { ...after, publicIp: '192.168.90.200', vtepMac: macFromIp('192.168.90.200'), vtepMac6: macFromIp('192.168.90.200') };
  await inst.apply([{ type: 'removed', peer: after }, { type: 'added', peer: moved }]);
  assert.deepEqual(routes.calls, ['delete 10.44.2.0/24', 'replace 10.44.2.0/24']);
  assert.deepEqual(fdbDeletes, [macKeyFromString(v4.vtepMac)]);
  assert.deepEqual(arpDeletes, [parseIpv4('10.44.2.0')]);
  assert.ok(lines.some((l) => l.msg.startsWith('removing subnet: 10.44.2.0/24 PublicIP: 192.168.90.2')));
  assert.deepEqual(inst.peers, [moved]);
  assert.equal(fdb.lookup(macKeyFromString(moved.vtepMac))?.vtep, parseIpv4('192.168.90.200'));
});
