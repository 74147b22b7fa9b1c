/**
 * PeerInstaller's IPv6 half (issue #13, the IPv6 overlay), with a route
 * table double: a dual-stack peer gets ND entry, FDB entry for a second MAC,
 * peer row and IPv6 route; removal takes them all back; an IPv6 route that
 * fails rolls back only the IPv6 half; without an ND table (IPv6 off) the
 * IPv6 half is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { PeerInstaller } from '../../../src/control/installer';
import type { RouteSpec } from '../../../src/control/kernel';
import type { Peer } from '../../../src/control/peers';
import { RouteConflictError } from '../../../src/errors';
import { ArpTable } from '../../../src/switch/arp-table';
import { Fdb } from '../../../src/switch/fdb';
import { NdTable } from '../../../src/switch/nd-table';
import { PeerTable } from '../../../src/switch/peer-table';
import { macKeyFromString, parseIpv4 } from '../../../src/wire/addr';

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

const PEER: Peer = { subnet: '10.44.2.0/24', publicIp: '192.168.90.2', vtepMac: '02:76:c0:a8:5a:02', subnet6: 'fd00:0:0:2::/64', publicIpv6: 'fd90::2', vtepMac6: 'd6:11:22:33:44:55' };

function setup(ipv6: boolean) {
  const routes = new FakeRoutes();
  const fdb = new Fdb();
  const arp = new ArpTable();
  const nd = ipv6 ? new NdTable() : null;
  const peers = new PeerTable();
  const log = pino({ level: 'silent' });
  const inst = new PeerInstaller({ sw: { fdb, arp, nd, peers }, routes, dev: 'vxtap.1', port: 4789, log });
  return { inst, routes, fdb, arp, nd, peers };
}

test('a dual-stack peer: ND entry <subnet6>:: -> its IPv6 MAC, FDB for that MAC, the IPv6 row, and <subnet6> via <subnet6>:: onlink; removal takes them back', async () => {
  const { inst, routes, fdb, nd, peers } = setup(true);
  await inst.apply([{ type: 'added', peer: PEER }]);
  assert.deepEqual(routes.routes.get('fd00:0:0:2::/64'), { dst: 'fd00:0:0:2::/64', gateway: 'fd00:0:0:2::', dev: 'vxtap.1', onlink: true });
  assert.ok(routes.routes.has('10.44.2.0/24'));
  assert.equal(nd!.lookupText('fd00:0:0:2::'), macKeyFromString('d6:11:22:33:44:55'));
  assert.equal(fdb.lookup(macKeyFromString('d6:11:22:33:44:55'))?.vtep, parseIpv4('192.168.90.2'), 'IPv6 goes to the public IPv4 address');
  assert.equal(peers.get(parseIpv4('192.168.90.2'))?.v6?.net6.len, 64);

  await inst.apply([{ type: 'removed', peer: PEER }]);
  assert.equal(routes.routes.size, 0);
  assert.equal(nd!.size, 0);
  assert.equal(fdb.lookup(macKeyFromString('d6:11:22:33:44:55')), undefined);
  assert.equal(peers.size, 0);
});

test('an IPv6 route that fails rolls back only the IPv6 half: IPv4 stays installed, the failure is listed under the IPv6 subnet', async () => {
  const { inst, routes, fdb, arp, nd, peers } = setup(true);
  routes.taken.add('fd00:0:0:2::/64');
  await inst.apply([{ type: 'added', peer: PEER }]);
  assert.ok(routes.routes.has('10.44.2.0/24'));
  assert.equal(arp.lookup(parseIpv4('10.44.2.0')), macKeyFromString(PEER.vtepMac));
  assert.equal(nd!.size, 0);
  assert.equal(fdb.lookup(macKeyFromString('d6:11:22:33:44:55')), undefined);
  assert.equal(peers.get(parseIpv4('192.168.90.2'))?.v6, null, 'the row keeps no IPv6 half');
  assert.match(inst.failed.get('fd00:0:0:2::/64') ?? '', /taken/);
  assert.equal(inst.routeConflicts, 1);
  assert.equal(inst.peers.length, 1);
});

test('IPv6 off (no ND table): a dual-stack peer is installed for IPv4 only', async () => {
  const { inst, routes, peers } = setup(false);
  await inst.apply([{ type: 'added', peer: PEER }]);
  assert.deepEqual([...routes.routes.keys()], ['10.44.2.0/24']);
  assert.equal(peers.get(parseIpv4('192.168.90.2'))?.v6, null);
});
