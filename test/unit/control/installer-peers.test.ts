/**
 * The installer keeps the inner source check's peer table (switch/peer-table.ts)
 * with the FDB: a row per installed peer, none for a peer whose route failed
 * or that was removed, and a re-leased subnet's new MAC replaces the old row.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { PeerInstaller, type RouteTable } from '../../../src/control/installer';
import type { RouteSpec } from '../../../src/control/kernel';
import { ArpTable } from '../../../src/switch/arp-table';
import { Fdb } from '../../../src/switch/fdb';
import { PeerTable } from '../../../src/switch/peer-table';
import { macKeyFromString, parseIpv4 } from '../../../src/wire/addr';

class Routes implements RouteTable {
  failNext = false;
  async replaceRoute(_r: RouteSpec): Promise<void> {
    if (this.failNext) { this.failNext = false; throw new Error('Nexthop has invalid gateway'); }
  }
  async deleteRoute(_r: RouteSpec): Promise<void> { /* nothing to undo */ }
}

function make() {
  const sw = { fdb: new Fdb(), arp: new ArpTable(), peers: new PeerTable() };
  const routes = new Routes();
  const installer = new PeerInstaller({ sw, routes, dev: 'vxtap.1', port: 4789, log: pino({ level: 'silent' }) });
  return { sw, routes, installer };
}

const peer = { subnet: '10.44.2.0/24', publicIp: '192.168.90.2', vtepMac: '02:76:c0:a8:5a:02' };

test('installer: a peer added has a row, a peer removed has none', async () => {
  const { sw, installer } = make();
  await installer.apply([{ type: 'added', peer }]);
  const row = sw.peers.get(parseIpv4(peer.publicIp))!;
  assert.equal(row.mac, macKeyFromString(peer.vtepMac));
  assert.equal(row.net, parseIpv4('10.44.2.0'));
  assert.equal(row.prefixLen, 24);
  await installer.apply([{ type: 'removed', peer }]);
  assert.equal(sw.peers.size, 0);
});

test('installer: a peer whose route fails leaves no row; a re-leased subnet\'s new MAC replaces the row', async () => {
  const { sw, routes, installer } = make();
  routes.failNext = true;
  await installer.apply([{ type: 'added', peer }]);
  assert.equal(sw.peers.size, 0, 'rolled back with the FDB and ARP entries');
  await installer.apply([{ type: 'added', peer }]);
  await installer.apply([{ type: 'added', peer: { ...peer, vtepMac: '02:76:c0:a8:5a:99' } }]);
  assert.equal(sw.peers.get(parseIpv4(peer.publicIp))!.mac, macKeyFromString('02:76:c0:a8:5a:99'));
  assert.equal(sw.peers.size, 1);
});
